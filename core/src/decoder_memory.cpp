// attnkit — a cross-attention decoding session's memory (the encoder's keys and values, projected once, and its
// padding as an additive mask), a self-attention session's past loaded from elsewhere, and the attention weights of
// a step's tokens on request.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "attnkit/decoder.hpp"
#include "attnkit/errors.hpp"
#include "module_internal.hpp"
#include "ops.hpp"
#include "overflow.hpp"

namespace attnkit {
namespace {

std::string num(std::size_t v) { return std::to_string(v); }

// (batch, n_k, features) of memory's kv or value_input, rank 3 or (for batch 1) rank 2.
struct Operand {
  std::size_t batch, tokens, features;
};

Operand operand(const Tensor& t, const char* name, const char* features_name, std::size_t expected_features) {
  if (t.rank() != 3 && t.rank() != 2)
    throw Error(std::string("memory ") + name + " must have shape (batch, n_k, " + features_name + ") or (n_k, " +
                features_name + "); got rank " + num(t.rank()) + " shape " + shape_to_string(t.shape));
  const bool batched = t.rank() == 3;
  const Operand o{batched ? t.shape[0] : 1, t.shape[batched ? 1 : 0], t.shape.back()};
  if (o.batch == 0) throw Error(std::string("memory ") + name + " has batch 0; expected at least 1", ErrorKind::range);
  if (o.tokens == 0)
    throw Error(std::string("memory ") + name + " has 0 tokens; expected at least 1", ErrorKind::range);
  if (o.features != expected_features)
    throw Error(std::string("memory ") + name + " has " + num(o.features) + " features (shape " +
                shape_to_string(t.shape) + "); expected " + features_name + " " + num(expected_features));
  check_finite(t, name);
  return o;
}

}  // namespace

void Decoder::set_memory(const DecodeMemory& memory) {
  const Module& module = *module_;
  const Config& c = module.config();
  if (!cross_)
    throw Error(
        "set_memory is for cross-attention sessions; this one decodes self-attention (expected a session "
        "from begin_decode(max_tokens, DecodeMemory))");
  if (!memory.kv) throw Error("cross-attention decoding needs memory.kv (batch, n_k, k_dim); got none");
  // Everything is checked before the session changes: a refused memory leaves it as it was.
  const Operand key_in = operand(*memory.kv, "kv", "k_dim", module.key_dim());
  const Tensor* value_tensor = memory.value_input ? memory.value_input : memory.kv;
  const Operand value_in =
      operand(*value_tensor, memory.value_input ? "value_input" : "kv", "v_dim", module.value_dim());
  if (memory.value_input && value_tensor->rank() != memory.kv->rank())
    throw Error("memory value_input has rank " + num(value_tensor->rank()) + " but kv rank " + num(memory.kv->rank()) +
                "; expected the same");
  if (value_in.batch != key_in.batch || value_in.tokens != key_in.tokens)
    throw Error("memory value_input has shape " + shape_to_string(value_tensor->shape) + " but kv " +
                shape_to_string(memory.kv->shape) + "; expected batch " + num(key_in.batch) + " and " +
                num(key_in.tokens) + " tokens");
  if (batch_ != 0 && key_in.batch != batch_)
    throw Error("memory kv has batch " + num(key_in.batch) + " (shape " + shape_to_string(memory.kv->shape) +
                "); expected the session's batch " + num(batch_));
  const std::size_t b = key_in.batch, n_k = key_in.tokens;
  if (c.context_length != 0 && n_k > c.context_length)
    throw Error("memory kv has " + num(n_k) + " tokens but context_length is " + num(c.context_length) +
                    "; expected at most " + num(c.context_length) + " tokens",
                ErrorKind::range);
  // nn.MultiheadAttention's key_padding_mask, as the op's mask (b, 1, 1, n_k): boolean 1 = may attend, or added.
  const std::optional<AttentionMask> padding =
      module_attention_mask(memory.key_padding_mask, nullptr, b, heads_, 1, n_k, memory.kv->rank() == 3);
  const std::size_t hd = head_dim_, D = width_, D_kv = kv_heads_ * hd;
  checked_numel({b, kv_heads_, n_k, hd});
  const float* bias = module.qkv_bias_.empty() ? nullptr : module.qkv_bias_.data();
  const float* w_key = module.qkv_weight_.data() + D * c.d_in;
  const float* w_value = w_key + D_kv * key_in.features;
  std::vector<float> keys(checked_numel({b * n_k, D_kv})), values(keys.size());  // (b·n_k, D_kv) as projected
  if (detail::linear(memory.kv->ptr(), b * n_k, key_in.features, w_key, bias ? bias + D : nullptr, D_kv, keys.data(),
                     threads_))
    detail::screen_projection(keys.data(), b * n_k, n_k, D_kv, detail::Projection::key);
  if (detail::linear(value_tensor->ptr(), b * n_k, value_in.features, w_value, bias ? bias + D + D_kv : nullptr, D_kv,
                     values.data(), threads_))
    detail::screen_projection(values.data(), b * n_k, n_k, D_kv, detail::Projection::value);

  // Accepted: the session now holds this memory, its heads apart.                         (b, H_kv, n_k, hd)
  batch_ = b;
  cache_tokens_ = memory_tokens_ = n_k;
  length_ = 0;
  keys_.assign(b * D_kv * n_k, 0.0f);
  values_.assign(keys_.size(), 0.0f);
  for (std::size_t bi = 0; bi < b; ++bi)
    for (std::size_t g = 0; g < kv_heads_; ++g)
      for (std::size_t j = 0; j < n_k; ++j) {
        const std::size_t from = (bi * n_k + j) * D_kv + g * hd, to = ((bi * kv_heads_ + g) * n_k + j) * hd;
        std::copy_n(keys.data() + from, hd, keys_.data() + to);
        std::copy_n(values.data() + from, hd, values_.data() + to);
      }
  mask_.clear();
  if (padding) {
    const float ninf = -std::numeric_limits<float>::infinity();
    mask_.assign(b * n_k, 0.0f);  // (b, n_k): the mask's shape is (b or 1, 1, 1, n_k)
    for (std::size_t bi = 0; bi < b; ++bi)
      for (std::size_t j = 0; j < n_k; ++j) {
        const float v = padding->values[(padding->shape[0] == 1 ? 0 : bi) * n_k + j];
        mask_[bi * n_k + j] = padding->kind == MaskKind::boolean ? (v != 0.0f ? 0.0f : ninf) : v;
      }
  }
  size_buffers();
}

void Decoder::load_past(const Tensor& past_key, const Tensor& past_value) {
  if (cross_)
    throw Error("load_past is for self-attention sessions; this one decodes cross-attention (expected set_memory)");
  const std::size_t hd = head_dim_;
  for (const Tensor* t : {&past_key, &past_value}) {
    const char* name = t == &past_key ? "past_key" : "past_value";
    if (t->rank() != 4 || t->shape[0] != batch_ || t->shape[1] != kv_heads_ || t->shape[3] != hd ||
        t->shape[2] > max_tokens_)
      throw Error(std::string(name) + " has shape " + shape_to_string(t->shape) + "; expected (batch " + num(batch_) +
                  ", kv_heads " + num(kv_heads_) + ", t ≤ max_tokens " + num(max_tokens_) + ", head_dim " + num(hd) +
                  ")");
    check_finite(*t, name);
  }
  if (past_value.shape[2] != past_key.shape[2])
    throw Error("past_value has " + num(past_value.shape[2]) + " tokens but past_key " + num(past_key.shape[2]) +
                "; expected the same");
  const std::size_t t = past_key.shape[2];
  for (std::size_t bg = 0; bg < batch_ * kv_heads_; ++bg) {  // (b, H_kv, t, hd) into (b, H_kv, max_tokens, hd)
    std::copy_n(past_key.ptr() + bg * t * hd, t * hd, keys_.data() + bg * cache_tokens_ * hd);
    std::copy_n(past_value.ptr() + bg * t * hd, t * hd, values_.data() + bg * cache_tokens_ * hd);
  }
  length_ = t;
}

void Decoder::attend_weights(std::size_t position, std::size_t tokens, std::size_t first, Tensor& weights) const {
  const std::size_t H = heads_, hd = head_dim_, group = heads_ / kv_heads_;
  const std::size_t t = weights.shape[2], keys = weights.shape[3];
  for (std::size_t bi = 0; bi < batch_; ++bi)
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t i = 0; i < tokens; ++i) {
        const std::size_t cache = (bi * kv_heads_ + h / group) * cache_tokens_ * hd;
        const std::size_t see = cross_ ? memory_tokens_ : position + i + 1;
        const detail::AttentionRow row{qkv_.data() + (bi * slice_ + i) * qkv_ld_ + h * hd,
                                       keys_.data() + cache,
                                       hd,
                                       values_.data() + cache,
                                       hd,
                                       keys,
                                       hd,
                                       hd,
                                       1.0 / std::sqrt(static_cast<double>(hd)),
                                       see,
                                       mask_.empty() ? nullptr : mask_.data() + bi * memory_tokens_};
        detail::attention_weights_f64(row, weights.ptr() + ((bi * H + h) * t + first + i) * keys);
      }
}

}  // namespace attnkit
