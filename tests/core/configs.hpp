// A Config and a constant input in one line, for tests: the seed's constructor arguments in the seed's order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>

#include "attnkit/mechanisms.hpp"
#include "attnkit/tensor.hpp"

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

// A tensor of `shape` with every element v.
inline attnkit::Tensor filled(attnkit::Shape shape, float v = 0.5f) {
  attnkit::Tensor t(std::move(shape));
  for (auto& e : t.data) e = v;
  return t;
}

}  // namespace attnkit_test
