// attnkit tests — the attention op against PyTorch's own answers (tests/golden/torch/sdpa_*.json, written by
// scripts/make_torch_golden.py in float64 from float32 inputs): no mask, bool and float masks, both causal
// alignments, grouped and multi-query heads, d ≠ d_v with a custom scale, and rows with nothing to attend to
// (PyTorch: NaN; attnkit: zeros, as documented). Both paths, weights per head and averaged.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "golden.hpp"

namespace attnkit {
namespace {

using golden::json;

json load_torch(const std::string& name) {
  std::ifstream in(std::string(ATTNKIT_GOLDEN_DIR) + "/torch/" + name);
  if (!in) throw std::runtime_error("cannot open tests/golden/torch/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// A bool mask (JSON booleans) or a float mask (numbers and "-inf") as the op's AttentionMask.
AttentionMask mask_from(const json& v) {
  std::vector<const json*> leaves;
  Shape shape;
  std::function<void(const json&, std::size_t)> walk = [&](const json& x, std::size_t depth) {
    if (!x.is_array()) return leaves.push_back(&x);
    if (depth == shape.size()) shape.push_back(x.size());
    for (const auto& e : x) walk(e, depth + 1);
  };
  walk(v, 0);
  AttentionMask m{leaves.front()->is_boolean() ? MaskKind::boolean : MaskKind::additive, shape, {}};
  for (const json* x : leaves)
    m.values.push_back(x->is_boolean() ? (x->get<bool>() ? 1.0f : 0.0f) : float(golden::number(*x)));
  return m;
}

void expect_near(const std::vector<float>& got, const golden::Array& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.numel()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want.data[i])) {  // a row PyTorch gives NaN for: nothing to attend to
      ASSERT_EQ(got[i], 0.0f) << what << " at " << i << ": a row with nothing to attend to is zeros";
      continue;
    }
    ASSERT_NEAR(got[i], want.data[i], 1e-5 * std::fabs(want.data[i]) + 1e-6) << what << " at " << i;
  }
}

TEST(AttentionTorchGolden, EverySdpaCase) {
  const char* const files[] = {
      "sdpa_no_mask.json",           "sdpa_bool_mask.json",          "sdpa_float_mask.json",
      "sdpa_causal_upper_left.json", "sdpa_causal_lower_right.json", "sdpa_causal_lower_right_more_queries.json",
      "sdpa_grouped_query.json",     "sdpa_multi_query.json",        "sdpa_d_ne_dv_scale.json",
      "sdpa_fully_masked_row.json"};
  for (const char* file : files) {
    const json g = load_torch(file);
    const json& in = g.at("inputs");
    const Tensor query = golden::tensor(in.at("query")), key = golden::tensor(in.at("key")),
                 value = golden::tensor(in.at("value"));
    std::optional<AttentionMask> mask;
    if (in.contains("attn_mask")) mask = mask_from(in.at("attn_mask"));
    AttentionOptions o;
    const json& call = g.at("call");
    if (!call.at("scale").is_null()) o.scale = call.at("scale").get<double>();
    if (!call.at("causal").is_null())
      o.causal =
          call.at("causal").get<std::string>() == "upper-left" ? CausalAlign::upper_left : CausalAlign::lower_right;
    o.attn_mask = mask ? &*mask : nullptr;
    const json& out = g.at("outputs");
    for (AttentionWeights w : {AttentionWeights::none, AttentionWeights::per_head, AttentionWeights::averaged}) {
      o.weights = w;
      const AttentionResult r = attention(query, key, value, o);
      const std::string what = std::string(file) + " weights " + std::to_string(int(w));
      expect_near(r.output.data, golden::array(out.at("output")), what + " output");
      if (w == AttentionWeights::per_head)
        expect_near(r.weights.data, golden::array(out.at("weights")), what + " weights");
      if (w == AttentionWeights::averaged)
        expect_near(r.weights.data, golden::array(out.at("weights_averaged_over_heads")), what + " averaged weights");
    }
  }
}

}  // namespace
}  // namespace attnkit
