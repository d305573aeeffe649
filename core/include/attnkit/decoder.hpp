// attnkit — generation token by token. A decoding session on a Module keeps the keys and values every step attends
// to, in one of two modes (as a Transformer decoder layer has both attentions):
//
//   self-attention (a causal module): the KV cache. Each step appends its new tokens' keys and values and attends
//   causally over every token so far (HF's past_key_values, PyTorch's incremental decoding).
//     attnkit::Decoder decoder = module.begin_decode(1024);        // room for 1024 tokens, batch 1
//     const attnkit::Tensor& context = decoder.step(x_new);         // x_new (1, t, d_in) → (1, t, d_out_total)
//
//   cross-attention (a module with Config::causal = false, e.g. k_dim/v_dim set): keys and values come from the
//   encoder's output, `memory` (nn.TransformerDecoder's memory and memory_key_padding_mask; HF's
//   encoder_hidden_states), projected once when the session begins or at set_memory; each step projects only its
//   queries and attends every memory key the padding mask allows (not causal).
//     attnkit::DecodeMemory memory{&encoder_out, nullptr, &padding};  // (b, n_k, k_dim), (b, n_k) true = padding
//     attnkit::Decoder decoder = module.begin_decode(1024, memory);   // batch from memory
//
// Grouped-query modules (Config::kv_heads < num_heads) cache kv_heads heads; the num_heads / kv_heads query heads of
// a group read the same cache head (nothing is copied).
//
// step(x_new) gives the rows of forward's context for those positions, where forward sees every token given since
// begin_decode, reset or set_memory (self: forward(x); cross: forward(x, {kv, value_input, key_padding_mask})), to
// ~1e-6 relative. Decoding runs in evaluation mode: dropout is never applied (as after model.eval()), whatever
// Config::dropout says, and the generator is not advanced.
//
// No allocation per step (unless weights are requested): the cache, the scratch and the output are sized when the
// session begins. Long caches are split over the key axis (flash-decoding): fixed chunks of kDecodeChunk keys, each
// one task for the thread pool, merged in chunk order, so the context has the same bits for any thread count, and a
// token's context is the same whether it was given alone or with others in one step.
#pragma once
#include <cstddef>
#include <vector>

#include "attnkit/attention.hpp"
#include "attnkit/mechanisms.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

// Keys per split-KV chunk: one task of a decoding step (per batch item and head) and one partial result.
constexpr std::size_t kDecodeChunk = 256;

// The encoder's output for cross-attention decoding, read once (nothing is kept but its projections).
struct DecodeMemory {
  const Tensor* kv = nullptr;  // (batch, n_k, k_dim), or (n_k, k_dim) for batch 1: W_key's input (and W_value's)
  const Tensor* value_input = nullptr;  // (batch, n_k, v_dim): W_value's input when it is not kv. Default kv
  // (batch, n_k), or (n_k) with an unbatched kv: nn.MultiheadAttention's key_padding_mask, boolean true = padding
  // (ignored) or float (added to the scores, −inf allowed). A token left with no key gets a zero context.
  const AttentionMask* key_padding_mask = nullptr;
};

class Decoder {
 public:
  // Self-attention. max_tokens ≥ 1, and at most the module's context_length when it has one; batch ≥ 1; threads 0:
  // default_num_threads(). Throws Error for a module that is not causal, has no projections (simplified), or reads
  // keys of another width (k_dim or v_dim ≠ d_in: give memory).
  Decoder(const Module& module, std::size_t max_tokens, std::size_t batch = 1, std::size_t threads = 0);
  // Cross-attention over memory (see set_memory); the batch is memory's. max_tokens bounds the tokens decoded (the
  // output buffer). Throws Error for a causal module (expected Config::causal = false) or one without projections.
  Decoder(const Module& module, std::size_t max_tokens, const DecodeMemory& memory, std::size_t threads = 0);

