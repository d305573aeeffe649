// attnkit — the three steps of flash_attention_wide.hpp for one (QT queries) × (key block) tile, each its own
// non-inlined function: the scores and context micro-kernels need 28 and 29 of the 32 vector registers, and inlined
// into the driver they would share them with its loop state (measured: 4 accumulators spilled per fma step).
#pragma once
#include <cstdint>
#include <limits>

#include "microkernel.hpp"

namespace attnkit::kernels {
namespace {

template <class Arch>
struct WideTile {
  static constexpr std::size_t W = vf<Arch>::size;
  static constexpr bool enabled = W == 16;           // 32 vector registers: the shapes below need 29
  static constexpr std::size_t QV = 3, QT = QV * W;  // query vectors per tile; 48 rows divide 96 (attention_paths)
  static constexpr std::size_t KR = 8;               // keys per scores micro-tile: 8 × 3 accumulators
  static constexpr std::size_t KB = 64;              // keys per block: Sᵀ (12 KB) stays in L1 from step 1 to 3
  static constexpr std::size_t PR = 6, PN = 4, NV = PN * W;  // context micro-tile: 6 queries × 64 columns
};

// ln 2^8: P = exp(S − m) stays ≤ 256, far from overflow; a rise beyond it rescales (FlashAttention-3's threshold).
constexpr float kLazyRescale = 5.545177444479562f;

// The tile's per-query state, lane r = query row i0 + r: reference max, sum of P, visible keys, non-finite bits.
template <class Arch>
struct WideRows {
  alignas(64) float m[WideTile<Arch>::QT];
  alignas(64) float l[WideTile<Arch>::QT];
  alignas(64) float see[WideTile<Arch>::QT];
  alignas(64) std::int32_t bad[WideTile<Arch>::QT];
  alignas(64) float bmax[WideTile<Arch>::QT];  // the block's max, from step 1 when unmasked
};

// Step 1: Sᵀ (kn_pad, QT) = k·qᵀ·scale.   kp: the block's (d, KR) key panels   qt: (d, QT)   st: (KB, QT)
// Unmasked (every row sees every key of the block), it also finds each row's max and its non-finite bits while the
// scores are in registers, into w.bmax and w.bad, so step 2 has one pass left.
template <class Arch, bool Unmasked>
__attribute__((noinline)) void wide_scores(const float* kp, const float* qt, std::size_t d, std::size_t kn_pad,
                                           float scale, float* st, WideRows<Arch>& w) noexcept {
  using F = vf<Arch>;
  using WT = WideTile<Arch>;
  constexpr std::size_t W = WT::W, QV = WT::QV, QT = WT::QT, KR = WT::KR;
  const F sc(scale);
  F bmax[QV];
  vi<Arch> bad[QV];
  for (std::size_t b = 0; b < QV && Unmasked; ++b) {
    bmax[b] = F(-std::numeric_limits<float>::infinity());
    bad[b] = vi<Arch>::load_aligned(w.bad + b * W);
  }
  for (std::size_t jj = 0; jj < kn_pad; jj += KR) {
    F acc[KR][QV];
    for (std::size_t r = 0; r < KR; ++r)
      for (std::size_t b = 0; b < QV; ++b) acc[r][b] = F(0.0f);
    micro_fma<Arch, KR, QV, 1, KR>(kp + jj * d, qt, QT, d, acc);
    for (std::size_t r = 0; r < KR; ++r)
      for (std::size_t b = 0; b < QV; ++b) {
        const F s = acc[r][b] * sc;
        if (Unmasked) {
          bad[b] = bad[b] | xsimd::bitwise_cast<vi<Arch>>(s - s);
          bmax[b] = vmax<Arch>(bmax[b], s);
        }
        s.store_aligned(st + (jj + r) * QT + b * W);
      }
  }
  for (std::size_t b = 0; b < QV && Unmasked; ++b) {
    bmax[b].store_aligned(w.bmax + b * W);
    bad[b].store_aligned(w.bad + b * W);
  }
}

// Step 2 over keys [kb, kb + kn_pad): when `masked` (the block crosses the diagonal, has padding keys, or a mask:
// mt (KB, QT) transposed rows, or mrow one row for all), checks the scores each row may see (NaN/±Inf into bad),
// masks the rest to −inf and finds the max (unmasked, step 1 did); moves m lane by lane where the block's max passes m
// + kLazyRescale (rescaling l, O), then P = exp(S − m) over S and l += P.   o: (QT, dp)
template <class Arch>
__attribute__((noinline)) void wide_softmax(float* st, std::size_t kb, std::size_t kn_pad, bool masked, const float* mt,
                                            const float* mrow, WideRows<Arch>& w, float* o, std::size_t dp) noexcept {
  using F = vf<Arch>;
  using WT = WideTile<Arch>;
  constexpr std::size_t W = WT::W, QV = WT::QV, QT = WT::QT;
  const float ninf = -std::numeric_limits<float>::infinity();
  const F vninf(ninf), zero(0.0f);
  for (std::size_t b = 0; b < QV; ++b) {
    F bmax = vninf;
    if (masked) {
      vi<Arch> bad = vi<Arch>::load_aligned(w.bad + b * W);
      const F see = F::load_aligned(w.see + b * W);
      for (std::size_t j = 0; j < kn_pad; ++j) {
        float* sv = st + j * QT + b * W;
        F s = F::load_aligned(sv);
        auto allowed = F(static_cast<float>(kb + j)) < see;
        if (mt || mrow) {
          const F mv = mt ? F::load_aligned(mt + j * QT + b * W) : F(mrow[j]);
          allowed = allowed && (mv != vninf);
          s = s + mv;
        }
        bad = bad | xsimd::bitwise_cast<vi<Arch>>(xsimd::select(allowed, s - s, zero));
        s = xsimd::select(allowed, s, vninf);
        s.store_aligned(sv);
        bmax = vmax<Arch>(bmax, s);
      }
      bad.store_aligned(w.bad + b * W);
    } else {
      bmax = F::load_aligned(w.bmax + b * W);
    }
    // Lane by lane: a new reference max only past m + kLazyRescale (−inf + x stays −inf: the first key seen moves it).
    F m = F::load_aligned(w.m + b * W), l = F::load_aligned(w.l + b * W);
    const auto rise = bmax > m + F(kLazyRescale);
    if (xsimd::any(rise)) {
      const F mnew = xsimd::select(rise, bmax, m);
      const F alpha = xsimd::select(rise, exp_f32<Arch>(m - mnew), F(1.0f));  // exp(−inf) = 0: O and l were 0
      l = l * alpha;
      alignas(64) float a[W];
      alpha.store_aligned(a);
      for (std::size_t r = 0; r < W; ++r)
        if (a[r] != 1.0f)
          for (std::size_t c = 0; c < dp; ++c) o[(b * W + r) * dp + c] *= a[r];
      m = mnew;
      m.store_aligned(w.m + b * W);
    }
    const F mref = xsimd::select(m == vninf, zero, m);  // nothing seen yet: S = −inf, P = 0
    for (std::size_t j = 0; j < kn_pad; ++j) {
      float* sv = st + j * QT + b * W;
      const F p = exp_f32<Arch>(F::load_aligned(sv) - mref);
      l += p;
      p.store_aligned(sv);
    }
    l.store_aligned(w.l + b * W);
  }
}

// Step 3: O (rows, dp) += Pᵀ·v over kn_pad keys (P = 0 and v = 0 past the block's keys), only the query micro-tiles
// in use.   pt: (KB, QT)   vp: the block's rows of the (kpad, NV) value panels, panel c0/NV at vp + c0·kpad
template <class Arch>
__attribute__((noinline)) void wide_context(const float* pt, const float* vp, std::size_t kpad, std::size_t kn_pad,
                                            std::size_t rows, float* o, std::size_t dp) noexcept {
  using F = vf<Arch>;
  using WT = WideTile<Arch>;
  constexpr std::size_t W = WT::W, QT = WT::QT, PR = WT::PR, PN = WT::PN, NV = WT::NV;
  for (std::size_t r0 = 0; r0 < rows; r0 += PR)
    for (std::size_t c0 = 0; c0 < dp; c0 += NV) {
      F acc[PR][PN];
      float* orow = o + r0 * dp + c0;
      for (std::size_t r = 0; r < PR; ++r)
        for (std::size_t b = 0; b < PN; ++b) acc[r][b] = F::load_aligned(orow + r * dp + b * W);
      micro_fma<Arch, PR, PN, 1, QT>(pt + r0, vp + c0 * kpad, NV, kn_pad, acc);
      for (std::size_t r = 0; r < PR; ++r)
        for (std::size_t b = 0; b < PN; ++b) acc[r][b].store_aligned(orow + r * dp + b * W);
    }
}

}  // namespace
}  // namespace attnkit::kernels
