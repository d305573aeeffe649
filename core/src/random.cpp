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

namespace attnkit {

Tensor Generator::normal(const Shape& shape, double mean, double std) {
  Tensor out(shape);
  float* data = out.ptr();
  const std::size_t n = out.numel();
  const auto uniform_float = [this] { return static_cast<float>(random() & 0xFFFFFFu) / static_cast<float>(1u << 24); };
  if (n >= 16) {
    // aten/src/ATen/native/cpu/DistributionTemplates.h: normal_fill and normal_fill_16, in float32.
    const float m = static_cast<float>(mean), s = static_cast<float>(std);
    const auto fill16 = [m, s](float* d) {
      for (int j = 0; j < 8; ++j) {
        const float u1 = 1.0f - d[j], u2 = d[j + 8];  // [0, 1) → (0, 1] for the log
        const float radius = std::sqrt(-2.0f * std::log(u1));
        const float theta = static_cast<float>(2.0 * 3.14159265358979323846 * static_cast<double>(u2));
        d[j] = radius * std::cos(theta) * s + m;
        d[j + 8] = radius * std::sin(theta) * s + m;
      }
    };
    for (std::size_t i = 0; i < n; ++i) data[i] = uniform_float();
    for (std::size_t i = 0; i + 16 <= n; i += 16) fill16(data + i);
    if (n % 16 != 0) {
      float* tail = data + n - 16;
      for (int i = 0; i < 16; ++i) tail[i] = uniform_float();
      fill16(tail);
    }
    return out;
  }
  // at::normal_distribution<double>: u1, u2 of 53 bits; r·cos θ now, r·sin θ cached for the next element.
  constexpr std::uint64_t mask53 = (std::uint64_t(1) << 53) - 1;
  for (std::size_t i = 0; i < n; ++i) {
    double z;
    if (next_normal_) {
      z = *next_normal_;
      next_normal_.reset();
    } else {
      const double u1 = static_cast<double>(random64() & mask53) / 9007199254740992.0;
      const double u2 = static_cast<double>(random64() & mask53) / 9007199254740992.0;
      const double r = std::sqrt(-2.0 * std::log(1.0 - u2));
      const double theta = 2.0 * 3.14159265358979323846 * u1;
      next_normal_ = r * std::sin(theta);
      z = r * std::cos(theta);
    }
    data[i] = static_cast<float>(z * std + mean);
  }
  return out;
}

}  // namespace attnkit
