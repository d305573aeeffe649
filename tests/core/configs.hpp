// A Config in one line, for tests: the seed's constructor arguments in the seed's order.
#pragma once
#include <cstddef>
#include <cstdint>

#include "attnkit/mechanisms.hpp"

namespace attnkit_test {

inline attnkit::Config make_config(attnkit::Mechanism m, std::size_t d_in, std::size_t d_out, std::size_t heads = 1,
                                   std::size_t context_length = 0, std::uint64_t seed = 123) {
  attnkit::Config c;
  c.mechanism = m;
  c.d_in = d_in;
  c.d_out = d_out;
  c.num_heads = heads;
  c.context_length = context_length;
  c.seed = seed;
  return c;
}

}  // namespace attnkit_test
