// attnkit — gemm_nt / gemm_nn over xsimd. Every C element is one fma chain over p = 0..k−1 in order,
// whatever the row range, so results do not depend on how rows are split across threads.
#pragma once
#include "kernels.hpp"
#include "simd_math.hpp"

namespace attnkit::kernels {
namespace {

// C = alpha · A·Bᵀ + bias      A: (m, k)  B: (n, k)  C: (m, n)
template <class Arch>
void gemm_nt_f32(const GemmNT& g, std::size_t row_begin, std::size_t row_end) {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  const std::size_t kv = g.k - g.k % W;
  for (std::size_t i = row_begin; i < row_end; ++i) {
    const float* a = g.a + i * g.lda;  // (k)
    float* c = g.c + i * g.ldc;        // (n)
    for (std::size_t j = 0; j < g.n; ++j) {
      const float* b = g.b + j * g.ldb;  // (k)
      F acc(0.0f);
      for (std::size_t p = 0; p < kv; p += W) acc = xsimd::fma(F::load_unaligned(a + p), F::load_unaligned(b + p), acc);
      if (kv < g.k) acc = xsimd::fma(load_partial<Arch>(a + kv, g.k - kv, 0.0f), load_partial<Arch>(b + kv, g.k - kv, 0.0f), acc);
      c[j] = g.alpha * hsum<Arch>(acc) + (g.bias ? g.bias[j] : 0.0f);
    }
  }
}

// C = A·B      A: (m, k)  B: (k, n)  C: (m, n)
template <class Arch>
void gemm_nn_f32(const GemmNN& g, std::size_t row_begin, std::size_t row_end) {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  for (std::size_t i = row_begin; i < row_end; ++i) {
    const float* a = g.a + i * g.lda;  // (k)
    float* c = g.c + i * g.ldc;        // (n)
    for (std::size_t j = 0; j < g.n; j += W) {
      const std::size_t w = g.n - j < W ? g.n - j : W;
      F acc(0.0f);
      if (w == W) {
        for (std::size_t p = 0; p < g.k; ++p) acc = xsimd::fma(F(a[p]), F::load_unaligned(g.b + p * g.ldb + j), acc);
        acc.store_unaligned(c + j);
      } else {
        for (std::size_t p = 0; p < g.k; ++p) acc = xsimd::fma(F(a[p]), load_partial<Arch>(g.b + p * g.ldb + j, w, 0.0f), acc);
        store_partial<Arch>(c + j, w, acc);
      }
    }
  }
}

}  // namespace
}  // namespace attnkit::kernels
