// attnkit — the one overflow rule of core: scores, weights and context are checked for non-finite values where
// they are produced (the kernels flag rows whose scores or context left float32; projections are screened after
// their GEMM). A flagged attention row is recomputed here in float64, where q·kᵀ of float32 inputs cannot
// overflow, and keeps that answer when it fits in float32; otherwise the caller throws the message built here.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace attnkit::detail {

// Index of the first NaN or ±Inf in x[0, n), or n. Exponent bits all ones is exactly NaN or ±Inf: one pass of
// integer tests (inline, so the compiler vectorises it where it is used) in the common all-finite case.
inline std::size_t first_non_finite(const float* x, std::size_t n) {
  std::uint32_t any = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    any |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  if (!any) return n;
  std::size_t i = 0;
  while (std::isfinite(x[i])) ++i;
  return i;
}

// One query row:  output = softmax(query·keyᵀ·scale + mask, over keys [0, visible))·value
struct AttentionRow {
  const float* query;  // (d)
  const float* key;
  std::size_t ld_key;  // (n_k, d)
  const float* value;
  std::size_t ld_value;  // (n_k, d_v)
  std::size_t n_k, d, d_v;
  double scale;
  std::size_t visible;  // keys [0, visible) are causally visible
  const float* mask;    // additive (n_k), −inf = not allowed; nullptr: none
};

// The row's weights in float64, rounded to float32 into weights (n_k; 0 where not visible or masked; a row with
// nothing to attend to is all 0).
void attention_weights_f64(const AttentionRow& row, float* weights);

// output (d_v) = weights (n_k) · value in float64. Returns false, writing nothing, if a value does not fit in float32.
bool attention_context_f64(const float* weights, const AttentionRow& row, float* output);

// A projection's output y (rows = batch·tokens, cols): the stacked queries | keys | values (x·Wᵀ, or x·W for
// self-v1) or out_proj's. Throws Error(range) naming the first NaN/±Inf, e.g. "queries overflow float32 at batch 0,
// token 1 (x·W_queryᵀ reached inf); expected inputs and weights whose projections stay below 3.4e38 in magnitude".
// query, key, value: one of them alone (x·W_queryᵀ, kv·W_keyᵀ, kv·W_valueᵀ: core/src/forward_inputs.cpp).
enum class Projection { qkv, qkv_v1, out_proj, query, key, value };
void screen_projection(const float* y, std::size_t rows, std::size_t tokens, std::size_t cols, Projection kind);
// "context overflows float32 at batch 0, head 1, query 2 (weights·value reached inf); expected values whose
// weighted sums stay below 3.4e38 in magnitude"
std::string context_overflow_message(std::size_t batch, std::size_t head, std::size_t query);

}  // namespace attnkit::detail