  // x_new: (batch, t, d_in), or (t, d_in) when batch is 1; t ≥ 1 new tokens. Self-attention appends their keys and
  // values to the cache; returns their context, (batch, t, d_out_total) or (t, d_out_total). The reference stays
  // valid until the next step or reset (the buffer is the session's own). weights (optional, allocated): each new
  // token's attention weights, (batch, num_heads, t, keys) or (num_heads, t, keys) with keys = length() after the
  // step (self; 0 for keys in a token's future) or memory_tokens() (cross; 0 at padding): the rows of forward's
  // weights. Throws Error, leaving the cache as it was, for a bad shape, non-finite input, more tokens than
  // max_tokens − length(), or a result that leaves float32.
  const Tensor& step(const Tensor& x_new, Tensor* weights = nullptr);

  // Cross-attention: project a new memory (the same batch, any n_k; buffers grow if needed) and forget every token.
  // Throws Error for a bad shape or mask, leaving the session as it was, or on a self-attention session.
  void set_memory(const DecodeMemory& memory);

  // Self-attention: start from keys and values computed elsewhere (HF's past_key_values, onnxruntime's past_key /
  // past_value), each (batch, kv_heads, t, head_dim) with t ≤ max_tokens, in place of every token so far
  // (length() becomes t). Throws Error for another shape, non-finite values, or a cross-attention session.
  void load_past(const Tensor& past_key, const Tensor& past_value);

  void reset() noexcept { length_ = 0; }  // forget every token; the buffers (and a cross session's memory) are kept
  // Keep the first `length` tokens and forget the rest (a rejected draft, a beam); Error if length > length().
  void rewind(std::size_t length);
  std::size_t length() const noexcept { return length_; }  // tokens decoded (in the cache, for self-attention)
  std::size_t max_tokens() const noexcept { return max_tokens_; }
  std::size_t batch() const noexcept { return batch_; }
  bool cross() const noexcept { return cross_; }
  std::size_t memory_tokens() const noexcept { return memory_tokens_; }  // n_k of the memory (cross), else 0
  std::size_t threads() const noexcept { return threads_; }
  void set_threads(std::size_t threads) noexcept { threads_ = threads; }
  // Bytes of the buffers the session holds (cache or projected memory, scratch, output).
  std::size_t bytes() const noexcept;

 private:
  const Module* module_;
  std::size_t max_tokens_, batch_, threads_, length_ = 0;
  bool cross_ = false;
  std::size_t heads_, kv_heads_, head_dim_, width_;   // width_: heads·head_dim, the context before out_proj
  std::size_t qkv_ld_;                                // floats per token in qkv_: queries (cross) or q|k|v (self)
  std::size_t cache_tokens_ = 0, memory_tokens_ = 0;  // the cache's token axis; memory's tokens (cross)
  std::size_t slice_;                                 // tokens per pass through projections and attention
  std::vector<float> keys_, values_;                  // (batch, kv_heads, cache_tokens, head_dim)
  std::vector<float> mask_;           // (batch, memory_tokens) additive, −inf at padding (cross); empty: none
  std::vector<float> qkv_;            // (batch·slice, qkv_ld) one pass's projections
  std::vector<float> context_;        // (batch·slice, width) before out_proj (multihead)
  std::vector<float> partial_, lse_;  // (batch, heads, chunks, slice, head_dim) and (…, slice): split-KV partials
  std::vector<float> row_weights_;    // (cache_tokens) float64 recomputation of a row that left float32
  Tensor output_;                     // capacity (batch, max_tokens, d_out_total)

  void check_module(const char* mode);  // checks what both modes need; sets the heads and widths
  void size_buffers();                  // partial_, lse_, row_weights_ for cache_tokens_
  // Context of tokens [position, position + tokens) (queries in qkv_, keys and values in the cache) into out:
  // row i of sequence bi at out + bi·batch_stride + i·width_ (core/src/decoder_attention.cpp).
  void attend(std::size_t position, std::size_t tokens, float* out, std::size_t batch_stride);
  // Their weights into weights (batch, heads, t, keys) at rows [first, first + tokens) (core/src/decoder_memory.cpp).
  void attend_weights(std::size_t position, std::size_t tokens, std::size_t first, Tensor& weights) const;
};

}  // namespace attnkit
