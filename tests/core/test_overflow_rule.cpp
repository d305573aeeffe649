// attnkit tests — the overflow rule (core/src/overflow.hpp), with the inputs a hostile caller found: a module or
// attention-op input whose answer fits in float32 gets it, even when its scores or sums overflow on the way;
// otherwise an Error names the overflow and the expected range. Never a silently wrong answer.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "configs.hpp"

namespace attnkit {
namespace {

using attnkit_test::filled;

StateDict ones_state_dict(std::size_t d_in, std::size_t d_out, bool out_proj) {
  StateDict sd;
  for (const char* n : {"W_query", "W_key", "W_value"})
    sd.emplace_back(std::string(n) + ".weight", filled({d_out, d_in}, 1.0f));
  if (out_proj) {
    sd.emplace_back("out_proj.weight", filled({d_out, d_out}, 1.0f));
    sd.emplace_back("out_proj.bias", filled({d_out}, 0.0f));
  }
  return sd;
}

// Row 1: `self` with x [[3e38, 3e38, 3e38], [-3e38, 3e38, -3e38]] and weights of ones: the queries themselves
// (x·Wᵀ = 9e38) do not fit in float32. Before: context inf/nan, no error.
TEST(OverflowRule, ProjectionsThatOverflowAreRefusedByName) {
  Config c;
  c.mechanism = Mechanism::self;
  c.d_in = 3;
  c.d_out = 2;
  Module m(c, ones_state_dict(3, 2, false));
  const Tensor x({2, 3}, {3e38f, 3e38f, 3e38f, -3e38f, 3e38f, -3e38f});
  for (bool weights : {false, true}) {
    ForwardOptions o;
    o.return_weights = weights;
    try {
      m.forward(x, o);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("queries overflow float32 at batch 0, token 0"), std::string::npos) << what;
      EXPECT_NE(what.find("expected inputs and weights whose projections stay below 3.4e38"), std::string::npos)
          << what;
      EXPECT_EQ(e.kind(), ErrorKind::range);
    }
  }
}

// Row 2: `multihead` d_in 1, x [[1e20], [2e20]], every weight [[1]], bias 0: the scores (1e40…4e40) overflow
// float32 but the answer fits: weights [[1, 0], [0, 1]] and context [[1e20], [2e20]]. Before: context [1e20, 1.5e20],
// weights [0.5, 0.5], no error.
TEST(OverflowRule, ScoresThatOverflowGetTheRepresentableAnswer) {
  Config c;
  c.mechanism = Mechanism::multihead;
  c.d_in = 1;
  c.d_out = 1;
  c.num_heads = 1;
  Module m(c, ones_state_dict(1, 1, true));
  const Tensor x({2, 1}, {1e20f, 2e20f});
  for (bool weights : {false, true})
    for (std::size_t threads : {1, 2}) {
      ForwardOptions o;
      o.return_weights = weights;
      o.threads = threads;
      const ForwardResult r = m.forward(x, o);
      ASSERT_EQ(r.context.shape, (Shape{2, 1}));
      EXPECT_EQ(r.context.data[0], 1e20f);
      EXPECT_EQ(r.context.data[1], 2e20f);
      if (weights) {
        ASSERT_EQ(r.weights.shape, (Shape{1, 2, 2}));
        EXPECT_EQ(r.weights.data, (std::vector<float>{1, 0, 0, 1}));
      }
    }
}

// The same input through the op: q = k = v = [1e20, 2e20], causal.
TEST(OverflowRule, OpScoresThatOverflowGetTheRepresentableAnswer) {
  const Tensor x({1, 1, 2, 1}, {1e20f, 2e20f});
  for (CausalAlign causal : {CausalAlign::upper_left, CausalAlign::none})
    for (AttentionWeights w : {AttentionWeights::none, AttentionWeights::per_head}) {
      AttentionOptions o;
      o.causal = causal;
      o.weights = w;
      o.scale = 1.0;
      const AttentionResult r = attention(x, x, x, o);
      EXPECT_EQ(r.output.data, (std::vector<float>{causal == CausalAlign::none ? 2e20f : 1e20f, 2e20f}));
      if (w == AttentionWeights::per_head)
        EXPECT_EQ(r.weights.data, (std::vector<float>{causal == CausalAlign::none ? 0.0f : 1.0f,
                                                      causal == CausalAlign::none ? 1.0f : 0.0f, 0, 1}));
    }
  // Large tiles too (the tiled kernel): 100 keys, one of which overflows against every query.
  Tensor q({1, 1, 50, 32}), k({1, 1, 100, 32}), v({1, 1, 100, 8});
  for (std::size_t i = 0; i < q.numel(); ++i) q.data[i] = float(i % 7) * 0.1f + 1e19f;
  for (std::size_t i = 0; i < k.numel(); ++i) k.data[i] = float(i % 5) * 0.1f;
  for (std::size_t p = 0; p < 32; ++p) k.data[61 * 32 + p] = 1e20f;  // q·k_61 ≈ 3.2e40: weight 1 on key 61
  for (std::size_t i = 0; i < v.numel(); ++i) v.data[i] = float(i);
  for (AttentionWeights w : {AttentionWeights::none, AttentionWeights::per_head}) {
    AttentionOptions o;
    o.weights = w;
    const AttentionResult r = attention(q, k, v, o);
    for (std::size_t i = 0; i < 50; ++i)
      for (std::size_t c = 0; c < 8; ++c) ASSERT_EQ(r.output.data[i * 8 + c], v.data[61 * 8 + c]) << i << ", " << c;
  }
}

// Σ weights·value overflows in the fused kernel's unnormalised accumulator (4 keys of 3e38) while the answer,
// 3e38, fits: it is given. With dropout scaling the kept weights by 2 the answer itself does not fit: an Error.
TEST(OverflowRule, ContextOverflow) {
  const Tensor q({1, 1, 1, 2}, {0, 0}), k({1, 1, 4, 2}, std::vector<float>(8, 0.0f)),
      v({1, 1, 4, 1}, std::vector<float>(4, 3e38f));
  for (AttentionWeights w : {AttentionWeights::none, AttentionWeights::per_head}) {
    AttentionOptions o;
    o.weights = w;
    EXPECT_EQ(attention(q, k, v, o).output.data, std::vector<float>{3e38f});
  }
  // A seed whose draws keep at least three of the four weights (each then 0.25 · 2): the answer is ≥ 4.5e38.
  std::uint64_t seed = 0;
  for (;; ++seed) {
    Tensor keep(Shape{1, 1, 1, 4}, std::vector<float>(4, 1.0f));
    Generator(seed).dropout_(keep, 0.5);
    std::size_t kept = 0;
    for (float x : keep.data) kept += x != 0.0f;
    if (kept >= 3) break;
  }
  AttentionOptions o;
  o.dropout = 0.5;
  o.train = true;
  o.seed = seed;
  try {
    attention(q, k, v, o);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context overflows float32 at batch 0, head 0, query 0"), std::string::npos)
        << e.what();
    EXPECT_EQ(e.kind(), ErrorKind::range);
  }
}

}  // namespace
}  // namespace attnkit
