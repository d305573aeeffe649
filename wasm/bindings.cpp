// attnkit — Embind bindings: a thin layer over the core for the npm package (wasm/index.mjs and wasm/src/).
//
// - Layer (layer.hpp) wraps one attnkit::Module; its forward fast path is reached through the plain C exports
//   below, and its header layout, the status codes and the worker pool's size are exported by name.
// - Errors: errors.hpp (one translation, no C++ exception crosses into JS).
// - The JS entry checks JS types and names and copies every argument once; the core checks values and
//   shapes, with the CLI's messages.
#include <emscripten/bind.h>
#include <emscripten/em_macros.h>
#include <emscripten/val.h>

#include <cstdint>
#include <string>

#include "attention.hpp"
#include "attnkit/attnkit.hpp"
#include "catalog.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "layer.hpp"
#include "limits.hpp"
#include "model.hpp"
#include "optimizer.hpp"

namespace attnkit::wasm {
namespace {

using emscripten::val;

val status_codes() {
  val o = val::object();
  o.set("ok", val(static_cast<int>(status_ok)));
  o.set("invalid", val(static_cast<int>(status_invalid)));
  o.set("range", val(static_cast<int>(status_range)));
  return o;
}

std::string version() { return attnkit::version(); }
std::string simd() { return attnkit::simd_instruction_set(); }

double default_threads() { return static_cast<double>(attnkit::default_num_threads()); }
double hardware_threads() { return static_cast<double>(attnkit::hardware_threads()); }
// 0: the hardware's threads. Capped at the pool and the hardware, so that the default reads back as the
// number of threads a call actually uses (1 in the single-thread build).
void set_default_threads(double requested) {
  std::size_t n = requested <= 0 ? attnkit::hardware_threads() : static_cast<std::size_t>(requested);
  if (n > attnkit::hardware_threads()) n = attnkit::hardware_threads();
  attnkit::set_default_num_threads(pool_threads(n));
}

bool threaded_build() {
#ifdef __EMSCRIPTEN_PTHREADS__
  return true;
#else
  return false;
#endif
}

}  // namespace
}  // namespace attnkit::wasm

// The forward fast path as plain exported C functions: JS calls them as Module._attnkit_input_buffer(...) and
// Module._attnkit_forward_fast(...), with the address from Layer.address(). Only numbers cross (wasm i32
// arguments; dimensions and sizes up to 2^32 - 1 arrive intact as uint32), with no Embind invoker in between.
extern "C" {
EMSCRIPTEN_KEEPALIVE int attnkit_input_buffer(attnkit::wasm::Layer* layer, std::uint32_t numel) {
  return layer->input_buffer(numel);
}
EMSCRIPTEN_KEEPALIVE int attnkit_forward_fast(attnkit::wasm::Layer* layer, std::uint32_t rank, std::uint32_t b,
                                              std::uint32_t n, std::uint32_t d_in, int train, std::uint32_t threads) {
  return layer->forward_fast(rank, b, n, d_in, train != 0, threads);
}
}

EMSCRIPTEN_BINDINGS(attnkit) {
  using namespace attnkit::wasm;
  emscripten::class_<Layer>("Layer")
      .constructor<>()
      .function("init", &Layer::init)
      .function("forward", &Layer::forward)
      .function("beginDecode", &Layer::begin_decode)
      .function("decodeStep", &Layer::decode_step)
      .function("decodeReset", &Layer::decode_reset)
      .function("decodeLength", &Layer::decode_length)
      .function("endDecode", &Layer::end_decode)
      .function("forwardWith", &Layer::forward_with)
      .function("stateDict", &Layer::state_dict)
      .function("parameterShapes", &Layer::parameter_shapes)
      .function("info", &Layer::info)
      .function("release", &Layer::release)
      .function("dropBuffers", &Layer::drop_buffers)
      .function("address", &Layer::address)
      .function("fastHeaderAddress", &Layer::fast_header_address)
      .function("lastError", &Layer::last_error)
      .function("backward", &Layer::backward)
      .function("grads", &Layer::grads)
      .function("zeroGrad", &Layer::zero_grad);
  emscripten::class_<Optimizer>("Optimizer")
      .constructor<>()
      .function("init", &Optimizer::init)
      .function("step", &Optimizer::step)
      .function("steps", &Optimizer::steps)
      .function("release", &Optimizer::release);
  emscripten::class_<Model>("Model")
      .constructor<>()
      .function("init", &Model::init)
      .function("info", &Model::info)
      .function("trainStep", &Model::train_step)
      .function("evaluate", &Model::evaluate)
      .function("probeWeights", &Model::probe_weights)
      .function("stateDict", &Model::state_dict)
      .function("release", &Model::release);
  emscripten::function("taskSpecs", &task_specs);
  emscripten::constant("threadPoolSize", static_cast<int>(thread_pool_size()));
  emscripten::function("fastHeaderLayout", &fast_header_layout);
  emscripten::function("statusCodes", &status_codes);
  emscripten::function("mechanismTraits", &mechanism_traits);
  emscripten::function("benchConfigs", &bench_configs);
  emscripten::function("forwardFlops", &forward_flops);
  emscripten::function("attention", &attention);
  emscripten::function("causalRouteNames", &causal_route_names);
  emscripten::function("version", &version);
  emscripten::function("simdInstructionSet", &simd);
  // Bytes allocated by malloc/new now (flat across create/dispose cycles), and obtained from the wasm memory.
  emscripten::function("heapInUse", &heap_in_use_bytes);
  emscripten::function("heapArena", &heap_arena_bytes);
  // The linear memory's size, from wasm itself (a JS view's length goes stale in the pthreads build).
  emscripten::function("wasmMemoryBytes", &wasm_memory_bytes);
  emscripten::function("defaultThreads", &default_threads);
  emscripten::function("hardwareThreads", &hardware_threads);
  emscripten::function("setDefaultThreads", &set_default_threads);
  emscripten::function("threadedBuild", &threaded_build);
}
