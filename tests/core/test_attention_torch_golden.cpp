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
#include "torch_golden.hpp"

namespace attnkit {
namespace {

using golden::json;

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
    const json g = torch_golden::load(file);
    const json& in = g.at("inputs");
    const Tensor query = golden::tensor(in.at("query")), key = golden::tensor(in.at("key")),
                 value = golden::tensor(in.at("value"));
    std::optional<AttentionMask> mask;
    if (in.contains("attn_mask")) mask = torch_golden::mask(in.at("attn_mask"));
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
