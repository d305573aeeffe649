// attnkit — the attention op's fused backward pass (kernels::AttentionBackward in kernels.hpp), FlashAttention-2's
// loop order: key blocks outside (their dK, dV accumulate in registers-sized tiles owned by this call), query tiles
// inside. Per (query tile, key block), on the forward's micro-kernel (microkernel.hpp):
//   S = q·kᵀ·scale      dP = dO·vᵀ      P = exp(S + mask − lse)      dS = P ⊙ (dP − D)
//   dV += Pᵀ·dO         dK += dSᵀ·q     dQ += dS·k
// k, v (for this key range) and each query head's q, dO are packed once per call into the layouts the micro-kernel
// reads, so no tile packs anything. Micro-tiles that the causal mask hides entirely are skipped (exact zeros), and
// with a mask, whole tiles it hides. Buffers are per thread (grown, never shrunk): no allocation once warm.
#pragma once
#include <cstdint>
#include <limits>

#include "kernels.hpp"
#include "microkernel.hpp"

namespace attnkit::kernels {
namespace {

constexpr std::size_t kBackwardQueries = 96;  // query rows per tile, a multiple of every MR
constexpr std::size_t kBackwardKeys = kAttentionBackwardKeys;
static_assert(kBackwardKeys % 32 == 0 && kBackwardKeys % 12 == 0, "key blocks: whole NR panels and MR rows");

// Column panels: dst[(c/NR)·rows·NR + i·NR + c%NR] = src[i·ld + c], zero for c ≥ width (the B operand of products
// whose k index is src's row).
template <class Arch>
inline void pack_panels(const float* src, std::size_t ld, std::size_t rows, std::size_t width, float* dst) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size, NR = Tile<Arch>::NR;
  for (std::size_t c0 = 0; c0 < round_up(width, NR); c0 += NR) {
    const std::size_t w = width - c0 < NR ? width - c0 : NR;
    float* panel = dst + c0 * rows;
    for (std::size_t i = 0; i < rows; ++i) {
      const float* row = src + i * ld + c0;
      if (w == NR) {
        for (std::size_t b = 0; b < NR; b += W) F::load_unaligned(row + b).store_aligned(panel + i * NR + b);
        continue;
      }
      for (std::size_t c = 0; c < NR; ++c) panel[i * NR + c] = c < w ? row[c] : 0.0f;
    }
  }
}

// micro_fma (microkernel.hpp) with A read in place: element (r, p) at a[r·lda + p], lda known only at run time, so
// q and dO need no packed copy for S and dP (a broadcast reads any address). Same arithmetic, same order.
template <class Arch, std::size_t MR, std::size_t NB>
inline void micro_fma_rows(const float* a, std::size_t lda, const float* b, std::size_t ldb, std::size_t kc,
                           vf<Arch> (&acc)[MR][NB]) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  for (std::size_t p = 0; p < kc; ++p, ++a, b += ldb) {
    F bv[NB];
    for (std::size_t nb = 0; nb < NB; ++nb) bv[nb] = F::load_aligned(b + nb * W);
    for (std::size_t r = 0; r < MR; ++r) {
      const F av(a[r * lda]);
      for (std::size_t nb = 0; nb < NB; ++nb) acc[r][nb] = xsimd::fma(av, bv[nb], acc[r][nb]);
    }
  }
}

// One row of a tile, in place over kBackwardKeys keys: s (scaled scores) becomes the weights as the forward applied
// them, P·keep·dropout_scale; dp (dO·vᵀ) becomes dS = P ⊙ (dP·keep·dropout_scale − D). Keys [0, vis) are visible;
// the rest, and a row with lse = −inf (it sees no key), give 0.
template <class Arch>
inline void weights_and_grads(float* s, float* dp, const float* mrow, const unsigned char* keep, std::size_t vis,
                              float lse, float D, float dropout_scale) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  const float ninf = -std::numeric_limits<float>::infinity();
  if (lse == ninf) vis = 0;
  const F vlse(lse), vD(D);
  for (std::size_t j = 0; j < vis; j += W) {  // a masked key adds −inf, and exp(−inf) is exactly 0
    const std::size_t n = vis - j < W ? vis - j : W;
    F x = n == W ? F::load_aligned(s + j) : load_partial<Arch>(s + j, n, ninf);
    if (mrow) x = x + (n == W ? F::load_unaligned(mrow + j) : load_partial<Arch>(mrow + j, n, 0.0f));
    const F w = exp_f32<Arch>(x - vlse);
    w.store_aligned(s + j);
    if (!keep) (w * (F::load_aligned(dp + j) - vD)).store_aligned(dp + j);
  }
  if (keep)
    for (std::size_t j = 0; j < vis; ++j) {
      const float w = s[j];
      s[j] = keep[j] ? w * dropout_scale : 0.0f;
      dp[j] = w * ((keep[j] ? dp[j] * dropout_scale : 0.0f) - D);
    }
  for (std::size_t j = vis; j < kBackwardKeys; ++j) s[j] = dp[j] = 0.0f;
}

