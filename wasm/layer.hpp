// attnkit — one attnkit::Module behind Embind, with the forward fast path's buffers.
//
// Data is copied in (typed array → std::vector) and copied out (a new Float32Array per result); no view on
// wasm memory ever escapes, because memory growth would detach it. forward() without weights or
// intermediates has a numbers-only fast path (the C exports in bindings.cpp) that wasm/src/layer.mjs uses:
// JS copies x into the layer's input buffer and the context out of wasm memory, reading the addresses and
// the context's shape from a FastHeader whose layout it gets by name (fast_header_layout()).
#pragma once
#include <emscripten/val.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "attnkit/decoder.hpp"
#include "errors.hpp"

namespace attnkit::wasm {

// The fast path's header, in wasm memory, one per layer (32-bit words; wasm32 addresses fit).
struct FastHeader {
  static constexpr std::size_t kMaxRank = 4;
  std::uint32_t context_address = 0;
  std::uint32_t input_address = 0;
  std::uint32_t context_rank = 0;
  std::uint32_t context_dims[kMaxRank] = {0, 0, 0, 0};
};

// { words, contextAddress, inputAddress, contextRank, contextDims, maxRank }: word offsets into FastHeader.
emscripten::val fast_header_layout();

// The pthreads build's worker pool (-sPTHREAD_POOL_SIZE, wasm/CMakeLists.txt); 1 in the single-thread build.
// The core joins its threads synchronously, so a call must never need more workers than the pool holds.
std::size_t thread_pool_size();
std::size_t pool_threads(std::size_t requested);  // requested capped at the pool (0 stays 0: the default)

class Layer {
 public:
  Layer() = default;

  // entries: undefined, or an Array of { name, shape, data } (data: Float32Array) in the format options.weights_format
  // names ("auto" when undefined: from the key names), the keys under options.weights_prefix.
  emscripten::val init(const std::string& mechanism, const emscripten::val& options, const emscripten::val& entries);
  // x: Float32Array, shape: [b, n, d_in] or [n, d_in], options: { return_weights, average_weights, train,
  // intermediates, threads }.
  emscripten::val forward(const emscripten::val& x, const emscripten::val& shape, const emscripten::val& options);
  // The same with Module::forward's other inputs: { kv?: { shape, data }, value?, key_padding_mask?, attn_mask? }, the
  // masks as convert.hpp's mask_from() takes them (nn.MultiheadAttention's conventions: 1 = may not attend).
  emscripten::val forward_with(const emscripten::val& x, const emscripten::val& shape, const emscripten::val& options,
                               const emscripten::val& inputs);

  // The fast path (called through the C exports): input_buffer makes the input buffer hold `numel` floats (it
  // may grow the wasm memory) and writes its address into the header; JS writes x there and calls
  // forward_fast with the shape (rank 2: [n, d_in], b ignored; rank 3: [b, n, d_in]), which writes the
  // context's address, rank and dimensions into the header. Both return a Status; on failure forward_fast
  // has freed everything the call allocated and the message is read with last_error().
  int input_buffer(std::uint32_t numel);
  int forward_fast(std::uint32_t rank, std::uint32_t b, std::uint32_t n, std::uint32_t d_in, bool train,
                   std::uint32_t threads);
  void drop_buffers();  // frees the fast path's input and output buffers (after a large call, or an error)

  // Fixed for the layer's lifetime (the Layer does not move), so JS reads both once at create time.
  double address() const { return static_cast<double>(reinterpret_cast<std::uintptr_t>(this)); }
  double fast_header_address() const { return static_cast<double>(reinterpret_cast<std::uintptr_t>(&header_)); }
  std::string last_error() const { return last_error_; }

  // Decoding sessions (attnkit::Decoder, a KV cache) on this layer's module (wasm/decoder.cpp). The layer owns them,
  // so release() frees them with the module they read. begin_decode → { id } or { error, status }; decode_step →
  // { context: { shape, data } } or { error, status }; the others do nothing for an id that was ended.
  // memory: undefined (self-attention), or the encoder's output { kv, value?, key_padding_mask? } (cross-attention,
  // batch from kv). decode_step with return_weights adds { weights: { shape, data } }; decode_set_memory → {} or error.
  emscripten::val begin_decode(double max_tokens, double batch, const emscripten::val& memory);
  emscripten::val decode_step(int id, const emscripten::val& x, const emscripten::val& shape, double threads,
                              bool return_weights);
  emscripten::val decode_set_memory(int id, const emscripten::val& memory);
  void decode_reset(int id);
  double decode_length(int id) const;
  void end_decode(int id);

  // [{ name, shape, data }] in PyTorch's order, in `format` ("book", "torch-mha", "gpt2"), each key prefixed.
  emscripten::val state_dict(const std::string& format, const std::string& prefix) const;
  emscripten::val parameter_shapes() const;  // [{ name, shape }]
  emscripten::val info() const;
  void release();  // frees the module's memory now; the JS object can then be delete()d

  // Gradients (wasm/grad.cpp). backward(grad_context: { shape, data }) → { input, kv?, value?, params: [{ name, shape,
  // data }] } for the last forward with options.grad (Module::backward), and adds params into the layer's running sum;
  // grads() → that sum in state_dict order ([] after zero_grad() or before any backward); zero_grad() clears it.
  emscripten::val backward(const emscripten::val& grad_context);
  emscripten::val grads() const;
  void zero_grad();
  // The running sum of gradients, and the module an optimizer updates (Error "layer was disposed" once released).
  const attnkit::StateDict& accumulated_grads() const { return grads_; }
  attnkit::Module& module_for_update();

 private:
  const attnkit::Module& module() const;
  attnkit::Decoder& decoder(int id) const;  // throws Error "decoder was disposed" for an id that was ended

  std::unique_ptr<attnkit::Module> module_;
  std::vector<std::unique_ptr<attnkit::Decoder>> decoders_;  // index: the session's id; null once ended
  attnkit::StateDict grads_;  // Σ of backward()'s params since zero_grad(), as torch accumulates param.grad
  attnkit::Tensor input_;     // the fast path's input, reused between calls
  attnkit::Tensor output_;    // the fast path's last context, read by JS right after the call
  std::string last_error_;
  FastHeader header_;
  // The fast path's memory estimate (forward_needed_bytes, limits.hpp) for the last shape and options it saw: the
  // estimate depends on nothing else, and working it out again checked the config and built its messages on every
  // call (a fifth of a C1 forward in wasm). Whether it fits is still asked on every call (the memory changes).
  struct FitKey {
    std::uint32_t rank = 0, b = 0, n = 0, d_in = 0;
    std::size_t threads = 0;
    bool train = false;
    bool operator==(const FitKey& o) const {
      return rank == o.rank && b == o.b && n == o.n && d_in == o.d_in && threads == o.threads && train == o.train;
    }
  };
  FitKey fit_key_;
  double fit_bytes_ = -1.0;  // < 0: nothing kept

  // forward_fast's two routes. forward_small: a call of the shape and options of the last one that succeeded
  // (output_ holds a context of that shape) through Module::forward_small into output_: no allocation, no try,
  // no object to destroy on the way, so the pthreads build's -fexceptions wraps none of its calls in a JS invoke_*
  // trampoline. false: forward_checked, the general route with its checks and messages.
  bool forward_small(std::uint32_t rank, std::uint32_t b, std::uint32_t n, std::uint32_t d_in, bool train,
                     std::uint32_t threads);
  int forward_checked(std::uint32_t rank, std::uint32_t b, std::uint32_t n, std::uint32_t d_in, bool train,
                      std::uint32_t threads);
};

}  // namespace attnkit::wasm
