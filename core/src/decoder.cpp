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

Decoder::Decoder(const Module& module, std::size_t max_tokens, std::size_t batch, std::size_t threads)
    : module_(&module), max_tokens_(max_tokens), batch_(batch), threads_(threads) {
  const Config& c = module.config();
  const std::string mech = detail::quoted(traits(c.mechanism).name);
  if (!traits(c.mechanism).has_parameters)
    throw Error("decoding needs key and value projections; mechanism " + mech +
                " has none (expected one of self-v1, self, causal, multihead-wrapper, multihead)");
  if (!module.causal())
    throw Error("decoding needs a causal module; this " + mech +
                " module is not causal (expected Config::causal = true)");
  // The cache holds self-attention's keys and values, one per query head (the q|k|v layout forward uses).
  if ((c.kv_heads != 0 && c.kv_heads != c.num_heads) || (c.k_dim != 0 && c.k_dim != c.d_in) ||
      (c.v_dim != 0 && c.v_dim != c.d_in))
    throw Error("decoding supports self-attention with num_heads key and value heads; expected kv_heads 0 or " +
                num(c.num_heads) + " and k_dim, v_dim 0 or " + num(c.d_in) + " (got kv_heads " + num(c.kv_heads) +
                ", k_dim " + num(c.k_dim) + ", v_dim " + num(c.v_dim) + ")");
  if (max_tokens == 0) throw Error("max_tokens must be at least 1 (got 0)", ErrorKind::range);
  if (c.context_length != 0 && max_tokens > c.context_length)
    throw Error("max_tokens (" + num(max_tokens) + ") exceeds the module's context_length (" + num(c.context_length) +
                    "); expected at most " + num(c.context_length),
                ErrorKind::range);
  if (batch == 0) throw Error("batch must be at least 1 (got 0)", ErrorKind::range);
  heads_ = module.num_heads();
  head_dim_ = module.head_dim();
  width_ = heads_ * head_dim_;
  slice_ = std::min(max_tokens, kSliceTokens);
  const std::size_t chunks = (max_tokens + kDecodeChunk - 1) / kDecodeChunk;
  // Refuse what cannot be allocated before allocating any of it (each count checked as separate sizes).
  const std::size_t cache = checked_numel({batch, heads_, max_tokens, head_dim_});
  const std::size_t partial = checked_numel({batch, heads_, chunks, slice_, head_dim_});
  const std::size_t out = checked_numel({batch, max_tokens, module.d_out_total()});
  keys_.assign(cache, 0.0f);
  values_.assign(cache, 0.0f);
  qkv_.assign(checked_numel({batch, slice_, 3, width_}), 0.0f);
  if (c.mechanism == Mechanism::multihead) context_.assign(checked_numel({batch, slice_, width_}), 0.0f);
  partial_.assign(partial, 0.0f);
  lse_.assign(batch * heads_ * chunks * slice_, 0.0f);
  row_weights_.assign(max_tokens, 0.0f);
  output_.data.reserve(out);
  output_.shape.reserve(3);
}

std::size_t Decoder::bytes() const noexcept {
  const std::size_t floats = keys_.capacity() + values_.capacity() + qkv_.capacity() + context_.capacity() +
                             partial_.capacity() + lse_.capacity() + row_weights_.capacity() + output_.data.capacity();
  return floats * sizeof(float);
}

void Decoder::rewind(std::size_t length) {
  if (length > length_)
    throw Error("rewind to " + num(length) + " tokens, but the KV cache holds " + num(length_) + "; expected at most " +
                    num(length_),
                ErrorKind::range);
  length_ = length;
}

const Tensor& Decoder::step(const Tensor& x_new) {
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
                num(batch_) + " (the session's, from begin_decode)");
  if (t == 0) throw Error("x_new has 0 tokens; expected at least 1", ErrorKind::range);
  if (d_in != c.d_in)
    throw Error("x_new has d_in " + num(d_in) + " (shape " + shape_to_string(x_new.shape) + "); expected d_in " +
                num(c.d_in));
  if (t > max_tokens_ - length_)
    throw Error("the KV cache holds max_tokens (" + num(max_tokens_) + ") tokens; this step adds " + num(t) + " to " +
                    num(length_) + "; expected at most " + num(max_tokens_ - length_) + " new tokens or reset()",
                ErrorKind::range);
  check_finite(x_new, "x_new");

  const std::size_t D = width_, hd = head_dim_, H = heads_, d_out = module.d_out_total();
  const bool multihead = c.mechanism == Mechanism::multihead;
  output_.shape.assign({b, t, d_out});
  if (!batched) output_.shape.erase(output_.shape.begin());
  output_.data.resize(b * t * d_out);  // within the capacity reserved at the start: no allocation
  const float* qkv_bias = module.qkv_bias_.empty() ? nullptr : module.qkv_bias_.data();

  for (std::size_t s0 = 0; s0 < t; s0 += slice_) {
    const std::size_t sn = std::min(slice_, t - s0), position = length_ + s0;
    // Queries, keys, values of the slice's tokens, per sequence: x·Wᵀ (+ b).                  (b, sn, 3·D)
    for (std::size_t bi = 0; bi < b; ++bi) {
      float* qkv = qkv_.data() + bi * slice_ * 3 * D;
      detail::linear(x_new.ptr() + (bi * t + s0) * d_in, sn, d_in, module.qkv_weight_.data(), qkv_bias, 3 * D, qkv,
                     threads_, module.packed_->qkv.get());
      screen(qkv, sn, 3 * D, c.mechanism == Mechanism::self_v1 ? detail::Projection::qkv_v1 : detail::Projection::qkv,
             bi, position);
      // Append the keys and values at positions [position, position + sn) of each head.      (b, H, max_tokens, hd)
      for (std::size_t h = 0; h < H; ++h)
        for (std::size_t i = 0; i < sn; ++i) {
          const std::size_t at = ((bi * H + h) * max_tokens_ + position + i) * hd;
          std::memcpy(keys_.data() + at, qkv + i * 3 * D + D + h * hd, hd * sizeof(float));
          std::memcpy(values_.data() + at, qkv + i * 3 * D + 2 * D + h * hd, hd * sizeof(float));
        }
    }
    // Attention of the slice's queries over every cached key they may see.                    (b, sn, D)
    if (multihead) {
      attend(position, sn, context_.data(), slice_ * D);
      // out_proj combines the heads.                                                          (b, sn, d_out)
      const Tensor& weight = module.params_[module.out_proj_weight_].second;
      const Tensor& bias = module.params_[module.out_proj_bias_].second;
      for (std::size_t bi = 0; bi < b; ++bi) {
        float* out = output_.ptr() + (bi * t + s0) * d_out;
        detail::linear(context_.data() + bi * slice_ * D, sn, D, weight.ptr(), bias.ptr(), d_out, out, threads_,
                       module.packed_->out_proj.get());
        screen(out, sn, d_out, detail::Projection::out_proj, bi, position);
      }
    } else {
      attend(position, sn, output_.ptr() + s0 * D, t * D);
    }
  }
  length_ += t;  // only now: a step that throws leaves the cache as it was
  return output_;
}

}  // namespace attnkit
