// attnkit tests — what the weight-format suites share: PyTorch's golden files (booleans as 1 and 0, as the
// bool buffers mean), random state_dicts, and the agreement measure reported for each golden file.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "golden.hpp"

namespace attnkit::formats_test {

using golden::json;

inline json load_torch(const std::string& name) {
  std::ifstream in(std::string(ATTNKIT_GOLDEN_DIR) + "/torch/" + name);
  if (!in) throw std::runtime_error("cannot open tests/golden/torch/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(golden::python_json_to_json(text.str()));
}

inline void flatten(const json& v, std::size_t depth, Shape& shape, std::vector<double>& out) {
  if (!v.is_array()) {
    out.push_back(v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : golden::number(v));
    return;
  }
  if (depth == shape.size()) shape.push_back(v.size());
  for (const auto& e : v) flatten(e, depth + 1, shape, out);
}

inline std::vector<double> doubles(const json& v) {
  Shape shape;
  std::vector<double> out;
  flatten(v, 0, shape, out);
  return out;
}

inline Tensor tensor(const json& v) {
  Shape shape;
  std::vector<double> data;
  flatten(v, 0, shape, data);
  return Tensor(shape, std::vector<float>(data.begin(), data.end()));
}

inline StateDict state_dict(const json& sd) {
  StateDict out;
  for (const auto& [key, value] : sd.items()) out.emplace_back(key, tensor(value));
  return out;
}

// Uniform in [-bound, bound) from a fixed LCG, so every size is reproducible.
inline Tensor random_tensor(Shape shape, std::uint64_t& state, double bound = 1.0) {
  Tensor t(std::move(shape));
  for (float& v : t.data) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    v = float((double(state >> 11) / double(1ull << 53) * 2.0 - 1.0) * bound);
  }
  return t;
}

// max |got − want| and max |got − want| / |want| over |want| ≥ 1e-3; passes when every element is within
// 1e-5·|want| + 1e-6 (the file's float64 numbers against attnkit's float32).
struct Agreement {
  double max_abs = 0, max_rel = 0;
  std::size_t count = 0, outside = 0;
};

inline Agreement agreement(const std::vector<float>& got, const std::vector<double>& want) {
  Agreement a;
  a.count = want.size();
  if (got.size() != want.size()) {
    a.outside = want.size() + 1;
    return a;
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(double(got[i]) - want[i]);
    a.max_abs = std::max(a.max_abs, d);
    if (std::fabs(want[i]) >= 1e-3) a.max_rel = std::max(a.max_rel, d / std::fabs(want[i]));
    if (d > 1e-5 * std::fabs(want[i]) + 1e-6) ++a.outside;
  }
  return a;
}

inline std::string describe(const Agreement& a) {
  std::ostringstream s;
  s << a.count << " values, max abs " << a.max_abs << ", max rel " << a.max_rel
    << ", outside 1e-5 rel + 1e-6: " << a.outside;
  return s.str();
}

}  // namespace attnkit::formats_test
