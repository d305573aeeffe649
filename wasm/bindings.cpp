// attnkit — Embind bindings: a thin layer over attnkit::Module for the npm package.
//
// Rules (see wasm/README.md):
// - Data is copied in (typed array → std::vector) and copied out (new Float32Array per result); no view on
//   wasm memory ever escapes, because memory growth would detach it. forward() has a numbers-only fast path
//   (the C exports attnkit_input_buffer/attnkit_forward_fast) that index.mjs uses when neither weights nor
//   intermediates are asked for: JS copies x into the layer's input buffer and the context out of wasm memory.
// - No C++ exception ever crosses into JS. Every entry point catches, lets the exception and everything the
//   call allocated be freed by normal unwinding, and returns `{ error, kind }` instead; the package entry
//   (index.mjs) throws it as a JS Error (kind "invalid") or RangeError (kind "range") with the core's message.
//   (Throwing a JS error from C++ with val::throw_() would skip destructors and leak what the call held.)
// - The JS entry validates JS types and names; the core validates values and shapes, with the CLI's messages.
#include <emscripten/bind.h>
#include <emscripten/em_macros.h>
#include <emscripten/val.h>
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "attnkit/attnkit.hpp"

using emscripten::val;

namespace {

val error_value(const char* kind, const std::string& message) {
  val e = val::object();
  e.set("error", val(message));
  e.set("kind", val(kind));
  return e;
}

// Runs f() and turns any C++ exception into { error, kind } after it has been fully handled.
template <class F>
val guarded(F&& f) {
  std::string message;
  const char* kind = "invalid";
  try {
    return f();
  } catch (const attnkit::Error& e) {
    message = e.what();
    kind = e.kind() == attnkit::ErrorKind::range ? "range" : "invalid";
  } catch (const std::bad_alloc&) {
    message = "out of memory: the WebAssembly heap could not grow (limit 4 GB); use fewer tokens, a smaller batch or smaller dimensions";
    kind = "range";
  } catch (const std::length_error& e) {
    message = std::string("size too large: ") + e.what();
    kind = "range";
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "unknown error in attnkit";
  }
  return error_value(kind, message);
}

std::size_t size_from(const val& v) { return static_cast<std::size_t>(v.as<double>()); }

// The wasm32 address space: -sMAXIMUM_MEMORY=4GB.
constexpr double kWasmMemoryLimit = 4294967296.0;

double heap_in_use_bytes() { return static_cast<double>(static_cast<unsigned>(mallinfo().uordblks)); }

// What a forward pass will hold in wasm memory at its peak, estimated from the shapes (as the CLI does for
// the machine's memory): a pass that cannot fit under the 4 GB limit is refused before anything is
// allocated or computed, instead of failing with bad_alloc after minutes of work.
void check_forward_fits(const attnkit::Module& m, const attnkit::Shape& shape, const attnkit::ForwardOptions& o) {
  if (shape.size() < 2) return;  // the core reports the rank
  const attnkit::Config& c = m.config();
  const double n = double(shape[shape.size() - 2]), b = shape.size() == 3 ? double(shape[0]) : 1.0;
  const double d_in = double(shape.back()), width = c.mechanism == attnkit::Mechanism::simplified ? d_in : double(m.d_out_total());
  const double heads = double(m.num_heads());
  // n×n matrices alive at once: none on the fused path; scores and weights when
  // the weights are returned; every step (scores, scaled, masked, unmasked, weights, dropout) with intermediates.
  const double square = o.intermediates ? 7.0 : o.return_weights ? 2.0 : 0.0;
  const double weight_bytes = b * heads * n * n * 4.0 * square;
  const double activations = b * n * (d_in + 6.0 * width) * 4.0 * (o.intermediates ? 2.0 : 1.0);
  // mallinfo() walks the heap, so ask it only when the pass could fail: malloc's in-use bytes are at most
  // the current size of the wasm memory, and a pass that fits with all of it in use needs no closer look.
  const double memory_bytes = double(__builtin_wasm_memory_size(0)) * 65536.0;
  if (weight_bytes + activations + memory_bytes <= kWasmMemoryLimit) return;
  const double needed = weight_bytes + activations + heap_in_use_bytes();
  if (needed > kWasmMemoryLimit) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f", needed);
    std::string msg = "forward of " + std::string(attnkit::mechanism_name(c.mechanism)) + " on x of shape " +
                      attnkit::shape_to_string(shape) + " needs about " + buf +
                      " bytes of wasm memory; expected at most 4294967296 bytes (the wasm32 limit)";
    msg += square > 0 ? "; use fewer tokens or a smaller batch, or leave out returnWeights/intermediates"
                      : "; use fewer tokens or a smaller batch";
    throw attnkit::Error(msg, attnkit::ErrorKind::range);
  }
}

