// attnkit tests — PyTorch's golden files (tests/golden/torch/, written by scripts/make_torch_golden.py): the
// loader and the mask reader the op's and the modules' torch tests share.
#pragma once
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "golden.hpp"

namespace torch_golden {

inline golden::json load(const std::string& name) {
  std::ifstream in(std::string(ATTNKIT_GOLDEN_DIR) + "/torch/" + name);
  if (!in) throw std::runtime_error("cannot open tests/golden/torch/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return golden::json::parse(text.str());
}

// A nested list of JSON booleans or numbers ("-inf" allowed) as an AttentionMask, values as written (boolean: 1 for
// true). What true means is the caller's: the op's sense (may attend) or nn.MultiheadAttention's (may not).
inline attnkit::AttentionMask mask(const golden::json& v) {
  std::vector<const golden::json*> leaves;
  attnkit::Shape shape;
  std::function<void(const golden::json&, std::size_t)> walk = [&](const golden::json& x, std::size_t depth) {
    if (!x.is_array()) return leaves.push_back(&x);
    if (depth == shape.size()) shape.push_back(x.size());
    for (const auto& e : x) walk(e, depth + 1);
  };
  walk(v, 0);
  attnkit::AttentionMask m{
      leaves.front()->is_boolean() ? attnkit::MaskKind::boolean : attnkit::MaskKind::additive, shape, {}};
  for (const golden::json* x : leaves)
    m.values.push_back(x->is_boolean() ? (x->get<bool>() ? 1.0f : 0.0f) : float(golden::number(*x)));
  return m;
}

}  // namespace torch_golden
