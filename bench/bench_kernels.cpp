// attnkit — kernel benchmarks: each kernel of each available table (AVX-512, AVX2+FMA, SSE2) at the
// shapes of config C2 (b1 n1024 d768 h12, causal), one thread and split over the pool; the attention kernel also in
// the forward's q|k|v layout and at C4's n 4096 on the dispatched table.
// forward/C1..C4: the whole forward pass per standard configuration (attnkit/bench_configs.hpp: shapes and FLOP count).
// The attention op's backward pass against its forward: bench_backward.cpp (same program).
// fma_peak/<isa>: one core's FMA peak at each table's width (registers only), the denominator of efficiency figures.
// forward/C2/weights: C2 with return_weights (the weights written from the fused kernel's tiles).
// threads_speedup/C2..C4: 1 thread against every hardware thread, back to back in each iteration (a same-run ratio).
// Counters: FLOPS (useful flops per second: causal attention counts only the visible half) and
// bytes_per_second (the operands read and written once). One thread: CPU time; two: wall time.
//   ./attnkit_bench_kernels --benchmark_filter=attention --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <cstring>
#include <optional>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "attnkit/attnkit.hpp"
#include "attnkit/parallel.hpp"
#include "bench_common.hpp"
#include "kernels/kernels.hpp"
#include "memory_bandwidth.hpp"