// Keys [0, visible_to(i)) are causally visible to query i (kernels::Attention's convention).
inline std::size_t visible_to(const AttentionBackward& t, std::size_t i) {
  if (!t.causal) return t.n_k;
  const std::ptrdiff_t see = static_cast<std::ptrdiff_t>(i) + 1 + t.causal_offset;
  return see <= 0 ? 0 : static_cast<std::size_t>(see) < t.n_k ? static_cast<std::size_t>(see) : t.n_k;
}
inline std::size_t visible_in(const AttentionBackward& t, std::size_t i, std::size_t j0, std::size_t kn) {
  const std::size_t see = visible_to(t, i);
  return see > j0 ? (see - j0 < kn ? see - j0 : kn) : 0;
}

// True if some query of [i0, i1) may see some key of [j0, j0 + kn) through the mask of head `mask`.
inline bool tile_visible(const AttentionBackward& t, const float* mask, std::size_t i0, std::size_t i1, std::size_t j0,
                         std::size_t kn) {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (std::size_t i = t.ld_mask == 0 ? i1 - 1 : i0; i < i1; ++i) {  // one shared row: the one that sees most
    const float* mrow = mask + i * t.ld_mask + j0;
    for (std::size_t j = 0, vis = visible_in(t, i, j0, kn); j < vis; ++j)
      if (mrow[j] != ninf) return true;
  }
  return false;
}

// The packed operands of one call; see attention_backward_f32 for each layout.
struct BackwardPacks {
  const float *kp, *vp, *kc;         // this key range
  const float *q, *dO;               // one query head, rows in place (S, dP)
  const float *qr, *qc, *dor, *doc;  // its last, partial MR rows packed (S, dP); NR-column panels (dK, dV)
  float *s, *ds, *dq, *dk, *dv;      // tile buffers and accumulators
  std::size_t key_begin, n_r, dpad, dvpad;
};

