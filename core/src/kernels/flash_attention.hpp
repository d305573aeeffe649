// attnkit — fused attention for one (batch, head), flash-attention style:
// context = softmax(q·kᵀ·scale [+ mask] [+ causal mask])·v without an (n_q, n_k) matrix.
// Queries go in tiles of QT rows, keys in blocks of KB; per block and row group of MR rows, the book's passes fused:
// scores S = q·kᵀ·scale (MR, KB) in register tiles, masking (only where a row's visible keys end inside the block:
// the causal diagonal or a mask), an online softmax (running max m, lazily moved, running sum l, rescale of the
// partial context O by exp(m_old − m_new) when m moves), then O += P·v. Keys no row of a group can see (causal
// future past its last row, or a block whose mask entries are all −inf for the tile) are skipped before their
// scores are computed: a key a row cannot see adds exact zeros to its O and l, so skipping it changes no bit.
//
// Overflow (core/src/overflow.hpp): the scores a row may see are checked for NaN/±Inf in the pass that finds
// their maximum (before the mask is added, and again after, where the mask allows the key), and the context
// as it is stored. Such a row's output is set to NaN and counted; the caller recomputes it in float64.
//
// Thread invariance: tiles are aligned to absolute multiples of QT (a row range that starts inside a tile
// computes the same partial tile), a row's key blocks depend only on its tile, and the micro-kernels
// give each element its own fma chain, so each output row has the same bits for any row split.
#pragma once
#include <cmath>
#include <limits>

#include "attention_direct.hpp"
#include "attention_weights.hpp"
#include "kernels.hpp"
#include "microkernel.hpp"

namespace attnkit::kernels {
namespace {

// ln 2^8: P = exp(S − m) stays ≤ 256, far from overflow; a larger rise moves m (FlashAttention-3's threshold, 8 in
// log2 units). The decision is the row's own, so row splits keep their bits.
constexpr float kLazyRescale = 5.545177444479562f;

template <class Arch>
struct AttnTile {
  // 24 × 128 at AVX2, picked by measurement (Zen 3, d 64): long key blocks amortise the per-block
  // softmax bookkeeping and the rescale of O. A tile's row groups share each key block's packed k and v while it
  // is in L2; the causal diagonal costs a tile nothing extra, since each row group scores only the keys it sees
  // (96-row tiles at AVX-512 measured the same as 48 on Zen 4, C2 and C4).
  static constexpr std::size_t QT = 4 * Tile<Arch>::MR;  // query rows per tile
  // With 32 registers the scores' broadcasts read the queries in place, as the gemm reads A (gemm.hpp, GemmTile);
  // elsewhere (16 registers; V8 keeps few general registers free) a tile's queries are packed once per tile.
  static constexpr bool kQueriesInPlace = Tile<Arch>::W >= 16;
  static constexpr std::size_t KB = 8 * Tile<Arch>::NR;  // keys per block
};

// Prepares row r's scores of one key block for the online softmax, in one pass: checks the scores the row may
// see for NaN/±Inf (into `bad`), adds the mask (mrow, or nullptr), sets keys it may not see to −inf,
// and returns the lane-wise max. Keys [0, vis) are causally visible; past round_up(vis, W) the caller zeroes.
template <class Arch>
inline vf<Arch> prepare_scores(float* srow, std::size_t vis, const float* mrow, NonFinite<Arch>& bad) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  const float ninf = -std::numeric_limits<float>::infinity();
  const F zero(0.0f), vninf(ninf);
  const std::size_t vfull = vis - vis % W;
  F mx(ninf);
  for (std::size_t j = 0; j < vfull; j += W) {
    F v = F::load_aligned(srow + j);
    if (mrow) {
      const F mv = F::load_unaligned(mrow + j);
      const auto allowed = mv != vninf;
      v = xsimd::select(allowed, v + mv, vninf);
      bad.add(xsimd::select(allowed, v, zero));
      v.store_aligned(srow + j);
    } else {
      bad.add(v);
    }
    mx = vmax<Arch>(mx, v);
  }
  if (vfull < vis) {  // the last, partial vector: lanes past vis are not visible
    alignas(Arch::alignment()) float lane[W];
    for (std::size_t r = 0; r < W; ++r) lane[r] = static_cast<float>(r);
    auto allowed = F::load_aligned(lane) < F(static_cast<float>(vis - vfull));
    F v = F::load_aligned(srow + vfull);
    if (mrow) {
      const F mv = load_partial<Arch>(mrow + vfull, vis - vfull, ninf);
      allowed = allowed && (mv != vninf);
      v = v + mv;
    }
    v = xsimd::select(allowed, v, vninf);
    bad.add(xsimd::select(allowed, v, zero));
    v.store_aligned(srow + vfull);
    mx = vmax<Arch>(mx, v);
  }
  return mx;
}

// True if a (rows of [i0, i1)) × (keys [kb, kb + kn)) block has a key some row may see: causally visible and not
// −inf in the mask. A mask row shared by every query (ld_mask 0) is looked at once, for the row that sees most.
inline bool block_visible(const Attention& t, std::size_t i0, std::size_t i1, std::size_t kb, std::size_t kn) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::size_t first = t.mask && t.ld_mask == 0 ? i1 - 1 : i0;
  for (std::size_t i = first; i < i1; ++i) {
    const std::size_t see = visible_keys(t, i);
    const std::size_t vis = see > kb ? (see - kb < kn ? see - kb : kn) : 0;
    if (!t.mask) {
      if (vis) return true;
      continue;
    }
    const float* mrow = t.mask + i * t.ld_mask + kb;
    for (std::size_t j = 0; j < vis; ++j)
      if (mrow[j] != ninf) return true;
  }
  return false;
}

