// attnkit — the register-blocked outer-product micro-kernel shared by gemm and attention, and the
// per-thread scratch buffers the kernels pack into.
//
// acc (MR × NB vectors) += Σ_p a[r][p] · b[p·ldb + nb·W ...]: one broadcast of A and one fma per
// accumulator per p, in p order. Every accumulator lane is its own fma chain, so an element's value
// never depends on which other rows or columns share its tile.
#pragma once
#include <vector>

#include "simd_math.hpp"

namespace attnkit::kernels {
namespace {

// Tile shape per ISA: MR rows × NR = 2·W columns of accumulators, sized to the vector register file
// (16 registers: 6×2 accumulators + 2 B + 1 broadcast; 32 registers: 12×2 + 3).
template <class Arch> struct Tile {
  static constexpr std::size_t W = vf<Arch>::size;
  static constexpr std::size_t NB = 2;
  static constexpr std::size_t NR = NB * W;
  static constexpr std::size_t MR = W >= 16 ? 12 : 6;
};

template <class Arch, std::size_t MR, std::size_t NB>
inline void micro_fma(const float* const (&a)[MR], const float* b, std::size_t ldb, std::size_t kc,
                      vf<Arch> (&acc)[MR][NB]) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  for (std::size_t p = 0; p < kc; ++p) {
    F bv[NB];
    for (std::size_t nb = 0; nb < NB; ++nb) bv[nb] = F::load_aligned(b + p * ldb + nb * W);
    for (std::size_t r = 0; r < MR; ++r) {
      const F av(a[r][p]);
      for (std::size_t nb = 0; nb < NB; ++nb) acc[r][nb] = xsimd::fma(av, bv[nb], acc[r][nb]);
    }
  }
}

// Per-thread, per-ISA scratch: grows, never shrinks, aligned for load_aligned.
using AlignedFloats = std::vector<float, xsimd::aligned_allocator<float, 64>>;
inline float* grow(AlignedFloats& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

inline std::size_t round_up(std::size_t x, std::size_t m) { return (x + m - 1) / m * m; }

}  // namespace
}  // namespace attnkit::kernels