attnkit::Shape shape_from(const val& arr) {
  const std::size_t n = arr["length"].as<std::size_t>();
  attnkit::Shape s(n);
  for (std::size_t i = 0; i < n; ++i) s[i] = size_from(arr[i]);
  return s;
}

val shape_to_js(const attnkit::Shape& s) {
  val arr = val::array();
  for (std::size_t i = 0; i < s.size(); ++i) arr.set(i, val(static_cast<double>(s[i])));
  return arr;
}

// A copy of the tensor's data in a fresh Float32Array (not a view on wasm memory).
val tensor_to_js(const attnkit::Tensor& t) {
  val out = val::object();
  out.set("shape", shape_to_js(t.shape));
  out.set("data", val::global("Float32Array").new_(val(emscripten::typed_memory_view(t.numel(), t.ptr()))));
  return out;
}

attnkit::Tensor tensor_from(const val& shape, const val& data) {
  attnkit::Shape s = shape_from(shape);
  std::vector<float> d = emscripten::convertJSArrayToNumberVector<float>(data);
  return attnkit::Tensor(std::move(s), std::move(d));
}

// `c` is the normalised options object built by index.mjs (snake_case, every field present and type-checked).
attnkit::Config config_from(const std::string& mechanism, const val& c) {
  attnkit::Config cfg;
  cfg.mechanism = attnkit::parse_mechanism(mechanism);
  cfg.d_in = size_from(c["d_in"]);
  cfg.d_out = size_from(c["d_out"]);
  cfg.num_heads = size_from(c["num_heads"]);
  cfg.context_length = size_from(c["context_length"]);
  const val causal = c["causal"];
  if (causal.isTrue()) cfg.causal = true;
  else if (causal.isFalse()) cfg.causal = false;
  cfg.qkv_bias = c["qkv_bias"].isTrue();
  cfg.dropout = c["dropout"].as<float>();
  const auto lo = static_cast<std::uint64_t>(c["seed_lo"].as<double>());
  const auto hi = static_cast<std::uint64_t>(c["seed_hi"].as<double>());
  cfg.seed = (hi << 32) | lo;
  const std::string route = c["causal_route"].as<std::string>();
  if (route == "neg-inf") cfg.causal_route = attnkit::CausalRoute::neg_inf;
  else if (route == "renormalise") cfg.causal_route = attnkit::CausalRoute::renormalise;
  else throw attnkit::Error("unknown causal route '" + route + "'; expected one of neg-inf, renormalise");
  return cfg;
}

// One attnkit::Module. Constructed empty; init() builds the module so that errors come back as values.
class Layer {
 public:
  Layer() = default;

