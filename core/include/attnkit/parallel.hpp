// attnkit — the one place that owns threads. Kernels never create threads: they receive a row range
// (ith, nth) and the pool calls them. Work is split so each output element is written by exactly one
// thread in a fixed order, so results are bitwise identical for any thread count.
#pragma once
#include <cstddef>
#include <functional>

namespace attnkit {

// Threads used when a call does not say (default: hardware concurrency; 1 in a build without threads).
std::size_t default_num_threads();
void set_default_num_threads(std::size_t n);  // 0 restores the hardware default
std::size_t hardware_threads();

// Runs fn(ith, nth) for ith in [0, nth) on min(nth, threads) workers; returns when all are done.
// threads == 0 means default_num_threads(). Exceptions in fn are rethrown in the caller.
void parallel_for(std::size_t nth, std::size_t threads,
                  const std::function<void(std::size_t ith, std::size_t nth)>& fn);

// Splits [0, n) into nth nearly equal parts; part ith is [begin, end).
inline void split_range(std::size_t n, std::size_t ith, std::size_t nth, std::size_t& begin, std::size_t& end) {
  const std::size_t base = n / nth, extra = n % nth;
  begin = ith * base + (ith < extra ? ith : extra);
  end = begin + base + (ith < extra ? 1 : 0);
}

}  // namespace attnkit
