// attnkit CLI — describe_machine: /proc/cpuinfo and the measured peak of the dispatched kernel table.
#include "machine.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <optional>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "json_io.hpp"

namespace attnkit::cli {
namespace {

// The value of the first "key : value" line of /proc/cpuinfo whose key is `key`, or "".
std::string cpuinfo_field(const std::vector<std::string>& lines, const std::string& key) {
  for (const auto& line : lines) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon);
    while (!k.empty() && (k.back() == ' ' || k.back() == '\t')) k.pop_back();
    if (k != key) continue;
    std::size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    return line.substr(v);
  }
  return "";
}

std::string fixed(double v, const char* format) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

PeakSampler::PeakSampler() {
  using clock = std::chrono::steady_clock;
  for (;;) {  // grow until a run lasts 10 ms
    const auto t0 = clock::now();
    fma_peak_work("", steps_);
    if (std::chrono::duration<double>(clock::now() - t0).count() > 0.01 || steps_ >= (std::size_t(1) << 30)) break;
    steps_ *= 2;
  }
}

void PeakSampler::sample() {
  using clock = std::chrono::steady_clock;
  const double c0 = thread_cpu_seconds();
  const auto t0 = clock::now();
  const double flops = fma_peak_work("", steps_);
  rates_.push_back(flops / std::chrono::duration<double>(clock::now() - t0).count() / 1e9);
  cpu_rates_.push_back(flops / std::max(thread_cpu_seconds() - c0, 1e-9) / 1e9);
}

double PeakSampler::gflops() const { return median(rates_); }
double PeakSampler::gflops_cpu() const { return median(cpu_rates_); }

Machine describe_machine(const PeakSampler* sampled) {
  Machine m;
  std::ifstream in("/proc/cpuinfo");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line) && !line.empty();) lines.push_back(line);  // the first CPU only
  m.cpu = cpuinfo_field(lines, "model name");
  if (m.cpu.empty()) m.cpu = "unknown";
  const std::string family = cpuinfo_field(lines, "cpu family"), model = cpuinfo_field(lines, "model"),
                    mhz = cpuinfo_field(lines, "cpu MHz");
  if (!family.empty()) m.family = std::atoi(family.c_str());
  if (!model.empty()) m.model = std::atoi(model.c_str());
  if (!mhz.empty()) m.mhz = std::atof(mhz.c_str());
  m.table = simd_instruction_set();
  std::optional<PeakSampler> now;  // sampled here only when the caller took no samples
  if (!sampled || sampled->samples() == 0) {
    now.emplace();
    for (int r = 0; r < 7; ++r) now->sample();
    sampled = &*now;
  }
  m.peak_gflops = sampled->gflops();
  m.peak_gflops_cpu = sampled->gflops_cpu();
  return m;
}

std::string machine_text(const Machine& m) {
  return m.cpu + " (family " + std::to_string(m.family) + " model " + std::to_string(m.model) + ", " +
         fixed(m.mhz, "%.0f") + " MHz), table " + m.table + ", peak " + fixed(m.peak_gflops, "%.1f") +
         " GFLOP/s per core";
}

std::string machine_json(const Machine& m) {
  std::string s = "{\"cpu\": ";
  append_string(s, m.cpu);
  s += ", \"family\": " + std::to_string(m.family) + ", \"model\": " + std::to_string(m.model) +
       ", \"mhz\": " + fixed(m.mhz, "%.0f") + ", \"table\": ";
  append_string(s, m.table);
  s += ", \"peak_gflops_per_core\": " + fixed(m.peak_gflops, "%.2f") +
       ", \"peak_gflops_per_core_cpu\": " + fixed(m.peak_gflops_cpu, "%.2f") + "}";
  return s;
}

double thread_cpu_seconds() {
  timespec t{};
  return clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0 ? double(t.tv_sec) + 1e-9 * double(t.tv_nsec) : 0.0;
}

double process_cpu_seconds() {
  timespec t{};
  return clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) == 0 ? double(t.tv_sec) + 1e-9 * double(t.tv_nsec) : 0.0;
}

double max_rss_mb() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports kilobytes
}

}  // namespace attnkit::cli
