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

// glibc hands out a free chunk whole when what would be left after the request is smaller than its smallest chunk
// (MINSIZE, 32 bytes), so one allocation can take up to 16 bytes more than a fresh heap gives the same request: what
// a call allocates depends, by that much, on the free chunks the process inherited.
constexpr std::size_t kUnsplitBytes = 16;
// The bytes allocations since reset_peak() got past what a fresh heap gives their requests (at most kUnsplitBytes
// each): the most the inherited heap can have added to the peak.
std::size_t unsplit_bytes();

}  // namespace attnkit_memory
