// attnkit — gemm_nt / gemm_nn, BLIS-style: B packed per call into (KC, NR) panels and A per block into
// (KC, MR) panels (per-thread buffers), MR × NR register tiles (microkernel.hpp). Packing B costs
// O(n·k) per call, so give each call many rows. k is blocked by KC for cache; a block continues the
// previous block's sums stored in C, so every C element is still one fma chain over p = 0..k−1 in order,
// whatever the row range: results do not depend on how rows are split across threads.
#pragma once
#include "kernels.hpp"
#include "microkernel.hpp"

namespace attnkit::kernels {
namespace {

// Block sizes, picked by measurement on Zen 3 at the projection shapes (m 1024, n 768, k 768): B is packed
// once per call for all its columns (up to NC) and a whole k = 768 per block, so no C reloads and no
// repacking of A; each packed A block (96 × 768, 288 KB) stays in L2 while the B panels stream past it.
// ~90 GFLOP/s on one core against ~64 with 256 × 256 blocks.
constexpr std::size_t kGemmKC = 768;   // k per packed block
constexpr std::size_t kGemmNC = 4096;  // columns per packed block of B (caps the buffer at 12 MB)
constexpr std::size_t kGemmMC = 96;    // rows per packed block of A (a multiple of every MR)

// Tiny products (n·k ≤ kGemmDirect and m·n·k ≤ kGemmDirectMNK, e.g. C1's projections): packing and tile
// set-up cost more than the products, so each element is one scalar multiply-add chain over p = 0..k−1 read
// in place. The path depends only on m, n and k, never on the row range, so row splits give identical bits.
constexpr std::size_t kGemmDirect = 256;
constexpr std::size_t kGemmDirectMNK = 16384;
inline bool gemm_is_tiny(std::size_t m, std::size_t n, std::size_t k) {
  return n * k <= kGemmDirect && m * n * k <= kGemmDirectMNK;
}

// C[i, j] = alpha · Σ_p A[i, p]·B(j, p) + bias[j], B(j, p) = b[j·bj + p·bp]. W rows at a time, one row per lane
// (A transposed into `at`), B broadcast: every lane is its own fma chain over p in order, so a row has the same
// bits whichever rows share its vector. (A scalar loop here is bound by the fma latency of each short chain.)
template <class Arch>
inline void gemm_direct(const float* a, std::size_t lda, const float* b, std::size_t bj, std::size_t bp, float* c,
                        std::size_t ldc, std::size_t n, std::size_t k, float alpha, const float* bias,
                        std::size_t row_begin, std::size_t row_end) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  alignas(64) float at[kGemmDirect * W];  // at[p·W + r] = A[i0 + r, p]; k ≤ kGemmDirect since n ≥ 1
  alignas(64) float res[W];
  const F va(alpha);
  if (n == 0) return;  // and so k ≤ kGemmDirect below (gemm_is_tiny bounds n·k)
  for (std::size_t i0 = row_begin; i0 < row_end; i0 += W) {
    const std::size_t rows = row_end - i0 < W ? row_end - i0 : W;
    for (std::size_t p = 0; p < k; ++p)
      for (std::size_t r = 0; r < W; ++r) at[p * W + r] = a[(i0 + (r < rows ? r : rows - 1)) * lda + p];
    for (std::size_t j = 0; j < n; ++j) {
      const float* bcol = b + j * bj;
      F acc(0.0f);
      for (std::size_t p = 0; p < k; ++p) acc = xsimd::fma(F::load_aligned(at + p * W), F(bcol[p * bp]), acc);
      if (k == 0) acc = F(bias ? bias[j] : 0.0f);
      else if (bias) acc = xsimd::fma(va, acc, F(bias[j]));
      else acc = va * acc;
      acc.store_aligned(res);
      for (std::size_t r = 0; r < rows; ++r) c[(i0 + r) * ldc + j] = res[r];
    }
  }
}

// One (mr ≤ MR, nr ≤ NR) tile of C over one k block: start from 0 (first block) or from C, add the
// block's products, and on the last block apply alpha and bias. Partial tiles run the full-tile
// arithmetic (rows repeated, columns zero-padded) and store only their part.
template <class Arch>
inline void gemm_tile(const float* apanel, std::size_t mr, const float* bpanel, std::size_t kc, float* c,
                      std::size_t ldc, std::size_t nr, bool first, bool last, float alpha, const float* bias) {
  using F = vf<Arch>;
  using T = Tile<Arch>;
  constexpr std::size_t W = T::W, NB = T::NB, NR = T::NR, MR = T::MR;
  const bool full = mr == MR && nr == NR;
  F acc[MR][NB];
  for (std::size_t r = 0; r < MR; ++r)
    for (std::size_t b = 0; b < NB; ++b) {
      const std::size_t w = nr > b * W ? nr - b * W : 0;  // valid lanes of this vector
      acc[r][b] = first || r >= mr ? F(0.0f)
                  : full           ? F::load_unaligned(c + r * ldc + b * W)
                                   : load_partial<Arch>(c + r * ldc + b * W, w < W ? w : W, 0.0f);
    }
  micro_fma<Arch, MR, NB, 1, MR>(apanel, bpanel, NR, kc, acc);
  if (last) {
    const F va(alpha);
    for (std::size_t b = 0; b < NB; ++b) {
      if (bias) {
        const std::size_t w = nr > b * W ? nr - b * W : 0;
        const F vb = w >= W ? F::load_unaligned(bias + b * W) : load_partial<Arch>(bias + b * W, w, 0.0f);
        for (std::size_t r = 0; r < MR; ++r) acc[r][b] = alpha == 1.0f ? acc[r][b] + vb : xsimd::fma(va, acc[r][b], vb);
      } else if (alpha != 1.0f) {
        for (std::size_t r = 0; r < MR; ++r) acc[r][b] = va * acc[r][b];
      }
    }
  }
  if (full) {
    for (std::size_t r = 0; r < MR; ++r)
      for (std::size_t b = 0; b < NB; ++b) acc[r][b].store_unaligned(c + r * ldc + b * W);
  } else {
    alignas(64) float tmp[MR * NR];
    for (std::size_t r = 0; r < MR; ++r)
      for (std::size_t b = 0; b < NB; ++b) acc[r][b].store_aligned(tmp + r * NR + b * W);
    for (std::size_t r = 0; r < mr; ++r)
      for (std::size_t j = 0; j < nr; ++j) c[r * ldc + j] = tmp[r * NR + j];
  }
}

// Shared driver. A is packed per MC × KC block into (kc, MR) panels; panels_of(j0, nc, p0, kc) returns the
// panels of B's block — bp[(jj / NR)·kc·NR + p·NR + jj % NR] = B(j0 + jj, p0 + p), zero beyond n — packed
// now into the per-thread buffer `bp` by pack(bp, …), or found in B packed ahead of time.
template <class Arch, class Panels>
void gemm_driver(const float* a, std::size_t lda, float* c, std::size_t ldc, std::size_t n, std::size_t k, float alpha,
                 const float* bias, std::size_t row_begin, std::size_t row_end, Panels&& panels_of) {
  constexpr std::size_t NR = Tile<Arch>::NR, MR = Tile<Arch>::MR;
  if (row_begin >= row_end || n == 0) return;
  if (k == 0) {  // empty sum: C = bias
    for (std::size_t i = row_begin; i < row_end; ++i)
      for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = bias ? bias[j] : 0.0f;
    return;
  }
  thread_local AlignedFloats packed_a;
  float* ap = grow(packed_a, kGemmMC * (k < kGemmKC ? k : kGemmKC));  // (MC, kc) blocks, kc ≤ min(k, KC)
  for (std::size_t j0 = 0; j0 < n; j0 += kGemmNC) {
    const std::size_t nc = n - j0 < kGemmNC ? n - j0 : kGemmNC;
    for (std::size_t p0 = 0; p0 < k; p0 += kGemmKC) {
      const std::size_t kc = k - p0 < kGemmKC ? k - p0 : kGemmKC;
      const float* bp = panels_of(j0, nc, p0, kc);
      // Rows in blocks of MC (packed A stays in L2) × panels (one B panel is reused by the block's rows).
      for (std::size_t ic = row_begin; ic < row_end; ic += kGemmMC) {
        const std::size_t ic_end = row_end - ic < kGemmMC ? row_end : ic + kGemmMC;
        for (std::size_t i0 = ic; i0 < ic_end; i0 += MR)
          pack_rows<MR>(a + i0 * lda + p0, lda, ic_end - i0 < MR ? ic_end - i0 : MR, kc, ap + (i0 - ic) * kc);
        for (std::size_t jj = 0; jj < nc; jj += NR)
          for (std::size_t i0 = ic; i0 < ic_end; i0 += MR)
            gemm_tile<Arch>(ap + (i0 - ic) * kc, ic_end - i0 < MR ? ic_end - i0 : MR, bp + jj * kc, kc,
                            c + i0 * ldc + j0 + jj, ldc, nc - jj < NR ? nc - jj : NR, p0 == 0, p0 + kc == k, alpha,
                            bias ? bias + j0 + jj : nullptr);
      }
    }
  }
}

// B (n, k) of gemm_nt as the driver's panels: block (j0, p0) at offset j0·k + p0·round_up(nc, NR), one block
// after another (kGemmNC is a multiple of NR, so every earlier column block is whole).
template <class Arch>
inline void pack_nt_block(const float* b, std::size_t ldb, std::size_t j0, std::size_t nc, std::size_t p0,
                          std::size_t kc, float* bp) noexcept {
  constexpr std::size_t NR = Tile<Arch>::NR;
  for (std::size_t jj = 0; jj < nc; jj += NR)  // transpose NR rows of B at a time into one (kc, NR) panel
    pack_cols<NR>(b + (j0 + jj) * ldb + p0, ldb, nc - jj < NR ? nc - jj : NR, kc, bp + jj * kc);
}

inline std::size_t packed_nt_offset(std::size_t j0, std::size_t nc, std::size_t p0, std::size_t k, std::size_t nr) {
  return j0 * k + p0 * round_up(nc, nr);
}

template <class Arch>
std::size_t packed_nt_b_floats(std::size_t n, std::size_t k) {
  return round_up(n, Tile<Arch>::NR) * k;
}

template <class Arch>
void pack_nt_b_f32(const float* b, std::size_t ldb, std::size_t n, std::size_t k, float* packed) {
  for (std::size_t j0 = 0; j0 < n; j0 += kGemmNC) {
    const std::size_t nc = n - j0 < kGemmNC ? n - j0 : kGemmNC;
    for (std::size_t p0 = 0; p0 < k; p0 += kGemmKC)
      pack_nt_block<Arch>(b, ldb, j0, nc, p0, k - p0 < kGemmKC ? k - p0 : kGemmKC,
                          packed + packed_nt_offset(j0, nc, p0, k, Tile<Arch>::NR));
  }
}

// C = alpha · A·Bᵀ + bias      A: (m, k)  B: (n, k)  C: (m, n)
template <class Arch>
void gemm_nt_f32(const GemmNT& g, std::size_t row_begin, std::size_t row_end) {
  constexpr std::size_t NR = Tile<Arch>::NR;
  if (gemm_is_tiny(g.m, g.n, g.k))
    return gemm_direct<Arch>(g.a, g.lda, g.b, g.ldb, 1, g.c, g.ldc, g.n, g.k, g.alpha, g.bias, row_begin, row_end);
  if (g.b_packed) {
    gemm_driver<Arch>(g.a, g.lda, g.c, g.ldc, g.n, g.k, g.alpha, g.bias, row_begin, row_end,
                      [&](std::size_t j0, std::size_t nc, std::size_t p0, std::size_t) {
                        return g.b_packed + packed_nt_offset(j0, nc, p0, g.k, NR);
                      });
    return;
  }
  thread_local AlignedFloats packed_b;
  float* bp = grow(packed_b, round_up(g.n < kGemmNC ? g.n : kGemmNC, NR) * (g.k < kGemmKC ? g.k : kGemmKC));
  gemm_driver<Arch>(g.a, g.lda, g.c, g.ldc, g.n, g.k, g.alpha, g.bias, row_begin, row_end,
                    [&](std::size_t j0, std::size_t nc, std::size_t p0, std::size_t kc) {
                      pack_nt_block<Arch>(g.b, g.ldb, j0, nc, p0, kc, bp);
                      return static_cast<const float*>(bp);
                    });
}

// C = A·B      A: (m, k)  B: (k, n)  C: (m, n)
template <class Arch>
void gemm_nn_f32(const GemmNN& g, std::size_t row_begin, std::size_t row_end) {
  constexpr std::size_t NR = Tile<Arch>::NR;
  if (gemm_is_tiny(g.m, g.n, g.k))
    return gemm_direct<Arch>(g.a, g.lda, g.b, 1, g.ldb, g.c, g.ldc, g.n, g.k, 1.0f, nullptr, row_begin, row_end);
  thread_local AlignedFloats packed_b;
  float* bp = grow(packed_b, round_up(g.n < kGemmNC ? g.n : kGemmNC, NR) * (g.k < kGemmKC ? g.k : kGemmKC));
  gemm_driver<Arch>(g.a, g.lda, g.c, g.ldc, g.n, g.k, 1.0f, nullptr, row_begin, row_end,
                    [&](std::size_t j0, std::size_t nc, std::size_t p0, std::size_t kc) {
                      for (std::size_t jj = 0; jj < nc; jj += NR) {
                        float* panel = bp + jj * kc;
                        const std::size_t nr = nc - jj < NR ? nc - jj : NR;
                        for (std::size_t p = 0; p < kc; ++p) {
                          const float* brow = g.b + (p0 + p) * g.ldb + j0 + jj;
                          std::size_t q = 0;
                          for (; q < nr; ++q) panel[p * NR + q] = brow[q];
                          for (; q < NR; ++q) panel[p * NR + q] = 0.0f;
                        }
                      }
                      return static_cast<const float*>(bp);
                    });
}

// The per-thread buffers the calls above grow: gemm_driver's packed A (one per Panels type, so one each for
// gemm_nt with b_packed, gemm_nt without, and gemm_nn) and the packed B of gemm_nt / gemm_nn.
template <class Arch>
std::size_t gemm_b_scratch_floats(std::size_t n, std::size_t k) {
  return round_up(n < kGemmNC ? n : kGemmNC, Tile<Arch>::NR) * (k < kGemmKC ? k : kGemmKC);
}

template <class Arch>
std::size_t gemm_nt_scratch_floats(std::size_t m, std::size_t n, std::size_t k, bool b_packed) {
  if (gemm_is_tiny(m, n, k)) return 0;
  const std::size_t a = m == 0 || n == 0 || k == 0 ? 0 : kGemmMC * (k < kGemmKC ? k : kGemmKC);
  return a + (b_packed ? 0 : gemm_b_scratch_floats<Arch>(n, k));
}

template <class Arch>
std::size_t gemm_nn_scratch_floats(std::size_t m, std::size_t n, std::size_t k) {
  if (gemm_is_tiny(m, n, k)) return 0;
  const std::size_t a = m == 0 || n == 0 || k == 0 ? 0 : kGemmMC * (k < kGemmKC ? k : kGemmKC);
  return a + gemm_b_scratch_floats<Arch>(n, k);
}

}  // namespace
}  // namespace attnkit::kernels
