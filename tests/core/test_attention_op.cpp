// attnkit tests — the attention op (core/include/attnkit/attention.hpp) against the float64 reference
// (attention_reference.hpp): both causal alignments, grouped-query heads, n_q ≠ n_k, d ≠ d_v, fully masked rows,
// sizes around the SIMD width, large magnitudes, dropout, thread-count invariance (weights per head and averaged too),
// and the weights from the fused kernel's tiles: rows summing to 1, exactly 0 where the reference is.
#include "attention_op_checks.hpp"

namespace attnkit::test {
namespace {

TEST(AttentionOp, SizesAroundSimdWidth) {
  for (CausalAlign causal : kAligns)
    for (std::size_t s : sizes()) {
      Case c;
      c.causal = causal;
      c.n_q = s;
      check_case(c);
      c = Case{};
      c.causal = causal;
      c.n_k = s;
      check_case(c);
      c = Case{};
      c.causal = causal;
      c.d = s;
      c.d_v = s;
      check_case(c);
      c = Case{};
      c.causal = causal;
      c.d_v = s;
      check_case(c);
    }
}

TEST(AttentionOp, QueriesAndKeysOfDifferentLengths) {
  for (CausalAlign causal : kAligns)
    for (auto [nq, nk] :
         {std::pair<std::size_t, std::size_t>{3, 40}, {40, 3}, {1, 300}, {300, 1}, {130, 257}, {257, 130}}) {
      Case c;
      c.n_q = nq;
      c.n_k = nk;
      c.d = 16;
      c.d_v = 16;
      c.causal = causal;
      check_case(c);
    }
}

TEST(AttentionOp, ValueWidthDiffersFromKeyWidth) {
  for (CausalAlign causal : kAligns)
    for (auto [d, dv] : {std::pair<std::size_t, std::size_t>{7, 20}, {33, 2}, {64, 1}, {1, 64}, {20, 70}}) {
      Case c;
      c.n_q = 70;
      c.n_k = 90;
      c.d = d;
      c.d_v = dv;
      c.causal = causal;
      check_case(c);
    }
}

TEST(AttentionOp, GroupedAndMultiQueryHeads) {
  for (std::size_t h_kv : {6, 3, 2, 1})
    for (CausalAlign causal : kAligns) {
      Case c;
      c.b = 2;
      c.h_q = 6;
      c.h_kv = h_kv;
      c.n_q = 37;
      c.n_k = 70;
      c.d = 24;
      c.d_v = 12;
      c.causal = causal;
      check_case(c);
    }
}

TEST(AttentionOp, CausalAlignmentsDifferAsDocumented) {
  // upper-left: query 0 sees key 0 only; lower-right with n_k = n_q + 2: query 0 sees keys 0..2.
  Case c;
  c.n_q = 3;
  c.n_k = 5;
  c.d = 2;
  c.d_v = 2;
  const Inputs in = make(c);
  AttentionOptions o;
  o.weights = AttentionWeights::per_head;
  o.causal = CausalAlign::upper_left;
  const AttentionResult ul = attention(in.query, in.key, in.value, o);
  o.causal = CausalAlign::lower_right;
  const AttentionResult lr = attention(in.query, in.key, in.value, o);
  EXPECT_EQ(ul.weights.data[0], 1.0f);
  for (std::size_t j = 1; j < 5; ++j) EXPECT_EQ(ul.weights.data[j], 0.0f);
  for (std::size_t j = 0; j < 3; ++j) EXPECT_GT(lr.weights.data[j], 0.0f);
  for (std::size_t j = 3; j < 5; ++j) EXPECT_EQ(lr.weights.data[j], 0.0f);
  for (std::size_t j = 0; j < 5; ++j) EXPECT_GT(lr.weights.data[2 * 5 + j], 0.0f);  // the last query sees every key
}

TEST(AttentionOp, LargeMagnitudesAndCustomScale) {
  for (CausalAlign causal : kAligns) {
    Case c;
    c.n_q = 33;
    c.n_k = 50;
    c.d = 16;
    c.d_v = 16;
    c.causal = causal;
    c.magnitude = 30.0;  // sharp softmax: scores up to ~900·scale
    c.value_magnitude = 1e30;
    check_case(c);
    c.magnitude = 1e-20;  // scores ~1e-40 (denormal products): uniform weights
    check_case(c);
    c.magnitude = 1.0;
    check_case(c, nullptr, 3.0);
    check_case(c, nullptr, -0.5);
    check_case(c, nullptr, 0.0);
  }
}

TEST(AttentionOp, AveragedWeightsAreTheMeanOverHeads) {
  Case c;
  c.b = 2;
  c.h_q = 4;
  c.h_kv = 2;
  c.n_q = 6;
  c.n_k = 7;
  c.causal = CausalAlign::upper_left;
  const Inputs in = make(c);
  AttentionOptions o;
  o.causal = c.causal;
  o.weights = AttentionWeights::averaged;
  const AttentionResult avg = attention(in.query, in.key, in.value, o);
  ASSERT_EQ(avg.weights.shape, (Shape{2, 6, 7}));
  const ref::AttentionOut want = ref::sdpa(in.query, in.key, in.value, 1.0 / std::sqrt(8.0), c.causal, nullptr);
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t e = 0; e < 42; ++e) {
      double mean = 0;
      for (std::size_t h = 0; h < 4; ++h) mean += want.weights[(b * 4 + h) * 42 + e] / 4;
      EXPECT_NEAR(avg.weights.data[b * 42 + e], mean, 1e-6 * mean + 1e-37);
    }
}

TEST(AttentionOp, DropoutIsSeededAndMatchesReference) {
  Case c;
  c.b = 2;
  c.h_q = 2;
  c.n_q = 9;
  c.n_k = 11;
  c.d = 5;
  c.d_v = 3;
  c.causal = CausalAlign::upper_left;
  const Inputs in = make(c);
  AttentionOptions o;
  o.causal = c.causal;
  o.dropout = 0.3;
  o.train = true;
  o.seed = 42;
  const AttentionResult a = attention(in.query, in.key, in.value, o);
  const AttentionResult b = attention(in.query, in.key, in.value, o);
  ASSERT_EQ(std::memcmp(a.output.ptr(), b.output.ptr(), a.output.numel() * 4), 0) << "same seed, same output";
  // The draws: F.dropout over the (b, h_q, n_q, n_k) weights in memory order, from torch.manual_seed(42).
  Tensor keep(Shape{2, 2, 9, 11}, std::vector<float>(2 * 2 * 9 * 11, 1.0f));
  Generator(42).dropout_(keep, 0.3);
  expect_matches(in, o, a, "dropout", &keep.data);
  // Returned weights are before dropout.
  o.weights = AttentionWeights::per_head;
  const AttentionResult w = attention(in.query, in.key, in.value, o);
  expect_matches(in, o, w, "dropout with weights", &keep.data);
  // A caller's generator continues its sequence: the second call draws new masks.
  Generator g(42);
  o.generator = &g;
  const AttentionResult first = attention(in.query, in.key, in.value, o);
  const AttentionResult second = attention(in.query, in.key, in.value, o);
  EXPECT_EQ(std::memcmp(first.output.ptr(), a.output.ptr(), a.output.numel() * 4), 0);
  EXPECT_NE(std::memcmp(second.output.ptr(), a.output.ptr(), a.output.numel() * 4), 0);
  // Not in training mode: no dropout.
  o.train = false;
  o.generator = nullptr;
  const AttentionResult eval = attention(in.query, in.key, in.value, o);
  expect_matches(in, o, eval, "dropout off in eval");
}

TEST(AttentionOp, BitwiseIdenticalForAnyThreadCount) {
  Case c;
  c.b = 2;
  c.h_q = 6;
  c.h_kv = 2;
  c.n_q = 300;
  c.n_k = 333;
  c.d = 40;
  c.d_v = 24;
  Rng rng(3);
  const AttentionMask m = random_mask(rng, MaskKind::additive, {c.b, 1, c.n_q, c.n_k}, 0.7);
  for (CausalAlign causal : kAligns)
    for (AttentionWeights w : {AttentionWeights::none, AttentionWeights::per_head, AttentionWeights::averaged}) {
      c.causal = causal;
      const Inputs in = make(c);
      AttentionOptions o;
      o.causal = causal;
      o.attn_mask = &m;
      o.weights = w;
      o.threads = 1;
      const AttentionResult one = attention(in.query, in.key, in.value, o);
      for (std::size_t threads : {2, 3, 7}) {
        o.threads = threads;
        const AttentionResult many = attention(in.query, in.key, in.value, o);
        ASSERT_EQ(std::memcmp(one.output.ptr(), many.output.ptr(), one.output.numel() * 4), 0) << threads << " threads";
        if (w != AttentionWeights::none)
          ASSERT_EQ(std::memcmp(one.weights.ptr(), many.weights.ptr(), one.weights.numel() * 4), 0)
              << threads << " threads";
      }
    }
}

}  // namespace
}  // namespace attnkit::test
