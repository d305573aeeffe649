// attnkit — layer.backward() and the gradients a layer accumulates until zeroGrad(), as torch keeps param.grad
// (wasm/layer.hpp). The gradients themselves are the core's (Module::backward); only their running sum is kept here.
#include <cstddef>
#include <string>
#include <utility>

#include "convert.hpp"
#include "errors.hpp"
#include "layer.hpp"

namespace attnkit::wasm {

using emscripten::val;

namespace {

val entries_to_js(const attnkit::StateDict& sd) {
  val list = val::array();
  for (std::size_t i = 0; i < sd.size(); ++i) {
    val item = tensor_to_js(sd[i].second);
    item.set("name", val(sd[i].first));
    list.set(i, item);
  }
  return list;
}

}  // namespace

val Layer::backward(const val& grad_context) {
  return guarded([&]() -> val {
    attnkit::Module& m = module_for_update();
    const attnkit::Tensor g = tensor_from(grad_context["shape"], grad_context["data"]);
    attnkit::ModuleGrad r = m.backward(g);
    // accumulated before anything is returned: a later failure of the copies out leaves the sum consistent
    if (grads_.empty()) {
      grads_ = r.params;
    } else {
      for (std::size_t i = 0; i < grads_.size(); ++i) {
        float* sum = grads_[i].second.ptr();
        const float* term = r.params[i].second.ptr();
        for (std::size_t e = 0, n = grads_[i].second.numel(); e < n; ++e) sum[e] += term[e];
      }
    }
    val out = val::object();
    out.set("input", tensor_to_js(r.input));
    if (r.kv.numel()) out.set("kv", tensor_to_js(r.kv));
    if (r.value_input.numel()) out.set("value", tensor_to_js(r.value_input));
    out.set("params", entries_to_js(r.params));
    return out;
  });
}

val Layer::grads() const {
  return guarded([&]() -> val {
    module();  // throws if disposed
    return entries_to_js(grads_);
  });
}

void Layer::zero_grad() { grads_ = attnkit::StateDict(); }

attnkit::Module& Layer::module_for_update() {
  if (!module_) throw attnkit::Error("layer was disposed");
  return *module_;
}

}  // namespace attnkit::wasm
