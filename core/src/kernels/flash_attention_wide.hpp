// attnkit — the fused attention kernel for 32-register, 16-lane tables (AVX-512), queries across the lanes.
// flash_attention.hpp dispatches here (not for the weights, which want rows of scores); same contract as
// attention_f32 (kernels.hpp, Attention), same overflow rule and the same bits for any row split.
//
// Layout: a tile of QT = 48 queries is 3 vectors, one query per lane, so every online-softmax step is a vertical
// vector op (no horizontal max or sum anywhere). Per key block of KB keys:
//   1. scores Sᵀ (KB, QT) = k·qᵀ·scale, 8 keys × 3 query vectors of accumulators (24 zmm; micro_fma with k panels
//      broadcast and qᵀ loaded), masked only where the block crosses the causal diagonal, a mask or padding;
//   2. in registers: running max (lazy: the reference max m moves only when a score passes m + kLazyRescale, so
//      most blocks never rescale), P = exp(S − m) stored over S, l += P;
//   3. O (QT, d_v) += Pᵀ·v, 6 queries × 4 vectors (64 columns) of accumulators (24 zmm).
// Keys past a tile's last visible key are never scored (causal future skipped); P ≤ e^kLazyRescale, and out =
// O / l, lse = m + log(l) are exact whatever m is. Every lane is its own chain, and each lane's rescale decision
// looks only at its own scores in absolute key panels, so a row's bits do not depend on its tile-mates.
#pragma once
#include <cmath>
#include <limits>

#include "attention_direct.hpp"
#include "kernels.hpp"
#include "flash_attention_wide_steps.hpp"
#include "microkernel.hpp"

