// A right-padded batch (boolean key_padding_mask, padding at the end of each sequence) takes the one-GEMM fused
// route, each sequence's attention stopping at its last real key (core/src/forward.cpp); against the op's route for
// the same mask (forced by an attn_mask that allows everything), which tests/core/test_module_inputs*.cpp check
// against float64 and PyTorch: ≤ 1e-6 relative, sizes around the tiles, a sequence of padding only (zeros), one
// with none, and masks that are not right padding (left padding, a hole) taking the op's route unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"

namespace {

using attnkit::AttentionMask;
using attnkit::MaskKind;
using attnkit::Tensor;

double worst_relative(const std::vector<float>& got, const std::vector<float>& want) {
  double top = 0.0, worst = 0.0;
  for (float v : want) top = std::max(top, double(std::fabs(v)));
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - double(want[i])));
  return worst / std::max(top, 1e-30);
}

TEST(PaddedPrefill, RightPaddingMatchesTheOpRoute) {
  struct Case {
    std::size_t batch, tokens, d, heads;
    bool causal;
  };
  for (const Case k :
       {Case{3, 7, 8, 2, true}, Case{4, 65, 16, 2, false}, Case{2, 200, 64, 4, true}, Case{3, 256, 32, 2, true}}) {
    attnkit::Config c;
    c.mechanism = attnkit::Mechanism::multihead;
    c.d_in = c.d_out = k.d;
    c.num_heads = k.heads;
    c.causal = k.causal;
    attnkit::Module module(c);
    attnkit::Generator generator(8);
    const Tensor x = generator.rand({k.batch, k.tokens, k.d});
    // Sequence b keeps tokens − b·tokens/4 keys (at least 1), except the second of a 3-batch: all padding.
    AttentionMask padding{MaskKind::boolean, {k.batch, k.tokens}, std::vector<float>(k.batch * k.tokens, 0.0f)};
    for (std::size_t b = 0; b < k.batch; ++b) {
      const std::size_t keep = k.batch == 3 && b == 1 ? 0 : std::max<std::size_t>(1, k.tokens - b * k.tokens / 4);
      for (std::size_t j = keep; j < k.tokens; ++j) padding.values[b * k.tokens + j] = 1.0f;
    }
    const AttentionMask everything{MaskKind::boolean,
                                   {k.tokens, k.tokens},
                                   std::vector<float>(k.tokens * k.tokens, 0.0f)};  // true = not allowed: none
    attnkit::ForwardInputs fast, op;
    fast.key_padding_mask = op.key_padding_mask = &padding;
    op.attn_mask = &everything;
    for (std::size_t threads : {1, 2}) {
      attnkit::ForwardOptions options;
      options.threads = threads;
      const Tensor got = module.forward(x, fast, options).context;
      const Tensor want = module.forward(x, op, options).context;
      const std::string what =
          "b" + std::to_string(k.batch) + " n" + std::to_string(k.tokens) + " threads " + std::to_string(threads);
      EXPECT_LE(worst_relative(got.data, want.data), 1e-6) << what;
      if (k.batch == 3) {  // the all-padding sequence: a zero context (PyTorch: NaN), so out_proj gives its bias
        const Tensor* bias = nullptr;
        const attnkit::StateDict sd = module.state_dict();
        for (const auto& [name, t] : sd)
          if (name == "out_proj.bias") bias = &t;
        ASSERT_NE(bias, nullptr);
        for (std::size_t i = 0; i < k.tokens; ++i)
          for (std::size_t e = 0; e < k.d; ++e)
            ASSERT_EQ(got.data[(k.tokens + i) * k.d + e], bias->data[e]) << what << " token " << i;
      }
    }
  }
}

TEST(PaddedPrefill, OtherMasksKeepTheirMeaning) {
  attnkit::Config c;
  c.mechanism = attnkit::Mechanism::multihead;
  c.d_in = c.d_out = 8;
  c.num_heads = 2;
  c.causal = false;
  attnkit::Module module(c);
  attnkit::Generator generator(9);
  const Tensor x = generator.rand({2, 9, 8});
  // Left padding and a hole: not right padding, so the op's route, which must differ from no mask at all.
  AttentionMask left{MaskKind::boolean, {2, 9}, std::vector<float>(18, 0.0f)};
  left.values[0] = left.values[1] = 1.0f;  // sequence 0: keys 0 and 1 padding
  left.values[9 + 4] = 1.0f;               // sequence 1: key 4
  const AttentionMask everything{MaskKind::boolean, {9, 9}, std::vector<float>(81, 0.0f)};
  attnkit::ForwardInputs a, b;
  a.key_padding_mask = b.key_padding_mask = &left;
  b.attn_mask = &everything;
  const Tensor masked = module.forward(x, a).context;
  EXPECT_LE(worst_relative(masked.data, module.forward(x, b).context.data), 1e-6);
  EXPECT_GT(worst_relative(masked.data, module.forward(x).context.data), 1e-3);
}

}  // namespace
