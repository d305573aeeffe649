// attnkit tests — loader for the book's files in data/book and the ref_* fixtures in tests/golden
// (layout: data/book/README.md).
// Tests read every number from these files; nothing is copied out of them into the test sources.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "attnkit/attnkit.hpp"

#if !defined(ATTNKIT_GOLDEN_DIR) || !defined(ATTNKIT_BOOK_DIR)
#error "ATTNKIT_GOLDEN_DIR must point at tests/golden and ATTNKIT_BOOK_DIR at data/book"
#endif

namespace golden {

using json = nlohmann::ordered_json;  // keeps the files' key order (state_dict order)

// The README's slack on top of abs_tol: some printed values sit within 1e-7 of a rounding boundary.
constexpr double kPrintSlack = 1e-6;

// The book's files (book_*, hacktricks_*) are in data/book; the generated fixtures (ref_*, torch/...) in tests/golden.
inline bool is_book_file(const std::string& file) {
  return file.rfind("book_", 0) == 0 || file.rfind("hacktricks_", 0) == 0;
}
inline std::string path(const std::string& file) {
  return std::string(is_book_file(file) ? ATTNKIT_BOOK_DIR : ATTNKIT_GOLDEN_DIR) + "/" + file;
}

// Python's json.dump writes bare Infinity / -Infinity / NaN tokens (ref_mha_* has them); standard JSON
// has none, so outside string literals they are rewritten to the files' own spelling ("-inf").
inline std::string python_json_to_json(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    if (text.compare(i, 9, "-Infinity") == 0) {
      out += "\"-inf\"";
      i += 8;
      continue;
    }
    if (text.compare(i, 8, "Infinity") == 0) {
      out += "\"inf\"";
      i += 7;
      continue;
    }
    if (text.compare(i, 3, "NaN") == 0) {
      out += "\"nan\"";
      i += 2;
      continue;
    }
    out += c;
  }
  return out;
}

inline json load(const std::string& file) {
  std::ifstream in(path(file));
  if (!in) throw std::runtime_error("cannot open golden file " + path(file));
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(python_json_to_json(text.str()));
}

// One number; the files spell infinities as strings ("-inf").
inline double number(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  }
  throw std::runtime_error("golden: not a number: " + v.dump());
}

// A nested list flattened row-major, with its shape (a scalar has shape []).
struct Array {
  attnkit::Shape shape;
  std::vector<double> data;
  std::size_t numel() const { return data.size(); }
};

inline void flatten_into(const json& v, std::size_t depth, Array& out) {
  if (!v.is_array()) {
    if (depth != out.shape.size()) throw std::runtime_error("golden: ragged nested list");
    out.data.push_back(number(v));
    return;
  }
  if (depth == out.shape.size()) out.shape.push_back(v.size());
  else if (out.shape[depth] != v.size()) throw std::runtime_error("golden: ragged nested list");
  for (const auto& e : v) flatten_into(e, depth + 1, out);
}

inline Array array(const json& v) {
  Array a;
  flatten_into(v, 0, a);
  return a;
}

// float32 tensor from a nested list (values rounded to float once, as torch.tensor does).
inline attnkit::Tensor tensor(const json& v) {
  const Array a = array(v);
  std::vector<float> d(a.data.begin(), a.data.end());
  return attnkit::Tensor(a.shape, std::move(d));
}

inline attnkit::Tensor tensor(const Array& a) {
  std::vector<float> d(a.data.begin(), a.data.end());
  return attnkit::Tensor(a.shape, std::move(d));
}

// One printed tensor of a book step: the expected (printed) numbers and their tolerance.
struct Expected {
  Array value;           // `expected`
  Array full_precision;  // `debian_full_precision_float32` (torch's float32, widened exactly)
  double abs_tol = 0;    // `abs_tol` (half a unit of the printed decimal)
  std::string where;     // "book_07 cell 108 tensor 0", for failure messages
  double tol() const { return abs_tol + kPrintSlack; }
};

// The index-th printed tensor of the step with this notebook cell index.
inline Expected step_tensor(const json& file, int cell_index, std::size_t index = 0) {
  for (const auto& step : file.at("steps")) {
    if (step.at("cell_index").get<int>() != cell_index) continue;
    const auto& ts = step.at("tensors");
    if (index >= ts.size()) throw std::runtime_error("golden: step has too few tensors");
    const auto& t = ts.at(index);
    Expected e;
    e.value = array(t.at("expected"));
    if (t.contains("debian_full_precision_float32")) e.full_precision = array(t.at("debian_full_precision_float32"));
    e.abs_tol = t.at("abs_tol").get<double>();
    e.where = file.value("example", std::string("?")) + " cell " + std::to_string(cell_index) + " tensor " +
              std::to_string(index);
    const attnkit::Shape shape = t.at("shape").get<attnkit::Shape>();
    if (shape != e.value.shape) throw std::runtime_error("golden: shape field disagrees with data in " + e.where);
    return e;
  }
  throw std::runtime_error("golden: no step with cell_index " + std::to_string(cell_index));
}

// The book's 6×3 "Your journey starts with one step" embeddings.
inline attnkit::Tensor book_inputs(const json& file) { return tensor(file.at("inputs").at("inputs_6x3")); }