// One (query tile [i0, i0 + qn), key block [j0, j0 + kn)) of query head g.
template <class Arch>
void backward_tile(const AttentionBackward& t, const BackwardPacks& p, std::size_t g, std::size_t i0, std::size_t qn,
                   std::size_t j0, std::size_t kn) {
  using F = vf<Arch>;
  constexpr std::size_t W = Tile<Arch>::W, NB = Tile<Arch>::NB, NR = Tile<Arch>::NR, MR = Tile<Arch>::MR;
  constexpr std::size_t KB = kBackwardKeys;
  const std::size_t d = t.d, dv = t.d_v, jr = j0 - p.key_begin;  // jr: the block's first key within the range
  const F sc(t.scale);

  // S and dP, MR rows × NR keys at a time, up to the last key the group's last row sees.
  for (std::size_t r0 = 0; r0 < qn; r0 += MR) {
    const std::size_t mr = qn - r0 < MR ? qn - r0 : MR;
    const std::size_t cols = round_up(visible_in(t, i0 + r0 + mr - 1, j0, kn), NR);
    for (std::size_t jj = 0; jj < cols; jj += NR)
      for (int pass = 0; pass < 2; ++pass) {  // one accumulator set live at a time (32 registers hold one)
        F acc[MR][NB];
        for (std::size_t r = 0; r < MR; ++r)
          for (std::size_t b = 0; b < NB; ++b) acc[r][b] = F(0.0f);
        const bool whole = i0 + r0 + MR <= t.n_q;  // else the head's packed last rows (never read past n_q)
        if (pass == 0 && whole) micro_fma_rows<Arch, MR, NB>(p.q + (i0 + r0) * d, d, p.kp + (jr + jj) * d, NR, d, acc);
        else if (pass == 0) micro_fma<Arch, MR, NB, 1, MR>(p.qr, p.kp + (jr + jj) * d, NR, d, acc);
        else if (whole) micro_fma_rows<Arch, MR, NB>(p.dO + (i0 + r0) * dv, dv, p.vp + (jr + jj) * dv, NR, dv, acc);
        else micro_fma<Arch, MR, NB, 1, MR>(p.dor, p.vp + (jr + jj) * dv, NR, dv, acc);
        float* dst = (pass == 0 ? p.s : p.ds) + r0 * KB + jj;
        const F f = pass == 0 ? sc : F(1.0f);
        for (std::size_t r = 0; r < mr; ++r)
          for (std::size_t b = 0; b < NB; ++b) (acc[r][b] * f).store_aligned(dst + r * KB + b * W);
      }
  }
  const float* mask = t.mask ? t.mask + g * t.mask_head_stride : nullptr;
  for (std::size_t r = 0; r < qn; ++r) {
    const std::size_t i = i0 + r, row = g * t.n_q + i;
    weights_and_grads<Arch>(p.s + r * KB, p.ds + r * KB, mask ? mask + i * t.ld_mask + j0 : nullptr,
                            t.keep ? t.keep + row * t.n_k + j0 : nullptr, visible_in(t, i, j0, kn), t.lse[row],
                            t.D[row], t.dropout_scale);
  }
  for (std::size_t r = qn; r < round_up(qn, MR); ++r)  // rows the last micro-tile reads but never stores
    for (std::size_t j = 0; j < KB; ++j) p.s[r * KB + j] = p.ds[r * KB + j] = 0.0f;

  // dV += Pᵀ·dO and dK += dSᵀ·q: MR keys × NR columns, over the queries that see the first of those keys.
  for (std::size_t r0 = 0; r0 < kn; r0 += MR) {
    std::size_t q0 = 0;  // causal: query i sees key j once i ≥ j − causal_offset
    const std::ptrdiff_t first = static_cast<std::ptrdiff_t>(j0 + r0) - t.causal_offset;
    if (t.causal && first > static_cast<std::ptrdiff_t>(i0)) q0 = static_cast<std::size_t>(first) - i0;
    if (q0 >= qn) break;  // later keys are seen by no row of the tile either
    for (int pass = 0; pass < 2; ++pass) {
      const float* a = (pass == 0 ? p.s : p.ds) + q0 * KB + r0;
      const float* b = pass == 0 ? p.doc : p.qc;
      float* c = pass == 0 ? p.dv : p.dk;
      const std::size_t width = pass == 0 ? p.dvpad : p.dpad;
      for (std::size_t c0 = 0; c0 < width; c0 += NR) {
        float* cr = c + (jr + r0) * width + c0;
        F acc[MR][NB];
        for (std::size_t r = 0; r < MR; ++r)
          for (std::size_t nb = 0; nb < NB; ++nb) acc[r][nb] = F::load_aligned(cr + r * width + nb * W);
        micro_fma<Arch, MR, NB, 1, KB>(a, b + c0 * t.n_q + (i0 + q0) * NR, NR, qn - q0, acc);
        for (std::size_t r = 0; r < MR; ++r)
          for (std::size_t nb = 0; nb < NB; ++nb) acc[r][nb].store_aligned(cr + r * width + nb * W);
      }
    }
  }

  // dQ += dS·k: MR queries × NR columns, over the keys the group's last row sees.
  for (std::size_t r0 = 0; r0 < qn; r0 += MR) {
    const std::size_t mr = qn - r0 < MR ? qn - r0 : MR;
    const std::size_t keys = visible_in(t, i0 + r0 + mr - 1, j0, kn);
    if (keys == 0) continue;
    for (std::size_t c0 = 0; c0 < p.dpad; c0 += NR) {
      float* cr = p.dq + (i0 + r0) * p.dpad + c0;
      F acc[MR][NB];
      for (std::size_t r = 0; r < MR; ++r)
        for (std::size_t nb = 0; nb < NB; ++nb) acc[r][nb] = F::load_aligned(cr + r * p.dpad + nb * W);
      micro_fma<Arch, MR, NB, KB, 1>(p.ds + r0 * KB, p.kc + c0 * p.n_r + jr * NR, NR, keys, acc);
      for (std::size_t r = 0; r < MR; ++r)
        for (std::size_t nb = 0; nb < NB; ++nb) acc[r][nb].store_aligned(cr + r * p.dpad + nb * W);
    }
  }
}