  // entries: undefined, or an array of { name, shape, data } (data: Float32Array).
  val init(const std::string& mechanism, const val& options, const val& entries) {
    return guarded([&]() -> val {
      attnkit::Config cfg = config_from(mechanism, options);
      if (entries.isUndefined() || entries.isNull()) {
        module_ = std::make_unique<attnkit::Module>(cfg);
      } else {
        attnkit::StateDict sd;
        const std::size_t n = entries["length"].as<std::size_t>();
        sd.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
          const val e = entries[i];
          sd.emplace_back(e["name"].as<std::string>(), tensor_from(e["shape"], e["data"]));
        }
        module_ = std::make_unique<attnkit::Module>(cfg, sd);
      }
      return info();
    });
  }

  // x: Float32Array, shape: [b, n, d_in] or [n, d_in], opts: { return_weights, train, intermediates, threads }.
  val forward(const val& x, const val& shape, const val& opts) {
    return guarded([&]() -> val {
      if (!module_) throw attnkit::Error("layer was disposed");
      attnkit::ForwardOptions fo;
      fo.return_weights = opts["return_weights"].isTrue();
      fo.train = opts["train"].isTrue();
      fo.intermediates = opts["intermediates"].isTrue();
      fo.threads = size_from(opts["threads"]);
      check_forward_fits(*module_, shape_from(shape), fo);
      attnkit::ForwardResult r;
      {
        attnkit::Tensor input = tensor_from(shape, x);
        r = module_->forward(input, fo);
      }
      val out = val::object();
      out.set("context", tensor_to_js(r.context));
      if (fo.return_weights) out.set("weights", tensor_to_js(r.weights));
      if (fo.intermediates) {
        val list = val::array();
        for (std::size_t i = 0; i < r.intermediates.size(); ++i) {
          val item = tensor_to_js(r.intermediates[i].second);
          item.set("name", val(r.intermediates[i].first));
          list.set(i, item);
        }
        out.set("intermediates", list);
      }
      return out;
    });
  }

  // The fast path for forward() without returnWeights/intermediates. It is called through the plain C exports
  // attnkit_input_buffer / attnkit_forward_fast below (numbers in, a status out: no Embind invoker, no val).
  // JS gets the layer's address (address()) and the address of its fast-path header (fastHeaderAddress())
  // once, at create time. input_buffer makes the input buffer hold `numel` floats (it may grow the wasm
  // memory) and writes its address into the header; JS writes x there and calls forward_fast with the shape,
  // which writes the context's address, rank and dimensions into the header. Both return 0 on success;
  // forward_fast returns 1 (Error) or 2 (RangeError) on failure, after freeing everything the call allocated,
  // and the message is then read with lastError().
  int input_buffer(std::uint32_t numel) {
    try {
      input_.data.resize(numel);
    } catch (...) {
      return 1;  // JS falls back to the general path, which reports the error
    }
    header_[kInputAddress] = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(input_.data.data()));
    return 0;
  }

  // rank 2: [n, d_in] (b ignored); rank 3: [b, n, d_in]. The input buffer holds exactly numel floats.
  // train: the train option (dropout on); threads: as in forward().
  int forward_fast(std::uint32_t rank, std::uint32_t b, std::uint32_t n, std::uint32_t d_in, bool train, std::uint32_t threads) {
    std::string message;
    int kind = 1;
    try {
      if (!module_) throw attnkit::Error("layer was disposed");
      attnkit::ForwardOptions fo;
      fo.train = train;
      fo.threads = threads;
      attnkit::Shape& shape = input_.shape;
      if (shape.size() != rank) shape.resize(rank);  // only when the rank changes (resize is a call that may throw)
      std::size_t* dims = shape.data();
      if (rank == 3) *dims++ = b;
      dims[0] = n;
      dims[1] = d_in;
      check_forward_fits(*module_, shape, fo);
      output_ = std::move(module_->forward(input_, fo).context);
      const std::size_t out_rank = output_.shape.size();
      if (out_rank > 4) throw attnkit::Error("context of rank " + std::to_string(out_rank) + "; expected at most 4");
      header_[kContextAddress] = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(output_.ptr()));
      header_[kRank] = static_cast<std::uint32_t>(out_rank);
      for (std::size_t i = 0; i < out_rank; ++i) header_[kDims + i] = static_cast<std::uint32_t>(output_.shape[i]);
      return 0;
    } catch (const attnkit::Error& e) {
      message = e.what();
      kind = e.kind() == attnkit::ErrorKind::range ? 2 : 1;
    } catch (const std::bad_alloc&) {
      message = "out of memory: the WebAssembly heap could not grow (limit 4 GB); use fewer tokens, a smaller batch or smaller dimensions";
      kind = 2;
    } catch (const std::length_error& e) {
      message = std::string("size too large: ") + e.what();
      kind = 2;
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
      message = "unknown error in attnkit";
    }
    output_ = attnkit::Tensor();
    last_error_ = std::move(message);
    return kind;
  }

  // Frees the fast path's input and output buffers (after a large call, or an error).
  void drop_buffers() {
    input_ = attnkit::Tensor();
    output_ = attnkit::Tensor();
    last_error_ = std::string();
    header_[kInputAddress] = 0;
    header_[kContextAddress] = 0;
  }

  // The fast path's header: [context address, input address, context rank, dims × 4] (uint32 each). Fixed for
  // the layer's lifetime (the Layer object does not move), so JS reads both addresses once at create time.
  static constexpr std::size_t kContextAddress = 0, kInputAddress = 1, kRank = 2, kDims = 3;
  double address() const { return static_cast<double>(reinterpret_cast<std::uintptr_t>(this)); }
  double fast_header_address() const { return static_cast<double>(reinterpret_cast<std::uintptr_t>(header_)); }
  std::string last_error() const { return last_error_; }

  // [{ name, shape, data }] in PyTorch's order.
  val state_dict() const {
    return guarded([&]() -> val {
      if (!module_) throw attnkit::Error("layer was disposed");
      const attnkit::StateDict sd = module_->state_dict();
      val list = val::array();
      for (std::size_t i = 0; i < sd.size(); ++i) {
        val item = tensor_to_js(sd[i].second);
        item.set("name", val(sd[i].first));
        list.set(i, item);
      }
      return list;
    });
  }

  val parameter_shapes() const {
    return guarded([&]() -> val {
      if (!module_) throw attnkit::Error("layer was disposed");
      val list = val::array();
      const auto shapes = module_->parameter_shapes();
      for (std::size_t i = 0; i < shapes.size(); ++i) {
        val item = val::object();
        item.set("name", val(shapes[i].first));
        item.set("shape", shape_to_js(shapes[i].second));
        list.set(i, item);
      }
      return list;
    });
  }

  val info() const {
    val o = val::object();
    if (!module_) return o;
    o.set("mechanism", val(std::string(attnkit::mechanism_name(module_->config().mechanism))));
    o.set("causal", val(module_->causal()));
    o.set("num_heads", val(static_cast<double>(module_->num_heads())));
    o.set("head_dim", val(static_cast<double>(module_->head_dim())));
    o.set("d_out_total", val(static_cast<double>(module_->d_out_total())));
    o.set("d_in", val(static_cast<double>(module_->config().d_in)));
    return o;
  }

  // Frees the module's memory now; the JS object can then be delete()d.
  void release() {
    module_.reset();
    drop_buffers();
  }

 private:
  std::unique_ptr<attnkit::Module> module_;
  attnkit::Tensor input_;   // the fast path's input, reused between calls
  attnkit::Tensor output_;  // the fast path's last context, read by JS right after the call
  std::string last_error_;
  std::uint32_t header_[7] = {0, 0, 0, 0, 0, 0, 0};
};