// torch.stack((inputs, inputs)) — the book's batch (2, 6, 3).
inline attnkit::Tensor book_batch(const json& file) {
  attnkit::Tensor x = book_inputs(file);
  std::vector<float> d = x.data;
  d.insert(d.end(), x.data.begin(), x.data.end());
  return attnkit::Tensor({2, x.shape[0], x.shape[1]}, std::move(d));
}

// The drawn parameters of a seeded book example, as a state_dict (file order).
inline attnkit::StateDict book_parameters(const json& file) {
  attnkit::StateDict sd;
  for (const auto& [name, value] : file.at("parameters_debian_torch_1_13_1").at("values").items())
    sd.emplace_back(name, tensor(value));
  return sd;
}

// ---- comparisons (gtest assertion results, so failures name the element) ----

inline std::string index_string(const attnkit::Shape& shape, std::size_t flat) {
  std::vector<std::size_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  std::ostringstream s;
  s << "[";
  for (std::size_t d = 0; d < idx.size(); ++d) s << (d ? ", " : "") << idx[d];
  s << "]";
  return s.str();
}

// Shapes equal, ignoring dimensions of size 1 on either side (a (6, 6) book matrix vs (1, 6, 6) weights of one head).
inline bool same_shape_modulo_ones(attnkit::Shape a, attnkit::Shape b) {
  auto strip = [](attnkit::Shape& s) {
    attnkit::Shape kept;
    for (auto d : s)
      if (d != 1) kept.push_back(d);
    s = kept;
  };
  strip(a);
  strip(b);
  return a == b;
}

// |got − want| ≤ abs_tol + rel_tol·|want| element-wise; infinities must match exactly; NaN never passes.
inline ::testing::AssertionResult near(const std::vector<float>& got, const attnkit::Shape& got_shape,
                                       const Array& want, double abs_tol, double rel_tol, const std::string& what) {
  if (!same_shape_modulo_ones(got_shape, want.shape))
    return ::testing::AssertionFailure() << what << ": shape " << attnkit::shape_to_string(got_shape) << ", expected "
                                         << attnkit::shape_to_string(want.shape);
  if (got.size() != want.numel())
    return ::testing::AssertionFailure() << what << ": " << got.size() << " elements, expected " << want.numel();
  std::size_t bad = 0, first = 0;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want.data[i];
    bool ok;
    if (std::isinf(w)) ok = g == w;
    else ok = std::isfinite(g) && std::fabs(g - w) <= abs_tol + rel_tol * std::fabs(w);
    if (!ok) {
      if (bad++ == 0) first = i;
      if (std::isfinite(g) && std::isfinite(w)) worst = std::max(worst, std::fabs(g - w));
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream s;
  s.precision(9);
  s << what << ": " << bad << " of " << got.size() << " elements off; first at " << index_string(want.shape, first)
    << ": got " << got[first] << ", expected " << want.data[first] << " (tolerance " << abs_tol << " + " << rel_tol
    << "·|expected|); largest finite difference " << worst;
  return ::testing::AssertionFailure() << s.str();
}

inline ::testing::AssertionResult near(const attnkit::Tensor& got, const Array& want, double abs_tol, double rel_tol,
                                       const std::string& what) {
  return near(got.data, got.shape, want, abs_tol, rel_tol, what);
}

// A printed book tensor: within abs_tol + 1e-6 of the printed number (README rule).
inline ::testing::AssertionResult matches_print(const std::vector<float>& got, const attnkit::Shape& shape,
                                                const Expected& e) {
  return near(got, shape, e.value, e.tol(), 0.0, e.where);
}
inline ::testing::AssertionResult matches_print(const attnkit::Tensor& got, const Expected& e) {
  return matches_print(got.data, got.shape, e);
}

// Bitwise equality of float32 tensors (parameters drawn the way PyTorch draws them).
inline ::testing::AssertionResult bitwise_equal(const attnkit::Tensor& got, const attnkit::Tensor& want,
                                                const std::string& what) {
  if (got.shape != want.shape)
    return ::testing::AssertionFailure() << what << ": shape " << attnkit::shape_to_string(got.shape) << ", expected "
                                         << attnkit::shape_to_string(want.shape);
  for (std::size_t i = 0; i < got.numel(); ++i) {
    if (std::memcmp(&got.data[i], &want.data[i], sizeof(float)) != 0) {
      std::ostringstream s;
      s.precision(9);
      s << what << ": differs at " << index_string(got.shape, i) << ": got " << got.data[i] << ", expected "
        << want.data[i];
      return ::testing::AssertionFailure() << s.str();
    }
  }
  return ::testing::AssertionSuccess();
}

// Slices of row-major data, for picking one row / one head out of an intermediate.
inline std::vector<float> slice(const attnkit::Tensor& t, std::size_t offset, std::size_t count) {
  if (offset + count > t.numel()) throw std::runtime_error("golden: slice out of range");
  return std::vector<float>(t.data.begin() + static_cast<std::ptrdiff_t>(offset),
                            t.data.begin() + static_cast<std::ptrdiff_t>(offset + count));
}

}  // namespace golden
