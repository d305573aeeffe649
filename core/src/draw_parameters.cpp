// attnkit — a Module's parameters drawn from its seed exactly as PyTorch draws them.
#include <cmath>

#include "attnkit/mechanisms.hpp"

namespace attnkit {

void Module::draw_parameters() {
  // PyTorch draws in construction order; the state_dict lists parameters in that same order.
  for (const auto& [name, shape] : parameter_shapes()) {
    if (config_.mechanism == Mechanism::self_v1) {
      params_.emplace_back(name, generator_.rand(shape));  // torch.rand(d_in, d_out)
    } else {
      // nn.Linear: kaiming_uniform_(a=√5) gives bound 1/√fan_in for the weight; the bias uses the same bound.
      const std::size_t fan_in =
          name.compare(name.size() - 5, 5, ".bias") == 0 ? params_.back().second.shape[1] : shape[1];
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      params_.emplace_back(name, generator_.uniform(shape, -bound, bound));
    }
  }
}

}  // namespace attnkit
