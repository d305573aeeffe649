// attnkit CLI — `attnkit bench`: times the fast path (no weights kept) of causal multi-head attention
// on the standard configurations C1–C4 and reports the median.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ostream>

#include "cli.hpp"

namespace attnkit::cli {
namespace {

// Runs below this count, or below this much total time, are too few for a stable median.
constexpr std::size_t kMinRuns = 5;
constexpr double kMinSeconds = 1.0;
constexpr std::size_t kMaxRuns = 100000;
constexpr double kSampleMs = 0.2;         // shortest sample
constexpr std::size_t kMaxCalls = 100000;  // calls per sample at most

std::string number(double v, const char* format = "%.6g") {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

// "71.6353 ms", or "0.593 µs" below 0.1 ms.
std::string time_text(double ms) { return ms < 0.1 ? number(ms * 1e3, "%.3f") + " µs" : number(ms, "%.4f") + " ms"; }

}  // namespace

// Multiply-adds count as 2 FLOPs. Projections q, k, v = x·Wᵀ: 3·2·b·n·d_in·d_out; out_proj:
// 2·b·n·d_out·d_out; causal attention, q·kᵀ and weights·v over the n(n+1)/2 unmasked (query, key)
// pairs of each head: 2·2·b·h·(n(n+1)/2)·head_dim. Softmax, scaling and masking are not counted.
double flop_count(const BenchConfig& c) {
  const double b = double(c.batch), n = double(c.tokens), d_in = double(c.d_in), d_out = double(c.d_out);
  const double h = double(c.heads), head_dim = d_out / h;
  return 3 * 2 * b * n * d_in * d_out + 2 * b * n * d_out * d_out + 2 * 2 * b * h * (n * (n + 1) / 2) * head_dim;
}

const std::vector<BenchConfig>& bench_configs() {
  static const std::vector<BenchConfig> configs = {
      {"C1", 2, 6, 3, 2, 2},
      {"C2", 1, 1024, 768, 768, 12},
      {"C3", 8, 256, 512, 512, 8},
      {"C4", 1, 4096, 768, 768, 12},
  };
  return configs;
}

const BenchConfig& find_bench_config(const std::string& name) {
  for (const auto& c : bench_configs()) {
    if (c.name == name) return c;
  }
  throw Error("unknown --config '" + name + "'; expected one of C1, C2, C3, C4");
}

Module bench_module(const BenchConfig& c) {
  Config config;
  config.mechanism = Mechanism::multihead;
  config.d_in = c.d_in;
  config.d_out = c.d_out;
  config.num_heads = c.heads;
  config.context_length = c.tokens;
  config.causal = true;
  return Module(config);
}

Tensor bench_input(const BenchConfig& c) {
  Generator generator(7);  // any fixed numbers will do
  return generator.rand({c.batch, c.tokens, c.d_in});
}

void command_bench(const BenchOptions& o, std::ostream& out) {
  const BenchConfig& c = find_bench_config(o.config);
  Module module = bench_module(c);
  const Tensor x = bench_input(c);
  ForwardOptions options;
  options.threads = o.threads;

  using clock = std::chrono::steady_clock;
  module.forward(x, options);  // warm-up: page in the buffers and start the thread pool
  const auto w0 = clock::now();
  module.forward(x, options);
  const double first_ms = std::chrono::duration<double, std::milli>(clock::now() - w0).count();
  // A sample is a batch of calls lasting at least kSampleMs, so tiny configurations (C1 is under a microsecond)
  // are not measured at the clock's resolution; the reported times are per call.
  const std::size_t calls = first_ms >= kSampleMs ? 1 : std::min<std::size_t>(kMaxCalls, std::size_t(kSampleMs / std::max(first_ms, 1e-6)) + 1);
  for (std::size_t i = 1; i < calls; ++i) module.forward(x, options);  // and as many more warm-up calls
  std::vector<double> ms;
  const auto start = clock::now();
  for (;;) {
    const auto t0 = clock::now();
    for (std::size_t i = 0; i < calls; ++i) module.forward(x, options);
    const auto t1 = clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count() / double(calls));
    const double total = std::chrono::duration<double>(t1 - start).count();
    if (o.repeats ? ms.size() >= *o.repeats : (ms.size() >= kMinRuns && total >= kMinSeconds) || ms.size() >= kMaxRuns) break;
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t k = sorted.size();
  const double median = k % 2 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
  const double flops = flop_count(c), gflops = flops / (median * 1e-3) / 1e9;
  const std::size_t threads = o.threads ? o.threads : default_num_threads();

  std::string s;
  if (o.format == Format::json) {
    s = "{\"config\": \"" + c.name + "\", \"threads\": " + std::to_string(threads) + ", \"median_ms\": " + number(median) +
        ", \"gflops\": " + number(gflops) + ", \"min_ms\": " + number(sorted.front()) + ", \"repeats\": " +
        std::to_string(k) + ", \"calls_per_sample\": " + std::to_string(calls) + ", \"flops\": " + number(flops, "%.0f") + ", \"mechanism\": \"multihead\", \"causal\": true" +
        ", \"simd\": \"" + simd_instruction_set() + "\", \"shape\": {\"batch\": " + std::to_string(c.batch) +
        ", \"tokens\": " + std::to_string(c.tokens) + ", \"d_in\": " + std::to_string(c.d_in) + ", \"d_out\": " +
        std::to_string(c.d_out) + ", \"heads\": " + std::to_string(c.heads) + "}}\n";
  } else {
    s = c.name + "  multihead causal  b" + std::to_string(c.batch) + " n" + std::to_string(c.tokens) + " d_in" +
        std::to_string(c.d_in) + " d_out" + std::to_string(c.d_out) + " h" + std::to_string(c.heads) + "\n" +
        "  median " + time_text(median) + "  min " + time_text(sorted.front()) + "  " +
        number(gflops, "%.2f") + " GFLOP/s  (" + std::to_string(k) + " runs" +
        (calls > 1 ? " of " + std::to_string(calls) + " calls" : std::string()) + ", " + std::to_string(threads) + (threads == 1 ? " thread, " : " threads, ") +
        simd_instruction_set() + ")\n";
  }
  out << s << std::flush;
}

}  // namespace attnkit::cli
