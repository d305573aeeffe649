// attnkit — attention for few query rows against many keys (a decoding step over the KV cache):
// context = softmax(q·kᵀ·scale [+ mask] [+ causal mask])·v, one query row at a time, keys and values read in place.
// Keys the mask gives −inf (padding) are not scored at all.
// Packing k and v into panels (flash_attention.hpp) pays off when many query rows reuse them; a decoding step
// reads each key and value once, so this kernel streams them: per block of kDecodeKeys keys, scores s_j = q·k_j
// (one fma chain per key, then its horizontal sum), the online softmax (running max m and sum l, rescale of the
// partial context by exp(m_old − m_new)), then O += Σ_j p_j·v_j with O's columns held in registers. Its scores live
// on the stack and O in the output row: no heap, so a decoding step allocates nothing.
//
// Each row is computed on its own, in key order, so its bits depend only on its inputs (not on the row range or
// on which rows share the call). Overflow as in flash_attention.hpp: a row whose visible scores or context left
// float32 gets NaN and is counted, for the caller to recompute in float64.
#pragma once
#include <cmath>
#include <limits>

#include "attention_direct.hpp"
#include "kernels.hpp"
#include "microkernel.hpp"
#include "simd_math.hpp"

namespace attnkit::kernels {
namespace {

constexpr std::size_t kDecodeKeys = 128;  // keys per online-softmax block (their scores on the stack)
constexpr std::size_t kDecodeCols = 64;   // value columns per register pass (O's accumulators)

// q·k over d floats: two fma chains, then the horizontal sum and a scalar tail.
template <class Arch>
inline float dot(const float* q, const float* k, std::size_t d) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  F acc0(0.0f), acc1(0.0f);
  std::size_t p = 0;
  for (; p + 2 * W <= d; p += 2 * W) {
    acc0 = xsimd::fma(F::load_unaligned(q + p), F::load_unaligned(k + p), acc0);
    acc1 = xsimd::fma(F::load_unaligned(q + p + W), F::load_unaligned(k + p + W), acc1);
  }
  if (p + W <= d) {
    acc0 = xsimd::fma(F::load_unaligned(q + p), F::load_unaligned(k + p), acc0);
    p += W;
  }
  float sum = hsum<Arch>(acc0 + acc1);
  for (; p < d; ++p) sum = std::fma(q[p], k[p], sum);
  return sum;
}

// o[0, cw) = alpha·o + Σ_j p[j]·v[j, 0..cw) for kn keys; NV = cw / W vectors kept in registers (cw = NV·W).
template <class Arch, std::size_t NV>
inline void accumulate_full(float* o, float alpha, const float* p, const float* v, std::size_t ld_v,
                            std::size_t kn) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  F acc[NV];
  const F a(alpha);
  for (std::size_t b = 0; b < NV; ++b) acc[b] = a * F::load_unaligned(o + b * W);
  for (std::size_t j = 0; j < kn; ++j) {
    const F pj(p[j]);
    const float* vrow = v + j * ld_v;
    for (std::size_t b = 0; b < NV; ++b) acc[b] = xsimd::fma(pj, F::load_unaligned(vrow + b * W), acc[b]);
  }
  for (std::size_t b = 0; b < NV; ++b) acc[b].store_unaligned(o + b * W);
}

// The same for any width cw ≤ kDecodeCols (the last, narrower pass): vectors, then a partial vector.
template <class Arch>
inline void accumulate_any(float* o, float alpha, const float* p, const float* v, std::size_t ld_v, std::size_t kn,
                           std::size_t cw) noexcept {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size, NV = kDecodeCols / W;
  const std::size_t full = cw / W, tail = cw % W;
  F acc[NV + 1];
  const F a(alpha);
  for (std::size_t b = 0; b < full; ++b) acc[b] = a * F::load_unaligned(o + b * W);
  if (tail) acc[full] = a * load_partial<Arch>(o + full * W, tail, 0.0f);
  for (std::size_t j = 0; j < kn; ++j) {
    const F pj(p[j]);
    const float* vrow = v + j * ld_v;
    for (std::size_t b = 0; b < full; ++b) acc[b] = xsimd::fma(pj, F::load_unaligned(vrow + b * W), acc[b]);
    if (tail) acc[full] = xsimd::fma(pj, load_partial<Arch>(vrow + full * W, tail, 0.0f), acc[full]);
  }
  for (std::size_t b = 0; b < full; ++b) acc[b].store_unaligned(o + b * W);
  if (tail) store_partial<Arch>(o + full * W, tail, acc[full]);
}

