// attnkit — torch.optim.AdamW (1.13, _single_tensor_adamw without amsgrad), in float32 as torch computes it.
#include <cmath>

#include "attnkit/errors.hpp"
#include "attnkit/optim.hpp"

namespace attnkit {
namespace {

void check_nonnegative(const char* what, double v) {
  if (!(v >= 0.0) || std::isinf(v))
    throw Error(std::string("AdamW: ") + what + " (" + format_number(v) + ") must be a finite number >= 0",
                ErrorKind::range);
}

void check_beta(const char* what, double v) {
  if (!(v >= 0.0 && v < 1.0))
    throw Error(std::string("AdamW: ") + what + " (" + format_number(v) + ") must be in [0, 1)", ErrorKind::range);
}

}  // namespace

AdamW::AdamW(const StateDict& parameters, const AdamWOptions& options)
    : Optimizer("adamw", options.lr, parameters), options_(options) {
  check_nonnegative("lr", options.lr);
  check_nonnegative("eps", options.eps);
  check_beta("beta1", options.beta1);
  check_beta("beta2", options.beta2);
  check_nonnegative("weight_decay", options.weight_decay);
  if (options.amsgrad) throw Error("AdamW: amsgrad=true is not supported; expected amsgrad=false");
  if (options.maximize) throw Error("AdamW: maximize=true is not supported; expected maximize=false");
  for (Slot& s : slots_) {  // torch: zeros_like(p) when the state is first made
    s.state.exp_avg = Tensor(s.shape);
    s.state.exp_avg_sq = Tensor(s.shape);
  }
}

void AdamW::update(Tensor& parameter, const Tensor& gradient, OptimizerState& state) const {
  const AdamWOptions& o = options_;
  const double step = static_cast<double>(++state.step);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, step);
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(o.beta2, step));
  // torch forms these in Python (double) and hands each to its kernel as a float32 scalar.
  const float decay = static_cast<float>(1.0 - o.lr * o.weight_decay);
  const float beta1 = static_cast<float>(o.beta1), keep1 = static_cast<float>(1.0 - o.beta1);
  const float beta2 = static_cast<float>(o.beta2), keep2 = static_cast<float>(1.0 - o.beta2);
  const float correction2 = static_cast<float>(bias_correction2_sqrt), eps = static_cast<float>(o.eps);
  const float step_size = static_cast<float>(-(o.lr / bias_correction1));
  float* p = parameter.ptr();
  float* m = state.exp_avg.ptr();
  float* v = state.exp_avg_sq.ptr();
  const float* g = gradient.ptr();
  for (std::size_t i = 0, n = parameter.numel(); i < n; ++i) {
    p[i] *= decay;
    m[i] = m[i] * beta1 + keep1 * g[i];
    v[i] = v[i] * beta2 + keep2 * g[i] * g[i];
    const float denom = std::sqrt(v[i]) / correction2 + eps;
    p[i] += step_size * (m[i] / denom);
  }
}

}  // namespace attnkit
