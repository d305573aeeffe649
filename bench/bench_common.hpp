// attnkit — helpers shared by the Google Benchmark files of attnkit_bench_kernels (bench_kernels.cpp,
// bench_backward.cpp): inputs, rate counters, and registration at 1 and 2 threads.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace attnkit_bench {

inline std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

inline void set_rates(benchmark::State& state, double flops, double bytes) {
  state.counters["FLOPS"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes * double(state.iterations())));
}

// One thread runs inline, so its CPU time is the kernel's own time, robust on a shared machine; two
// threads are timed by the wall clock.
template <class Fn, class... Args>
void add(const std::string& name, Fn fn, Args... args) {
  for (std::int64_t threads : {1, 2}) {
    auto* b = benchmark::RegisterBenchmark(name.c_str(), fn, args...);
    b->ArgName("threads")->Arg(threads)->Unit(benchmark::kMillisecond);
    if (threads > 1) b->UseRealTime();
  }
}

}  // namespace attnkit_bench
