// attnkit — the fused attention kernel's small-head path (flash_attention.hpp calls it for few keys of small
// heads) and the helpers both paths share: the value width and the causally visible keys of a query.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels.hpp"
#include "simd_math.hpp"

namespace attnkit::kernels {
namespace {

inline std::size_t value_width(const Attention& t) { return t.d_v ? t.d_v : t.d; }

// Keys [0, visible_keys(t, i)) are causally visible to query i.
inline std::size_t visible_keys(const Attention& t, std::size_t i) {
  if (!t.causal) return t.n_k;
  const std::ptrdiff_t see = static_cast<std::ptrdiff_t>(i) + 1 + t.causal_offset;
  return see <= 0 ? 0 : static_cast<std::size_t>(see) < t.n_k ? static_cast<std::size_t>(see) : t.n_k;
}

// Whether any lane of the vectors it was given was NaN or ±Inf: v − v is 0 for a finite v and NaN otherwise, ORed
// as bits, so the check adds one integer OR to a dependency chain (an fma or a compare per vector costs more).
template <class Arch>
struct NonFinite {
  vi<Arch> bits = vi<Arch>(0);
  void add(vf<Arch> v) noexcept { bits = bits | xsimd::bitwise_cast<vi<Arch>>(v - v); }
  bool any() const noexcept { return xsimd::any(bits != vi<Arch>(0)); }
};

// Few keys of small heads (n_k ≤ kAttnDirectKeys, d ≤ kAttnDirectDim; C1 has 6 keys of size 1): packing k
// and v into panels and setting up tiles would cost more than the products. Instead W query rows go
// through one vector, one lane per row, with k and v read in place: scores S_j (a fma chain over p, then
// the scale), the causal mask and the mask as −inf, the lane-wise max, P_j = exp(S_j − max), then
// Σ_j P_j·v[j, c] / Σ_j P_j. Lanes never mix and keys a row does not see add exact zeros, so each row has the
// same bits whichever rows share its vector: row splits give identical results. The path depends only on n_k and d.
constexpr std::size_t kAttnDirectKeys = 64;
constexpr std::size_t kAttnDirectDim = 16;

template <class Arch>
std::size_t attention_direct(const Attention& t, std::size_t row_begin, std::size_t row_end) {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  const float ninf = -std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::size_t d = t.d, dv = value_width(t);
  alignas(64) float qt[kAttnDirectDim * W];   // qt[p·W + r] = q[i0 + r, p]
  alignas(64) float mt[kAttnDirectKeys * W];  // mt[j·W + r] = mask[i0 + r, j]
  // lane r of a vector starting at row i0: the last key row i0 + r sees, i0 + r + causal_offset, as i0 +
  // causal_offset plus r (exact below 2^24; beyond it both sides of the causal compare stay past every key).
  alignas(64) static constexpr float kLane[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static_assert(W <= 16, "kLane covers the widest vector");
  alignas(64) float res[W];
  F sp[kAttnDirectKeys];  // S_j, then P_j
  std::size_t flagged = 0;
  for (std::size_t i0 = row_begin; i0 < row_end; i0 += W) {
    const std::size_t rows = row_end - i0 < W ? row_end - i0 : W;
    for (std::size_t p = 0; p < d; ++p)
      for (std::size_t r = 0; r < W; ++r) qt[p * W + r] = t.q[(i0 + (r < rows ? r : rows - 1)) * t.ld_q + p];
    const std::size_t kend = visible_keys(t, i0 + rows - 1);  // keys any row here sees
    if (t.mask)
      for (std::size_t j = 0; j < kend; ++j)
        for (std::size_t r = 0; r < W; ++r) mt[j * W + r] = t.mask[(i0 + (r < rows ? r : rows - 1)) * t.ld_mask + j];
    const F row = F(static_cast<float>(static_cast<std::ptrdiff_t>(i0) + t.causal_offset)) + F::load_aligned(kLane),
            sc(t.scale), zero(0.0f);
    F mx(ninf);
    NonFinite<Arch> bad;
    for (std::size_t j = 0; j < kend; ++j) {
      const float* krow = t.k + j * t.ld_k;
      F acc(0.0f);
      for (std::size_t p = 0; p < d; ++p) acc = xsimd::fma(F::load_aligned(qt + p * W), F(krow[p]), acc);
      acc = acc * sc;
      if (t.mask) {
        const F mv = F::load_aligned(mt + j * W);
        const auto allowed = mv != F(ninf);
        acc = xsimd::select(allowed, acc + mv, F(ninf));
        bad.add(xsimd::select(allowed, acc, zero));  // a score, or score + mask, that is not finite
      }
      if (t.causal) {
        const auto future = F(static_cast<float>(j)) > row;
        if (!t.mask) bad.add(xsimd::select(future, zero, acc));
        acc = xsimd::select(future, F(ninf), acc);
      } else if (!t.mask) {
        bad.add(acc);
      }
      sp[j] = acc;
      mx = vmax<Arch>(mx, acc);
    }
    // A row that sees no key has max −inf: its lanes give 0, not NaN.
    const auto none = mx == F(ninf);
    const F m = xsimd::select(none, F(0.0f), mx);
    F l(0.0f);
    for (std::size_t j = 0; j < kend; ++j) {
      sp[j] = exp_f32<Arch>(sp[j] - m);
      l += sp[j];
    }
    l = xsimd::select(none, F(1.0f), l);  // those lanes' sums are 0: their context is 0 / 1
    if (t.weights) {                      // P_j / l per lane, 0 for the keys past kend (Attention::weights)
      for (std::size_t j = 0; j < kend; ++j) {
        (sp[j] / l).store_aligned(res);
        for (std::size_t r = 0; r < rows; ++r) t.weights[(i0 + r) * t.ld_weights + j] = res[r];
      }
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = kend; j < t.n_k; ++j) t.weights[(i0 + r) * t.ld_weights + j] = 0.0f;
    }
    for (std::size_t c = 0; c < dv; ++c) {
      F acc(0.0f);
      for (std::size_t j = 0; j < kend; ++j) acc = xsimd::fma(sp[j], F(t.v[j * t.ld_v + c]), acc);
      acc = acc / l;
      bad.add(acc);
      acc.store_aligned(res);
      for (std::size_t r = 0; r < rows; ++r) t.out[(i0 + r) * t.ld_out + c] = res[r];
    }
    if (t.lse) {  // m + log(l) per lane; −inf for a lane that saw no key
      alignas(64) float lm[W], ll[W];
      m.store_aligned(lm);
      l.store_aligned(ll);
      const auto empty = none;
      alignas(64) float le[W];
      xsimd::select(empty, F(1.0f), F(0.0f)).store_aligned(le);
      for (std::size_t r = 0; r < rows; ++r) t.lse[i0 + r] = le[r] != 0.0f ? ninf : lm[r] + std::log(ll[r]);
    }
    if (bad.any()) {  // rare: find the lanes
      alignas(64) std::int32_t flags[W];
      bad.bits.store_aligned(flags);
      for (std::size_t r = 0; r < rows; ++r)
        if (flags[r] != 0) {
          ++flagged;
          for (std::size_t c = 0; c < dv; ++c) t.out[(i0 + r) * t.ld_out + c] = nan;
        }
    }
  }
  return flagged;
}

}  // namespace
}  // namespace attnkit::kernels
