// attnkit — a Module's parameters drawn from its seed exactly as PyTorch draws them.
#include "attnkit/mechanisms.hpp"
#include "init.hpp"

namespace attnkit {

void Module::draw_parameters() {
  // PyTorch draws in construction order; the state_dict lists parameters in that same order.
  if (config_.mechanism != Mechanism::self_v1) {
    params_ = detail::draw_linear_parameters(generator_, parameter_shapes());  // nn.Linear layers
    return;
  }
  for (const auto& [name, shape] : parameter_shapes())
    params_.emplace_back(name, generator_.rand(shape));  // torch.rand(d_in, d_out)
}

}  // namespace attnkit
