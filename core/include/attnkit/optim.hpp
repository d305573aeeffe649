// attnkit — torch.optim's SGD and AdamW (PyTorch 1.13, the single-tensor path), step for step, on named parameters:
// a StateDict and its gradients under the same names (Module::backward's ModuleGrad::params, Model::backward).
//
//   SGD    g ← g + wd·p;  buf ← g (first step) or momentum·buf + (1 − dampening)·g;  g ← g + momentum·buf (nesterov)
//          or buf (momentum ≠ 0);  p ← p − lr·g
//   AdamW  t ← t + 1;  p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
//          p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)
//
// Float32 like torch: each hyper-parameter product is formed in double and rounded to float32 where torch passes
// it to a kernel. A parameter without a gradient in a step is skipped, as torch skips p.grad = None (its state and
// step count stay).
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "attnkit/parameters.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

// One parameter's state, as torch keeps optimizer.state[p].
struct OptimizerState {
  std::size_t step = 0;    // AdamW: state['step']; SGD: the steps this parameter took (torch keeps none)
  Tensor momentum_buffer;  // SGD with momentum ≠ 0: empty (torch: None) until the first step copies the gradient
  Tensor exp_avg;          // AdamW: zeros at construction
  Tensor exp_avg_sq;       // AdamW: zeros at construction
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = default;
  Optimizer& operator=(const Optimizer&) = default;

  // Updates `parameters` in place from `gradients`. Every gradient must name a parameter given at construction,
  // with its shape and finite values; `parameters` must hold exactly the names and shapes given at construction.
  // Everything is checked before anything changes: on an Error (naming the parameter and the expected value)
  // neither the parameters nor the state have moved.
  void step(StateDict& parameters, const StateDict& gradients);

  const char* name() const noexcept { return name_; }  // "sgd" or "adamw"
  double lr() const noexcept { return lr_; }
  std::size_t steps() const noexcept { return steps_; }  // step() calls that succeeded
  // nullptr for a name not given at construction.
  const OptimizerState* state(const std::string& parameter) const;

 protected:
  // The names and shapes of `parameters` (values unread) are the ones step() accepts from then on.
  Optimizer(const char* name, double lr, const StateDict& parameters);
  // One parameter's update; gradient has the parameter's shape and is finite.
  virtual void update(Tensor& parameter, const Tensor& gradient, OptimizerState& state) const = 0;

  struct Slot {
    std::string name;
    Shape shape;
    OptimizerState state;
  };
  std::vector<Slot> slots_;
  double lr_;
  std::vector<std::pair<Tensor, OptimizerState>> scratch_;  // step()'s copies, reused (core/src/optim.cpp)

 private:
  const char* name_;
  std::size_t steps_ = 0;
};

// torch.optim.SGD's defaults; lr has none in torch either (lr=required) and must be given.
struct SGDOptions {
  std::optional<double> lr;  // >= 0
  double momentum = 0.0;     // >= 0
  double dampening = 0.0;
  double weight_decay = 0.0;  // >= 0
  bool nesterov = false;      // needs momentum > 0 and dampening == 0
  bool maximize = false;      // true is refused ("not supported")
};

class SGD final : public Optimizer {
 public:
  // Throws Error (range) naming a bad hyper-parameter and its allowed values.
  SGD(const StateDict& parameters, const SGDOptions& options);
  const SGDOptions& options() const noexcept { return options_; }

 private:
  void update(Tensor& parameter, const Tensor& gradient, OptimizerState& state) const override;
  SGDOptions options_;
};

// torch.optim.AdamW's defaults.
struct AdamWOptions {
  double lr = 1e-3;                   // >= 0
  double beta1 = 0.9, beta2 = 0.999;  // each in [0, 1)
  double eps = 1e-8;                  // >= 0
  double weight_decay = 1e-2;         // >= 0
  bool amsgrad = false;               // true is refused ("not supported")
  bool maximize = false;              // true is refused ("not supported")
};

class AdamW final : public Optimizer {
 public:
  // Throws Error (range) naming a bad hyper-parameter and its allowed values.
  AdamW(const StateDict& parameters, const AdamWOptions& options);
  const AdamWOptions& options() const noexcept { return options_; }

 private:
  void update(Tensor& parameter, const Tensor& gradient, OptimizerState& state) const override;
  AdamWOptions options_;
};

// By name, for the CLI and bindings: "sgd" (lr required; momentum and the rest 0) or "adamw" (torch's defaults;
// lr overrides). Throws Error for another name: "unknown optimizer 'x'; expected adamw or sgd".
std::unique_ptr<Optimizer> make_optimizer(std::string_view name, const StateDict& parameters, std::optional<double> lr);

}  // namespace attnkit
