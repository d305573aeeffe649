// attnkit CLI — `attnkit bench`: times the fast path (no weights kept) of causal multi-head attention
// on the standard configurations C1–C5, P1 and D1, D2 (attnkit/bench_configs.hpp: shapes, module, input and FLOP count)
// and reports the median, the efficiency against the dispatched table's peak and the process's peak memory.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>
#include <optional>
#include <ostream>

#include "cli.hpp"
#include "machine.hpp"
#include "memory_bandwidth.hpp"

namespace attnkit::cli {
namespace {

// Runs below this count, or below this much total time, are too few for a stable median.
constexpr std::size_t kMinRuns = 5;
constexpr double kMinSeconds = 1.0;
constexpr std::size_t kMaxRuns = 100000;
constexpr double kPeakEverySeconds = 0.01;  // the peak is sampled between timed samples (machine.hpp)
constexpr std::size_t kMinPeakSamples = 7;
constexpr double kSampleMs = 0.2;          // shortest sample
constexpr std::size_t kMaxCalls = 100000;  // calls per sample at most

std::string number(double v, const char* format = "%.6g") {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

// "71.6353 ms", or "0.593 µs" below 0.1 ms.
std::string time_text(double ms) { return ms < 0.1 ? number(ms * 1e3, "%.3f") + " µs" : number(ms, "%.4f") + " ms"; }

// D1, D2: one decoding step, one token against a cache of c.tokens − 1 (rewound after each step), as bandwidth:
// K and V bytes read per second against this machine's read bandwidth on as many threads (memory_bandwidth.hpp).
void bench_decode(const BenchConfig& c, const BenchOptions& o, std::ostream& out) {
  Module module(bench_module_config(c));
  Decoder decoder = module.begin_decode(c.tokens, c.batch, o.threads);
  Generator generator(7);
  // The cache's past: random keys and values (their values do not change the work), as onnxruntime's past_key and
  // past_value in bench/compare, rather than a prefill whose attention is quadratic in the cache (D2: minutes).
  const std::size_t head_dim = c.d_out / c.heads;
  const Tensor past_key = generator.uniform({c.batch, c.heads, c.tokens - 1, head_dim}, -1.0, 1.0);
  const Tensor past_value = generator.uniform({c.batch, c.heads, c.tokens - 1, head_dim}, -1.0, 1.0);
  decoder.load_past(past_key, past_value);
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
  const std::size_t threads = o.threads ? o.threads : default_num_threads();
  // Medians against medians would need the bandwidth sampled as often as the step; the bandwidth is the best of
  // its passes, so the step's best (min_ms) is set against it too (fraction_of_read_best): on a loaded machine the
  // two fractions bracket the truth.
  const double bytes = decode_kv_bytes(c), gbps = bytes / (median * 1e-3) / 1e9;
  const double best_gbps = bytes / (ms.front() * 1e-3) / 1e9;
  const MemoryBandwidth all = measure_memory_bandwidth(threads);
  const MemoryBandwidth one = threads == 1 ? all : measure_memory_bandwidth(1);
  const std::size_t l3 = l3_cache_bytes();
  const bool fits = l3 != 0 && bytes <= double(l3);  // then the step may read its cache from L3, not DRAM
  std::string s;
  if (o.format == Format::json) {
    s = "{\"config\": \"" + std::string(c.name) + "\", \"kind\": \"decode\", \"threads\": " + std::to_string(threads) +
        ", \"median_ms\": " + number(median) + ", \"min_ms\": " + number(ms.front()) +
        ", \"repeats\": " + std::to_string(k) + ", \"kv_bytes\": " + number(bytes, "%.0f") +
        ", \"kv_gbps\": " + number(gbps) + ", \"read_gbps\": " + number(all.read_gbps) +
        ", \"fraction_of_read\": " + number(gbps / all.read_gbps) + ", \"kv_gbps_best\": " + number(best_gbps) +
        ", \"fraction_of_read_best\": " + number(best_gbps / all.read_gbps) +
        ", \"read_gbps_1_thread\": " + number(one.read_gbps) + ", \"copy_gbps\": " + number(all.copy_gbps) +
        ", \"copy_gbps_1_thread\": " + number(one.copy_gbps) +
        ", \"bandwidth_buffer_bytes\": " + std::to_string(all.bytes) + ", \"l3_bytes\": " + std::to_string(l3) +
        ", \"kv_fits_l3\": " + (fits ? "true" : "false") +
        ", \"mechanism\": \"multihead\", \"causal\": true, \"simd\": \"" + simd_instruction_set() +
        "\", \"shape\": {\"batch\": " + std::to_string(c.batch) + ", \"tokens\": " + std::to_string(c.tokens) +
        ", \"d_in\": " + std::to_string(c.d_in) + ", \"d_out\": " + std::to_string(c.d_out) +
        ", \"heads\": " + std::to_string(c.heads) + "}}\n";
  } else {
    s = std::string(c.name) + "  multihead decode step  b" + std::to_string(c.batch) + " cache " +
        std::to_string(c.tokens) + " d" + std::to_string(c.d_out) + " h" + std::to_string(c.heads) + "\n  median " +
        time_text(median) + "  min " + time_text(ms.front()) + "  K and V (" + number(bytes / 1e6, "%.1f") +
        " MB) read at " + number(gbps, "%.2f") + " GB/s = " + number(100.0 * gbps / all.read_gbps, "%.1f") +
        " % of the memory's read bandwidth " + number(all.read_gbps, "%.2f") + " GB/s (best step " +
        number(best_gbps, "%.2f") + " GB/s = " + number(100.0 * best_gbps / all.read_gbps, "%.1f") + " %) on " +
        std::to_string(threads) + (threads == 1 ? " thread" : " threads") + " (1 thread " +
        number(one.read_gbps, "%.2f") + " GB/s; copy " + number(all.copy_gbps, "%.2f") + " GB/s)" +
        (fits ? "; the cache fits in L3 (" + number(double(l3) / 1048576.0, "%.0f") + " MiB): see D2 for DRAM"
              : std::string()) +
        "  (" + std::to_string(k) + " runs, " + simd_instruction_set() + ")\n";
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
    if (c.kind != BenchKind::forward || c.padding != 0)
      throw Error("--tokens applies to the unpadded forward configs; expected no --tokens for " + std::string(c.name));
    c.tokens = *o.tokens;
  }
  if (c.kind == BenchKind::decode) return bench_decode(c, o, out);
  Module module(bench_module_config(c));
  const Tensor x = bench_input(c);
  ForwardOptions options;
  options.threads = o.threads;
  const std::optional<AttentionMask> padding = bench_key_padding_mask(c);  // P1
  ForwardInputs inputs;
  inputs.key_padding_mask = padding ? &*padding : nullptr;

  using clock = std::chrono::steady_clock;
  module.forward(x, inputs, options);  // warm-up: page in the buffers and start the thread pool
  const auto w0 = clock::now();
  module.forward(x, inputs, options);
  const double first_ms = std::chrono::duration<double, std::milli>(clock::now() - w0).count();
  // A sample is a batch of calls lasting at least kSampleMs, so tiny configurations (C1 is under a microsecond)
  // are not measured at the clock's resolution; the reported times are per call.
  const std::size_t calls =
      first_ms >= kSampleMs ? 1
                            : std::min<std::size_t>(kMaxCalls, std::size_t(kSampleMs / std::max(first_ms, 1e-6)) + 1);
  for (std::size_t i = 1; i < calls; ++i) module.forward(x, inputs, options);  // and as many more warm-up calls
  std::vector<double> ms, cpu_ms;    // per call: wall clock, and the process's CPU time (all its threads)
  PeakSampler peak;                  // the yardstick, sampled between the timed samples (machine.hpp)
  double total = 0, since_peak = 0;  // seconds of timed calls (the peak's samples not counted)
  for (;;) {
    const double c0 = process_cpu_seconds();
    const auto t0 = clock::now();
    for (std::size_t i = 0; i < calls; ++i) module.forward(x, inputs, options);
    const auto t1 = clock::now();
    cpu_ms.push_back(1e3 * (process_cpu_seconds() - c0) / double(calls));
    const double seconds = std::chrono::duration<double>(t1 - t0).count();
    ms.push_back(1e3 * seconds / double(calls));
    total += seconds;
    since_peak += seconds;
    if (since_peak >= kPeakEverySeconds) {  // one ~10 ms peak run per 10 ms of timed calls at most
      peak.sample();
      since_peak = 0;
    }
    if (o.repeats ? ms.size() >= *o.repeats : (ms.size() >= kMinRuns && total >= kMinSeconds) || ms.size() >= kMaxRuns)
      break;
  }
  while (peak.samples() < kMinPeakSamples) peak.sample();
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t k = sorted.size();
  const double median = k % 2 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
  std::sort(cpu_ms.begin(), cpu_ms.end());
  const double cpu_median = k % 2 ? cpu_ms[k / 2] : 0.5 * (cpu_ms[k / 2 - 1] + cpu_ms[k / 2]);
  const double flops = bench_flops(c), gflops = flops / (median * 1e-3) / 1e9;
  const std::size_t threads = o.threads ? o.threads : default_num_threads();
  // Efficiency against the dispatched table's peak on as many cores as threads ran (sampled between the timed
  // samples, in the same process: a same-run ratio on a machine whose speed drifts).
  const Machine machine = describe_machine(&peak);
  const double cores = double(std::min<std::size_t>(threads, std::max<std::size_t>(1, hardware_threads())));
  const double efficiency = gflops / (machine.peak_gflops * cores);
  // The same over CPU time: FLOPs per core-second of the process against the peak per core-second, which a loaded
  // machine's preemptions lengthen neither (idle workers' spinning counts as used).
  const double efficiency_cpu = flops / (cpu_median * 1e-3) / 1e9 / machine.peak_gflops_cpu;
  const double rss_mb = max_rss_mb();  // linear in n on the fused path (C5: 16384 tokens)

  std::string s;
  if (o.format == Format::json) {
    s = "{\"config\": \"" + std::string(c.name) + "\", \"threads\": " + std::to_string(threads) +
        ", \"median_ms\": " + number(median) + ", \"gflops\": " + number(gflops) +
        ", \"efficiency\": " + number(efficiency, "%.4f") + ", \"cpu_median_ms\": " + number(cpu_median) +
        ", \"efficiency_cpu\": " + number(efficiency_cpu, "%.4f") + ", \"max_rss_mb\": " + number(rss_mb, "%.1f") +
        ", \"machine\": " + machine_json(machine) + ", \"min_ms\": " + number(sorted.front()) +
        ", \"repeats\": " + std::to_string(k) + ", \"calls_per_sample\": " + std::to_string(calls) +
        ", \"flops\": " + number(flops, "%.0f") + ", \"padding\": " + std::to_string(c.padding) +
        ", \"mechanism\": \"multihead\", \"causal\": " + (c.causal ? "true" : "false") + ", \"simd\": \"" +
        simd_instruction_set() + "\", \"shape\": {\"batch\": " + std::to_string(c.batch) +
        ", \"tokens\": " + std::to_string(c.tokens) + ", \"d_in\": " + std::to_string(c.d_in) +
        ", \"d_out\": " + std::to_string(c.d_out) + ", \"heads\": " + std::to_string(c.heads) + "}}\n";
  } else {
    s = std::string(c.name) + (c.causal ? "  multihead causal  b" : "  multihead  b") + std::to_string(c.batch) + " n" +
        std::to_string(c.tokens) + " d_in" + std::to_string(c.d_in) + " d_out" + std::to_string(c.d_out) + " h" +
        std::to_string(c.heads) +
        (c.padding ? ", last " + std::to_string(c.padding) + " keys padding (FLOPs of the keys attended)" : "") + "\n" +
        "  median " + time_text(median) + "  min " + time_text(sorted.front()) + "  " + number(gflops, "%.2f") +
        " GFLOP/s  (" + std::to_string(k) + " runs" +
        (calls > 1 ? " of " + std::to_string(calls) + " calls" : std::string()) + ", " + std::to_string(threads) +
        (threads == 1 ? " thread, " : " threads, ") + simd_instruction_set() + ")\n  " +
        number(100.0 * efficiency, "%.1f") + " % of the peak of " + number(cores, "%.0f") +
        (cores == 1 ? " core: " : " cores: ") + machine_text(machine) + "\n  CPU time " + time_text(cpu_median) +
        " per call: " + number(100.0 * efficiency_cpu, "%.1f") + " % of the peak per core-second\n  peak memory " +
        number(rss_mb, "%.0f") + " MB (the process's max RSS)\n";
  }
  out << s << std::flush;
}

}  // namespace attnkit::cli
