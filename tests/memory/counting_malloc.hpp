// The heap of this test binary, counted (counting_malloc.cpp).
#pragma once
#include <cstddef>

namespace attnkit_memory {

std::size_t bytes_in_use();
// The peak from now on starts at the bytes in use now.
void reset_peak();
std::size_t peak_bytes();
// How many threads allocated anything since reset_peak().
std::size_t allocating_threads();
// How many allocations were made since reset_peak().
std::size_t allocations();

// glibc hands out a free chunk whole when what would be left after the request is smaller than its smallest chunk
// (MINSIZE, 32 bytes), so one allocation can take 16 bytes more than a fresh heap gives the same request: what a
// call allocates depends, by that much per allocation, on the free chunks the process inherited.
constexpr std::size_t kUnsplitBytes = 16;
// The most the heap the process inherited can add to the peak since reset_peak().
inline std::size_t inherited_heap_slack() { return kUnsplitBytes * allocations(); }

}  // namespace attnkit_memory
