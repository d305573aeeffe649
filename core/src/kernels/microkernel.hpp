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

// Tile shape per ISA: MR rows × NR = 2·W columns of accumulators, sized to the vector register file.
// 32 registers (AVX-512): 12×2 accumulators + 2 B + 1 broadcast. 16 registers with fma (AVX2): 6×2 + 3.
// No fma (SSE2, wasm SIMD128: mul + add needs a temporary; V8 keeps one xmm as scratch): 4×2.
template <class Arch>
struct Tile {
  static constexpr std::size_t W = vf<Arch>::size;
  static constexpr std::size_t NB = 2;
  static constexpr std::size_t NR = NB * W;
  static constexpr std::size_t MR = W >= 16 ? 12 : W == 8 ? 6 : 4;
};

// A is one pointer: element (r, p) at a[r·RS + p·PS] with compile-time strides, so the loop needs no
// per-row pointers (general registers are scarce under V8). Packed A panels use RS = 1, PS = MR.
// B rows are aligned (packed panels) unless AlignedB is false (rows read in place).
template <class Arch, std::size_t MR, std::size_t NB, std::size_t RS, std::size_t PS, bool AlignedB = true>
inline void micro_fma(const float* a, const float* b, std::size_t ldb, std::size_t kc,
                      vf<Arch> (&acc)[MR][NB]) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  for (std::size_t p = 0; p < kc; ++p, a += PS, b += ldb) {
    F bv[NB];
    for (std::size_t nb = 0; nb < NB; ++nb)
      bv[nb] = AlignedB ? F::load_aligned(b + nb * W) : F::load_unaligned(b + nb * W);
    for (std::size_t r = 0; r < MR; ++r) {
      const F av(a[r * RS]);
      for (std::size_t nb = 0; nb < NB; ++nb) acc[r][nb] = xsimd::fma(av, bv[nb], acc[r][nb]);
    }
  }
}

// micro_fma with B a packed panel (ldb = NR) and a software prefetch of it kPrefetchRows rows ahead: a gemm B panel
// (kc × NR, 96 KB at kc 768) streams from L2 once per tile, and the hardware prefetcher alone left a few % of Zen 4's
// peak on the table at the projection shapes (bench/README.md). A is a packed (kc, MR) panel or, InPlace, rows read
// in place: element (r, p) at a[r·lda + p]. Same fma chains in the same order as micro_fma: the same bits.
constexpr std::size_t kPrefetchRows = 8;
template <class Arch, std::size_t MR, std::size_t NB, bool InPlace>
inline void micro_fma_prefetch(const float* a, std::size_t lda, const float* b, std::size_t kc,
                               vf<Arch> (&acc)[MR][NB]) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size, NR = NB * W, kLine = 64 / sizeof(float);
  const std::size_t rs = InPlace ? lda : 1, ps = InPlace ? 1 : MR;
  for (std::size_t p = 0; p < kc; ++p, a += ps, b += NR) {
    for (std::size_t q = 0; q < NR; q += kLine) __builtin_prefetch(b + kPrefetchRows * NR + q);
    F bv[NB];
    for (std::size_t nb = 0; nb < NB; ++nb) bv[nb] = F::load_aligned(b + nb * W);
    for (std::size_t r = 0; r < MR; ++r) {
      const F av(a[r * rs]);
      for (std::size_t nb = 0; nb < NB; ++nb) acc[r][nb] = xsimd::fma(av, bv[nb], acc[r][nb]);
    }
  }
}

// Packs rows [0, mr) of A (p contiguous, row stride lda) into a (kc, MR) panel: ap[p·MR + r]. Rows past
// mr repeat row mr − 1, so a partial tile runs exactly the full tile's arithmetic.
template <std::size_t MR>
inline void pack_rows(const float* a, std::size_t lda, std::size_t mr, std::size_t kc, float* ap) noexcept {
  const float* rows[MR];
  for (std::size_t r = 0; r < MR; ++r) rows[r] = a + (r < mr ? r : mr - 1) * lda;
  for (std::size_t p = 0; p < kc; ++p)  // stores in order: strided stores cost ~3x here
    for (std::size_t r = 0; r < MR; ++r) ap[p * MR + r] = rows[r][p];
}

// Packs rows [0, nr) of B (p contiguous, row stride ldb) as the columns of a (kc, NR) panel:
// bp[p·NR + q] = B[q, p], zero for q ≥ nr. Written in order (stores stream), read NR rows at a time.
template <std::size_t NR>
inline void pack_cols(const float* b, std::size_t ldb, std::size_t nr, std::size_t kc, float* bp) noexcept {
  const float* rows[NR];
  for (std::size_t q = 0; q < NR; ++q) rows[q] = b + (q < nr ? q : 0) * ldb;
  if (nr == NR) {
    for (std::size_t p = 0; p < kc; ++p)
      for (std::size_t q = 0; q < NR; ++q) bp[p * NR + q] = rows[q][p];
  } else {
    for (std::size_t p = 0; p < kc; ++p)
      for (std::size_t q = 0; q < NR; ++q) bp[p * NR + q] = q < nr ? rows[q][p] : 0.0f;
  }
}

// Per-thread, per-ISA scratch: grows, never shrinks, aligned for load_aligned. Its contents are not kept
// across calls, so a buffer that is too small is freed before the larger one is allocated, and holds exactly
// n floats (resize would keep both and round up to twice the old size): the per-thread peak is the largest
// request, as the kernels' *_scratch_floats report it.
using AlignedFloats = std::vector<float, xsimd::aligned_allocator<float, 64>>;
inline float* grow(AlignedFloats& v, std::size_t n) {
  if (v.size() < n) {
    AlignedFloats().swap(v);
    v.resize(n);
  }
  return v.data();
}

inline std::size_t round_up(std::size_t x, std::size_t m) { return (x + m - 1) / m * m; }

}  // namespace
}  // namespace attnkit::kernels
