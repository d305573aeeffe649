// attnkit CLI — memory bandwidth (memory_bandwidth.hpp): every thread reads (or memcpy's) its own contiguous part of
// one large buffer; wall time around the whole pass, best of several passes after one that pages the buffers in.
#include "memory_bandwidth.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "attnkit/parallel.hpp"

namespace attnkit::cli {
namespace {

constexpr int kPasses = 6;  // the first one is not timed

// Sums n words with 8 independent chains: loads, not the adds, set the pace (8 bytes a load, two loads a cycle is
// far more than one core's share of DRAM).
std::uint64_t read_words(const std::uint64_t* p, std::size_t n) {
  std::uint64_t a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t k = 0; k < 8; ++k) a[k] += p[i + k];
  for (; i < n; ++i) a[0] += p[i];
  return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

template <class Fn>
double best_seconds(std::size_t threads, Fn pass) {
  double best = 1e30;
  for (int r = 0; r < kPasses; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(threads, threads, pass);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);
  }
  return best;
}

}  // namespace

std::size_t l3_cache_bytes() {
  // Linux's sysfs first: what lscpu prints (some VMs' sysconf reports ten times the L3 lscpu shows).
  if (std::FILE* f = std::fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r")) {
    unsigned long long size = 0;
    char unit = 0;
    const int got = std::fscanf(f, "%llu%c", &size, &unit);
    std::fclose(f);
    if (got >= 1 && size > 0)
      return static_cast<std::size_t>(size) * (unit == 'K' ? 1024 : unit == 'M' ? 1048576 : unit == 'G' ? 1 << 30 : 1);
  }
#ifdef _SC_LEVEL3_CACHE_SIZE
  const long l3 = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
  return l3 > 0 ? static_cast<std::size_t>(l3) : 0;
#else
  return 0;
#endif
}

MemoryBandwidth measure_memory_bandwidth(std::size_t threads, std::size_t bytes) {
  MemoryBandwidth m;
  m.threads = threads = std::max<std::size_t>(threads, 1);
  m.bytes = bytes ? bytes
                  : std::min<std::size_t>(std::size_t(1) << 30,
                                          std::max<std::size_t>(std::size_t(256) << 20, 8 * l3_cache_bytes()));
  const std::size_t words = m.bytes / sizeof(std::uint64_t);
  std::vector<std::uint64_t> src(words, 1), dst(words, 0);
  std::vector<std::uint64_t> sums(threads, 0);
  const double read = best_seconds(threads, [&](std::size_t ith, std::size_t nth) {
    std::size_t begin, end;
    split_range(words, ith, nth, begin, end);
    sums[ith] += read_words(src.data() + begin, end - begin);
  });
  const double copy = best_seconds(threads, [&](std::size_t ith, std::size_t nth) {
    std::size_t begin, end;
    split_range(words, ith, nth, begin, end);
    std::memcpy(dst.data() + begin, src.data() + begin, (end - begin) * sizeof(std::uint64_t));
  });
  std::uint64_t total = 0;  // the sums are used, so the reads are not optimised away
  for (std::uint64_t s : sums) total += s;
  m.read_gbps = double(words * sizeof(std::uint64_t)) / read / 1e9 + (total == 0 ? 1e-12 : 0.0);
  m.copy_gbps = 2.0 * double(words * sizeof(std::uint64_t)) / copy / 1e9 + 0.0 * double(dst[words / 2]);
  return m;
}

}  // namespace attnkit::cli