namespace {

using attnkit_bench::add;
using attnkit_bench::random_floats;
using attnkit_bench::set_rates;

using attnkit::kernels::KernelTable;

// Runs kernel rows [0, m) on `threads` threads, one contiguous row range each.
template <class Fn>
void rows_on_threads(std::size_t m, std::size_t threads, Fn&& fn) {
  attnkit::parallel_for(threads, threads, [&](std::size_t ith, std::size_t nth) {
    std::size_t b, e;
    attnkit::split_range(m, ith, nth, b, e);
    fn(b, e);
  });
}

// C2 projections: x (1024, 768) · W (768, 768)ᵀ + b; the fused q|k|v projection is n = 2304.
void gemm_nt(benchmark::State& state, const KernelTable* t, std::size_t m, std::size_t n, std::size_t k) {
  const std::size_t threads = static_cast<std::size_t>(state.range(0));
  auto a = random_floats(m * k, 1), b = random_floats(n * k, 2), bias = random_floats(n, 3);
  std::vector<float> c(m * n);
  const attnkit::kernels::GemmNT g{a.data(), k, b.data(), k, c.data(), n, m, n, k, 1.0f, bias.data()};
  for (auto _ : state) {
    rows_on_threads(m, threads, [&](std::size_t lo, std::size_t hi) { t->gemm_nt_f32(g, lo, hi); });
    benchmark::DoNotOptimize(c.data());
  }
  set_rates(state, 2.0 * m * n * k, 4.0 * (m * k + n * k + m * n));
}

// The forward's projections: the weights packed once ahead (Module does this at construction).
void gemm_nt_prepacked(benchmark::State& state, const KernelTable* t, std::size_t m, std::size_t n, std::size_t k) {
  const std::size_t threads = static_cast<std::size_t>(state.range(0));
  auto a = random_floats(m * k, 1), b = random_floats(n * k, 2), bias = random_floats(n, 3);
  std::vector<float> c(m * n);
  std::vector<float, xsimd::aligned_allocator<float, 64>> packed(t->packed_nt_b_floats(n, k));
  t->pack_nt_b_f32(b.data(), k, n, k, packed.data());
  const attnkit::kernels::GemmNT g{a.data(), k, b.data(), k, c.data(), n, m, n, k, 1.0f, bias.data(), packed.data()};
  for (auto _ : state) {
    rows_on_threads(m, threads, [&](std::size_t lo, std::size_t hi) { t->gemm_nt_f32(g, lo, hi); });
    benchmark::DoNotOptimize(c.data());
  }
  set_rates(state, 2.0 * m * n * k, 4.0 * (m * k + n * k + m * n));
}

// One core's multiply-add peak at a kernel table's width, for efficiency figures: independent fma chains on registers
// only (attnkit/peak.hpp: 24 zmm, 12 ymm or xmm), no memory traffic.
void fma_peak(benchmark::State& state, std::string isa) {
  constexpr std::size_t kSteps = 1 << 16;
  double flops = 0;
  for (auto _ : state) flops += attnkit::fma_peak_work(isa, kSteps);
  state.counters["FLOPS"] = benchmark::Counter(flops, benchmark::Counter::kIsRate);
}

// The same loop on every hardware thread at once (wall time): FLOPS / one_core's says whether the threads are whole
// cores (2.0 on 2 cores; near 1.0 on two hyperthreads of one core), the ceiling of any thread scaling.
void fma_peak_threads(benchmark::State& state, std::string isa) {
  constexpr std::size_t kSteps = 1 << 16;
  const std::size_t threads = static_cast<std::size_t>(state.range(0));
  std::vector<double> flops(threads * 8, 0.0);  // one cache line per thread
  for (auto _ : state)
    attnkit::parallel_for(threads, threads,
                          [&](std::size_t ith, std::size_t) { flops[ith * 8] += attnkit::fma_peak_work(isa, kSteps); });
  double total = 0;
  for (std::size_t i = 0; i < threads; ++i) total += flops[i * 8];
  state.counters["FLOPS"] = benchmark::Counter(total, benchmark::Counter::kIsRate);
}

void gemm_nn(benchmark::State& state, const KernelTable* t, std::size_t m, std::size_t n, std::size_t k) {
  const std::size_t threads = static_cast<std::size_t>(state.range(0));
  auto a = random_floats(m * k, 1), b = random_floats(k * n, 2);
  std::vector<float> c(m * n);
  const attnkit::kernels::GemmNN g{a.data(), k, b.data(), n, c.data(), n, m, n, k};
  for (auto _ : state) {
    rows_on_threads(m, threads, [&](std::size_t lo, std::size_t hi) { t->gemm_nn_f32(g, lo, hi); });
    benchmark::DoNotOptimize(c.data());
  }
  set_rates(state, 2.0 * m * n * k, 4.0 * (m * k + k * n + m * n));
}

// The explain path's softmax over one head's (1024, 1024) scores.
void softmax(benchmark::State& state, const KernelTable* t, std::size_t m, std::size_t n) {
  const std::size_t threads = static_cast<std::size_t>(state.range(0));
  const auto x0 = random_floats(m * n, 4);
  std::vector<float> x = x0;
  const attnkit::kernels::Softmax s{x.data(), n, m, n};
  for (auto _ : state) {
    rows_on_threads(m, threads, [&](std::size_t lo, std::size_t hi) { t->softmax_f32(s, lo, hi); });
    benchmark::DoNotOptimize(x.data());
  }
  set_rates(state, 4.0 * m * n, 8.0 * m * n);  // max, sub+exp (counted as 1), sum, divide
}

// All h heads of C2 (n 1024, d_head 64) read in place from (n, h·d_head) q, k, v, like the mechanism.
// qkv_layout: q, k and v as the forward reads them, the columns of one (n, 3·heads·dh) projection; else three
// (n, heads·dh) arrays.
void attention(benchmark::State& state, const KernelTable* t, std::size_t n, std::size_t heads, std::size_t dh,
               bool causal, bool qkv_layout) {
  const std::size_t threads = static_cast<std::size_t>(state.range(0)), D = heads * dh, ld = qkv_layout ? 3 * D : D;
  auto qkv = random_floats(3 * n * D, 5);
  const float* q = qkv.data();
  const float* k = qkv.data() + (qkv_layout ? D : n * D);
  const float* v = qkv.data() + (qkv_layout ? 2 * D : 2 * n * D);
  std::vector<float> out(n * D);
  for (auto _ : state) {
    // Work split over heads: each task takes whole heads (one packing of k, v per head).
    attnkit::parallel_for(heads, threads, [&](std::size_t h, std::size_t) {
      const float *query = q + h * dh, *key = k + h * dh, *value = v + h * dh;  // (n, dh) each, row stride ld
      float* context = out.data() + h * dh;                                     // (n, dh), row stride D
      const attnkit::kernels::Attention a{query, ld, key, ld, value, ld, context, D, n, n, dh, 0.125f, causal};
      t->attention_f32(a, 0, n);
    });
    benchmark::DoNotOptimize(out.data());
  }
  const double pairs = causal ? double(n) * (n + 1) / 2 : double(n) * n;
  set_rates(state, 4.0 * pairs * dh * heads, 4.0 * 4 * n * D);
}

// The attention op (attnkit/attention.hpp) at C2's size with grouped-query heads (12 query heads over 4 key/value
// heads, n 1024, d 64): causal lower-right, or full; `padded`: a key padding mask (b, 1, 1, n_k) hiding the last
// half of the keys, whose key blocks the fused path skips. `weights`: the explain path. FLOPS count visible pairs.
void attention_op(benchmark::State& state, bool causal, bool padded, bool weights) {
  const std::size_t n = 1024, d = 64, h_q = 12, h_kv = 4, kept = padded ? n / 2 : n;
  const attnkit::Tensor query({1, h_q, n, d}, random_floats(h_q * n * d, 5)),
      key({1, h_kv, n, d}, random_floats(h_kv * n * d, 6)), value({1, h_kv, n, d}, random_floats(h_kv * n * d, 7));
  std::vector<bool> allowed(n, true);
  for (std::size_t j = kept; j < n; ++j) allowed[j] = false;
  const attnkit::AttentionMask mask = attnkit::boolean_mask({1, 1, 1, n}, allowed);
  attnkit::AttentionOptions o;
  o.causal = causal ? attnkit::CausalAlign::lower_right : attnkit::CausalAlign::none;
  o.attn_mask = padded ? &mask : nullptr;
  o.weights = weights ? attnkit::AttentionWeights::per_head : attnkit::AttentionWeights::none;
  o.threads = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(attnkit::attention(query, key, value, o).output.ptr());
  double pairs = 0;
  for (std::size_t i = 0; i < n; ++i) pairs += double(std::min(causal ? i + 1 : n, kept));
  set_rates(state, 4.0 * pairs * d * h_q, 4.0 * (h_q + 2 * h_kv + h_q) * n * d);
}

// The whole forward pass (fast path) of one standard configuration, as `attnkit bench` runs it.
// `weights`: with return_weights (the explain path's answer, issue 14 §4: at most 1.3× the fused forward).
void forward(benchmark::State& state, const attnkit::BenchConfig* c, bool weights) {
  attnkit::Module module(attnkit::bench_module_config(*c));
  const attnkit::Tensor x = attnkit::bench_input(*c);
  attnkit::ForwardOptions options;
  options.return_weights = weights;
  options.threads = static_cast<std::size_t>(state.range(0));
  const std::optional<attnkit::AttentionMask> padding = attnkit::bench_key_padding_mask(*c);  // P1
  attnkit::ForwardInputs inputs;
  inputs.key_padding_mask = padding ? &*padding : nullptr;
  module.forward(x, inputs, options);
  for (auto _ : state) benchmark::DoNotOptimize(module.forward(x, inputs, options).context.ptr());
  state.counters["FLOPS"] =
      benchmark::Counter(attnkit::bench_flops(*c) * double(state.iterations()), benchmark::Counter::kIsRate);
}

// Thread scaling of one standard configuration, as a same-run ratio: each iteration times one forward on 1 thread and
// one on every hardware thread back to back (wall clock), so both see the same state of a shared host. Counters: the
// medians of each and their ratio (issue 14 §2: ≥ 1.9 on C2, C3, C4 with 2 threads).
void threads_speedup(benchmark::State& state, const attnkit::BenchConfig* c) {
  attnkit::Module module(attnkit::bench_module_config(*c));
  const attnkit::Tensor x = attnkit::bench_input(*c);
  const std::size_t many = attnkit::hardware_threads();
  attnkit::ForwardOptions options;
  std::vector<double> ms[2];
  const auto timed = [&](std::size_t threads) {
    options.threads = threads;
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(module.forward(x, options).context.ptr());
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  timed(1), timed(many);  // warm-up: the pool's workers, the per-thread buffers
  for (auto _ : state) {
    ms[0].push_back(timed(1));
    ms[1].push_back(timed(many));
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  state.counters["ms_1_thread"] = median(ms[0]);
  state.counters["ms_" + std::to_string(many) + "_threads"] = median(ms[1]);
  state.counters["speedup"] = median(ms[1]) > 0 ? median(ms[0]) / median(ms[1]) : 0.0;
}

// The yardstick for decoding (a step reads its keys and values once): this machine's memory bandwidth, read and
// memcpy, on buffers far past the L3 cache, on 1 thread and on every hardware thread (native/memory_bandwidth.hpp,
// the same measurement `attnkit bench --config D1|D2` reports against).
void memory_bandwidth(benchmark::State& state) {
  const std::size_t threads = static_cast<std::size_t>(state.range(0));
  attnkit::cli::MemoryBandwidth m;
  for (auto _ : state) m = attnkit::cli::measure_memory_bandwidth(threads);
  state.counters["read_GBps"] = m.read_gbps;
  state.counters["copy_GBps"] = m.copy_gbps;
  state.counters["buffer_MiB"] = double(m.bytes) / 1048576.0;
  state.counters["L3_MiB"] = double(attnkit::cli::l3_cache_bytes()) / 1048576.0;
}

// One decoding step of D1 (D2): one token against a cache of 4096 (16384) (attnkit/decoder.hpp), counted as its keys
// and values.
void decode_step(benchmark::State& state, const attnkit::BenchConfig* c) {
  attnkit::Module module(attnkit::bench_module_config(*c));
  attnkit::Decoder decoder = module.begin_decode(c->tokens, c->batch, 1);
  attnkit::Generator generator(7);
  const std::size_t head_dim = c->d_out / c->heads;  // a random past, as `attnkit bench` loads it
  decoder.load_past(generator.uniform({c->batch, c->heads, c->tokens - 1, head_dim}, -1.0, 1.0),
                    generator.uniform({c->batch, c->heads, c->tokens - 1, head_dim}, -1.0, 1.0));
  const attnkit::Tensor x = generator.rand({c->batch, 1, c->d_in});
  for (auto _ : state) {
    decoder.rewind(c->tokens - 1);
    benchmark::DoNotOptimize(decoder.step(x).ptr());
  }
  set_rates(state, 0.0, attnkit::decode_kv_bytes(*c));
}

void register_all() {
  for (std::size_t threads : {std::size_t(1), attnkit::hardware_threads()})
    benchmark::RegisterBenchmark(("memory_bandwidth/threads:" + std::to_string(threads)).c_str(), memory_bandwidth)
        ->Arg(static_cast<int64_t>(threads))
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  for (const auto& c : attnkit::bench_configs())
    if (c.kind == attnkit::BenchKind::decode) add("decode/" + std::string(c.name), decode_step, &c);
  std::size_t count = 0;
  const KernelTable* const* tables = attnkit::kernels::available_tables(&count);
  for (std::size_t i = 0; i < count; ++i) {
    const KernelTable* t = tables[i];
    const std::string isa = t->isa;
    add("gemm_nt/" + isa + "/C2_proj_1024x768x768", gemm_nt, t, 1024, 768, 768);
    add("gemm_nt/" + isa + "/C2_qkv_1024x2304x768", gemm_nt, t, 1024, 2304, 768);
    add("gemm_nt_prepacked/" + isa + "/C2_qkv_1024x2304x768", gemm_nt_prepacked, t, 1024, 2304, 768);
    add("gemm_nt_prepacked/" + isa + "/C2_proj_1024x768x768", gemm_nt_prepacked, t, 1024, 768, 768);
    add("gemm_nt_prepacked/" + isa + "/C3_qkv_2048x1536x512", gemm_nt_prepacked, t, 2048, 1536, 512);
    add("gemm_nt_prepacked/" + isa + "/C4_qkv_4096x2304x768", gemm_nt_prepacked, t, 4096, 2304, 768);
    add("gemm_nt_prepacked/" + isa + "/C4_proj_4096x768x768", gemm_nt_prepacked, t, 4096, 768, 768);
    add("gemm_nt/" + isa + "/C2_scores_1024x1024x64", gemm_nt, t, 1024, 1024, 64);
    add("gemm_nn/" + isa + "/C2_1024x768x768", gemm_nn, t, 1024, 768, 768);
    add("gemm_nn/" + isa + "/C2_context_1024x64x1024", gemm_nn, t, 1024, 64, 1024);
    add("softmax/" + isa + "/C2_1024x1024", softmax, t, 1024, 1024);
    add("attention/" + isa + "/C2_causal_n1024_h12_d64", attention, t, 1024, 12, 64, true, false);
    add("attention/" + isa + "/C2_full_n1024_h12_d64", attention, t, 1024, 12, 64, false, false);
    if (t == tables[0]) {
      add("attention/" + isa + "/C2_causal_qkv_n1024_h12_d64", attention, t, 1024, 12, 64, true, true);
      add("attention/" + isa + "/C4_causal_n4096_h12_d64", attention, t, 4096, 12, 64, true, false);
    }
  }
  add("attention_op/gqa_h12_kv4_n1024_d64_causal_lower_right", attention_op, true, false, false);
  add("attention_op/gqa_h12_kv4_n1024_d64_causal_lower_right_weights", attention_op, true, false, true);
  add("attention_op/gqa_h12_kv4_n1024_d64_full", attention_op, false, false, false);
  add("attention_op/gqa_h12_kv4_n1024_d64_full_half_keys_padded", attention_op, false, true, false);
  for (const auto& c : attnkit::bench_configs())
    if (c.kind == attnkit::BenchKind::forward && std::string(c.name) != "C5")
      add("forward/" + std::string(c.name), forward, &c, false);
  add("forward/C2/weights", forward, &attnkit::find_bench_config("C2"), true);
  if (attnkit::hardware_threads() > 1)
    for (const char* name : {"C2", "C3", "C4"})
      benchmark::RegisterBenchmark(("threads_speedup/" + std::string(name)).c_str(), threads_speedup,
                                   &attnkit::find_bench_config(name))
          ->Iterations(std::string(name) == "C4" ? 5 : 9)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  for (const std::string& isa : attnkit::simd_tables()) {
    benchmark::RegisterBenchmark(("fma_peak/" + isa + "/one_core").c_str(), fma_peak, isa)
        ->Unit(benchmark::kMicrosecond);
    if (attnkit::hardware_threads() > 1)
      benchmark::RegisterBenchmark(("fma_peak/" + isa + "/all_cores").c_str(), fma_peak_threads, isa)
          ->ArgName("threads")
          ->Arg(static_cast<int64_t>(attnkit::hardware_threads()))
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::AddCustomContext("best_isa", attnkit::kernels::table().isa);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
