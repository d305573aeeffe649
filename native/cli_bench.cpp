// attnkit CLI — `attnkit bench`: times the fast path (no weights kept) of causal multi-head attention
// on the standard configurations C1–C4 (attnkit/bench_configs.hpp: shapes, module, input and FLOP count)
// and reports the median.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>
#include <ostream>

#include "cli.hpp"
#include "machine.hpp"

namespace attnkit::cli {
namespace {

// Runs below this count, or below this much total time, are too few for a stable median.
constexpr std::size_t kMinRuns = 5;
constexpr double kMinSeconds = 1.0;
constexpr std::size_t kMaxRuns = 100000;
constexpr double kSampleMs = 0.2;          // shortest sample
constexpr std::size_t kMaxCalls = 100000;  // calls per sample at most

std::string number(double v, const char* format = "%.6g") {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

// "71.6353 ms", or "0.593 µs" below 0.1 ms.
std::string time_text(double ms) { return ms < 0.1 ? number(ms * 1e3, "%.3f") + " µs" : number(ms, "%.4f") + " ms"; }

// Copy bandwidth of this machine: 64 MiB (past the caches) copied with memcpy, bytes read plus written per second
// (STREAM's convention), best of 5; the yardstick for a decoding step, which streams its keys and values.
double copy_gbps() {
  const std::size_t bytes = std::size_t(64) << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  double best = 0.0;
  for (int r = 0; r < 6; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::max(best, 2.0 * double(bytes) / s / 1e9);  // the first run pages dst in
  }
  return best + 0.0 * double(dst[bytes / 2]);
}

// D1: one decoding step, one token against a cache of c.tokens − 1 (rewound after each step), as bandwidth.
void bench_decode(const BenchConfig& c, const BenchOptions& o, std::ostream& out) {
  Module module(bench_module_config(c));
  Decoder decoder = module.begin_decode(c.tokens, c.batch, o.threads);
  Generator generator(7);
  decoder.step(generator.rand({c.batch, c.tokens - 1, c.d_in}));  // fill the cache
  const Tensor x = generator.rand({c.batch, 1, c.d_in});
  using clock = std::chrono::steady_clock;
  std::vector<double> ms;
  const auto start = clock::now();
  for (std::size_t i = 0;; ++i) {
    decoder.rewind(c.tokens - 1);
    const auto t0 = clock::now();
    decoder.step(x);
    const auto t1 = clock::now();
    if (i < 3) continue;  // warm-up
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    const double total = std::chrono::duration<double>(t1 - start).count();
    if (o.repeats ? ms.size() >= *o.repeats : (ms.size() >= 20 && total >= kMinSeconds) || ms.size() >= kMaxRuns) break;
  }
  std::sort(ms.begin(), ms.end());
  const std::size_t k = ms.size();
  const double median = k % 2 ? ms[k / 2] : 0.5 * (ms[k / 2 - 1] + ms[k / 2]);
  const double bytes = decode_kv_bytes(c), gbps = bytes / (median * 1e-3) / 1e9, copy = copy_gbps();
  const std::size_t threads = o.threads ? o.threads : default_num_threads();
  std::string s;
  if (o.format == Format::json) {
    s = "{\"config\": \"" + std::string(c.name) + "\", \"kind\": \"decode\", \"threads\": " + std::to_string(threads) +
        ", \"median_ms\": " + number(median) + ", \"min_ms\": " + number(ms.front()) +
        ", \"repeats\": " + std::to_string(k) + ", \"kv_bytes\": " + number(bytes, "%.0f") +
        ", \"kv_gbps\": " + number(gbps) + ", \"copy_gbps\": " + number(copy) +
        ", \"fraction_of_copy\": " + number(gbps / copy) +
        ", \"mechanism\": \"multihead\", \"causal\": true, \"simd\": \"" + simd_instruction_set() +
        "\", \"shape\": {\"batch\": " + std::to_string(c.batch) + ", \"tokens\": " + std::to_string(c.tokens) +
        ", \"d_in\": " + std::to_string(c.d_in) + ", \"d_out\": " + std::to_string(c.d_out) +
        ", \"heads\": " + std::to_string(c.heads) + "}}\n";
  } else {
    s = std::string(c.name) + "  multihead decode step  b" + std::to_string(c.batch) + " cache " +
        std::to_string(c.tokens) + " d" + std::to_string(c.d_out) + " h" + std::to_string(c.heads) + "\n  median " +
        time_text(median) + "  min " + time_text(ms.front()) + "  K and V read at " + number(gbps, "%.2f") +
        " GB/s = " + number(100.0 * gbps / copy, "%.1f") + " % of copy bandwidth " + number(copy, "%.2f") + " GB/s  (" +
        std::to_string(k) + " runs, " + std::to_string(threads) + (threads == 1 ? " thread, " : " threads, ") +
        simd_instruction_set() + ")\n";
  }
  out << s << std::flush;
}

}  // namespace

// "C1 (b2 n6 d_in3 d_out2 h2: the book's multi-head example), C2 (…)", for help.
std::string bench_configs_help() {
  std::string s;
  for (const auto& c : bench_configs()) s += (s.empty() ? "" : ", ") + std::string(c.name) + " (" + c.description + ")";
  return s;
}

std::string bench_config_names() {
  std::string s;
  for (const auto& c : bench_configs()) s += (s.empty() ? "" : ", ") + std::string(c.name);
  return s;
}

void command_bench(const BenchOptions& o, std::ostream& out) {
  const BenchConfig* found = nullptr;
  for (const auto& c : bench_configs())
    if (o.config == c.name) found = &c;
  if (!found) throw Error("unknown --config '" + o.config + "'; expected one of " + bench_config_names());
  BenchConfig c = *found;
  if (o.tokens) {
    if (c.kind != BenchKind::forward)
      throw Error("--tokens applies to the forward configs; expected no --tokens for " + std::string(c.name));
    c.tokens = *o.tokens;
  }
  if (c.kind == BenchKind::decode) return bench_decode(c, o, out);
  Module module(bench_module_config(c));
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
  const std::size_t calls =
      first_ms >= kSampleMs ? 1
                            : std::min<std::size_t>(kMaxCalls, std::size_t(kSampleMs / std::max(first_ms, 1e-6)) + 1);
  for (std::size_t i = 1; i < calls; ++i) module.forward(x, options);  // and as many more warm-up calls
  std::vector<double> ms;
  const auto start = clock::now();
  for (;;) {
    const auto t0 = clock::now();
    for (std::size_t i = 0; i < calls; ++i) module.forward(x, options);
    const auto t1 = clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count() / double(calls));
    const double total = std::chrono::duration<double>(t1 - start).count();
    if (o.repeats ? ms.size() >= *o.repeats : (ms.size() >= kMinRuns && total >= kMinSeconds) || ms.size() >= kMaxRuns)
      break;
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t k = sorted.size();
  const double median = k % 2 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
  const double flops = forward_flops(module.config(), x.shape), gflops = flops / (median * 1e-3) / 1e9;
  const std::size_t threads = o.threads ? o.threads : default_num_threads();
  // Efficiency against the dispatched table's peak on as many cores as threads ran (measured after the timing, in
  // the same process: a same-run ratio on a machine whose speed drifts).
  const Machine machine = describe_machine();
  const double cores = double(std::min<std::size_t>(threads, std::max<std::size_t>(1, hardware_threads())));
  const double efficiency = gflops / (machine.peak_gflops * cores);

  std::string s;
  if (o.format == Format::json) {
    s = "{\"config\": \"" + std::string(c.name) + "\", \"threads\": " + std::to_string(threads) +
        ", \"median_ms\": " + number(median) + ", \"gflops\": " + number(gflops) +
        ", \"efficiency\": " + number(efficiency, "%.4f") + ", \"machine\": " + machine_json(machine) +
        ", \"min_ms\": " + number(sorted.front()) + ", \"repeats\": " + std::to_string(k) +
        ", \"calls_per_sample\": " + std::to_string(calls) + ", \"flops\": " + number(flops, "%.0f") +
        ", \"mechanism\": \"multihead\", \"causal\": " + (c.causal ? "true" : "false") + ", \"simd\": \"" +
        simd_instruction_set() + "\", \"shape\": {\"batch\": " + std::to_string(c.batch) +
        ", \"tokens\": " + std::to_string(c.tokens) + ", \"d_in\": " + std::to_string(c.d_in) +
        ", \"d_out\": " + std::to_string(c.d_out) + ", \"heads\": " + std::to_string(c.heads) + "}}\n";
  } else {
    s = std::string(c.name) + (c.causal ? "  multihead causal  b" : "  multihead  b") + std::to_string(c.batch) + " n" +
        std::to_string(c.tokens) + " d_in" + std::to_string(c.d_in) + " d_out" + std::to_string(c.d_out) + " h" +
        std::to_string(c.heads) + "\n" + "  median " + time_text(median) + "  min " + time_text(sorted.front()) + "  " +
        number(gflops, "%.2f") + " GFLOP/s  (" + std::to_string(k) + " runs" +
        (calls > 1 ? " of " + std::to_string(calls) + " calls" : std::string()) + ", " + std::to_string(threads) +
        (threads == 1 ? " thread, " : " threads, ") + simd_instruction_set() + ")\n  " +
        number(100.0 * efficiency, "%.1f") + " % of the peak of " + number(cores, "%.0f") +
        (cores == 1 ? " core: " : " cores: ") + machine_text(machine) + "\n";
  }
  out << s << std::flush;
}

}  // namespace attnkit::cli
