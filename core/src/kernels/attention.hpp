// attnkit — fused attention for one (batch, head): context = softmax(q·kᵀ·scale [+ causal])·v.
#pragma once
#include <vector>
#include "gemm.hpp"
#include "softmax.hpp"

namespace attnkit::kernels {
namespace {

// Rows [row_begin, row_end) of the queries. Simple form: one query row at a time, its scores in a
// per-thread buffer of n_k floats.
template <class Arch>
void attention_f32(const Attention& t, std::size_t row_begin, std::size_t row_end) {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  thread_local std::vector<float> scores;  // (n_k)
  if (scores.size() < t.n_k) scores.resize(t.n_k);
  for (std::size_t i = row_begin; i < row_end; ++i) {
    const std::size_t kend = t.causal ? (i + 1 < t.n_k ? i + 1 : t.n_k) : t.n_k;
    GemmNT g{t.q + i * t.ld_q, t.ld_q, t.k, t.ld_k, scores.data(), t.n_k, 1, kend, t.d, t.scale, nullptr};
    gemm_nt_f32<Arch>(g, 0, 1);
    softmax_row_f32<Arch>(scores.data(), kend);
    float* o = t.out + i * t.ld_out;  // (d)
    for (std::size_t c = 0; c < t.d; c += W) {
      const std::size_t w = t.d - c < W ? t.d - c : W;
      F acc(0.0f);
      for (std::size_t j = 0; j < kend; ++j) {
        const float* v = t.v + j * t.ld_v + c;
        acc = xsimd::fma(F(scores[j]), w == W ? F::load_unaligned(v) : load_partial<Arch>(v, w, 0.0f), acc);
      }
      if (w == W) acc.store_unaligned(o + c); else store_partial<Arch>(o + c, w, acc);
    }
  }
}

}  // namespace
}  // namespace attnkit::kernels
