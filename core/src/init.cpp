#include "init.hpp"

#include <cmath>

namespace attnkit::detail {

Tensor linear_init(Generator& generator, const Shape& shape, std::size_t fan_in) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return generator.uniform(shape, -bound, bound);
}

StateDict draw_linear_parameters(Generator& generator, const std::vector<std::pair<std::string, Shape>>& shapes) {
  StateDict params;
  for (const auto& [name, shape] : shapes) {
    const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const std::size_t fan_in = bias ? params.back().second.shape.at(1) : shape.at(1);
    params.emplace_back(name, linear_init(generator, shape, fan_in));
  }
  return params;
}

}  // namespace attnkit::detail
