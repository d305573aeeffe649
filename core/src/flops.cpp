// attnkit — the useful FLOPs of a forward pass (the count every benchmark divides by).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "attnkit/bench_configs.hpp"
#include "attnkit/errors.hpp"
#include "attnkit/traits.hpp"
#include "module_internal.hpp"

namespace attnkit {

double forward_flops(const Config& config, const Shape& x) {
  if (x.size() != 2 && x.size() != 3)
    throw Error("x must have shape (batch, tokens, d_in) or (tokens, d_in); got " + shape_to_string(x));
  const detail::ModuleGeometry g = detail::check_config(config);
  const bool batched = x.size() == 3;
  const double b = batched ? double(x[0]) : 1.0, n = double(x[batched ? 1 : 0]);
  const std::size_t d_in = x.back();
  if (config.d_in != 0 && d_in != config.d_in)
    throw Error("x has d_in " + std::to_string(d_in) + " (shape " + shape_to_string(x) + "); expected d_in " +
                std::to_string(config.d_in));
  const double heads = double(g.num_heads);
  const double head_dim = config.mechanism == Mechanism::simplified ? double(d_in) : double(g.head_dim);
  const double width = heads * head_dim;  // the context's columns before out_proj
  double flops = 0;
  if (traits(config.mechanism).has_parameters) flops += 3 * 2 * b * n * double(d_in) * width;       // q, k, v = x·Wᵀ
  if (config.mechanism == Mechanism::multihead) flops += 2 * b * n * width * double(config.d_out);  // out_proj
  const double pairs = g.causal ? n * (n + 1) / 2 : n * n;  // visible (query, key) pairs per head
  flops += 2 * 2 * b * heads * pairs * head_dim;            // q·kᵀ and weights·v
  return flops;
}

double forward_flops(const Config& config, const Shape& x, const ForwardInputs& in) {
  if (!in.kv && !in.value_input && !in.key_padding_mask && !in.attn_mask) return forward_flops(config, x);
  if (x.size() != 2 && x.size() != 3)
    throw Error("x must have shape (batch, tokens, d_in) or (tokens, d_in); got " + shape_to_string(x));
  const detail::ModuleGeometry g = detail::check_config(config);
  const bool batched = x.size() == 3, simplified = config.mechanism == Mechanism::simplified;
  const std::size_t b = batched ? x[0] : 1, n_q = x[batched ? 1 : 0], d_in = x.back();
  const Shape* kv = in.kv ? &in.kv->shape : nullptr;
  const Shape* value = in.value_input ? &in.value_input->shape : kv;
  const std::size_t n_k = kv && kv->size() >= 2 ? (*kv)[kv->size() - 2] : n_q;
  const double key_f = double(kv ? kv->back() : d_in), value_f = double(value ? value->back() : key_f);
  const std::size_t H = g.num_heads;
  const double hd = simplified ? double(d_in) : double(g.head_dim), value_hd = simplified ? value_f : hd;
  const double H_kv = simplified ? 1.0 : double(config.kv_heads ? config.kv_heads : H);
  double flops = 0;
  if (!simplified) {
    flops += 2.0 * b * n_q * double(d_in) * (H * hd);          // queries = x·W_queryᵀ
    flops += 2.0 * b * n_k * (key_f + value_f) * (H_kv * hd);  // keys, values = kv·Wᵀ
    if (config.mechanism == Mechanism::multihead) flops += 2.0 * b * n_q * (H * hd) * double(config.d_out);
  }
  // Attended pairs per (batch, head): causally visible and allowed by the op's mask (1 = may attend, or not −inf).
  const std::optional<AttentionMask> mask =
      module_attention_mask(in.key_padding_mask, in.attn_mask, b, H, n_q, n_k, batched);
  const long long offset = n_q == n_k ? 0 : static_cast<long long>(n_k) - static_cast<long long>(n_q);
  double pairs = 0;
  for (std::size_t bi = 0; bi < b; ++bi)
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t i = 0; i < n_q; ++i) {
        const long long see = g.causal ? static_cast<long long>(i) + 1 + offset : static_cast<long long>(n_k);
        const std::size_t visible = see <= 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(see), n_k);
        if (!mask) {
          pairs += double(visible);
          continue;
        }
        const Shape& s = mask->shape;  // (B, H', Q, n_k), each of B, H', Q 1 or full
        const float* row = mask->values.data() +
                           (((s[0] == 1 ? 0 : bi) * s[1] + (s[1] == 1 ? 0 : h)) * s[2] + (s[2] == 1 ? 0 : i)) * n_k;
        for (std::size_t j = 0; j < visible; ++j)
          pairs += mask->kind == MaskKind::boolean ? (row[j] != 0.0f ? 1.0 : 0.0) : (std::isinf(row[j]) ? 0.0 : 1.0);
      }
  flops += 2.0 * pairs * (hd + value_hd);  // q·kᵀ and weights·v
  return flops;
}

}  // namespace attnkit
