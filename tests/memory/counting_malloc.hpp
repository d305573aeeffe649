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

}  // namespace attnkit_memory
