// attnkit — the attention op's front: checks every argument against the others (each message names the
// problem and the expected value), prepares the mask, and picks the path: explain when dropout applies, fused
// otherwise, the weights (if wanted) written from the fused kernel's tiles (core/src/attention_paths.cpp).
#include "attnkit/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "attention_op.hpp"
#include "attnkit/errors.hpp"

namespace attnkit {
namespace {

// "[0, 2, 1]": the multi-index of flat index `flat` in `shape`.
std::string index_string(const Shape& shape, std::size_t flat) {
  Shape index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return shape_to_string(index);
}

std::string n(std::size_t v) { return std::to_string(v); }

// query/key/value: rank 4, no empty dimension.
void check_operand(const Tensor& t, const char* name, const char* dims) {
  if (t.rank() != 4)
    throw Error(std::string(name) + " must have shape " + dims + "; got rank " + n(t.rank()) + " shape " +
                shape_to_string(t.shape));
  static const char* const kDims[] = {"batch", "heads", "tokens", "features"};
  for (std::size_t i = 0; i < 4; ++i)
    if (t.shape[i] == 0)
      throw Error(std::string(name) + " has 0 " + kDims[i] + " (shape " + shape_to_string(t.shape) + " " + dims +
                      "); expected at least 1",
                  ErrorKind::range);
}

void check_same(const char* what, std::size_t got, const char* other, std::size_t expected, const Tensor& a,
                const Tensor& b) {
  if (got != expected)
    throw Error(std::string(what) + " is " + n(got) + " but " + other + " is " + n(expected) + " (shapes " +
                shape_to_string(a.shape) + " and " + shape_to_string(b.shape) + "); expected " + n(expected));
}

}  // namespace

AttentionMask boolean_mask(Shape shape, const std::vector<bool>& allowed) {
  AttentionMask m{MaskKind::boolean, std::move(shape), std::vector<float>(allowed.size())};
  for (std::size_t i = 0; i < allowed.size(); ++i) m.values[i] = allowed[i] ? 1.0f : 0.0f;
  return m;
}

AttentionMask additive_mask(Shape shape, std::vector<float> added) {
  return AttentionMask{MaskKind::additive, std::move(shape), std::move(added)};
}

namespace detail {

PreparedMask prepare_mask(const AttentionMask& mask, std::size_t b, std::size_t h_q, std::size_t n_q, std::size_t n_k) {
  const Shape target{b, h_q, n_q, n_k};
  const std::string expected = "broadcastable to (b, h_q, n_q, n_k) = " + shape_to_string(target);
  const Shape& s = mask.shape;
  if (s.empty() || s.size() > 4)
    throw Error("attn_mask has rank " + n(s.size()) + " (shape " + shape_to_string(s) + "); expected rank 1 to 4, " +
                expected);
  Shape full(4 - s.size(), 1);  // aligned from the right, as NumPy broadcasting
  full.insert(full.end(), s.begin(), s.end());
  static const char* const kDims[] = {"b", "h_q", "n_q", "n_k"};
  for (std::size_t i = 0; i < 4; ++i)
    if (full[i] != 1 && full[i] != target[i])
      throw Error("attn_mask shape " + shape_to_string(s) + " is not " + expected + ": its " + kDims[i] +
                  " dimension is " + n(full[i]) + ", expected 1 or " + n(target[i]));
  const std::size_t count = checked_numel(s);
  if (mask.values.size() != count)
    throw Error("attn_mask has " + n(mask.values.size()) + " values but its shape " + shape_to_string(s) + " holds " +
                n(count));
  const float ninf = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < count; ++i) {
    const float v = mask.values[i];
    if (mask.kind == MaskKind::boolean && v != 0.0f && v != 1.0f)
      throw Error("attn_mask (boolean) has " + format_number(v) + " at index " + index_string(s, i) +
                  "; expected 1 (may attend) or 0 (may not)");
    if (mask.kind == MaskKind::additive && !(std::isfinite(v) || v == ninf))
      throw Error("attn_mask has " + format_number(v) + " at index " + index_string(s, i) +
                  "; expected finite numbers or -inf");
  }

