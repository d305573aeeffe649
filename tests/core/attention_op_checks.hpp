// attnkit tests — shared by the attention-op suites: random cases, the comparison of both paths with the float64
// reference (attention_reference.hpp), and the sizes around the SIMD width. Tolerances as in kernel_tester.hpp:
// relative to the condition of each sum (Σ|terms|, and the scores' Σ|q·k|·scale, which exp turns into a relative
// error of the weights).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "attention_reference.hpp"
#include "attnkit/attnkit.hpp"
#include "kernels/kernels.hpp"
#include "reference.hpp"

namespace attnkit::test {

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

inline Inputs make(const Case& c) {
  Rng rng(c.seed);
  return {random_tensor(rng, {c.b, c.h_q, c.n_q, c.d}, -c.magnitude, c.magnitude),
          random_tensor(rng, {c.b, c.h_kv, c.n_k, c.d}, -c.magnitude, c.magnitude),
          random_tensor(rng, {c.b, c.h_kv, c.n_k, c.d_v}, -c.value_magnitude, c.value_magnitude)};
}

// max over keys of scale·Σ_p |q·k|: the absolute error of a float32 score is ~d·eps of it.
inline double score_condition(const Inputs& in, double scale) {
  const auto& q = in.query;
  const auto& k = in.key;
  const std::size_t HQ = q.shape[1], NQ = q.shape[2], D = q.shape[3], HKV = k.shape[1], NK = k.shape[2];
  double cond = 0;
  for (std::size_t b = 0; b < q.shape[0]; ++b)
    for (std::size_t h = 0; h < HQ; ++h)
      for (std::size_t i = 0; i < NQ; ++i)
        for (std::size_t j = 0; j < NK; ++j) {
          double s = 0;
          for (std::size_t p = 0; p < D; ++p)
            s += std::fabs(double(q.data[((b * HQ + h) * NQ + i) * D + p]) *
                           k.data[((b * HKV + h / (HQ / HKV)) * NK + j) * D + p]);
          cond = std::max(cond, std::fabs(scale) * s);
        }
  return cond;
}

inline void expect_matches(const Inputs& in, const AttentionOptions& o, const AttentionResult& r,
                           const std::string& what, const std::vector<float>* keep = nullptr) {
  const double scale = o.scale.value_or(1.0 / std::sqrt(double(in.query.shape[3])));
  const ref::AttentionOut want = ref::sdpa(in.query, in.key, in.value, scale, o.causal, o.attn_mask, keep);
  const double tol = 1e-5 * (1.0 + score_condition(in, scale));
  ASSERT_EQ(r.output.shape, (Shape{in.query.shape[0], in.query.shape[1], in.query.shape[2], in.value.shape[3]}))
      << what;
  for (std::size_t i = 0; i < want.output.size(); ++i)
    ASSERT_NEAR(r.output.data[i], want.output[i], tol * want.magnitude[i] + 1e-30)
        << what << " output[" << i << "] of shape " << shape_to_string(r.output.shape);
  if (o.weights == AttentionWeights::per_head) {
    ASSERT_EQ(r.weights.numel(), want.weights.size()) << what;
    for (std::size_t i = 0; i < want.weights.size(); ++i)
      ASSERT_NEAR(r.weights.data[i], want.weights[i], tol * want.weights[i] + 1e-37) << what << " weights[" << i << "]";
  }
}

// Each returned weights row sums to 1 (0 for a row that may attend no key), and the keys the reference gives no
// weight (the causal future, masked or padded keys) get exactly 0.
inline void expect_weights_rows(const Inputs& in, const AttentionOptions& o, const AttentionResult& r,
                                const std::string& what) {
  const double scale = o.scale.value_or(1.0 / std::sqrt(double(in.query.shape[3])));
  const ref::AttentionOut want = ref::sdpa(in.query, in.key, in.value, scale, o.causal, o.attn_mask);
  const std::size_t n_k = in.key.shape[2], rows = want.weights.size() / n_k;
  ASSERT_EQ(r.weights.numel(), want.weights.size()) << what;
  for (std::size_t i = 0; i < rows; ++i) {
    double sum = 0, want_sum = 0;
    for (std::size_t j = 0; j < n_k; ++j) {
      const float w = r.weights.data[i * n_k + j];
      if (want.weights[i * n_k + j] == 0.0) ASSERT_EQ(w, 0.0f) << what << " row " << i << " key " << j;
      sum += w;
      want_sum += want.weights[i * n_k + j];
    }
    ASSERT_NEAR(sum, want_sum > 0 ? 1.0 : 0.0, 1e-5) << what << " row " << i << " sums to " << sum;
  }
}

// Runs the op without and with weights (the fused kernel either way; the weights from its tiles) and compares each
// with the reference, and the two outputs with each other (bitwise).
inline void check_case(const Case& c, const AttentionMask* mask = nullptr, std::optional<double> scale = {}) {
  const Inputs in = make(c);
  AttentionOptions o;
  o.causal = c.causal;
  o.attn_mask = mask;
  o.scale = scale;
  const std::string what = "b" + std::to_string(c.b) + " h_q" + std::to_string(c.h_q) + " h_kv" +
                           std::to_string(c.h_kv) + " n_q" + std::to_string(c.n_q) + " n_k" + std::to_string(c.n_k) +
                           " d" + std::to_string(c.d) + " d_v" + std::to_string(c.d_v) + " causal" +
                           std::to_string(int(c.causal)) +
                           (mask ? " mask " + shape_to_string(mask->shape) : std::string());
  const AttentionResult fused = attention(in.query, in.key, in.value, o);
  EXPECT_TRUE(fused.weights.empty());
  expect_matches(in, o, fused, what + " fused");
  o.weights = AttentionWeights::per_head;
  const AttentionResult weighted = attention(in.query, in.key, in.value, o);
  expect_matches(in, o, weighted, what + " with weights");
  expect_weights_rows(in, o, weighted, what + " with weights");
  // The same kernel runs either way: writing the weights changes no bit of the output.
  ASSERT_EQ(std::memcmp(fused.output.ptr(), weighted.output.ptr(), fused.output.numel() * sizeof(float)), 0)
      << what << ": the output with weights differs from the output without";
}

inline std::size_t simd_width() { return kernels::table().simd_width; }

inline std::vector<std::size_t> sizes() {
  const std::size_t w = simd_width();
  std::vector<std::size_t> s{1, 3, 7, w - 1, w, w + 1, 3 * w, 8 * w + 2};
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  return s;
}

// Masks sparse enough that whole key blocks are masked (the fused path skips them) and some rows see nothing.
inline AttentionMask random_mask(Rng& rng, MaskKind kind, const Shape& shape, double allowed_fraction) {
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

inline const CausalAlign kAligns[] = {CausalAlign::none, CausalAlign::upper_left, CausalAlign::lower_right};

}  // namespace attnkit::test
