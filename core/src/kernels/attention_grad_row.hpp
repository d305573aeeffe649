// attnkit — the element-wise step of the attention op's backward pass (core/src/attention_backward.cpp), one row
// of a (query block, key block) tile: the weights recomputed from the forward's log-sum-exp, and the score
// gradients. Written once over xsimd; each lane's value depends only on its inputs (no row-range dependence).
#pragma once
#include <cmath>
#include <limits>

#include "kernels.hpp"
#include "simd_math.hpp"

namespace attnkit::kernels {
namespace {

template <class Arch>
void attention_grad_row_f32(const AttentionGradRow& r) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::size_t see = r.see < r.n ? r.see : r.n;
  if (r.lse == ninf) {  // the row sees no key: zero weights, zero gradients
    for (std::size_t j = 0; j < r.n; ++j) r.scores[j] = r.dropped[j] = r.grad[j] = 0.0f;
    return;
  }
  const F vlse(r.lse), vD(r.D);
  // A masked key adds −inf to its score, and exp(−inf) is exactly 0.
  const std::size_t full = see - see % W;
  for (std::size_t j = 0; j < full; j += W) {
    F s = F::load_unaligned(r.scores + j);
    if (r.mask) s = s + F::load_unaligned(r.mask + j);
    const F w = exp_f32<Arch>(s - vlse);
    w.store_unaligned(r.scores + j);
    if (!r.keep) {
      w.store_unaligned(r.dropped + j);
      (w * (F::load_unaligned(r.grad + j) - vD)).store_unaligned(r.grad + j);
    }
  }
  if (full < see) {  // the last, partial vector
    const std::size_t count = see - full;
    F s = load_partial<Arch>(r.scores + full, count, ninf);
    if (r.mask) s = s + load_partial<Arch>(r.mask + full, count, 0.0f);
    const F w = exp_f32<Arch>(s - vlse);
    store_partial<Arch>(r.scores + full, count, w);
    if (!r.keep) {
      store_partial<Arch>(r.dropped + full, count, w);
      store_partial<Arch>(r.grad + full, count, w * (load_partial<Arch>(r.grad + full, count, 0.0f) - vD));
    }
  }
  if (r.keep)  // dropout: the forward's keep mask scales both the weights and their gradients
    for (std::size_t j = 0; j < see; ++j) {
      const float w = r.scores[j];
      r.dropped[j] = r.keep[j] ? w * r.dropout_scale : 0.0f;
      r.grad[j] = w * ((r.keep[j] ? r.grad[j] * r.dropout_scale : 0.0f) - r.D);
    }
  for (std::size_t j = see; j < r.n; ++j) r.scores[j] = r.dropped[j] = r.grad[j] = 0.0f;
}

}  // namespace
}  // namespace attnkit::kernels