// Rows [row_begin, row_end) of the queries; returns how many of them were flagged (output NaN).
//   q: (n_q, d) ld_q    k: (n_k, d) ld_k    v: (n_k, d_v) ld_v    out: (n_q, d_v) ld_out    lse: (n_q), optional
template <class Arch>
std::size_t attention_decode_f32(const Attention& t, std::size_t row_begin, std::size_t row_end) {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size, NV = kDecodeCols / W;
  static_assert(kDecodeKeys % W == 0 && kDecodeCols % W == 0, "blocks of whole vectors");
  const float ninf = -std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float fmax = std::numeric_limits<float>::max();
  const std::size_t d = t.d, dv = value_width(t);
  alignas(64) float s[kDecodeKeys];  // the block's scores, then its weights p_j = exp(s_j − m)
  std::size_t flagged = 0;
  for (std::size_t i = row_begin; i < row_end; ++i) {
    const float* qrow = t.q + i * t.ld_q;
    float* o = t.out + i * t.ld_out;  // the unnormalised context O, accumulated in place
    for (std::size_t c = 0; c < dv; ++c) o[c] = 0.0f;
    const std::size_t see = d ? visible_keys(t, i) : 0;
    float m = ninf, l = 0.0f;
    bool bad = false;
    for (std::size_t kb = 0; kb < see; kb += kDecodeKeys) {
      const std::size_t kn = see - kb < kDecodeKeys ? see - kb : kDecodeKeys, kv = round_up(kn, W);
      float bmax = ninf;
      const float* mrow = t.mask ? t.mask + i * t.ld_mask + kb : nullptr;
      for (std::size_t j = 0; j < kn; ++j) {
        if (mrow && mrow[j] == ninf) {  // a key the mask forbids: never scored (padding)
          s[j] = ninf;
          continue;
        }
        float sj = dot<Arch>(qrow, t.k + (kb + j) * t.ld_k, d) * t.scale;
        bad |= !(std::fabs(sj) <= fmax);  // NaN or ±Inf
        if (mrow) {
          sj += mrow[j];
          bad |= !(std::fabs(sj) <= fmax);
        }
        s[j] = sj;
        bmax = sj > bmax ? sj : bmax;
      }
      for (std::size_t j = kn; j < kv; ++j) s[j] = ninf;  // exp(−inf − m) = 0
      if (bad) break;
      if (bmax == ninf) continue;  // every key of the block masked: it adds nothing
      const float mnew = bmax > m ? bmax : m;
      const F vsum = exp_sub_body<Arch>(s, kv, mnew, F(0.0f));
      // exp(0) is exactly 1: a block that does not raise the max leaves O and l as they are.
      const float alpha = mnew == m ? 1.0f : m == ninf ? 0.0f : hmax<Arch>(exp_f32<Arch>(F(m - mnew)));
      l = l * alpha + hsum<Arch>(vsum);
      m = mnew;
      const float* vblock = t.v + kb * t.ld_v;
      std::size_t c0 = 0;
      for (; c0 + kDecodeCols <= dv; c0 += kDecodeCols)
        accumulate_full<Arch, NV>(o + c0, alpha, s, vblock + c0, t.ld_v, kn);
      if (c0 < dv) accumulate_any<Arch>(o + c0, alpha, s, vblock + c0, t.ld_v, kn, dv - c0);
    }
    const bool any = m != ninf;  // false: the row sees no key (nothing visible, or all masked): zeros
    if (any && !bad) {
      for (std::size_t c = 0; c < dv; ++c) {
        o[c] = o[c] / l;
        bad |= !(std::fabs(o[c]) <= fmax);
      }
    }
    if (t.lse) t.lse[i] = any && !bad ? m + std::log(l) : ninf;
    if (bad) {
      ++flagged;
      for (std::size_t c = 0; c < dv; ++c) o[c] = nan;
    }
  }
  return flagged;
}

}  // namespace
}  // namespace attnkit::kernels
