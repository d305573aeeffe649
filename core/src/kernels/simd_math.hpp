// attnkit — vector math shared by the kernels: exp and horizontal reductions over xsimd batches.
// Internal linkage (anonymous namespace): every per-ISA TU gets its own copy, so the linker can never
// merge an AVX-512 body into the SSE2 table.
#pragma once
#include <xsimd/xsimd.hpp>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif
#include <cstddef>
#include <cstdint>
#include <limits>

namespace attnkit::kernels {
namespace {

template <class Arch>
using vf = xsimd::batch<float, Arch>;
template <class Arch>
using vi = xsimd::batch<std::int32_t, Arch>;

// min/max as x86's minps/maxps define them: (a < b) ? a : b and (a > b) ? a : b. For wasm, Emscripten 3.1.6's
// _mm_min_ps/_mm_max_ps (what xsimd calls) are a compare plus a bitselect; f32x4.pmin/pmax are one
// instruction with these semantics (V8: minps/maxps). Same results on every ISA, NaN operands included.
template <class Arch>
inline vf<Arch> vmin(vf<Arch> a, vf<Arch> b) noexcept {
#ifdef __wasm_simd128__
  return vf<Arch>(static_cast<__m128>(wasm_f32x4_pmin(static_cast<v128_t>(b.data), static_cast<v128_t>(a.data))));
#else
  return xsimd::min(a, b);
#endif
}
template <class Arch>
inline vf<Arch> vmax(vf<Arch> a, vf<Arch> b) noexcept {
#ifdef __wasm_simd128__
  return vf<Arch>(static_cast<__m128>(wasm_f32x4_pmax(static_cast<v128_t>(b.data), static_cast<v128_t>(a.data))));
#else
  return xsimd::max(a, b);
#endif
}

// exp(x) for float32, Cephes polynomial on r = x − n·ln2, |r| ≤ ln2/2; ≤ 2 ulp on [−87, 88].
// n is rounded with the 1.5·2^23 "magic number" add instead of a float→int conversion: no cvtps
// instruction, so Emscripten does not scalarise it (docs/architecture.md, "SIMD in wasm") and every ISA computes the
// same bits except for fma contraction. exp(0) is exactly 1 and exp(−inf) (anything below −87.34) exactly 0, which the
// online softmax relies on.
template <class Arch>
inline vf<Arch> exp_f32(vf<Arch> x) noexcept {
  using F = vf<Arch>;
  const F lo(-87.3365447505531f), hi(88.3762626647949f);
  const auto underflow = x < lo;
  // Clamp from below a little above lo: at lo itself y·2^−126 falls just under FLT_MIN, and a denormal
  // product costs a microcode assist (Zen 3: ~20% of C1's time, whose masked lanes all land there). Inputs
  // in [lo, −87.336) get exp(−87.336) ≈ 1.18e−38 instead (absolute error < 1e−41); below lo the select gives 0.
  x = vmin<Arch>(vmax<Arch>(x, F(-87.336f)), hi);
  const F magic(12582912.0f);  // 1.5·2^23: adding it rounds to an integer in the low mantissa bits
  const F t = xsimd::fma(x, F(1.44269504088896341f), magic);
  const F n = t - magic;
  F r = xsimd::fnma(n, F(0.693359375f), x);  // x − n·ln2, ln2 split hi/lo for exactness
  r = xsimd::fnma(n, F(-2.12194440e-4f), r);
  F p(1.9875691500e-4f);
  p = xsimd::fma(p, r, F(1.3981999507e-3f));
  p = xsimd::fma(p, r, F(8.3334519073e-3f));
  p = xsimd::fma(p, r, F(4.1665795894e-2f));
  p = xsimd::fma(p, r, F(1.6666665459e-1f));
  p = xsimd::fma(p, r, F(5.0000001201e-1f));
  const F r2 = r * r;
  const F y = xsimd::fma(p, r2, r) + F(1.0f);
  // 2^n: the low 9 bits of t's pattern hold n (mod 512); +127 and << 23 place it in the exponent.
  const vi<Arch> bits = (xsimd::bitwise_cast<vi<Arch>>(t) + vi<Arch>(127)) << 23;
  const F res = y * xsimd::bitwise_cast<F>(bits);
  return xsimd::select(underflow, F(0.0f), res);
}

// Horizontal max: xsimd 8.1 has no reduce_max, so store and reduce in a fixed lane order.
template <class Arch>
inline float hmax(vf<Arch> v) noexcept {
  alignas(Arch::alignment()) float lanes[vf<Arch>::size];
  v.store_aligned(lanes);
  float m = lanes[0];
  for (std::size_t i = 1; i < vf<Arch>::size; ++i) m = lanes[i] > m ? lanes[i] : m;
  return m;
}

template <class Arch>
inline float hsum(vf<Arch> v) noexcept {
  return xsimd::hadd(v);
}

// Row pieces shared by softmax and the online softmax of attention; nv is a multiple of W.
// max(init, x[0..nv)) lane-wise.
template <class Arch>
inline vf<Arch> max_body(const float* x, std::size_t nv, vf<Arch> init) noexcept {
  for (std::size_t j = 0; j < nv; j += vf<Arch>::size) init = vmax<Arch>(init, vf<Arch>::load_unaligned(x + j));
  return init;
}

// x[j] = exp(x[j] − m) for j < nv; returns init + the lane-wise sums of the new x.
template <class Arch>
inline vf<Arch> exp_sub_body(float* x, std::size_t nv, float m, vf<Arch> init) noexcept {
  const vf<Arch> vm(m);
  for (std::size_t j = 0; j < nv; j += vf<Arch>::size) {
    const vf<Arch> e = exp_f32<Arch>(vf<Arch>::load_unaligned(x + j) - vm);
    e.store_unaligned(x + j);
    init += e;
  }
  return init;
}

// Loads n < W floats and fills the other lanes with `fill` (a vector tail, so tail elements get the
// same vector arithmetic as body elements).
template <class Arch>
inline vf<Arch> load_partial(const float* p, std::size_t n, float fill) noexcept {
  alignas(Arch::alignment()) float buf[vf<Arch>::size];
  for (std::size_t i = 0; i < vf<Arch>::size; ++i) buf[i] = i < n ? p[i] : fill;
  return vf<Arch>::load_aligned(buf);
}

template <class Arch>
inline void store_partial(float* p, std::size_t n, vf<Arch> v) noexcept {
  alignas(Arch::alignment()) float buf[vf<Arch>::size];
  v.store_aligned(buf);
  for (std::size_t i = 0; i < n; ++i) p[i] = buf[i];
}

}  // namespace
}  // namespace attnkit::kernels
