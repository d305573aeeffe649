// attnkit — ak.optimizer() (see optimizer.hpp).
#include "optimizer.hpp"

#include <utility>

#include "convert.hpp"
#include "errors.hpp"

namespace attnkit::wasm {

using emscripten::val;

namespace {

void read(const val& options, const char* name, double& field) {
  const val v = options[name];
  if (!v.isUndefined()) field = v.as<double>();
}
void read(const val& options, const char* name, bool& field) {
  const val v = options[name];
  if (!v.isUndefined()) field = v.isTrue();
}

}  // namespace

val Optimizer::init(const std::string& name, Layer& layer, const val& options) {
  return guarded([&]() -> val {
    const attnkit::StateDict parameters = layer.module_for_update().state_dict();
    if (name == "sgd") {
      attnkit::SGDOptions o;
      const val lr = options["lr"];
      if (!lr.isUndefined()) o.lr = lr.as<double>();
      read(options, "momentum", o.momentum);
      read(options, "dampening", o.dampening);
      read(options, "weight_decay", o.weight_decay);
      read(options, "nesterov", o.nesterov);
      read(options, "maximize", o.maximize);
      optimizer_ = std::make_unique<attnkit::SGD>(parameters, o);
    } else if (name == "adamw") {
      attnkit::AdamWOptions o;
      read(options, "lr", o.lr);
      read(options, "beta1", o.beta1);
      read(options, "beta2", o.beta2);
      read(options, "eps", o.eps);
      read(options, "weight_decay", o.weight_decay);
      read(options, "amsgrad", o.amsgrad);
      read(options, "maximize", o.maximize);
      optimizer_ = std::make_unique<attnkit::AdamW>(parameters, o);
    } else {
      optimizer_ = attnkit::make_optimizer(name, parameters, std::nullopt);  // throws the core's message
    }
    val out = val::object();
    out.set("name", val(std::string(optimizer_->name())));
    out.set("lr", val(optimizer_->lr()));
    return out;
  });
}

val Optimizer::step(Layer& layer, const val& gradients) {
  return guarded([&]() -> val {
    if (!optimizer_) throw attnkit::Error("optimizer was disposed; make a new one with ak.optimizer()");
    attnkit::Module& module = layer.module_for_update();
    attnkit::StateDict given;
    if (!gradients.isUndefined()) {
      const std::size_t n = gradients["length"].as<std::size_t>();
      for (std::size_t i = 0; i < n; ++i) {
        const val e = gradients[i];
        given.emplace_back(e["name"].as<std::string>(), tensor_from(e["shape"], e["data"]));
      }
    } else if (layer.accumulated_grads().empty()) {
      throw attnkit::Error(
          "step() has no gradients: none were given and the layer has none accumulated (zeroGrad() since the last "
          "backward, or no backward yet); expected layer.backward(gradContext) first, or step(grads)");
    }
    attnkit::StateDict parameters = module.state_dict();
    optimizer_->step(parameters, gradients.isUndefined() ? layer.accumulated_grads() : given);
    module.load_state_dict(parameters);
    val out = val::object();
    out.set("steps", val(static_cast<double>(optimizer_->steps())));
    return out;
  });
}

}  // namespace attnkit::wasm
