// attnkit — the one overflow rule of core: scores, weights and context are checked for non-finite values where
// they are produced (the kernels flag rows whose scores or context left float32; projections are screened after
// their GEMM). A flagged attention row is recomputed here in float64, where q·kᵀ of float32 inputs cannot
// overflow, and keeps that answer when it fits in float32; otherwise the caller throws the message built here.
#pragma once
#include <cstddef>
#include <string>

namespace attnkit::detail {

// Index of the first NaN or ±Inf in x[0, n), or n.
std::size_t first_non_finite(const float* x, std::size_t n);

// One query row:  output = softmax(query·keyᵀ·scale + mask, over keys [0, visible))·value
struct AttentionRow {
  const float* query;                      // (d)
  const float* key;   std::size_t ld_key;    // (n_k, d)
  const float* value; std::size_t ld_value;  // (n_k, d_v)
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

// "queries overflow float32 at batch 0, token 1 (x·W_queryᵀ reached inf); expected inputs and weights whose
// projections stay below 3.4e38 in magnitude"
std::string projection_overflow_message(const char* what, const char* formula, std::size_t batch, std::size_t token, float found);
// "context overflows float32 at batch 0, head 1, query 2 (weights·value reached inf); expected values whose
// weighted sums stay below 3.4e38 in magnitude"
std::string context_overflow_message(std::size_t batch, std::size_t head, std::size_t query);

}  // namespace attnkit::detail
