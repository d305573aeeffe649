// attnkit CLI — describe_machine: /proc/cpuinfo and the measured peak of the dispatched kernel table.
#include "machine.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
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

// One core's GFLOP/s for the dispatched table: steps sized so a run takes ~10 ms, median of 7, over the wall clock
// (*cpu_gflops: over this thread's CPU time, which a loaded machine's preemptions do not lengthen).
double measure_peak_gflops(double* cpu_gflops) {
  using clock = std::chrono::steady_clock;
  std::size_t steps = 1 << 12;
  for (;;) {  // grow until a run lasts 10 ms
    const auto t0 = clock::now();
    fma_peak_work("", steps);
    if (std::chrono::duration<double>(clock::now() - t0).count() > 0.01 || steps >= (std::size_t(1) << 30)) break;
    steps *= 2;
  }
  std::vector<double> rates, cpu_rates;
  for (int r = 0; r < 7; ++r) {
    const double c0 = thread_cpu_seconds();
    const auto t0 = clock::now();
    const double flops = fma_peak_work("", steps);
    rates.push_back(flops / std::chrono::duration<double>(clock::now() - t0).count() / 1e9);
    cpu_rates.push_back(flops / std::max(thread_cpu_seconds() - c0, 1e-9) / 1e9);
  }
  std::sort(cpu_rates.begin(), cpu_rates.end());
  *cpu_gflops = cpu_rates[cpu_rates.size() / 2];
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

std::string fixed(double v, const char* format) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

}  // namespace

Machine describe_machine() {
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
  m.peak_gflops = measure_peak_gflops(&m.peak_gflops_cpu);
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
