// attnkit — PyTorch's CPU generator, bit for bit (recipe: docs/architecture.md, "Random numbers"), so a module
// seeded like the book draws the book's parameters and dropout masks.
#pragma once
#include <cstdint>
#include <random>

#include "attnkit/tensor.hpp"

namespace attnkit {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 123) : mt_(static_cast<std::uint32_t>(seed)) {}

  std::uint32_t random() { return static_cast<std::uint32_t>(mt_()); }
  std::uint64_t random64();

  // torch.rand: (r & 0xFFFFFF) / 2^24, one draw per element, row-major.
  Tensor rand(const Shape& shape);
  // tensor.uniform_(from, to) in float32, as torch rounds it.
  Tensor uniform(const Shape& shape, double from, double to);
  // nn.Dropout(p) in training mode, in place: inverted dropout, one random64() per element.
  // p == 0 draws nothing; p must be in [0, 1).
  void dropout_(Tensor& t, double p);
  // The same draws over raw memory (n elements), for callers that hold weights outside a Tensor.
  void dropout_(float* data, std::size_t n, double p);

 private:
  std::mt19937 mt_;
};

}  // namespace attnkit
