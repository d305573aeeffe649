#include "attnkit/random.hpp"

#include <cmath>

#include "attnkit/errors.hpp"

namespace attnkit {

std::uint64_t Generator::random64() {
  const std::uint64_t hi = random();
  const std::uint64_t lo = random();
  return (hi << 32) | lo;
}

Tensor Generator::rand(const Shape& shape) {
  Tensor t(shape);
  for (float& v : t.data) v = static_cast<float>(random() & 0xFFFFFFu) / static_cast<float>(1u << 24);
  return t;
}

Tensor Generator::uniform(const Shape& shape, double from, double to) {
  Tensor out(shape);
  const double f = static_cast<float>(from), t = static_cast<float>(to);
  for (float& v : out.data) {
    const float x = static_cast<float>(random() & 0xFFFFFFu) / static_cast<float>(1u << 24);
    // torch takes the bounds as float32, computes x·(to − from) + from in double, rounds once to float32.
    v = static_cast<float>(static_cast<double>(x) * (t - f) + f);
  }
  return out;
}

void Generator::dropout_(Tensor& t, double p) { dropout_(t.ptr(), t.numel(), p); }

void Generator::dropout_(float* data, std::size_t n, double p) {
  if (!(p >= 0.0 && p < 1.0)) throw Error("dropout (" + format_number(p) + ") must be in [0, 1)", ErrorKind::range);
  if (p == 0.0) return;  // PyTorch draws nothing for p = 0
  const double keep = 1.0 - p;
  const float scale = static_cast<float>(1.0f / static_cast<float>(keep));
  constexpr std::uint64_t mask53 = (std::uint64_t(1) << 53) - 1;
  for (std::size_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(random64() & mask53) / 9007199254740992.0;  // 2^53
    data[i] = u < keep ? data[i] * scale : 0.0f;
  }
}

}  // namespace attnkit
