// attnkit tests — the attention op (core/include/attnkit/attention.hpp) against the float64 reference
// (attention_reference.hpp): masks of every kind and rank, both causal alignments, grouped-query heads,
// n_q ≠ n_k, d ≠ d_v, fully masked rows, sizes around the SIMD width, large magnitudes, dropout, thread-count
// invariance, explain == fused, and overflow. Tolerances as in kernel_tester.hpp: relative to the condition of
// each sum (Σ|terms|, and the scores' Σ|q·k|·scale, which exp turns into a relative error of the weights).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "attention_reference.hpp"
#include "attnkit/attnkit.hpp"
#include "attnkit/attention.hpp"
#include "kernels/kernels.hpp"
#include "reference.hpp"

namespace attnkit::test {
namespace {

using ref::random_tensor;
using ref::Rng;

struct Case {
  std::size_t b = 1, h_q = 1, h_kv = 1, n_q = 4, n_k = 5, d = 8, d_v = 8;
  CausalAlign causal = CausalAlign::none;
  double magnitude = 1.0;  // of query and key
  double value_magnitude = 1.0;
  std::uint64_t seed = 1;
};

struct Inputs {
  Tensor query, key, value;
};

Inputs make(const Case& c) {
  Rng rng(c.seed);
  return {random_tensor(rng, {c.b, c.h_q, c.n_q, c.d}, -c.magnitude, c.magnitude),
          random_tensor(rng, {c.b, c.h_kv, c.n_k, c.d}, -c.magnitude, c.magnitude),
          random_tensor(rng, {c.b, c.h_kv, c.n_k, c.d_v}, -c.value_magnitude, c.value_magnitude)};
}

// max over keys of scale·Σ_p |q·k|: the absolute error of a float32 score is ~d·eps of it.
double score_condition(const Inputs& in, double scale) {
  const auto& q = in.query; const auto& k = in.key;
  const std::size_t HQ = q.shape[1], NQ = q.shape[2], D = q.shape[3], HKV = k.shape[1], NK = k.shape[2];
  double cond = 0;
  for (std::size_t b = 0; b < q.shape[0]; ++b)
    for (std::size_t h = 0; h < HQ; ++h)
      for (std::size_t i = 0; i < NQ; ++i)
        for (std::size_t j = 0; j < NK; ++j) {
          double s = 0;
          for (std::size_t p = 0; p < D; ++p)
            s += std::fabs(double(q.data[((b * HQ + h) * NQ + i) * D + p]) * k.data[((b * HKV + h / (HQ / HKV)) * NK + j) * D + p]);
          cond = std::max(cond, std::fabs(scale) * s);
        }
  return cond;
}

void expect_matches(const Inputs& in, const AttentionOptions& o, const AttentionResult& r, const std::string& what,
                    const std::vector<float>* keep = nullptr) {
  const double scale = o.scale.value_or(1.0 / std::sqrt(double(in.query.shape[3])));
  const ref::AttentionOut want = ref::sdpa(in.query, in.key, in.value, scale, o.causal, o.attn_mask, keep);
  const double tol = 1e-5 * (1.0 + score_condition(in, scale));
  ASSERT_EQ(r.output.shape, (Shape{in.query.shape[0], in.query.shape[1], in.query.shape[2], in.value.shape[3]})) << what;
  for (std::size_t i = 0; i < want.output.size(); ++i)
    ASSERT_NEAR(r.output.data[i], want.output[i], tol * want.magnitude[i] + 1e-30)
        << what << " output[" << i << "] of shape " << shape_to_string(r.output.shape);
  if (o.weights == AttentionWeights::per_head) {
    ASSERT_EQ(r.weights.numel(), want.weights.size()) << what;
    for (std::size_t i = 0; i < want.weights.size(); ++i)
      ASSERT_NEAR(r.weights.data[i], want.weights[i], tol * want.weights[i] + 1e-37) << what << " weights[" << i << "]";
  }
}

// Runs both paths and compares each with the reference, and the two with each other (≤ 1e-6 relative).
void check_case(const Case& c, const AttentionMask* mask = nullptr, std::optional<double> scale = {}) {
  const Inputs in = make(c);
  AttentionOptions o;
  o.causal = c.causal;
  o.attn_mask = mask;
  o.scale = scale;
  const std::string what = "b" + std::to_string(c.b) + " h_q" + std::to_string(c.h_q) + " h_kv" + std::to_string(c.h_kv) +
                           " n_q" + std::to_string(c.n_q) + " n_k" + std::to_string(c.n_k) + " d" + std::to_string(c.d) +
                           " d_v" + std::to_string(c.d_v) + " causal" + std::to_string(int(c.causal)) +
                           (mask ? " mask " + shape_to_string(mask->shape) : std::string());
  const AttentionResult fused = attention(in.query, in.key, in.value, o);
  EXPECT_TRUE(fused.weights.empty());
  expect_matches(in, o, fused, what + " fused");
  o.weights = AttentionWeights::per_head;
  const AttentionResult explain = attention(in.query, in.key, in.value, o);
  expect_matches(in, o, explain, what + " explain");
  const ref::AttentionOut want = ref::sdpa(in.query, in.key, in.value, o.scale.value_or(1.0 / std::sqrt(double(c.d))),
                                           c.causal, mask);
  const double cond = 1.0 + score_condition(in, o.scale.value_or(1.0 / std::sqrt(double(c.d))));
  for (std::size_t i = 0; i < fused.output.numel(); ++i)
    ASSERT_NEAR(fused.output.data[i], explain.output.data[i], 1e-6 * want.magnitude[i] * cond + 1e-30)
        << what << " explain and fused differ at " << i;
}

std::size_t simd_width() { return kernels::table().simd_width; }

std::vector<std::size_t> sizes() {
  const std::size_t w = simd_width();
  std::vector<std::size_t> s{1, 3, 7, w - 1, w, w + 1, 3 * w, 8 * w + 2};
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  return s;
}

const CausalAlign kAligns[] = {CausalAlign::none, CausalAlign::upper_left, CausalAlign::lower_right};

TEST(AttentionOp, SizesAroundSimdWidth) {
  for (CausalAlign causal : kAligns)
    for (std::size_t s : sizes()) {
      Case c;
      c.causal = causal;
      c.n_q = s; check_case(c);
      c = Case{}; c.causal = causal; c.n_k = s; check_case(c);
      c = Case{}; c.causal = causal; c.d = s; c.d_v = s; check_case(c);
      c = Case{}; c.causal = causal; c.d_v = s; check_case(c);
    }
}

TEST(AttentionOp, QueriesAndKeysOfDifferentLengths) {
  for (CausalAlign causal : kAligns)
    for (auto [nq, nk] : {std::pair<std::size_t, std::size_t>{3, 40}, {40, 3}, {1, 300}, {300, 1}, {130, 257}, {257, 130}}) {
      Case c;
      c.n_q = nq; c.n_k = nk; c.d = 16; c.d_v = 16; c.causal = causal;
      check_case(c);
    }
}

TEST(AttentionOp, ValueWidthDiffersFromKeyWidth) {
  for (CausalAlign causal : kAligns)
    for (auto [d, dv] : {std::pair<std::size_t, std::size_t>{7, 20}, {33, 2}, {64, 1}, {1, 64}, {20, 70}}) {
      Case c;
      c.n_q = 70; c.n_k = 90; c.d = d; c.d_v = dv; c.causal = causal;
      check_case(c);
    }
}

TEST(AttentionOp, GroupedAndMultiQueryHeads) {
  for (std::size_t h_kv : {6, 3, 2, 1})
    for (CausalAlign causal : kAligns) {
      Case c;
      c.b = 2; c.h_q = 6; c.h_kv = h_kv; c.n_q = 37; c.n_k = 70; c.d = 24; c.d_v = 12; c.causal = causal;
      check_case(c);
    }
}

// Masks of every broadcastable rank, boolean and additive (with −inf), sparse enough that whole key blocks are
// masked (the fused path skips them) and some rows see nothing.
AttentionMask random_mask(Rng& rng, MaskKind kind, const Shape& shape, double allowed_fraction) {
  std::size_t count = 1;
  for (auto d : shape) count *= d;
  AttentionMask m{kind, shape, std::vector<float>(count)};
  for (auto& v : m.values) {
    const bool allow = rng.uniform(0, 1) < allowed_fraction;
    v = kind == MaskKind::boolean ? (allow ? 1.0f : 0.0f)
                                  : (allow ? float(rng.uniform(-3, 3)) : -std::numeric_limits<float>::infinity());
  }
  return m;
}

TEST(AttentionOp, MasksOfEveryRankAndKind) {
  Case c;
  c.b = 2; c.h_q = 4; c.h_kv = 2; c.n_q = 19; c.n_k = 45; c.d = 10; c.d_v = 6;
  const std::size_t B = c.b, H = c.h_q, Q = c.n_q, K = c.n_k;
  const std::vector<Shape> shapes = {{K}, {1}, {Q, K}, {Q, 1}, {1, K}, {H, Q, K}, {1, H, 1, K}, {B, 1, Q, K},
                                     {B, H, Q, K}, {B, 1, 1, K}, {1, 1, 1, 1}, {B, H, Q, 1}, {H, 1, K}};
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

TEST(AttentionOp, BlockSparseMaskSkipsTilesAndStaysExact) {
  // Long sequences with a mask that allows keys only in a few bands: most (query tile, key block) pairs are
  // entirely masked.
  Case c;
  c.n_q = 300; c.n_k = 700; c.d = 32; c.d_v = 32;
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
  c.n_q = 5; c.n_k = 9; c.d = 3; c.d_v = 4;
  const Inputs in = make(c);
  AttentionMask none_row{MaskKind::boolean, {c.n_q, c.n_k}, std::vector<float>(c.n_q * c.n_k, 1.0f)};
  for (std::size_t j = 0; j < c.n_k; ++j) none_row.values[2 * c.n_k + j] = 0.0f;      // row 2: nothing allowed
  AttentionMask ninf_row = additive_mask({c.n_q, c.n_k}, std::vector<float>(c.n_q * c.n_k, 0.5f));
  for (std::size_t j = 0; j < c.n_k; ++j) ninf_row.values[2 * c.n_k + j] = ninf;       // row 2: all −inf
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
    l.n_q = 40; l.n_k = 17; l.d = 20; l.d_v = 20; l.causal = CausalAlign::lower_right;
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

TEST(AttentionOp, CausalAlignmentsDifferAsDocumented) {
  // upper-left: query 0 sees key 0 only; lower-right with n_k = n_q + 2: query 0 sees keys 0..2.
  Case c;
  c.n_q = 3; c.n_k = 5; c.d = 2; c.d_v = 2;
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
    c.n_q = 33; c.n_k = 50; c.d = 16; c.d_v = 16; c.causal = causal;
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
  c.b = 2; c.h_q = 4; c.h_kv = 2; c.n_q = 6; c.n_k = 7; c.causal = CausalAlign::upper_left;
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
  c.b = 2; c.h_q = 2; c.n_q = 9; c.n_k = 11; c.d = 5; c.d_v = 3; c.causal = CausalAlign::upper_left;
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
  c.b = 2; c.h_q = 6; c.h_kv = 2; c.n_q = 300; c.n_k = 333; c.d = 40; c.d_v = 24;
  Rng rng(3);
  const AttentionMask m = random_mask(rng, MaskKind::additive, {c.b, 1, c.n_q, c.n_k}, 0.7);
  for (CausalAlign causal : kAligns)
    for (AttentionWeights w : {AttentionWeights::none, AttentionWeights::per_head}) {
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
        if (w == AttentionWeights::per_head)
          ASSERT_EQ(std::memcmp(one.weights.ptr(), many.weights.ptr(), one.weights.numel() * 4), 0) << threads << " threads";
      }
    }
}

}  // namespace
}  // namespace attnkit::test
