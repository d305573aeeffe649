// attnkit — gemm_nt / gemm_nn, BLIS-style: B packed per call into (KC, NR) panels and A per block into
// (KC, MR) panels (per-thread buffers; AVX-512 reads A in place), MR × NR register tiles (microkernel.hpp).
// Packing B costs O(n·k) per call, so give each call many rows. k is blocked by KC for cache; a block continues
// the previous block's sums stored in C, so every C element is still one fma chain over p = 0..k−1 in order,
// whatever the row range: results do not depend on how rows are split across threads.
#pragma once
#include "kernels.hpp"
#include "microkernel.hpp"

namespace attnkit::kernels {
namespace {

// Block sizes, picked by measurement on Zen 3 and Zen 4 at the projection shapes (m 1024, n 768 and 2304,
// k 768): B is packed once per call for all its columns (up to NC) and a whole k = 768 per block, so no C
// reloads and no repacking of A; each packed A block (MC × 768: 288 KB, 602 KB for AVX-512's 14-row
// tiles) stays in L2 (1 MB per core) while the B panels (768 × NR, 96 KB) stream past it. Zen 3: ~90 GFLOP/s
// on one core against ~64 with 256 × 256 blocks; Zen 4: k blocks of 192, 256 or 384 lose 5–12 %.
constexpr std::size_t kGemmKC = 768;   // k per packed block
constexpr std::size_t kGemmNC = 4096;  // columns per packed block of B (caps the buffer at 12 MB)

// gemm's register tile: Tile's (microkernel.hpp) but 14 rows with 32 registers: 28 accumulators + 2 B + 1
// broadcast, one more fma per B load than 12 × 2 (measured on Zen 4: +2–4 % at m 1024, n 2304, k 768; 8 × 3 and
// 6 × 4 were no faster). NR, and so the layout of B packed ahead (pack_nt_b_f32), is Tile's. With 32 registers the
// broadcasts read A's rows in place (16 general registers hold the row addresses; packing A cost ~1.5 % of C2's
// forward); only a block's last, partial tile is packed. Elsewhere (AVX2, SSE2, wasm, where V8 keeps few general
// registers free) A is packed per block.
template <class Arch>
struct GemmTile {
  static constexpr std::size_t W = Tile<Arch>::W, NB = Tile<Arch>::NB, NR = Tile<Arch>::NR;
  static constexpr std::size_t MR = W >= 16 ? 14 : Tile<Arch>::MR;
  static constexpr std::size_t MC = W >= 16 ? 14 * MR : 96;  // rows per block of A (a multiple of MR)
  static constexpr bool kAInPlace = W >= 16;
};

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
// Returns whether an element written is not finite (as every path below: the caller's overflow screen).
template <class Arch>
inline bool gemm_direct(const float* a, std::size_t lda, const float* b, std::size_t bj, std::size_t bp, float* c,
                        std::size_t ldc, std::size_t n, std::size_t k, float alpha, const float* bias,
                        std::size_t row_begin, std::size_t row_end) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  alignas(64) float at[kGemmDirect * W];  // at[p·W + r] = A[i0 + r, p]; k ≤ kGemmDirect since n ≥ 1
  alignas(64) float res[W];
  const F va(alpha);
  // acc − acc is 0 for a finite lane and NaN otherwise, ORed as bits: one vector op per column instead of a
  // compare per element. Lanes past `rows` repeat the last row, so they flag nothing a stored element does not.
  vi<Arch> bad(0);
  if (n == 0) return false;  // and so k ≤ kGemmDirect below (gemm_is_tiny bounds n·k)
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
      bad = bad | xsimd::bitwise_cast<vi<Arch>>(acc - acc);
      for (std::size_t r = 0; r < rows; ++r) c[(i0 + r) * ldc + j] = res[r];
    }
  }
  return xsimd::any(bad != vi<Arch>(0));
}

