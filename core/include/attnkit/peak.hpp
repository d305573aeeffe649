// attnkit — the yardstick of efficiency figures: one core's multiply-add peak at the width of a kernel table.
// Core has no clock: the caller times fma_peak_work (attnkit bench, bench/bench_kernels.cpp) and divides.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace attnkit {

// The kernel tables this CPU runs, the dispatched one (simd_instruction_set()) first: "avx512bw", "fma3+avx2", "sse2".
std::vector<std::string> simd_tables();

// Runs `steps` rounds of independent multiply-add chains on registers only (no memory traffic) at the width of table
// `isa` (one of simd_tables(); empty: the dispatched one) and returns the FLOPs done (2 per lane per multiply-add).
// Enough chains for the widest machine (24 zmm at AVX-512: 2 pipes × 4 cycles of latency need 8), so FLOPs / seconds
// is the table's peak on one core. Throws Error for a table this CPU does not run, naming the ones it does.
double fma_peak_work(const std::string& isa, std::size_t steps);

}  // namespace attnkit