// Rows [row_begin, row_end) of the queries; returns how many of them were flagged (output NaN, see the top).
//   q: (n_q, d) ld_q    k: (n_k, d) ld_k    v: (n_k, d_v) ld_v    out: (n_q, d_v) ld_out
template <class Arch>
std::size_t attention_f32(const Attention& t, std::size_t row_begin, std::size_t row_end) {
  if (t.n_k <= kAttnDirectKeys && t.d <= kAttnDirectDim) return attention_direct<Arch>(t, row_begin, row_end);
  using F = vf<Arch>;
  using TL = Tile<Arch>;
  constexpr std::size_t W = TL::W, NB = TL::NB, NR = TL::NR, MR = TL::MR;
  constexpr std::size_t QT = AttnTile<Arch>::QT, KB = AttnTile<Arch>::KB;
  const float ninf = -std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::size_t d = t.d, dv = value_width(t);
  if (row_begin >= row_end || dv == 0) return 0;
  const std::size_t dp = round_up(dv, NR);  // O and packed v rows are padded to whole tiles

  // Keys any row of [row_begin, row_end) can see; a causal tile sees up to its last row.
  const std::size_t kmax = visible_keys(t, round_up(row_end, QT) - 1);
  if (kmax == 0 || d == 0) {  // no keys (or an empty dot product, d = 0, is not a case the op allows): zeros
    for (std::size_t i = row_begin; i < row_end; ++i) {
      for (std::size_t c = 0; c < dv; ++c) t.out[i * t.ld_out + c] = 0.0f;
      if (t.lse) t.lse[i] = ninf;
      if (t.weights && !t.weights_zeroed) finish_weights<Arch>(t.weights + i * t.ld_weights, 0, t.n_k, 0.0f, 0.0f);
    }
    return 0;
  }

  // Pack k as NR-key panels (d, NR) and v as NR-column panels (kmax, NR), once per call, per thread.
  // v is packed even when its rows could be read in place: in place, consecutive keys sit ld_v floats apart
  // (9 KB for q|k|v at d_model 768), which maps a key block's rows onto a few L1 sets and streams v from L2
  // on every pass; a panel is one contiguous 64-byte row per key.
  thread_local AlignedFloats kbuf, vbuf, sbuf, obuf, qbuf;
  const std::size_t kpad = round_up(kmax, NR);
  float* kp = grow(kbuf, kpad * d);  // panel j/NR: kp[(j/NR)·d·NR + p·NR + j%NR] = k[j, p]
  for (std::size_t j0 = 0; j0 < kpad; j0 += NR)
    pack_cols<NR>(t.k + j0 * t.ld_k, t.ld_k, kmax - j0 < NR ? kmax - j0 : NR, d, kp + j0 * d);
  float* vp = grow(vbuf, kmax * dp);  // panel c/NR: vp[(c/NR)·kmax·NR + j·NR + c%NR] = v[j, c], 0 for c ≥ d_v
  for (std::size_t c0 = 0; c0 < dp; c0 += NR) {
    const std::size_t w = dv - c0 < NR ? dv - c0 : NR;
    float* panel = vp + c0 * kmax;
    for (std::size_t j = 0; j < kmax; ++j) {
      const float* vrow = t.v + j * t.ld_v + c0;
      float* dst = panel + j * NR;
      if (w == NR) {  // whole panel row: vector copies (a scalar loop here was ~2.5% of C2's attention)
        for (std::size_t b = 0; b < NR; b += W) F::load_unaligned(vrow + b).store_aligned(dst + b);
        continue;
      }
      std::size_t c = 0;
      for (; c < w; ++c) dst[c] = vrow[c];
      for (; c < NR; ++c) dst[c] = 0.0f;
    }
  }
  float* s = grow(sbuf, MR * KB);  // (MR, KB) one row group's scores, then weights
  float* o = grow(obuf, QT * dp);  // (QT, dp) unnormalised context
  constexpr bool in_place = AttnTile<Arch>::kQueriesInPlace;
  float* qp = grow(qbuf, (in_place ? MR : QT) * d);  // packed queries: (d, MR) panels per row group
  alignas(64) float m[QT], l[QT], alpha[MR];
  bool flag[QT];
  std::size_t flagged = 0;

  for (std::size_t tile = row_begin / QT * QT; tile < row_end; tile += QT) {
    const std::size_t i0 = tile > row_begin ? tile : row_begin;        // first row computed here
    const std::size_t i1 = tile + QT < row_end ? tile + QT : row_end;  // one past the last
    const std::size_t rows = i1 - i0;
    const std::size_t kend = visible_keys(t, i1 - 1);  // keys the rows computed here see
    // In place, only a partial last group is packed (its rows past the end repeat the last one, so it runs the full
    // group's arithmetic). Same fma chains either way: the same bits.
    for (std::size_t r0 = in_place ? rows / MR * MR : 0; r0 < rows; r0 += MR)
      pack_rows<MR>(t.q + (i0 + r0) * t.ld_q, t.ld_q, rows - r0 < MR ? rows - r0 : MR, d, qp + (in_place ? 0 : r0 * d));
    for (std::size_t r = 0; r < rows; ++r) {
      m[r] = ninf;
      l[r] = 0.0f;
      flag[r] = false;
      for (std::size_t c = 0; c < dp; ++c) o[r * dp + c] = 0.0f;
    }
    for (std::size_t kb = 0; kb < kend; kb += KB) {
      const std::size_t kn = kend - kb < KB ? kend - kb : KB;  // keys in this block
      if (t.mask && !block_visible(t, i0, i1, kb, kn)) {       // every key masked for every row here
        if (t.weights)
          for (std::size_t r = 0; r < rows; ++r) skip_block_scores(kn, t.weights + (i0 + r) * t.ld_weights + kb);
        continue;
      }
      // One row group at a time, while the block's packed k and v stay in L2 for the tile's other groups: scores,
      // online softmax and P·v, with the group's scores in L1. A group scores only the keys its last row sees
      // (the causal diagonal): the keys it leaves out would add exact zeros.
      for (std::size_t r0 = 0; r0 < rows; r0 += MR) {
        const std::size_t mr = rows - r0 < MR ? rows - r0 : MR;
        const std::size_t gsee = visible_keys(t, i0 + r0 + mr - 1);
        const std::size_t kg = gsee > kb ? (gsee - kb < kn ? gsee - kb : kn) : 0;  // keys the group scores
        if (kg == 0) {
          if (t.weights)
            for (std::size_t r = 0; r < mr; ++r) skip_block_scores(kn, t.weights + (i0 + r0 + r) * t.ld_weights + kb);
          continue;
        }
        const std::size_t kg_pad = round_up(kg, NR);

        // S = q·kᵀ·scale for the group's keys: (mr, kg_pad); columns past kg (q·0 past the last key, or keys past
        // the group's last row) are zeroed or masked by the softmax below and never reach P·v.
        for (std::size_t jj = 0; jj < kg_pad; jj += NR) {
          F acc[MR][NB];
          for (std::size_t r = 0; r < MR; ++r)
            for (std::size_t b = 0; b < NB; ++b) acc[r][b] = F(0.0f);
          const float* kpanel = kp + (kb + jj) / NR * d * NR;
          if (in_place && mr == MR)
            micro_fma_prefetch<Arch, MR, NB, true>(t.q + (i0 + r0) * t.ld_q, t.ld_q, kpanel, d, acc);
          else micro_fma<Arch, MR, NB, 1, MR>(qp + (in_place ? 0 : r0 * d), kpanel, NR, d, acc);
          const F sc(t.scale);
          for (std::size_t r = 0; r < mr; ++r)
            for (std::size_t b = 0; b < NB; ++b) (acc[r][b] * sc).store_aligned(s + r * KB + jj + b * W);
        }

        // Online softmax per row: check and mask, new running max, weights P = exp(S − m), rescale factor.
        for (std::size_t r = 0; r < mr; ++r) {
          const std::size_t g = r0 + r, i = i0 + g;
          const std::size_t see = visible_keys(t, i);                     // keys < see are visible
          const std::size_t vis = see > kb ? std::min(see - kb, kn) : 0;  // visible in this block
          const std::size_t vw = round_up(vis, W);  // vectors holding visible keys; past them P = 0
          float* srow = s + r * KB;
          NonFinite<Arch> bad;
          const F vmx = prepare_scores<Arch>(srow, vis, t.mask ? t.mask + i * t.ld_mask + kb : nullptr, bad);
          if (bad.any()) flag[g] = true;
          if (t.weights) keep_block_scores(srow, vis, kn, t.weights + i * t.ld_weights + kb);
          for (std::size_t j = vw; j < kg; ++j) srow[j] = 0.0f;
          const float bmax = hmax<Arch>(vmx);
          // Lazy rescaling: the reference max moves only past m + kLazyRescale, so most blocks keep alpha = 1 (no
          // exp, O and l untouched); P ≤ e^kLazyRescale, and out = O / l, lse = m + log l are exact for any m.
          const float mnew = bmax > m[g] + kLazyRescale ? bmax : m[g];
          if (!(mnew > ninf)) {  // nothing visible yet: P = 0, O and l stay 0
            for (std::size_t j = 0; j < vw; ++j) srow[j] = 0.0f;
            alpha[r] = 1.0f;
            continue;
          }
          const F vsum = exp_sub_body<Arch>(srow, vw, mnew, F(0.0f));  // P = exp(S − m)
          // A block that does not move m leaves O and l untouched (alpha exactly 1);
          // before the first visible key O and l are 0 and exp(−inf) = 0.
          alpha[r] = mnew == m[g]   ? 1.0f
                     : m[g] == ninf ? 0.0f
                                    : hmax<Arch>(exp_f32<Arch>(F(m[g] - mnew)));  // all lanes equal
          l[g] = l[g] * alpha[r] + hsum<Arch>(vsum);
          m[g] = mnew;
        }

        // O = alpha·O + P·v over the group's kg keys: (mr, dp) += (mr, kg)·(kg, dp).
        for (std::size_t c0 = 0; c0 < dp; c0 += NR) {
          F acc[MR][NB];
          for (std::size_t r = 0; r < MR; ++r) {
            const std::size_t rr = r < mr ? r : mr - 1;
            const F a(alpha[rr]);
            for (std::size_t b = 0; b < NB; ++b) acc[r][b] = a * F::load_aligned(o + (r0 + rr) * dp + c0 + b * W);
          }
          micro_fma<Arch, MR, NB, KB, 1>(s, vp + c0 * kmax + kb * NR, NR, kg, acc);
          for (std::size_t r = 0; r < mr; ++r)
            for (std::size_t b = 0; b < NB; ++b) acc[r][b].store_aligned(o + (r0 + r) * dp + c0 + b * W);
        }
      }
    }

    // out = O / l, checked as it is stored; a row that saw no key (l = 0) is all zeros.
    for (std::size_t r = 0; r < rows; ++r) {
      float* dst = t.out + (i0 + r) * t.ld_out;
      const float* src = o + r * dp;
      if (!(l[r] > 0.0f) && !flag[r]) {
        for (std::size_t c = 0; c < dv; ++c) dst[c] = 0.0f;
        continue;
      }
      const F vl(l[r]);
      NonFinite<Arch> bad;
      std::size_t c = 0;
      for (; c + W <= dv; c += W) {
        const F x = F::load_aligned(src + c) / vl;
        bad.add(x);
        x.store_unaligned(dst + c);
      }
      if (c < dv) {
        const F x = F::load_aligned(src + c) / vl;  // lanes past d_v hold 0 / l
        bad.add(x);
        store_partial<Arch>(dst + c, dv - c, x);
      }
      if (flag[r] || bad.any()) {
        ++flagged;
        for (c = 0; c < dv; ++c) dst[c] = nan;
      }
    }
    if (t.lse)
      for (std::size_t r = 0; r < rows; ++r) t.lse[i0 + r] = l[r] > 0.0f ? m[r] + std::log(l[r]) : ninf;
    if (t.weights)  // while the tile's rows are still in cache; past kend only if the caller's are not 0 already
      for (std::size_t r = 0; r < rows; ++r)
        if (!flag[r])
          finish_weights<Arch>(t.weights + (i0 + r) * t.ld_weights, kend, t.weights_zeroed ? kend : t.n_k, m[r], l[r]);
  }
  return flagged;
}

// The per-thread buffers attention_f32 grows (kbuf, vbuf, sbuf, obuf, qbuf), at most: every key visible.
template <class Arch>
std::size_t attention_scratch_floats(std::size_t n_q, std::size_t n_k, std::size_t d) {
  if (n_k <= kAttnDirectKeys && d <= kAttnDirectDim) return 0;  // attention_direct: registers and the stack only
  if (n_q == 0 || n_k == 0 || d == 0) return 0;
  constexpr std::size_t NR = Tile<Arch>::NR, MR = Tile<Arch>::MR, QT = AttnTile<Arch>::QT, KB = AttnTile<Arch>::KB;
  const std::size_t dp = round_up(d, NR);
  return round_up(n_k, NR) * d + n_k * dp + MR * KB + QT * dp + (AttnTile<Arch>::kQueriesInPlace ? MR : QT) * d;
}

}  // namespace
}  // namespace attnkit::kernels