namespace attnkit::kernels {
namespace {

// Both fused kernels of a table keep their packed operands in the same per-thread buffers (one set per thread).
struct AttnBuffers {
  AlignedFloats keys, values, scores, context, queries, mask;
};
template <class Arch>
AttnBuffers& attn_buffers() {
  thread_local AttnBuffers b;
  return b;
}

template <class Arch>
std::size_t attention_wide(const Attention& t, std::size_t row_begin, std::size_t row_end) {
  using F = vf<Arch>;
  using WT = WideTile<Arch>;
  constexpr std::size_t W = WT::W, QT = WT::QT, KR = WT::KR, KB = WT::KB, NV = WT::NV;
  const float ninf = -std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::size_t d = t.d, dv = value_width(t), dp = round_up(dv, NV);
  const std::size_t kmax = visible_keys(t, round_up(row_end, QT) - 1), kpad = round_up(kmax, KB);

  // k as KR-key panels (d, KR), v as NV-column panels (kpad, NV), zero past kmax / d_v (P·0 must stay 0).
  AttnBuffers& buf = attn_buffers<Arch>();
  float* kp = grow(buf.keys, kpad * d);  // kp[(j/KR)·d·KR + p·KR + j%KR] = k[j, p]
  for (std::size_t j0 = 0; j0 < kpad; j0 += KR) {
    if (j0 >= kmax) {
      for (std::size_t x = 0; x < KR * d; ++x) kp[j0 * d + x] = 0.0f;
      continue;
    }
    pack_rows<KR>(t.k + j0 * t.ld_k, t.ld_k, kmax - j0 < KR ? kmax - j0 : KR, d, kp + j0 * d);
  }
  float* vp = grow(buf.values, kpad * dp);  // vp[(c/NV)·kpad·NV + j·NV + c%NV] = v[j, c]
  for (std::size_t c0 = 0; c0 < dp; c0 += NV) {
    const std::size_t w = dv - c0 < NV ? dv - c0 : NV;
    for (std::size_t j = 0; j < kpad; ++j) {
      float* dst = vp + c0 * kpad + j * NV;
      const float* vrow = t.v + j * t.ld_v + c0;
      std::size_t c = 0;
      if (j < kmax && w == NV)
        for (; c < NV; c += W) F::load_unaligned(vrow + c).store_aligned(dst + c);
      for (; c < NV; ++c) dst[c] = j < kmax && c < w ? vrow[c] : 0.0f;
    }
  }
  float* st = grow(buf.scores, KB * QT);                                // (KB, QT): Sᵀ, then Pᵀ
  float* o = grow(buf.context, QT * dp);                                // (QT, dp) unnormalised context
  float* qt = grow(buf.queries, d * QT);                                // (d, QT): qᵀ, lanes past the tile's rows 0
  float* mt = t.mask && t.ld_mask ? grow(buf.mask, KB * QT) : nullptr;  // (KB, QT) the block's mask, transposed
  alignas(64) float mpad[KB];
  std::size_t flagged = 0;

  for (std::size_t tile = row_begin / QT * QT; tile < row_end; tile += QT) {
    const std::size_t i0 = tile > row_begin ? tile : row_begin, i1 = tile + QT < row_end ? tile + QT : row_end;
    const std::size_t rows = i1 - i0;
    const std::size_t kend = visible_keys(t, i1 - 1), kfull = visible_keys(t, i0);  // seen by some / every row
    // qᵀ in groups of 8 rows, stores in order (row by row, each store lands 192 bytes past the last and the
    // loads wait on them: measured 3x slower); 8 rows at a time, as rows 3 KB apart share a few L1 sets.
    for (std::size_t r0 = 0; r0 < QT; r0 += 8)
      for (std::size_t p = 0; p < d; ++p)
        for (std::size_t r = r0; r < r0 + 8; ++r) qt[p * QT + r] = r < rows ? t.q[(i0 + r) * t.ld_q + p] : 0.0f;
    WideRows<Arch> w;
    for (std::size_t r = 0; r < QT; ++r) {
      w.m[r] = ninf, w.l[r] = 0.0f, w.bad[r] = 0;
      w.see[r] = static_cast<float>(visible_keys(t, i0 + (r < rows ? r : rows - 1)));
    }
    for (std::size_t x = 0; x < QT * dp; ++x) o[x] = 0.0f;

    for (std::size_t kb = 0; kb < kend; kb += KB) {
      const std::size_t kn = kend - kb < KB ? kend - kb : KB, kn_pad = round_up(kn, KR);
      if (t.mask && !block_visible(t, i0, i1, kb, kn)) continue;  // adds exact zeros to every row: skip
      if (mt)
        for (std::size_t r = 0; r < QT; ++r) {
          const float* mrow = t.mask + (i0 + (r < rows ? r : rows - 1)) * t.ld_mask + kb;
          for (std::size_t j = 0; j < kn_pad; ++j) mt[j * QT + r] = j < kn ? mrow[j] : ninf;
        }
      // Only a block that crosses the diagonal, has padding keys or a mask compares anything.
      const bool masked = t.mask || kb + kn_pad > kfull;
      if (masked) wide_scores<Arch, false>(kp + kb * d, qt, d, kn_pad, t.scale, st, w);
      else wide_scores<Arch, true>(kp + kb * d, qt, d, kn_pad, t.scale, st, w);
      const float* mrow = t.mask && !t.ld_mask ? (kn_pad == kn ? t.mask + kb : nullptr) : nullptr;
      if (t.mask && !t.ld_mask && kn_pad != kn) {  // one mask row, padded to the block's last panel
        for (std::size_t j = 0; j < kn_pad; ++j) mpad[j] = j < kn ? t.mask[kb + j] : ninf;
        mrow = mpad;
      }
      wide_softmax<Arch>(st, kb, kn_pad, masked, mt, mrow, w, o, dp);
      wide_context<Arch>(st, vp + kb * NV, kpad, kn_pad, rows, o, dp);
    }

    // out = O / l, checked as it is stored; a row that saw no key (l = 0) is all zeros; lse = m + log l.
    for (std::size_t r = 0; r < rows; ++r) {
      float* dst = t.out + (i0 + r) * t.ld_out;
      const float* src = o + r * dp;
      const bool flag = w.bad[r] != 0;
      if (t.lse) t.lse[i0 + r] = w.l[r] > 0.0f ? w.m[r] + std::log(w.l[r]) : ninf;
      if (!(w.l[r] > 0.0f) && !flag) {
        for (std::size_t c = 0; c < dv; ++c) dst[c] = 0.0f;
        continue;
      }
      const F vl(w.l[r]);
      NonFinite<Arch> check;
      std::size_t c = 0;
      for (; c + W <= dv; c += W) {
        const F x = F::load_aligned(src + c) / vl;
        check.add(x);
        x.store_unaligned(dst + c);
      }
      if (c < dv) {
        const F x = F::load_aligned(src + c) / vl;  // lanes past d_v hold 0 / l
        check.add(x);
        store_partial<Arch>(dst + c, dv - c, x);
      }
      if (flag || check.any()) {
        ++flagged;
        for (c = 0; c < dv; ++c) dst[c] = nan;
      }
    }
  }
  return flagged;
}

// attention_wide's share of the buffers in AttnBuffers, in their order (keys, values, scores, context, queries, mask).
template <class Arch>
void attention_wide_scratch(std::size_t n_k, std::size_t d, std::size_t dv, bool mask, std::size_t (&n)[6]) {
  using WT = WideTile<Arch>;
  const std::size_t kpad = round_up(n_k, WT::KB), dp = round_up(dv, WT::NV);
  const std::size_t want[6] = {kpad * d,    kpad * dp,  WT::KB * WT::QT,
                               WT::QT * dp, d * WT::QT, mask ? WT::KB * WT::QT : 0};
  for (std::size_t i = 0; i < 6; ++i) n[i] = want[i];
}

}  // namespace
}  // namespace attnkit::kernels
