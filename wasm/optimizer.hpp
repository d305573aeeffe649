// attnkit — ak.optimizer(): torch.optim's SGD and AdamW (attnkit/optim.hpp) over one layer's parameters. The
// optimizer keeps its state (momentum buffers, Adam's moments) in wasm; each step reads the layer's state_dict,
// updates it and loads it back (Module::load_state_dict, which repacks the kernels' weights).
#pragma once
#include <emscripten/val.h>

#include <memory>
#include <string>

#include "attnkit/optim.hpp"
#include "layer.hpp"

namespace attnkit::wasm {

class Optimizer {
 public:
  Optimizer() = default;

  // name: "sgd" or "adamw"; options: the snake_case hyper-parameters wasm/src/optimizer.mjs read (lr, momentum,
  // dampening, weight_decay, nesterov, beta1, beta2, eps, amsgrad, maximize), each left out keeps torch's default.
  // → { name, lr } or { error, status }.
  emscripten::val init(const std::string& name, Layer& layer, const emscripten::val& options);
  // One step on `layer` (the one given to init) with `gradients` ([{ name, shape, data }]) or, when undefined, the
  // layer's accumulated gradients (layer.backward since zeroGrad). → { steps } or { error, status }; on an error
  // neither the parameters nor the optimizer's state have moved.
  emscripten::val step(Layer& layer, const emscripten::val& gradients);
  double steps() const { return optimizer_ ? static_cast<double>(optimizer_->steps()) : 0.0; }
  void release() { optimizer_.reset(); }

 private:
  std::unique_ptr<attnkit::Optimizer> optimizer_;
};

}  // namespace attnkit::wasm
