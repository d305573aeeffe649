// attnkit — a decoding session: checks, buffers sized once, and a step's projections and cache appends.
// The split-KV attention over the cache is decoder_attention.cpp.
#include "attnkit/decoder.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "attnkit/errors.hpp"
#include "attnkit/traits.hpp"
#include "module_internal.hpp"
#include "ops.hpp"
#include "overflow.hpp"

namespace attnkit {
namespace {

// Tokens per pass through projections and attention: bounds the scratch (a prefill of max_tokens tokens goes
// through in passes) without changing any token's bits (rows are independent in both).
constexpr std::size_t kSliceTokens = 16;

std::string num(std::size_t v) { return std::to_string(v); }

// The projection screen of core/src/overflow.hpp on one sequence's rows of a pass: its message names batch 0 and
// the row in the pass; the cache's sequence and token position are what the caller needs.
void screen(const float* y, std::size_t rows, std::size_t cols, detail::Projection kind, std::size_t batch,
            std::size_t position) {
  try {
    detail::screen_projection(y, rows, rows, cols, kind);
  } catch (const Error& e) {
    std::string message = e.what();
    const std::string from = "at batch 0, token ";
    const std::size_t at = message.find(from);
    if (at != std::string::npos) {
      const std::size_t end = message.find(' ', at + from.size());
      const std::size_t row = std::stoul(message.substr(at + from.size(), end - at - from.size()));
      message.replace(at, end - at, "at batch " + num(batch) + ", token " + num(position + row));
    }
    throw Error(message, ErrorKind::range);
  }
}

}  // namespace

Decoder Module::begin_decode(std::size_t max_tokens, std::size_t batch, std::size_t threads) const {
  return Decoder(*this, max_tokens, batch, threads);
}

Decoder Module::begin_decode(std::size_t max_tokens, const DecodeMemory& memory, std::size_t threads) const {
  return Decoder(*this, max_tokens, memory, threads);
}

void Decoder::check_module(const char* mode) {
  const Module& module = *module_;
  const Config& c = module.config();
  const std::string mech = detail::quoted(traits(c.mechanism).name);
  if (!traits(c.mechanism).has_parameters)
    throw Error(std::string(mode) + " decoding needs key and value projections; mechanism " + mech +
                " has none (expected one of self-v1, self, causal, multihead-wrapper, multihead)");
  if (max_tokens_ == 0) throw Error("max_tokens must be at least 1 (got 0)", ErrorKind::range);
  if (c.context_length != 0 && max_tokens_ > c.context_length)
    throw Error("max_tokens (" + num(max_tokens_) + ") exceeds the module's context_length (" + num(c.context_length) +
                    "); expected at most " + num(c.context_length),
                ErrorKind::range);
  heads_ = module.num_heads();
  kv_heads_ = module.kv_heads();
  head_dim_ = module.head_dim();
  width_ = heads_ * head_dim_;
  slice_ = std::min(max_tokens_, kSliceTokens);
}

Decoder::Decoder(const Module& module, std::size_t max_tokens, std::size_t batch, std::size_t threads)
    : module_(&module), max_tokens_(max_tokens), batch_(batch), threads_(threads) {
  const Config& c = module.config();
  check_module("self-attention");
  const std::string mech = detail::quoted(traits(c.mechanism).name);
  if (!module.causal())
    throw Error("decoding needs a causal module; this " + mech +
                " module is not causal (expected Config::causal = true)");
  // Self-attention projects keys and values from x_new: W_key and W_value must read d_in features.
  if (module.key_dim() != c.d_in || module.value_dim() != c.d_in)
    throw Error("self-attention decoding projects keys and values from x_new, but this module reads k_dim " +
                num(module.key_dim()) + " and v_dim " + num(module.value_dim()) +
                " features; expected k_dim, v_dim 0 or " + num(c.d_in) + ", or a DecodeMemory (cross-attention)");
  if (batch == 0) throw Error("batch must be at least 1 (got 0)", ErrorKind::range);
  qkv_ld_ = width_ + 2 * kv_heads_ * head_dim_;
  cache_tokens_ = max_tokens;
  // Refuse what cannot be allocated before allocating any of it (each count checked as separate sizes).
  const std::size_t cache = checked_numel({batch, kv_heads_, max_tokens, head_dim_});
  checked_numel({batch, heads_, (max_tokens + kDecodeChunk - 1) / kDecodeChunk, slice_, head_dim_});
  const std::size_t out = checked_numel({batch, max_tokens, module.d_out_total()});
  keys_.assign(cache, 0.0f);
  values_.assign(cache, 0.0f);
  qkv_.assign(checked_numel({batch, slice_, qkv_ld_}), 0.0f);
  if (c.mechanism == Mechanism::multihead) context_.assign(checked_numel({batch, slice_, width_}), 0.0f);
  size_buffers();
  output_.data.reserve(out);
  output_.shape.reserve(4);
}

Decoder::Decoder(const Module& module, std::size_t max_tokens, const DecodeMemory& memory, std::size_t threads)
    : module_(&module), max_tokens_(max_tokens), batch_(0), threads_(threads), cross_(true) {
  const Config& c = module.config();
  check_module("cross-attention");
  if (module.causal())
    throw Error("cross-attention decoding attends every memory key from every token (not causal); this " +
                detail::quoted(traits(c.mechanism).name) + " module is causal (expected Config::causal = false)");
  qkv_ld_ = width_;
  set_memory(memory);  // sets batch_, the projected memory and the buffers sized by it
  qkv_.assign(checked_numel({batch_, slice_, qkv_ld_}), 0.0f);
  if (c.mechanism == Mechanism::multihead) context_.assign(checked_numel({batch_, slice_, width_}), 0.0f);
  output_.data.reserve(checked_numel({batch_, max_tokens, module.d_out_total()}));
  output_.shape.reserve(4);
}

void Decoder::size_buffers() {
  const std::size_t chunks = (cache_tokens_ + kDecodeChunk - 1) / kDecodeChunk;
  partial_.assign(checked_numel({batch_, heads_, chunks, slice_, head_dim_}), 0.0f);
  lse_.assign(batch_ * heads_ * chunks * slice_, 0.0f);
  row_weights_.assign(cache_tokens_, 0.0f);
}

std::size_t Decoder::bytes() const noexcept {
  const std::size_t floats = keys_.capacity() + values_.capacity() + mask_.capacity() + qkv_.capacity() +
                             context_.capacity() + partial_.capacity() + lse_.capacity() + row_weights_.capacity() +
                             output_.data.capacity();
  return floats * sizeof(float);
}

void Decoder::rewind(std::size_t length) {
  if (length > length_)
    throw Error("rewind to " + num(length) + " tokens, but the KV cache holds " + num(length_) + "; expected at most " +
                    num(length_),
                ErrorKind::range);
  length_ = length;
}

const Tensor& Decoder::step(const Tensor& x_new, Tensor* weights) {
  const Module& module = *module_;
  const Config& c = module.config();
  if (x_new.rank() != 3 && !(x_new.rank() == 2 && batch_ == 1))
    throw Error("x_new must have shape (batch, tokens, d_in)" + std::string(batch_ == 1 ? " or (tokens, d_in)" : "") +
                "; got rank " + num(x_new.rank()) + " shape " + shape_to_string(x_new.shape));
  const bool batched = x_new.rank() == 3;
  const std::size_t b = batched ? x_new.shape[0] : 1, t = x_new.shape[batched ? 1 : 0],
                    d_in = x_new.shape[batched ? 2 : 1];
  if (b != batch_)
    throw Error("x_new has batch " + num(b) + " (shape " + shape_to_string(x_new.shape) + "); expected batch " +
                num(batch_) + (cross_ ? " (the session's, from its memory)" : " (the session's, from begin_decode)"));
  if (t == 0) throw Error("x_new has 0 tokens; expected at least 1", ErrorKind::range);
  if (d_in != c.d_in)
    throw Error("x_new has d_in " + num(d_in) + " (shape " + shape_to_string(x_new.shape) + "); expected d_in " +
                num(c.d_in));
  if (t > max_tokens_ - length_)
    throw Error(std::string(cross_ ? "the session decodes" : "the KV cache holds") + " max_tokens (" +
                    num(max_tokens_) + ") tokens; this step adds " + num(t) + " to " + num(length_) +
                    "; expected at most " + num(max_tokens_ - length_) + " new tokens or reset()",
                ErrorKind::range);
  check_finite(x_new, "x_new");

  const std::size_t D = width_, D_kv = kv_heads_ * head_dim_, hd = head_dim_, d_out = module.d_out_total();
  const bool multihead = c.mechanism == Mechanism::multihead;
  output_.shape.assign({b, t, d_out});
  if (!batched) output_.shape.erase(output_.shape.begin());
  output_.data.resize(b * t * d_out);  // within the capacity reserved at the start: no allocation
  if (weights) {
    *weights = Tensor({b, heads_, t, cross_ ? memory_tokens_ : length_ + t});  // the step's rows of forward's weights
  }
  const float* qkv_bias = module.qkv_bias_.empty() ? nullptr : module.qkv_bias_.data();
  const detail::Projection kind = cross_                              ? detail::Projection::query
                                  : c.mechanism == Mechanism::self_v1 ? detail::Projection::qkv_v1
                                                                      : detail::Projection::qkv;

  for (std::size_t s0 = 0; s0 < t; s0 += slice_) {
    const std::size_t sn = std::min(slice_, t - s0), position = length_ + s0;
    // Queries (and, self-attention, keys and values) of the slice's tokens, per sequence: x·Wᵀ (+ b).  (b, sn, qkv_ld)
    for (std::size_t bi = 0; bi < b; ++bi) {
      float* qkv = qkv_.data() + bi * slice_ * qkv_ld_;
      if (detail::linear(x_new.ptr() + (bi * t + s0) * d_in, sn, d_in, module.qkv_weight_.data(), qkv_bias, qkv_ld_,
                         qkv, threads_, cross_ ? nullptr : module.packed_->qkv.get()))
        screen(qkv, sn, qkv_ld_, kind, bi, position);
      if (cross_) continue;
      // Append the keys and values at positions [position, position + sn) of each kv head.  (b, H_kv, max_tokens, hd)
      for (std::size_t g = 0; g < kv_heads_; ++g)
        for (std::size_t i = 0; i < sn; ++i) {
          const std::size_t at = ((bi * kv_heads_ + g) * cache_tokens_ + position + i) * hd;
          std::memcpy(keys_.data() + at, qkv + i * qkv_ld_ + D + g * hd, hd * sizeof(float));
          std::memcpy(values_.data() + at, qkv + i * qkv_ld_ + D + D_kv + g * hd, hd * sizeof(float));
        }
    }
    // Attention of the slice's queries over every key they may see.                           (b, sn, D)
    if (multihead) {
      attend(position, sn, context_.data(), slice_ * D);
      // out_proj combines the heads.                                                          (b, sn, d_out)
      const Tensor& weight = module.params_[module.out_proj_weight_].second;
      const Tensor& bias = module.params_[module.out_proj_bias_].second;
      for (std::size_t bi = 0; bi < b; ++bi) {
        float* out = output_.ptr() + (bi * t + s0) * d_out;
        if (detail::linear(context_.data() + bi * slice_ * D, sn, D, weight.ptr(), bias.ptr(), d_out, out, threads_,
                           module.packed_->out_proj.get()))
          screen(out, sn, d_out, detail::Projection::out_proj, bi, position);
      }
    } else {
      attend(position, sn, output_.ptr() + s0 * D, t * D);
    }
    if (weights) attend_weights(position, sn, s0, *weights);
  }
  if (weights && !batched) weights->shape.erase(weights->shape.begin());
  length_ += t;  // only now: a step that throws leaves the cache as it was
  return output_;
}

}  // namespace attnkit
