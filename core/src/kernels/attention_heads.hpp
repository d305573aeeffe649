// attnkit — attention_f32 over every (batch, head) problem of a small call at once: the direct path
// (attention_direct.hpp) with its lanes running across problems, so C1's 24 query rows (2 batches × 2 heads × 6)
// fill 2 AVX-512 or 6 SIMD128 vectors in one call instead of 4 calls of 6 rows each.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>

#include "attention_direct.hpp"
#include "flash_attention.hpp"
#include "kernels.hpp"
#include "simd_math.hpp"

namespace attnkit::kernels {
namespace {

template <class Arch>
std::size_t attention_heads_f32(const AttentionHeads& a) {
  const Attention& t = a.t;
  const std::size_t problems = a.batch * a.heads;
  // Offsets of problem (b, h) from problem 0, in floats, for q and out (rows of n_q) and for k and v (rows of n_k).
  const auto q_at = [&](std::size_t pi) { return (pi / a.heads) * t.n_q * t.ld_q + (pi % a.heads) * a.head_step; };
  const auto k_at = [&](std::size_t pi) { return (pi / a.heads) * t.n_k * t.ld_k + (pi % a.heads) * a.head_step; };
  const auto v_at = [&](std::size_t pi) { return (pi / a.heads) * t.n_k * t.ld_v + (pi % a.heads) * a.head_step; };
  const auto o_at = [&](std::size_t pi) { return (pi / a.heads) * t.n_q * t.ld_out + (pi % a.heads) * a.head_step; };
  if (t.n_k > kAttnDirectKeys || t.d > kAttnDirectDim || t.mask || t.lse || t.weights) {
    std::size_t flagged = 0;  // one problem at a time
    for (std::size_t pi = 0; pi < problems; ++pi) {
      Attention one = t;
      one.q += q_at(pi), one.k += k_at(pi), one.v += v_at(pi), one.out += o_at(pi);
      flagged += attention_f32<Arch>(one, 0, t.n_q);
    }
    return flagged;
  }
  using F = vf<Arch>;
  using B = xsimd::batch_bool<float, Arch>;
  constexpr std::size_t W = F::size;
  const float ninf = -std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::size_t d = t.d, dv = value_width(t), n_q = t.n_q, rows_all = problems * n_q;
  alignas(64) float qt[kAttnDirectDim * W];  // qt[p·W + r] = q of lane r's row, column p
  alignas(64) float lane_row[W];             // lane r: the last key its row sees, i_r + causal_offset
  alignas(64) float lane[W];                 // 0, 1, …, W − 1
  alignas(64) float res[W];
  for (std::size_t r = 0; r < W; ++r) lane[r] = static_cast<float>(r);
  const F lanes = F::load_aligned(lane);
  F sp[kAttnDirectKeys];  // S_j, then P_j
  std::size_t flagged = 0;
  for (std::size_t g0 = 0; g0 < rows_all; g0 += W) {
    const std::size_t rows = rows_all - g0 < W ? rows_all - g0 : W;
    // The problems this vector spans: first .. first + spans − 1; from[s]: lanes of problem first + s and later.
    const std::size_t first = g0 / n_q, spans = (g0 + rows - 1) / n_q - first + 1;
    B from[W];
    std::size_t k_off[W], v_off[W], out_row[W];  // per span: k and v of its problem; per lane: its output row
    for (std::size_t s = 0; s < spans; ++s) {
      if (s > 0) from[s] = lanes >= F(static_cast<float>((first + s) * n_q - g0));
      k_off[s] = k_at(first + s), v_off[s] = v_at(first + s);
    }
    std::size_t kend = 0;  // keys any row here sees
    for (std::size_t r = 0, pi = first, i = g0 - first * n_q; r < W; ++r) {  // lanes past `rows` repeat the last
      const std::size_t q_row = q_at(pi) + i * t.ld_q;
      for (std::size_t p = 0; p < d; ++p) qt[p * W + r] = t.q[q_row + p];
      lane_row[r] = static_cast<float>(static_cast<std::ptrdiff_t>(i) + t.causal_offset);
      out_row[r] = o_at(pi) + i * t.ld_out;
      const std::size_t see = visible_keys(t, i);
      kend = see > kend ? see : kend;
      if (r + 1 < rows && ++i == n_q) i = 0, ++pi;
    }
    // Element e of key (or value) row j for each lane: its problem's, broadcast and blended by problem.
    const auto per_lane = [&](const float* base, const std::size_t* off, std::size_t ld, std::size_t j,
                              std::size_t e) {
      F x(base[off[0] + j * ld + e]);
      for (std::size_t s = 1; s < spans; ++s) x = xsimd::select(from[s], F(base[off[s] + j * ld + e]), x);
      return x;
    };
    const F row = F::load_aligned(lane_row), sc(t.scale), zero(0.0f);
    F mx(ninf);
    NonFinite<Arch> bad;
    // The same operations per lane, in the same order, as attention_direct: the same bits for every row.
    for (std::size_t j = 0; j < kend; ++j) {
      F acc(0.0f);
      for (std::size_t p = 0; p < d; ++p)
        acc = xsimd::fma(F::load_aligned(qt + p * W), per_lane(t.k, k_off, t.ld_k, j, p), acc);
      acc = acc * sc;
      if (t.causal) {
        const auto future = F(static_cast<float>(j)) > row;
        bad.add(xsimd::select(future, zero, acc));
        acc = xsimd::select(future, F(ninf), acc);
      } else {
        bad.add(acc);
      }
      sp[j] = acc;
      mx = vmax<Arch>(mx, acc);
    }
    const auto none = mx == F(ninf);  // a row that sees no key: 0, not NaN
    const F m = xsimd::select(none, F(0.0f), mx);
    F l(0.0f);
    for (std::size_t j = 0; j < kend; ++j) {
      sp[j] = exp_f32<Arch>(sp[j] - m);
      l += sp[j];
    }
    l = xsimd::select(none, F(1.0f), l);
    for (std::size_t c = 0; c < dv; ++c) {
      F acc(0.0f);
      for (std::size_t j = 0; j < kend; ++j) acc = xsimd::fma(sp[j], per_lane(t.v, v_off, t.ld_v, j, c), acc);
      acc = acc / l;
      bad.add(acc);
      acc.store_aligned(res);
      for (std::size_t r = 0; r < rows; ++r) t.out[out_row[r] + c] = res[r];
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

}  // namespace
}  // namespace attnkit::kernels
