// attnkit — the attention op's internals (core/include/attnkit/attention.hpp): a validated problem, the mask in
// the kernels' form, and the two paths. Internal to core.
#pragma once
#include <cstddef>
#include <vector>

#include "attnkit/attention.hpp"
#include "attnkit/random.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit::detail {

// The mask as the kernels read it: additive float32 (boolean true → 0, false → −inf), one (n_q, n_k) plane per
// (batch, query head) at plane(b, h); row i at plane + i·stride_q. A broadcast dimension has stride 0, so the
// caller's mask is never expanded except along keys (keys are read contiguously; a key dimension of 1 is spread).
struct PreparedMask {
  std::vector<float> values;
  std::size_t stride_b = 0, stride_h = 0, stride_q = 0;
  const float* plane(std::size_t b, std::size_t h) const { return values.data() + b * stride_b + h * stride_h; }
};

// Checks the mask (rank, broadcastable shape, values) and converts it. Throws Error naming what is wrong.
PreparedMask prepare_mask(const AttentionMask& mask, std::size_t b, std::size_t h_q, std::size_t n_q, std::size_t n_k);

// Checks query, key, value and the options against each other (attention()'s rules, each message naming the
// expected value); returns the scale.
float check_attention_inputs(const Tensor& query, const Tensor& key, const Tensor& value,
                             const AttentionOptions& options);

// One validated call: contiguous (b, h, n, ·) tensors.
struct AttentionProblem {
  const float *query, *key, *value;
  std::size_t batch, h_q, h_kv, n_q, n_k, d, d_v;
  float scale;
  CausalAlign causal;
  const PreparedMask* mask;  // nullptr: none
  std::size_t threads;

  std::size_t kv_head(std::size_t h) const { return h / (h_q / h_kv); }  // grouped-query heads share keys
  const float* query_of(std::size_t b, std::size_t h) const { return query + (b * h_q + h) * n_q * d; }
  const float* key_of(std::size_t b, std::size_t h) const { return key + (b * h_kv + kv_head(h)) * n_k * d; }
  const float* value_of(std::size_t b, std::size_t h) const { return value + (b * h_kv + kv_head(h)) * n_k * d_v; }
  const float* mask_of(std::size_t b, std::size_t h) const { return mask ? mask->plane(b, h) : nullptr; }
  // Query i sees keys j with j − i ≤ causal_offset (kernels::Attention's convention).
  long long causal_offset() const {
    return causal == CausalAlign::lower_right ? static_cast<long long>(n_k) - static_cast<long long>(n_q) : 0;
  }
  // Keys [0, visible(i)) are causally visible to query i.
  std::size_t visible(std::size_t i) const {
    if (causal == CausalAlign::none) return n_k;
    const long long see = static_cast<long long>(i) + 1 + causal_offset();
    return see <= 0 ? 0 : static_cast<std::size_t>(see) < n_k ? static_cast<std::size_t>(see) : n_k;
  }
};

// Explain path (dropout in training): weights (b, h_q, n_q, n_k) before dropout, then dropout (p > 0 with a generator)
// and ·value into output (b, h_q, n_q, d_v).
void attention_explain(const AttentionProblem& p, Generator* generator, double dropout, Tensor& weights, float* output);

// Fused path: the same output without any (n_q, n_k) matrix; masked tiles are skipped. lse (b, h_q, n_q), optional:
// each row's log-sum-exp of its visible scaled scores (kernels::Attention::lse), for the backward pass. weights
// (b, h_q, n_q, n_k), optional and zero-filled by the caller (a new Tensor is): each row's weights written from the
// kernel's own score tiles (kernels::Attention::weights); keys past the last any row may attend are left 0.
void attention_fused(const AttentionProblem& p, float* output, float* lse = nullptr, float* weights = nullptr);

// attention() after its checks: the path (explain with dropout, fused otherwise), the weights per head or averaged
// over heads (options.weights). lse as attention_fused's, written on the fused path only (nullptr: not wanted).
AttentionResult attention_run(const AttentionProblem& p, const AttentionOptions& options, float* lse);

}  // namespace attnkit::detail
