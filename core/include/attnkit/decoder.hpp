// attnkit — generation token by token: a decoding session on a causal Module keeps the keys and values of every
// token so far (the KV cache) and attends only from the new tokens.
//
//   attnkit::Module module(config);                     // causal: causal, multihead-wrapper, multihead (or causal =
//   true) attnkit::Decoder decoder = module.begin_decode(1024);  // room for 1024 tokens, batch 1 for (...) {
//     const attnkit::Tensor& context = decoder.step(x_new);  // x_new (1, t, d_in) → context (1, t, d_out_total)
//   }
//
// step(x_new) gives the rows of forward(x)'s context for those positions, where x is every token given since
// begin_decode or reset (to ~1e-6 relative). Decoding runs in evaluation mode: dropout is never applied (as after
// model.eval()), whatever Config::dropout says, and the generator is not advanced.
//
// No allocation per step: the cache, the scratch and the output are sized when the session begins. Long caches
// are split over the key axis (flash-decoding): fixed chunks of kDecodeChunk keys, each one task for the thread
// pool, merged in chunk order, so the context has the same bits for any thread count, and a token's context is
// the same whether it was given alone or with others in one step.
#pragma once
#include <cstddef>
#include <vector>

#include "attnkit/mechanisms.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

// Keys per split-KV chunk: one task of a decoding step (per batch item and head) and one partial result.
constexpr std::size_t kDecodeChunk = 256;

class Decoder {
 public:
  // max_tokens ≥ 1, and at most the module's context_length when it has one; batch ≥ 1; threads 0:
  // default_num_threads(). Throws Error for a module that is not causal or has no projections (simplified).
  Decoder(const Module& module, std::size_t max_tokens, std::size_t batch = 1, std::size_t threads = 0);

  // x_new: (batch, t, d_in), or (t, d_in) when batch is 1; t ≥ 1 new tokens. Appends their keys and values to the
  // cache and returns their context, (batch, t, d_out_total) or (t, d_out_total). The reference stays valid until
  // the next step or reset (the buffer is the session's own). Throws Error, leaving the cache as it was, for a
  // bad shape, non-finite input, more tokens than the cache has room for, or a result that leaves float32.
  const Tensor& step(const Tensor& x_new);

  void reset() noexcept { length_ = 0; }  // forget every token; the buffers are kept
  // Keep the first `length` tokens and forget the rest (a rejected draft, a beam); Error if length > length().
  void rewind(std::size_t length);
  std::size_t length() const noexcept { return length_; }  // tokens in the cache
  std::size_t max_tokens() const noexcept { return max_tokens_; }
  std::size_t batch() const noexcept { return batch_; }
  std::size_t threads() const noexcept { return threads_; }
  void set_threads(std::size_t threads) noexcept { threads_ = threads; }
  // Bytes of the buffers the session holds (cache, scratch, output).
  std::size_t bytes() const noexcept;

 private:
  const Module* module_;
  std::size_t max_tokens_, batch_, threads_, length_ = 0;
  std::size_t heads_, head_dim_, width_;  // width_: heads·head_dim, the context before out_proj
  std::size_t slice_;                     // tokens per pass through projections and attention
  std::vector<float> keys_, values_;      // (batch, heads, max_tokens, head_dim)
  std::vector<float> qkv_;                // (batch·slice, 3·width) one pass's projections
  std::vector<float> context_;            // (batch·slice, width) before out_proj (multihead)
  std::vector<float> partial_, lse_;      // (batch, heads, chunks, slice, head_dim) and (…, slice): split-KV partials
  std::vector<float> row_weights_;        // (max_tokens) float64 recomputation of a row that left float32
  Tensor output_;                         // capacity (batch, max_tokens, d_out_total)

  // Context of tokens [position, position + tokens) (queries in qkv_, keys and values in the cache) into out:
  // row i of sequence bi at out + bi·batch_stride + i·width_ (core/src/decoder_attention.cpp).
  void attend(std::size_t position, std::size_t tokens, float* out, std::size_t batch_stride);
};

}  // namespace attnkit