// One (mr ≤ MR, nr ≤ NR) tile of C over one k block: start from 0 (first block) or from C, add the
// block's products, and on the last block apply alpha and bias. Partial tiles run the full-tile
// arithmetic (rows repeated, columns zero-padded) and store only their part. Returns whether an element
// stored on the last block is not finite: the overflow screen (core/src/overflow.hpp) costs 28 fmas per tile
// here instead of a pass over C.
// A: a packed (kc, MR) panel (lda 0) or MR whole rows in place (row stride lda).
template <class Arch>
inline bool gemm_tile(const float* apanel, std::size_t lda, std::size_t mr, const float* bpanel, std::size_t kc,
                      float* c, std::size_t ldc, std::size_t nr, bool first, bool last, float alpha,
                      const float* bias) {
  using F = vf<Arch>;
  using T = GemmTile<Arch>;
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
  if (T::kAInPlace && lda) micro_fma_prefetch<Arch, MR, NB, true>(apanel, lda, bpanel, kc, acc);
  else micro_fma_prefetch<Arch, MR, NB, false>(apanel, 0, bpanel, kc, acc);
  bool non_finite = false;
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
    F zeros(0.0f);  // Σ acc·0: 0 when every element is finite, NaN otherwise
    for (std::size_t r = 0; r < MR; ++r)
      for (std::size_t b = 0; b < NB; ++b) {
        acc[r][b].store_unaligned(c + r * ldc + b * W);
        if (last) zeros = xsimd::fma(acc[r][b], F(0.0f), zeros);
      }
    if (last) non_finite = !xsimd::all(zeros == F(0.0f));  // == is false for NaN on every ISA; != is not
  } else {
    alignas(64) float tmp[MR * NR];
    for (std::size_t r = 0; r < MR; ++r)
      for (std::size_t b = 0; b < NB; ++b) acc[r][b].store_aligned(tmp + r * NR + b * W);
    for (std::size_t r = 0; r < mr; ++r)
      for (std::size_t j = 0; j < nr; ++j) {
        c[r * ldc + j] = tmp[r * NR + j];
        if (last) non_finite |= tmp[r * NR + j] - tmp[r * NR + j] != 0.0f;
      }
  }
  return non_finite;
}

