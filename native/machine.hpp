// attnkit CLI — the machine a timing was taken on: the CPU as /proc/cpuinfo names it, and one core's measured
// multiply-add peak at the width of the dispatched kernel table (attnkit/peak.hpp), the denominator of efficiency.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace attnkit::cli {

struct Machine {
  std::string cpu;             // "AMD EPYC 9R14 96-Core Processor" ("unknown" off Linux)
  int family = -1;             // cpu family (25: Zen 3/Zen 4, 26: Zen 5), −1 unknown
  int model = -1;              // model number, −1 unknown
  double mhz = 0.0;            // the clock /proc/cpuinfo reports for the first CPU (0 unknown)
  std::string table;           // the dispatched kernel table, simd_instruction_set()
  double peak_gflops = 0;      // one core's peak for that table, GFLOP/s (median of runs of ~10 ms, wall clock)
  double peak_gflops_cpu = 0;  // the same runs over their CPU time (what preemption on a loaded host leaves out)
};

// One core's multiply-add peak of the dispatched table (attnkit/peak.hpp), sampled: each sample() is one run of
// ~10 ms on the calling thread. A timing takes them between its own samples (attnkit bench: one per 10 ms of timed
// calls), so that its yardstick sees the same state of a shared host as the timed calls (a burst of other work, or of
// the hypervisor's, slows both), instead of whatever the 70 ms right after the timing happen to meet.
class PeakSampler {
 public:
  PeakSampler();  // sizes the run (~1 ms of calibration)
  void sample();
  std::size_t samples() const { return rates_.size(); }
  double gflops() const;      // median over the wall clock
  double gflops_cpu() const;  // median over the thread's CPU time
 private:
  std::size_t steps_ = std::size_t(1) << 12;
  std::vector<double> rates_, cpu_rates_;
};

// Reads /proc/cpuinfo; the peak is `sampled`'s medians, or 7 samples taken now (about 0.1 s).
Machine describe_machine(const PeakSampler* sampled = nullptr);
// "AMD EPYC … (family 25 model 17, 3700 MHz), table avx512bw, peak 118.2 GFLOP/s per core"
std::string machine_text(const Machine& m);
// {"cpu": "…", "family": 25, "model": 17, "mhz": 3700, "table": "avx512bw", "peak_gflops_per_core": 118.2}
std::string machine_json(const Machine& m);

// CPU time used so far by the calling thread, by the whole process (every thread), in seconds.
double thread_cpu_seconds();
double process_cpu_seconds();

// This process's peak resident memory so far (getrusage's ru_maxrss), in MB; 0 where the platform does not say.
double max_rss_mb();

}  // namespace attnkit::cli