val mechanisms() {
  val arr = val::array();
  const auto& all = attnkit::all_mechanisms();
  for (std::size_t i = 0; i < all.size(); ++i) arr.set(i, val(std::string(attnkit::mechanism_name(all[i]))));
  return arr;
}

std::string version() { return attnkit::version(); }
std::string simd() { return attnkit::simd_instruction_set(); }

// Bytes currently allocated by malloc/new (dlmalloc's in-use counter) — flat across create/dispose cycles.
double heap_in_use() { return heap_in_use_bytes(); }
// Bytes dlmalloc has obtained from the wasm memory (sbrk), used or free.
double heap_arena() { return static_cast<double>(static_cast<unsigned>(mallinfo().arena)); }

double default_threads() { return static_cast<double>(attnkit::default_num_threads()); }
double hardware_threads() { return static_cast<double>(attnkit::hardware_threads()); }
void set_default_threads(double n) { attnkit::set_default_num_threads(static_cast<std::size_t>(n)); }

bool threaded_build() {
#ifdef __EMSCRIPTEN_PTHREADS__
  return true;
#else
  return false;
#endif
}

}  // namespace

// The forward fast path as plain exported C functions: JS calls them as Module._attnkit_input_buffer(...) and
// Module._attnkit_forward_fast(...), with the address from Layer.address(). Only numbers cross (wasm i32
// arguments; dimensions and sizes up to 2^32 - 1 arrive intact as uint32), with no Embind invoker in between.
extern "C" {
EMSCRIPTEN_KEEPALIVE int attnkit_input_buffer(Layer* layer, std::uint32_t numel) { return layer->input_buffer(numel); }
EMSCRIPTEN_KEEPALIVE int attnkit_forward_fast(Layer* layer, std::uint32_t rank, std::uint32_t b, std::uint32_t n,
                                              std::uint32_t d_in, int train, std::uint32_t threads) {
  return layer->forward_fast(rank, b, n, d_in, train != 0, threads);
}
}

EMSCRIPTEN_BINDINGS(attnkit) {
  emscripten::class_<Layer>("Layer")
      .constructor<>()
      .function("init", &Layer::init)
      .function("forward", &Layer::forward)
      .function("stateDict", &Layer::state_dict)
      .function("parameterShapes", &Layer::parameter_shapes)
      .function("info", &Layer::info)
      .function("release", &Layer::release)
      .function("dropBuffers", &Layer::drop_buffers)
      .function("address", &Layer::address)
      .function("fastHeaderAddress", &Layer::fast_header_address)
      .function("lastError", &Layer::last_error);
  emscripten::function("mechanisms", &mechanisms);
  emscripten::function("version", &version);
  emscripten::function("simdInstructionSet", &simd);
  emscripten::function("heapInUse", &heap_in_use);
  emscripten::function("heapArena", &heap_arena);
  emscripten::function("defaultThreads", &default_threads);
  emscripten::function("hardwareThreads", &hardware_threads);
  emscripten::function("setDefaultThreads", &set_default_threads);
  emscripten::function("threadedBuild", &threaded_build);
}
