// attnkit — PyTorch's CPU generator, bit for bit (recipe: docs/architecture.md, "Random numbers"), so a module
// seeded like the book draws the book's parameters and dropout masks.
#pragma once
#include <cstdint>
#include <optional>
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
  // tensor.normal_(mean, std) in float32, as torch 1.13's CPU kernel draws it (nn.Embedding's weights): 16 or more
  // elements as Box–Muller over blocks of 16 float32 uniforms (the last block redrawn over the final 16 when the
  // count is not a multiple of 16); fewer, one double Box–Muller pair per two elements, the second kept for the
  // next such draw as torch's generator keeps it. Equal to torch's to float32 rounding of log, sin and cos.
  Tensor normal(const Shape& shape, double mean = 0.0, double std = 1.0);
  // nn.Dropout(p) in training mode, in place: inverted dropout, one random64() per element.
  // p == 0 draws nothing; p must be in [0, 1).
  void dropout_(Tensor& t, double p);
  // The same draws over raw memory (n elements), for callers that hold weights outside a Tensor.
  void dropout_(float* data, std::size_t n, double p);

 private:
  std::mt19937 mt_;
  std::optional<double> next_normal_;  // torch's next_double_normal_sample
};

}  // namespace attnkit
