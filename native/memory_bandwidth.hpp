// attnkit CLI — this machine's memory bandwidth, the yardstick of a decoding step (it streams its keys and values
// once): reading and copying buffers far past the last-level cache, on one thread and on several.
#pragma once
#include <cstddef>

namespace attnkit::cli {

struct MemoryBandwidth {
  double read_gbps = 0;                // bytes read per second (1e9), the best of several passes
  double copy_gbps = 0;                // memcpy: bytes read plus bytes written per second (STREAM's convention)
  std::size_t bytes = 0, threads = 1;  // the buffer read (and each of the two copied); threads that shared it
};

// The last-level (L3) cache's size in bytes as the OS reports it (Linux's sysfs, else sysconf); 0 when it does not.
std::size_t l3_cache_bytes();
// Buffers of `bytes` (0: the larger of 256 MiB and 8× the L3 cache, at most 1 GiB), split evenly over `threads` threads of the
// pool (core/src/parallel.cpp), each reading (copying) its own part.
MemoryBandwidth measure_memory_bandwidth(std::size_t threads, std::size_t bytes = 0);

}  // namespace attnkit::cli
