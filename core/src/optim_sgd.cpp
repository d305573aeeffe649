// attnkit — torch.optim.SGD (1.13, _single_tensor_sgd), in float32 as torch computes it.
#include <cmath>

#include "attnkit/errors.hpp"
#include "attnkit/optim.hpp"

namespace attnkit {
namespace {

void check_nonnegative(const char* what, double v) {
  if (!(v >= 0.0) || std::isinf(v))
    throw Error(std::string("SGD: ") + what + " (" + format_number(v) + ") must be a finite number >= 0",
                ErrorKind::range);
}

}  // namespace

SGD::SGD(const StateDict& parameters, const SGDOptions& options)
    : Optimizer("sgd", options.lr.value_or(0.0), parameters), options_(options) {
  if (!options.lr) throw Error("SGD: lr is required (torch.optim.SGD has no default); expected a number >= 0");
  check_nonnegative("lr", *options.lr);
  check_nonnegative("momentum", options.momentum);
  check_nonnegative("weight_decay", options.weight_decay);
  if (!std::isfinite(options.dampening))
    throw Error("SGD: dampening (" + format_number(options.dampening) + ") must be a finite number", ErrorKind::range);
  if (options.nesterov && (options.momentum <= 0.0 || options.dampening != 0.0))
    throw Error("SGD: nesterov needs momentum > 0 and dampening = 0 (got momentum " + format_number(options.momentum) +
                    ", dampening " + format_number(options.dampening) + ")",
                ErrorKind::range);
  if (options.maximize) throw Error("SGD: maximize=true is not supported; expected maximize=false");
}

void SGD::update(Tensor& parameter, const Tensor& gradient, OptimizerState& state) const {
  const SGDOptions& o = options_;
  const std::size_t n = parameter.numel();
  float* p = parameter.ptr();
  // torch passes each Python float to its kernels as a float32 scalar.
  const float weight_decay = static_cast<float>(o.weight_decay), momentum = static_cast<float>(o.momentum);
  const float keep = static_cast<float>(1.0 - o.dampening), step = static_cast<float>(-*o.lr);
  std::vector<float> direction(gradient.data);  // d_p
  if (o.weight_decay != 0.0)
    for (std::size_t i = 0; i < n; ++i) direction[i] += weight_decay * p[i];
  if (o.momentum != 0.0) {
    if (state.momentum_buffer.empty()) {
      state.momentum_buffer = Tensor(parameter.shape, direction);  // torch.clone(d_p)
    } else {
      float* buf = state.momentum_buffer.ptr();
      for (std::size_t i = 0; i < n; ++i) buf[i] = buf[i] * momentum + keep * direction[i];
    }
    const float* buf = state.momentum_buffer.ptr();
    for (std::size_t i = 0; i < n; ++i) direction[i] = o.nesterov ? direction[i] + momentum * buf[i] : buf[i];
  }
  for (std::size_t i = 0; i < n; ++i) p[i] += step * direction[i];
  ++state.step;
}

}  // namespace attnkit