// Shared driver. A is packed per MC × KC block into (kc, MR) panels (or read in place: GemmTile);
// panels_of(j0, nc, p0, kc) returns the panels of B's block — bp[(jj / NR)·kc·NR + p·NR + jj % NR] =
// B(j0 + jj, p0 + p), zero beyond n — packed now into the per-thread buffer `bp` by pack(bp, …), or found in B
// packed ahead of time.
template <class Arch, class Panels>
bool gemm_driver(const float* a, std::size_t lda, float* c, std::size_t ldc, std::size_t n, std::size_t k, float alpha,
                 const float* bias, std::size_t row_begin, std::size_t row_end, Panels&& panels_of) {
  constexpr std::size_t NR = GemmTile<Arch>::NR, MR = GemmTile<Arch>::MR, MC = GemmTile<Arch>::MC;
  if (row_begin >= row_end || n == 0) return false;
  bool non_finite = false;
  if (k == 0) {  // empty sum: C = bias
    for (std::size_t i = row_begin; i < row_end; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        c[i * ldc + j] = bias ? bias[j] : 0.0f;
        non_finite |= c[i * ldc + j] - c[i * ldc + j] != 0.0f;
      }
    return non_finite;
  }
  const bool in_place = GemmTile<Arch>::kAInPlace && lda != 0;  // (lda 0: every row the same, packed)
  thread_local AlignedFloats packed_a;  // (MC, kc) blocks, kc ≤ min(k, KC); in place: the one partial tile
  float* ap = grow(packed_a, (in_place ? MR : MC) * (k < kGemmKC ? k : kGemmKC));
  for (std::size_t j0 = 0; j0 < n; j0 += kGemmNC) {
    const std::size_t nc = n - j0 < kGemmNC ? n - j0 : kGemmNC;
    for (std::size_t p0 = 0; p0 < k; p0 += kGemmKC) {
      const std::size_t kc = k - p0 < kGemmKC ? k - p0 : kGemmKC;
      const float* bp = panels_of(j0, nc, p0, kc);
      // Rows in blocks of MC (packed A stays in L2) × panels (one B panel is reused by the block's rows).
      for (std::size_t ic = row_begin; ic < row_end; ic += MC) {
        const std::size_t ic_end = row_end - ic < MC ? row_end : ic + MC;
        for (std::size_t i0 = ic; i0 < ic_end; i0 += MR)
          if (!in_place || ic_end - i0 < MR)
            pack_rows<MR>(a + i0 * lda + p0, lda, ic_end - i0 < MR ? ic_end - i0 : MR, kc,
                          in_place ? ap : ap + (i0 - ic) * kc);
        for (std::size_t jj = 0; jj < nc; jj += NR)
          for (std::size_t i0 = ic; i0 < ic_end; i0 += MR) {
            const std::size_t mr = ic_end - i0 < MR ? ic_end - i0 : MR;
            const bool whole_rows = in_place && mr == MR;  // read in place; the partial tile from its packed copy
            non_finite |= gemm_tile<Arch>(whole_rows ? a + i0 * lda + p0
                                          : in_place ? ap
                                                     : ap + (i0 - ic) * kc,
                                          whole_rows ? lda : 0, mr, bp + jj * kc, kc, c + i0 * ldc + j0 + jj, ldc,
                                          nc - jj < NR ? nc - jj : NR, p0 == 0, p0 + kc == k, alpha,
                                          bias ? bias + j0 + jj : nullptr);
          }
      }
    }
  }
  return non_finite;
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
bool gemm_nt_f32(const GemmNT& g, std::size_t row_begin, std::size_t row_end) {
  constexpr std::size_t NR = Tile<Arch>::NR;
  if (gemm_is_tiny(g.m, g.n, g.k))
    return gemm_direct<Arch>(g.a, g.lda, g.b, g.ldb, 1, g.c, g.ldc, g.n, g.k, g.alpha, g.bias, row_begin, row_end);
  if (g.b_packed)
    return gemm_driver<Arch>(g.a, g.lda, g.c, g.ldc, g.n, g.k, g.alpha, g.bias, row_begin, row_end,
                             [&](std::size_t j0, std::size_t nc, std::size_t p0, std::size_t) {
                               return g.b_packed + packed_nt_offset(j0, nc, p0, g.k, NR);
                             });
  thread_local AlignedFloats packed_b;
  float* bp = grow(packed_b, round_up(g.n < kGemmNC ? g.n : kGemmNC, NR) * (g.k < kGemmKC ? g.k : kGemmKC));
  return gemm_driver<Arch>(g.a, g.lda, g.c, g.ldc, g.n, g.k, g.alpha, g.bias, row_begin, row_end,
                           [&](std::size_t j0, std::size_t nc, std::size_t p0, std::size_t kc) {
                             pack_nt_block<Arch>(g.b, g.ldb, j0, nc, p0, kc, bp);
                             return static_cast<const float*>(bp);
                           });
}

// C = A·B      A: (m, k)  B: (k, n)  C: (m, n)
template <class Arch>
void gemm_nn_f32(const GemmNN& g, std::size_t row_begin, std::size_t row_end) {
  constexpr std::size_t NR = Tile<Arch>::NR;
  if (gemm_is_tiny(g.m, g.n, g.k)) {
    gemm_direct<Arch>(g.a, g.lda, g.b, 1, g.ldb, g.c, g.ldc, g.n, g.k, 1.0f, nullptr, row_begin, row_end);
    return;
  }
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
std::size_t gemm_a_scratch_floats(std::size_t m, std::size_t n, std::size_t k) {
  using T = GemmTile<Arch>;
  return m == 0 || n == 0 || k == 0 ? 0 : (T::kAInPlace ? T::MR : T::MC) * (k < kGemmKC ? k : kGemmKC);
}

template <class Arch>
std::size_t gemm_nt_scratch_floats(std::size_t m, std::size_t n, std::size_t k, bool b_packed) {
  if (gemm_is_tiny(m, n, k)) return 0;
  return gemm_a_scratch_floats<Arch>(m, n, k) + (b_packed ? 0 : gemm_b_scratch_floats<Arch>(n, k));
}

template <class Arch>
std::size_t gemm_nn_scratch_floats(std::size_t m, std::size_t n, std::size_t k) {
  if (gemm_is_tiny(m, n, k)) return 0;
  return gemm_a_scratch_floats<Arch>(m, n, k) + gemm_b_scratch_floats<Arch>(n, k);
}

}  // namespace
}  // namespace attnkit::kernels