template <class Arch>
void attention_backward_f32(const AttentionBackward& t, std::size_t key_begin, std::size_t key_end) {
  constexpr std::size_t NR = Tile<Arch>::NR, MR = Tile<Arch>::MR, QT = kBackwardQueries, KB = kBackwardKeys;
  if (key_begin >= key_end) return;
  const std::size_t d = t.d, dv = t.d_v, n_q = t.n_q, n_r = key_end - key_begin;
  const std::size_t dpad = round_up(d, NR), dvpad = round_up(dv, NR), qrows = round_up(n_q, MR);
  const std::size_t rpad = round_up(n_r, KB);  // whole blocks: the MR-key micro-tiles of the last block stay inside
  thread_local AlignedFloats kp_, vp_, kc_, qr_, qc_, dor_, doc_, s_, ds_, dq_, dk_, dv_;
  BackwardPacks p{};
  p.key_begin = key_begin;
  p.n_r = n_r;
  p.dpad = dpad;
  p.dvpad = dvpad;
  // k and v as NR-key panels (d, NR) for S and dP: kp[(j/NR)·d·NR + c·NR + j%NR] = k[key_begin + j, c]; k also as
  // NR-column panels (n_r, NR) for dQ.
  float* kp = grow(kp_, round_up(n_r, NR) * d);
  float* vp = grow(vp_, round_up(n_r, NR) * dv);
  for (std::size_t j = 0; j < n_r; j += NR) {
    const std::size_t nr = n_r - j < NR ? n_r - j : NR;
    pack_cols<NR>(t.k + (key_begin + j) * d, d, nr, d, kp + j * d);
    pack_cols<NR>(t.v + (key_begin + j) * dv, dv, nr, dv, vp + j * dv);
  }
  float* kc = grow(kc_, dpad * n_r);
  pack_panels<Arch>(t.k + key_begin * d, d, n_r, d, kc);
  p.kp = kp;
  p.vp = vp;
  p.kc = kc;
  // Per query head: q and dO as MR-row panels (d, MR) for S and dP, and as NR-column panels (n_q, NR) for dK and dV.
  float* qr = grow(qr_, MR * d);
  float* dor = grow(dor_, MR * dv);
  float* qc = grow(qc_, dpad * n_q);
  float* doc = grow(doc_, dvpad * n_q);
  p.qr = qr;
  p.dor = dor;
  p.qc = qc;
  p.doc = doc;
  p.s = grow(s_, QT * KB);
  p.ds = grow(ds_, QT * KB);
  p.dq = grow(dq_, qrows * dpad);
  p.dk = grow(dk_, rpad * dpad);
  p.dv = grow(dv_, rpad * dvpad);
  for (std::size_t e = 0; e < rpad * dpad; ++e) p.dk[e] = 0.0f;
  for (std::size_t e = 0; e < rpad * dvpad; ++e) p.dv[e] = 0.0f;

  for (std::size_t g = 0; g < t.group; ++g) {
    const float* q = t.q + g * n_q * d;
    const float* dO = t.grad_out + g * n_q * dv;
    p.q = q;
    p.dO = dO;
    if (const std::size_t tail = n_q % MR) {
      pack_rows<MR>(q + (n_q - tail) * d, d, tail, d, qr);
      pack_rows<MR>(dO + (n_q - tail) * dv, dv, tail, dv, dor);
    }
    pack_panels<Arch>(q, d, n_q, d, qc);
    pack_panels<Arch>(dO, dv, n_q, dv, doc);
    for (std::size_t e = 0; e < qrows * dpad; ++e) p.dq[e] = 0.0f;
    const float* mask = t.mask ? t.mask + g * t.mask_head_stride : nullptr;
    for (std::size_t j0 = key_begin; j0 < key_end; j0 += KB) {
      const std::size_t kn = key_end - j0 < KB ? key_end - j0 : KB;
      std::size_t i_lo = 0;
      if (t.causal) {
        const std::ptrdiff_t f = static_cast<std::ptrdiff_t>(j0) - t.causal_offset;
        i_lo = f <= 0 ? 0 : static_cast<std::size_t>(f) < n_q ? static_cast<std::size_t>(f) : n_q;
      }
      for (std::size_t i0 = i_lo / MR * MR; i0 < n_q; i0 += QT) {
        const std::size_t qn = n_q - i0 < QT ? n_q - i0 : QT;
        if (mask && !tile_visible(t, mask, i0, i0 + qn, j0, kn)) continue;
        backward_tile<Arch>(t, p, g, i0, qn, j0, kn);
      }
    }
    float* gq = t.grad_q + g * n_q * d;
    for (std::size_t i = 0; i < n_q; ++i)
      for (std::size_t c = 0; c < d; ++c) gq[i * d + c] = p.dq[i * dpad + c] * t.scale;
  }
  for (std::size_t j = 0; j < n_r; ++j) {
    for (std::size_t c = 0; c < d; ++c) t.grad_k[(key_begin + j) * d + c] = p.dk[j * dpad + c] * t.scale;
    for (std::size_t c = 0; c < dv; ++c) t.grad_v[(key_begin + j) * dv + c] = p.dv[j * dvpad + c];
  }
}

}  // namespace
}  // namespace attnkit::kernels
