// attnkit — the fused attention kernel's small-head path (flash_attention.hpp calls it for few keys of small
// heads; KernelTable::attention_heads_f32 for all heads of a small call at once) and the helpers both paths share:
// the value width and the causally visible keys of a query.
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

// The direct path over rows [g_begin, g_end) of `problems` problems of one shape laid out as AttentionHeads
// (kernels.hpp) says, row g being row g % n_q of problem g / n_q: a vector's lanes may belong to several problems,
// each lane's k and v elements broadcast from its problem and blended by lane. mask, weights and lse: one problem only.
template <class Arch>
std::size_t attention_direct_rows(const AttentionHeads& a, std::size_t g_begin, std::size_t g_end) {
  using F = vf<Arch>;
  using B = xsimd::batch_bool<float, Arch>;
  constexpr std::size_t W = F::size;
  const Attention& t = a.t;
  const float ninf = -std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::size_t d = t.d, dv = value_width(t), n_q = t.n_q;
  // Offsets of problem pi = (b, h) from problem 0, in floats: q and out move by rows of n_q, k and v by rows of n_k.
  const auto offset = [&](std::size_t pi, std::size_t rows_per_batch, std::size_t ld) {
    return (pi / a.heads) * rows_per_batch * ld + (pi % a.heads) * a.head_step;
  };
  alignas(64) float qt[kAttnDirectDim * W];   // qt[p·W + r] = q of lane r's row, column p
  alignas(64) float mt[kAttnDirectKeys * W];  // mt[j·W + r] = mask of lane r's row, key j
  alignas(64) float lane_row[W];              // lane r: the last key its row i_r sees, i_r + causal_offset
  alignas(64) float lane[W];                  // 0, 1, …, W − 1
  alignas(64) float res[W];
  for (std::size_t r = 0; r < W; ++r) lane[r] = static_cast<float>(r);
  const F lanes = F::load_aligned(lane);
  F sp[kAttnDirectKeys];  // S_j, then P_j
  std::size_t flagged = 0;
  for (std::size_t g0 = g_begin; g0 < g_end; g0 += W) {
    const std::size_t rows = g_end - g0 < W ? g_end - g0 : W;
    // The problems this vector spans: first + s for s < spans; from[s]: the lanes of problem first + s and later.
    const std::size_t first = g0 / n_q, spans = (g0 + rows - 1) / n_q - first + 1;
    B from[W];
    std::size_t k_off[W], v_off[W], out_row[W], lane_i[W];  // per span: k, v; per lane: output row, row index
    std::size_t kend = 0;                                   // keys any row here sees
    for (std::size_t s = 0; s < spans; ++s) {
      if (s > 0) from[s] = lanes >= F(static_cast<float>((first + s) * n_q - g0));
      k_off[s] = offset(first + s, t.n_k, t.ld_k), v_off[s] = offset(first + s, t.n_k, t.ld_v);
    }
    // Lanes past `rows` repeat the last row.
    for (std::size_t r = 0, s = 0, i = g0 - first * n_q, q_off = offset(first, n_q, t.ld_q),
                     o_off = offset(first, n_q, t.ld_out);
         r < W; ++r) {
      for (std::size_t p = 0; p < d; ++p) qt[p * W + r] = t.q[q_off + i * t.ld_q + p];
      lane_row[r] = static_cast<float>(static_cast<std::ptrdiff_t>(i) + t.causal_offset);
      out_row[r] = o_off + i * t.ld_out, lane_i[r] = i;
      const std::size_t see = visible_keys(t, i);
      kend = see > kend ? see : kend;
      if (r + 1 < rows && ++i == n_q) {
        i = 0, ++s;
        q_off = offset(first + s, n_q, t.ld_q), o_off = offset(first + s, n_q, t.ld_out);
      }
    }
    if (t.mask)
      for (std::size_t j = 0; j < kend; ++j)
        for (std::size_t r = 0; r < W; ++r) mt[j * W + r] = t.mask[lane_i[r] * t.ld_mask + j];
    // Element e of key (or value) row j for each lane: its problem's, broadcast and blended by problem.
    const auto per_lane = [&](const float* base, const std::size_t* off, std::size_t ld, std::size_t j, std::size_t e) {
      F x(base[off[0] + j * ld + e]);
      for (std::size_t s = 1; s < spans; ++s) x = xsimd::select(from[s], F(base[off[s] + j * ld + e]), x);
      return x;
    };
    const F row = F::load_aligned(lane_row), sc(t.scale), zero(0.0f);
    F mx(ninf);
    NonFinite<Arch> bad;
    for (std::size_t j = 0; j < kend; ++j) {
      F acc(0.0f);
      for (std::size_t p = 0; p < d; ++p)
        acc = xsimd::fma(F::load_aligned(qt + p * W), per_lane(t.k, k_off, t.ld_k, j, p), acc);
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
        for (std::size_t r = 0; r < rows; ++r) t.weights[lane_i[r] * t.ld_weights + j] = res[r];
      }
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = kend; j < t.n_k; ++j) t.weights[lane_i[r] * t.ld_weights + j] = 0.0f;
    }
    for (std::size_t c = 0; c < dv; ++c) {
      F acc(0.0f);
      for (std::size_t j = 0; j < kend; ++j) acc = xsimd::fma(sp[j], per_lane(t.v, v_off, t.ld_v, j, c), acc);
      acc = acc / l;
      bad.add(acc);
      acc.store_aligned(res);
      for (std::size_t r = 0; r < rows; ++r) t.out[out_row[r] + c] = res[r];
    }
    if (t.lse) {  // m + log(l) per lane; −inf for a lane that saw no key
      alignas(64) float lm[W], ll[W];
      m.store_aligned(lm);
      l.store_aligned(ll);
      const auto empty = none;
      alignas(64) float le[W];
      xsimd::select(empty, F(1.0f), F(0.0f)).store_aligned(le);
      for (std::size_t r = 0; r < rows; ++r) t.lse[lane_i[r]] = le[r] != 0.0f ? ninf : lm[r] + std::log(ll[r]);
    }
    if (bad.any()) {  // rare: find the lanes
      alignas(64) std::int32_t flags[W];
      bad.bits.store_aligned(flags);
      for (std::size_t r = 0; r < rows; ++r)
        if (flags[r] != 0) {
          ++flagged;
          for (std::size_t c = 0; c < dv; ++c) t.out[out_row[r] + c] = nan;
        }
    }
  }
  return flagged;
}

// Rows [row_begin, row_end) of one problem (flash_attention.hpp's attention_f32 for few keys of small heads).
template <class Arch>
std::size_t attention_direct(const Attention& t, std::size_t row_begin, std::size_t row_end) {
  AttentionHeads one;
  one.t = t, one.batch = 1, one.heads = 1, one.head_step = 0;
  return attention_direct_rows<Arch>(one, row_begin, row_end);
}

// KernelTable::attention_heads_f32: every row of every problem; refuses (every row counted as flagged, nothing
// computed) what the direct path does not take, and mask, lse or weights.
template <class Arch>
std::size_t attention_heads_f32(const AttentionHeads& a) {
  const Attention& t = a.t;
  const std::size_t rows = a.batch * a.heads * t.n_q;
  if (t.n_k > kAttnDirectKeys || t.d > kAttnDirectDim || t.mask || t.lse || t.weights) return rows;
  return attention_direct_rows<Arch>(a, 0, rows);
}

}  // namespace
}  // namespace attnkit::kernels
