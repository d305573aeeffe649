// attnkit — wasm memory limits (see limits.hpp).
#include "limits.hpp"

#include <malloc.h>

#include <cstdio>
#include <string>

namespace attnkit::wasm {

double heap_in_use_bytes() { return static_cast<double>(static_cast<unsigned>(mallinfo().uordblks)); }
double heap_arena_bytes() { return static_cast<double>(static_cast<unsigned>(mallinfo().arena)); }
double wasm_memory_bytes() { return static_cast<double>(__builtin_wasm_memory_size(0)) * 65536.0; }

namespace {

std::string bytes_text(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", bytes);
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
  // A Module holds its state_dict, the q|k|v parameters once more stacked into one weight, and the stacked
  // weight and out_proj.weight packed into the gemm kernel's panels (core/src/pack_parameters.cpp).
  double all = 0, query_key_value = 0, packed = 0;
  for (const auto& [name, shape] : attnkit::parameter_shapes(config)) {
    double bytes = 4.0;
    for (const std::size_t d : shape) bytes *= double(d);
    all += bytes;
    const bool projection = name.find("W_") != std::string::npos;
    if (projection) query_key_value += bytes;
    if ((projection && name.find(".bias") == std::string::npos) || name == "out_proj.weight") packed += bytes;
  }
  const double needed = all * (loading ? 2.0 : 1.0) + query_key_value + packed;
  if (fits(needed)) return;
  throw attnkit::Error(
      "creating " + std::string(attnkit::mechanism_name(config.mechanism)) + " with d_in " +
          std::to_string(config.d_in) + " and d_out " + std::to_string(config.d_out) + " needs about " +
          bytes_text(needed + heap_in_use_bytes()) +
          " bytes of wasm memory for its parameters; expected at most 4294967296 bytes (the wasm32 limit)",
      attnkit::ErrorKind::range);
}

void check_forward_fits(const attnkit::Module& module, const attnkit::Shape& shape, const attnkit::ForwardOptions& o) {
  if (shape.size() < 2) return;  // the core reports the rank
  const attnkit::Config& c = module.config();
  const double n = double(shape[shape.size() - 2]), b = shape.size() == 3 ? double(shape[0]) : 1.0;
  const double d_in = double(shape.back());
  const double width = c.mechanism == attnkit::Mechanism::simplified ? d_in : double(module.d_out_total());
  const double heads = double(module.num_heads());
  const double square = o.intermediates ? 7.0 : o.return_weights ? 2.0 : 0.0;
  const double weight_bytes = b * heads * n * n * 4.0 * square;
  const double activations = b * n * (d_in + 6.0 * width) * 4.0 * (o.intermediates ? 2.0 : 1.0);
  const double pass_bytes = weight_bytes + activations;
  if (fits(pass_bytes)) return;
  const double needed = pass_bytes + heap_in_use_bytes();
  std::string msg = "forward of " + std::string(attnkit::mechanism_name(c.mechanism)) + " on x of shape " +
                    attnkit::shape_to_string(shape) + " needs about " + bytes_text(needed) +
                    " bytes of wasm memory; expected at most 4294967296 bytes (the wasm32 limit)";
  msg += o.return_weights || o.intermediates
             ? "; use fewer tokens or a smaller batch, or leave out returnWeights/intermediates"
             : "; use fewer tokens or a smaller batch";
  throw attnkit::Error(msg, attnkit::ErrorKind::range);
}

}  // namespace attnkit::wasm
