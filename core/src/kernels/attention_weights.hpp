// attnkit — the fused kernel's attention weights (Attention::weights): the explain path's (n_q, n_k) weights written
// from the kernel's own score tiles instead of a separate unfused pass. Each processed key block's scaled, masked
// scores are kept in the row's weights (−inf where the row may not look); once the row's running max m and sum l are
// final, one pass turns them into exp(s − m) / l, the softmax kernel's formula with the same exp.
#pragma once
#include <cstddef>
#include <limits>

#include "simd_math.hpp"

namespace attnkit::kernels {
namespace {

// Keeps a block's scores for the weights: wrow[j] = srow[j] for the vis keys the row may see, −inf for the rest of kn.
inline void keep_block_scores(const float* srow, std::size_t vis, std::size_t kn, float* wrow) noexcept {
  const float ninf = -std::numeric_limits<float>::infinity();
  std::size_t j = 0;
  for (; j < vis; ++j) wrow[j] = srow[j];
  for (; j < kn; ++j) wrow[j] = ninf;
}

// A key block the kernel skipped (no row of its tile may see it): weight 0 once finished.
inline void skip_block_scores(std::size_t kn, float* wrow) noexcept {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (std::size_t j = 0; j < kn; ++j) wrow[j] = ninf;
}

// wrow[j] = exp(wrow[j] − m) / l for the kept keys [0, kept), 0 for [kept, end); all of [0, end) 0 when the row saw
// nothing (l 0). end is n_k, or kept when the caller's weights are 0 already (Attention::weights_zeroed).
template <class Arch>
inline void finish_weights(float* wrow, std::size_t kept, std::size_t end, float m, float l) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  if (!(l > 0.0f)) kept = 0;
  const F vm(m), vl(l);
  std::size_t j = 0;
  for (; j + W <= kept; j += W) (exp_f32<Arch>(F::load_unaligned(wrow + j) - vm) / vl).store_unaligned(wrow + j);
  if (j < kept) {
    const float ninf = -std::numeric_limits<float>::infinity();
    store_partial<Arch>(wrow + j, kept - j, exp_f32<Arch>(load_partial<Arch>(wrow + j, kept - j, ninf) - vm) / vl);
    j = kept;
  }
  for (; j < end; ++j) wrow[j] = 0.0f;
}

}  // namespace
}  // namespace attnkit::kernels
