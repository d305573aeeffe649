// attnkit tests — the attention op's masks against the float64 reference: boolean and additive (with −inf), every
// broadcastable shape of rank 1 to 4, block-sparse masks whose key blocks the fused path skips, key padding.
#include "attention_op_checks.hpp"

namespace attnkit::test {
namespace {

TEST(AttentionMasks, EveryRankAndKind) {
  Case c;
  c.b = 2;
  c.h_q = 4;
  c.h_kv = 2;
  c.n_q = 19;
  c.n_k = 45;
  c.d = 10;
  c.d_v = 6;
  const std::size_t B = c.b, H = c.h_q, Q = c.n_q, K = c.n_k;
  const std::vector<Shape> shapes = {{K},          {1},          {Q, K},       {Q, 1},       {1, K},
                                     {H, Q, K},    {1, H, 1, K}, {B, 1, Q, K}, {B, H, Q, K}, {B, 1, 1, K},
                                     {1, 1, 1, 1}, {B, H, Q, 1}, {H, 1, K}};
  Rng rng(7);
  for (MaskKind kind : {MaskKind::boolean, MaskKind::additive})
    for (const Shape& s : shapes)
      for (CausalAlign causal : kAligns)
        for (double fraction : {0.9, 0.3}) {
          c.causal = causal;
          const AttentionMask m = random_mask(rng, kind, s, fraction);
          check_case(c, &m);
        }
}

TEST(AttentionMasks, BlockSparseMaskSkipsTilesAndStaysExact) {
  // Long sequences with a mask that allows keys only in a few bands: most (query tile, key block) pairs are
  // entirely masked.
  Case c;
  c.n_q = 300;
  c.n_k = 700;
  c.d = 32;
  c.d_v = 32;
  AttentionMask m{MaskKind::boolean, {c.n_q, c.n_k}, std::vector<float>(c.n_q * c.n_k, 0.0f)};
  for (std::size_t i = 0; i < c.n_q; ++i)
    for (std::size_t j = 0; j < c.n_k; ++j) m.values[i * c.n_k + j] = (j / 50 == i / 100 * 3) || j == i ? 1.0f : 0.0f;
  for (CausalAlign causal : kAligns) {
    c.causal = causal;
    check_case(c, &m);
  }
  const AttentionMask padding = boolean_mask({c.n_k}, [&] {  // a padded batch: the last keys are padding
    std::vector<bool> v(c.n_k, true);
    std::fill(v.begin() + 333, v.end(), false);
    return v;
  }());
  check_case(c, &padding);
}

TEST(AttentionOp, FullyMaskedRowsAreZerosOnBothPaths) {
  const float ninf = -std::numeric_limits<float>::infinity();
  Case c;
  c.n_q = 5;
  c.n_k = 9;
  c.d = 3;
  c.d_v = 4;
  const Inputs in = make(c);
  AttentionMask none_row{MaskKind::boolean, {c.n_q, c.n_k}, std::vector<float>(c.n_q * c.n_k, 1.0f)};
  for (std::size_t j = 0; j < c.n_k; ++j) none_row.values[2 * c.n_k + j] = 0.0f;  // row 2: nothing allowed
  AttentionMask ninf_row = additive_mask({c.n_q, c.n_k}, std::vector<float>(c.n_q * c.n_k, 0.5f));
  for (std::size_t j = 0; j < c.n_k; ++j) ninf_row.values[2 * c.n_k + j] = ninf;  // row 2: all −inf
  for (const AttentionMask* m : {&none_row, &ninf_row})
    for (AttentionWeights w : {AttentionWeights::none, AttentionWeights::per_head}) {
      AttentionOptions o;
      o.attn_mask = m;
      o.weights = w;
      const AttentionResult r = attention(in.query, in.key, in.value, o);
      for (std::size_t col = 0; col < c.d_v; ++col) EXPECT_EQ(r.output.data[2 * c.d_v + col], 0.0f);
      for (float x : r.output.data) EXPECT_FALSE(std::isnan(x));
      if (w == AttentionWeights::per_head)
        for (std::size_t j = 0; j < c.n_k; ++j) EXPECT_EQ(r.weights.data[2 * c.n_k + j], 0.0f);
      expect_matches(in, o, r, "fully masked row");
    }
  // Lower-right with more queries than keys: the first n_q − n_k queries see no key.
  for (AttentionWeights w : {AttentionWeights::none, AttentionWeights::per_head}) {
    Case l;
    l.n_q = 40;
    l.n_k = 17;
    l.d = 20;
    l.d_v = 20;
    l.causal = CausalAlign::lower_right;
    const Inputs li = make(l);
    AttentionOptions o;
    o.causal = CausalAlign::lower_right;
    o.weights = w;
    const AttentionResult r = attention(li.query, li.key, li.value, o);
    for (std::size_t i = 0; i < l.n_q - l.n_k; ++i)
      for (std::size_t col = 0; col < l.d_v; ++col) ASSERT_EQ(r.output.data[i * l.d_v + col], 0.0f) << i;
    expect_matches(li, o, r, "lower-right, n_q > n_k");
  }
}

// The same on the tiled kernel (n_k past attention_direct's 64 keys), whose weights come from its score tiles: a row
// masked everywhere and the queries lower-right alignment leaves without keys get all-zero weights, the rest sum to 1.
TEST(AttentionOp, FullyMaskedRowsOfTheTiledKernelHaveZeroWeights) {
  Case c;
  c.n_q = 100;
  c.n_k = 300;
  c.d = 24;
  c.d_v = 24;
  const Inputs in = make(c);
  AttentionMask m{MaskKind::boolean, {c.n_q, c.n_k}, std::vector<float>(c.n_q * c.n_k, 1.0f)};
  for (std::size_t j = 0; j < c.n_k; ++j) m.values[37 * c.n_k + j] = 0.0f;    // row 37: nothing allowed
  for (std::size_t j = 150; j < c.n_k; ++j) m.values[60 * c.n_k + j] = 0.0f;  // row 60: the first half only
  AttentionOptions o;
  o.attn_mask = &m;
  o.weights = AttentionWeights::per_head;
  const AttentionResult r = attention(in.query, in.key, in.value, o);
  for (std::size_t j = 0; j < c.n_k; ++j) ASSERT_EQ(r.weights.data[37 * c.n_k + j], 0.0f) << j;
  expect_matches(in, o, r, "tiled, fully masked row");
  expect_weights_rows(in, o, r, "tiled, fully masked row");
  Case l;
  l.n_q = 200;
  l.n_k = 90;
  l.d = 24;
  l.d_v = 24;
  l.causal = CausalAlign::lower_right;
  const Inputs li = make(l);
  AttentionOptions lo;
  lo.causal = CausalAlign::lower_right;
  lo.weights = AttentionWeights::per_head;
  const AttentionResult lr = attention(li.query, li.key, li.value, lo);
  for (std::size_t e = 0; e < (l.n_q - l.n_k) * l.n_k; ++e) ASSERT_EQ(lr.weights.data[e], 0.0f) << e;
  expect_matches(li, lo, lr, "tiled, lower-right, n_q > n_k");
  expect_weights_rows(li, lo, lr, "tiled, lower-right, n_q > n_k");
}

}  // namespace
}  // namespace attnkit::test
