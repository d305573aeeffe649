// attnkit — wasm memory limits (see limits.hpp).
#include "limits.hpp"

#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace attnkit::wasm {

double heap_in_use_bytes() { return static_cast<double>(static_cast<unsigned>(mallinfo().uordblks)); }
double heap_arena_bytes() { return static_cast<double>(static_cast<unsigned>(mallinfo().arena)); }
double wasm_memory_bytes() { return static_cast<double>(__builtin_wasm_memory_size(0)) * 65536.0; }

namespace {

// "about N", or "more than 4294967295" when the core's count saturated (size_t is 32 bits in wasm32)
std::string bytes_text(double bytes) {
  if (bytes >= double(SIZE_MAX)) return "more than " + std::to_string(SIZE_MAX);
  char buf[64];
  std::snprintf(buf, sizeof buf, "about %.0f", bytes);
  return buf;
}

// mallinfo() walks the heap, so ask it only when a call could fail: malloc's in-use bytes are at most the
// current size of the wasm memory, and a call that fits with all of it in use needs no closer look.
bool fits(double call_bytes) {
  if (call_bytes + wasm_memory_bytes() <= kWasmMemoryLimit) return true;
  return call_bytes + heap_in_use_bytes() <= kWasmMemoryLimit;
}

}  // namespace

void check_create_fits(const attnkit::Config& config, bool loading) {
  double needed = double(attnkit::Module::parameter_bytes(config));
  if (loading) {  // the state_dict the bindings copied in, alive while the Module copies it
    for (const auto& [name, shape] : attnkit::parameter_shapes(config)) {
      double bytes = 4.0;
      for (const std::size_t d : shape) bytes *= double(d);
      needed += bytes;
    }
  }
  if (fits(needed)) return;
  throw attnkit::Error(
      "creating " + std::string(attnkit::mechanism_name(config.mechanism)) + " with d_in " +
          std::to_string(config.d_in) + " and d_out " + std::to_string(config.d_out) + " needs " +
          bytes_text(needed + heap_in_use_bytes()) +
          " bytes of wasm memory for its parameters; expected at most 4294967296 bytes (the wasm32 limit)",
      attnkit::ErrorKind::range);
}

double forward_needed_bytes(const attnkit::Module& module, const attnkit::Shape& shape,
                            const attnkit::ForwardOptions& o, bool copies_input) {
  // the core's one estimate (tests/memory holds it within 1.5x of the measured peak), plus x when the bindings
  // copy it into wasm memory for this call
  // an empty input is refused by forward itself, with its message (forward_bytes divides by zero on it)
  for (const std::size_t d : shape)
    if (d == 0) return 0.0;
  double needed = double(module.forward_bytes(shape, o));
  if (copies_input) needed += 4.0 * double(attnkit::checked_numel(shape));
  return needed;
}

bool forward_bytes_fit(double needed) noexcept { return fits(needed); }

void check_forward_bytes_fit(const attnkit::Module& module, const attnkit::Shape& shape,
                             const attnkit::ForwardOptions& o, double needed) {
  if (fits(needed)) return;
  const attnkit::Config& c = module.config();
  std::string msg = "forward of " + std::string(attnkit::mechanism_name(c.mechanism)) + " on x of shape " +
                    attnkit::shape_to_string(shape) + " needs " + bytes_text(needed + heap_in_use_bytes()) +
                    " bytes of wasm memory; expected at most 4294967296 bytes (the wasm32 limit)";
  msg += o.return_weights || o.intermediates
             ? "; use fewer tokens or a smaller batch, or leave out returnWeights/intermediates"
             : "; use fewer tokens or a smaller batch";
  throw attnkit::Error(msg, attnkit::ErrorKind::range);
}

void check_forward_fits(const attnkit::Module& module, const attnkit::Shape& shape, const attnkit::ForwardOptions& o,
                        bool copies_input) {
  check_forward_bytes_fit(module, shape, o, forward_needed_bytes(module, shape, o, copies_input));
}

void check_model_fits(const attnkit::ModelConfig& config) {
  const double needed = double(attnkit::Model::memory_bytes(config));
  if (fits(needed)) return;
  throw attnkit::Error("a model of dModel " + std::to_string(config.d_model) + " with batch " +
                           std::to_string(config.batch) + " needs " + bytes_text(needed + heap_in_use_bytes()) +
                           " bytes of wasm memory to train and evaluate; expected at most 4294967296 bytes (the wasm32 "
                           "limit): use a smaller batch, tokens or dModel",
                       attnkit::ErrorKind::range);
}

}  // namespace attnkit::wasm