  // Keys are read contiguously by the kernels: a key dimension of 1 is spread over the n_k keys.
  PreparedMask p;
  const std::size_t keys = full[3] == 1 ? n_k : 1;
  p.values.resize(checked_numel({full[0], full[1], full[2], full[3] * keys}));
  for (std::size_t i = 0; i < count; ++i) {
    const float v = mask.kind == MaskKind::boolean ? (mask.values[i] != 0.0f ? 0.0f : ninf) : mask.values[i];
    for (std::size_t j = 0; j < keys; ++j) p.values[i * keys + j] = v;
  }
  const std::size_t row = full[3] * keys;  // = n_k
  p.stride_q = full[2] == 1 ? 0 : row;
  p.stride_h = full[1] == 1 ? 0 : full[2] * row;
  p.stride_b = full[0] == 1 ? 0 : full[1] * full[2] * row;
  return p;
}

float check_attention_inputs(const Tensor& query, const Tensor& key, const Tensor& value,
                             const AttentionOptions& options) {
  check_operand(query, "query", "(b, h_q, n_q, d)");
  check_operand(key, "key", "(b, h_kv, n_k, d)");
  check_operand(value, "value", "(b, h_kv, n_k, d_v)");
  const std::size_t b = query.shape[0], h_q = query.shape[1], d = query.shape[3];
  const std::size_t h_kv = key.shape[1], n_k = key.shape[2];
  check_same("key's batch", key.shape[0], "query's", b, key, query);
  check_same("key's d", key.shape[3], "query's", d, key, query);
  check_same("value's batch", value.shape[0], "key's", key.shape[0], value, key);
  check_same("value's heads", value.shape[1], "key's", h_kv, value, key);
  check_same("value's tokens", value.shape[2], "key's", n_k, value, key);
  if (h_q % h_kv != 0)
    throw Error("query has " + n(h_q) + " heads, not a multiple of key's " + n(h_kv) +
                " heads; expected h_q divisible by h_kv (grouped-query attention)");
  const double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d)));
  // The float32 rule of every interface: refused when float32 rounds it to inf (3.4028235e38 rounds to FLT_MAX).
  if (!std::isfinite(scale) || std::isinf(static_cast<float>(scale)))
    throw Error("scale (" + format_number(scale) + ") must be a finite float32 number", ErrorKind::range);
  if (!(options.dropout >= 0.0 && options.dropout < 1.0))
    throw Error("dropout (" + format_number(options.dropout) + ") must be in [0, 1)", ErrorKind::range);
  if (options.causal != CausalAlign::none && options.causal != CausalAlign::upper_left &&
      options.causal != CausalAlign::lower_right)
    throw Error("causal must be none, upper_left or lower_right");
  check_finite(query, "query");
  check_finite(key, "key");
  check_finite(value, "value");

  return static_cast<float>(scale);
}

}  // namespace detail

namespace detail {

AttentionResult attention_run(const AttentionProblem& p, const AttentionOptions& options, float* lse) {
  const std::size_t b = p.batch, h_q = p.h_q, n_q = p.n_q, n_k = p.n_k;
  const bool dropout_on = options.train && options.dropout > 0.0;
  AttentionResult r;
  if (options.weights == AttentionWeights::none && !dropout_on) {
    r.output = Tensor({b, h_q, n_q, p.d_v});
    attention_fused(p, r.output.ptr(), lse);
    return r;
  }
  Tensor weights({b, h_q, n_q, n_k});  // refuses sizes that cannot be allocated, before any work
  r.output = Tensor({b, h_q, n_q, p.d_v});
  if (dropout_on) {  // the weights before dropout, then dropout drawn over all of them in memory order
    std::optional<Generator> own;
    Generator* generator = options.generator;
    if (!generator) generator = &own.emplace(options.seed);
    attention_explain(p, generator, options.dropout, weights, r.output.ptr());
  } else {  // written from the fused kernel's own tiles (core/src/kernels/attention_weights.hpp)
    attention_fused(p, r.output.ptr(), lse, weights.ptr());
  }
  if (options.weights == AttentionWeights::per_head) {
    r.weights = std::move(weights);
  } else if (options.weights == AttentionWeights::averaged) {
    // Mean over query heads, summed in head order (fixed, so any thread count gives the same bits).
    r.weights = Tensor({b, n_q, n_k});
    const std::size_t plane = n_q * n_k;
    std::vector<double> sum(plane);
    for (std::size_t bi = 0; bi < b; ++bi) {
      std::fill(sum.begin(), sum.end(), 0.0);
      for (std::size_t h = 0; h < h_q; ++h)
        for (std::size_t e = 0; e < plane; ++e) sum[e] += weights.data[(bi * h_q + h) * plane + e];
      for (std::size_t e = 0; e < plane; ++e)
        r.weights.data[bi * plane + e] = static_cast<float>(sum[e] / static_cast<double>(h_q));
    }
  }
  return r;
}

}  // namespace detail

AttentionResult attention(const Tensor& query, const Tensor& key, const Tensor& value,
                          const AttentionOptions& options) {
  const float scale = detail::check_attention_inputs(query, key, value, options);
  const std::size_t b = query.shape[0], h_q = query.shape[1], n_q = query.shape[2], d = query.shape[3];
  const std::size_t h_kv = key.shape[1], n_k = key.shape[2], d_v = value.shape[3];
  std::optional<detail::PreparedMask> mask;
  if (options.attn_mask) mask = detail::prepare_mask(*options.attn_mask, b, h_q, n_q, n_k);
  const detail::AttentionProblem problem{query.ptr(),
                                         key.ptr(),
                                         value.ptr(),
                                         b,
                                         h_q,
                                         h_kv,
                                         n_q,
                                         n_k,
                                         d,
                                         d_v,
                                         scale,
                                         options.causal,
                                         mask ? &*mask : nullptr,
                                         options.threads};
  return detail::attention_run(problem, options, nullptr);
}

}  // namespace attnkit
