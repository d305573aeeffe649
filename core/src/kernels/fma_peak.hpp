// attnkit — the yardstick of efficiency figures: one core's multiply-add peak at this table's width, registers only.
// CHAINS independent fma chains (mul + add where the ISA has no fma: SSE2, wasm SIMD128): enough to cover the widest
// machine's pipes × latency (Zen 5: 2 zmm FMA pipes × 4 cycles = 8 in flight; 24 leave headroom) while the chains,
// the multiplier and the addend still fit the register file (32 zmm; 16 ymm/xmm).
#pragma once
#include <cstddef>

#include "simd_math.hpp"

namespace attnkit::kernels {
namespace {

template <class Arch>
struct PeakShape {
  static constexpr std::size_t W = vf<Arch>::size;
  static constexpr std::size_t CHAINS = W >= 16 ? 24 : 12;
};

// Runs `steps` rounds of CHAINS fmas of W lanes; returns the FLOPs done (2 per lane per fma) and writes one lane
// of the result to *sink (so the loop cannot be dropped).
template <class Arch>
double fma_peak_f32(std::size_t steps, float* sink) {
  using F = vf<Arch>;
  constexpr std::size_t C = PeakShape<Arch>::CHAINS, W = PeakShape<Arch>::W;
  F acc[C];  // every loop over it fully unrolled, so it lives in registers (GCC peels only 16 by itself)
#pragma GCC unroll 32
  for (std::size_t j = 0; j < C; ++j) acc[j] = F(1.0f + 1e-7f * static_cast<float>(j));
  const F mul(0.9999999f), add(1e-7f);
  for (std::size_t i = 0; i < steps; ++i) {
#pragma GCC unroll 32
    for (std::size_t j = 0; j < C; ++j) acc[j] = xsimd::fma(acc[j], mul, add);
#if defined(__x86_64__) && defined(__GNUC__)
      // Each chain stays in a register and in order: no spill to the stack, no folding of the steps.
#pragma GCC unroll 32
    for (std::size_t j = 0; j < C; ++j) asm volatile("" : "+v"(acc[j].data));
#endif
  }
  F total(0.0f);
#pragma GCC unroll 32
  for (std::size_t j = 0; j < C; ++j) total = total + acc[j];
  *sink = hsum<Arch>(total);
  return 2.0 * double(W) * double(C) * double(steps);
}

}  // namespace
}  // namespace attnkit::kernels
