// attnkit — saturating size arithmetic for the memory estimates (forward_bytes.cpp, model_bytes.cpp): a count past
// SIZE_MAX stays SIZE_MAX, so it is refused by any memory limit instead of wrapping to a small number.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <limits>

namespace attnkit::detail::saturating {

constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
inline std::size_t add(std::size_t a, std::size_t b) { return a > kMax - b ? kMax : a + b; }
inline std::size_t mul(std::size_t a, std::size_t b) { return b != 0 && a > kMax / b ? kMax : a * b; }
inline std::size_t mul(std::initializer_list<std::size_t> factors) {
  std::size_t p = 1;
  for (std::size_t f : factors) p = mul(p, f);
  return p;
}
inline std::size_t sum(std::initializer_list<std::size_t> terms) {
  std::size_t s = 0;
  for (std::size_t t : terms) s = add(s, t);
  return s;
}

}  // namespace attnkit::detail::saturating
