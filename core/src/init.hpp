// attnkit — PyTorch's default initialisations, drawn from a Generator in torch's order. Internal to core.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "attnkit/parameters.hpp"

#include "attnkit/random.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit::detail {

// nn.Linear.reset_parameters: kaiming_uniform_(weight, a=√5) is U(−1/√fan_in, 1/√fan_in), and the bias takes the
// same bound. shape is the weight's (out, in) or the bias's (out); fan_in is the weight's in.
Tensor linear_init(Generator& generator, const Shape& shape, std::size_t fan_in);

// nn.Linear layers' weights and biases in state_dict order (name, shape): a ".bias" takes the fan_in of the weight
// drawn just before it.
StateDict draw_linear_parameters(Generator& generator, const std::vector<std::pair<std::string, Shape>>& shapes);

// nn.Embedding.reset_parameters: normal_(weight), N(0, 1).
inline Tensor embedding_init(Generator& generator, const Shape& shape) { return generator.normal(shape); }

}  // namespace attnkit::detail
