// attnkit — nn.MultiheadAttention's key_padding_mask and attn_mask (boolean true = may NOT attend) converted once,
// at the module boundary, into the attention op's AttentionMask (boolean true = may attend).
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "module_internal.hpp"

namespace attnkit {
namespace {

std::string n(std::size_t v) { return std::to_string(v); }

void check_values(const AttentionMask& m, const char* name) {
  const std::size_t count = checked_numel(m.shape);
  if (m.values.size() != count)
    throw Error(std::string(name) + " has " + n(m.values.size()) + " values but its shape " + shape_to_string(m.shape) +
                " holds " + n(count));
  for (std::size_t i = 0; i < count; ++i) {
    const float v = m.values[i];
    if (m.kind == MaskKind::boolean && v != 0.0f && v != 1.0f)
      throw Error(std::string(name) + " (boolean) has " + format_number(v) + " at flat index " + n(i) +
                  "; expected true (1: may not attend) or false (0)");
    if (m.kind == MaskKind::additive && !(std::isfinite(v) || v == -std::numeric_limits<float>::infinity()))
      throw Error(std::string(name) + " has " + format_number(v) + " at flat index " + n(i) +
                  "; expected finite numbers or -inf");
  }
}

// Additive value of one entry: a boolean true is −inf.
float added(const AttentionMask& m, std::size_t i) {
  if (m.kind == MaskKind::additive) return m.values[i];
  return m.values[i] != 0.0f ? -std::numeric_limits<float>::infinity() : 0.0f;
}

}  // namespace

std::optional<AttentionMask> module_attention_mask(const AttentionMask* key_padding_mask,
                                                   const AttentionMask* attn_mask, std::size_t batch, std::size_t heads,
                                                   std::size_t n_q, std::size_t n_k, bool batched) {
  if (!key_padding_mask && !attn_mask) return std::nullopt;
  if (key_padding_mask) {
    const Shape want = batched ? Shape{batch, n_k} : Shape{n_k};
    if (key_padding_mask->shape != want)
      throw Error("key_padding_mask has shape " + shape_to_string(key_padding_mask->shape) + "; expected " +
                  shape_to_string(want) + (batched ? " (b, n_k)" : " (n_k)"));
    check_values(*key_padding_mask, "key_padding_mask");
  }
  bool per_head = false;  // attn_mask (b·h, n_q, n_k) rather than (n_q, n_k)
  if (attn_mask) {
    const Shape& s = attn_mask->shape;
    const Shape plane{n_q, n_k}, stacked = {batch * heads, n_q, n_k};
    per_head = s.size() == 3;
    if (s != plane && s != stacked)
      throw Error("attn_mask has shape " + shape_to_string(s) + "; expected " + shape_to_string(plane) +
                  " (n_q, n_k) or " + shape_to_string(stacked) + (batched ? " (b·h, n_q, n_k)" : " (h, n_q, n_k)"));
    check_values(*attn_mask, "attn_mask");
  }
  const bool boolean = (!key_padding_mask || key_padding_mask->kind == MaskKind::boolean) &&
                       (!attn_mask || attn_mask->kind == MaskKind::boolean);
  // (b or 1, h or 1, n_q or 1, n_k): only the dimensions the given masks vary along.
  const std::size_t B = key_padding_mask || per_head ? batch : 1, H = per_head ? heads : 1, Q = attn_mask ? n_q : 1;
  AttentionMask out{boolean ? MaskKind::boolean : MaskKind::additive, Shape{B, H, Q, n_k},
                    std::vector<float>(checked_numel({B, H, Q, n_k}))};
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t i = 0; i < Q; ++i)
        for (std::size_t j = 0; j < n_k; ++j) {
          const std::size_t pad = b * n_k + j, plane = per_head ? ((b * heads + h) * n_q + i) * n_k + j : i * n_k + j;
          float& v = out.values[((b * H + h) * Q + i) * n_k + j];
          if (boolean) {
            const bool masked = (key_padding_mask && key_padding_mask->values[pad] != 0.0f) ||
                                (attn_mask && attn_mask->values[plane] != 0.0f);
            v = masked ? 0.0f : 1.0f;
          } else {
            v = (key_padding_mask ? added(*key_padding_mask, pad) : 0.0f) +
                (attn_mask ? added(*attn_mask, plane) : 0.0f);
          }
        }
  return out;
}

namespace detail {

std::optional<std::vector<std::size_t>> padding_lengths(const AttentionMask& m, const Shape& x) {
  if (m.kind != MaskKind::boolean || (x.size() != 2 && x.size() != 3)) return std::nullopt;
  const bool batched = x.size() == 3;
  const std::size_t b = batched ? x[0] : 1, n = x[batched ? 1 : 0];
  if (m.shape != (batched ? Shape{b, n} : Shape{n}) || m.values.size() != b * n) return std::nullopt;
  std::vector<std::size_t> lengths(b);
  for (std::size_t bi = 0; bi < b; ++bi) {
    const float* row = m.values.data() + bi * n;
    std::size_t len = 0;
    while (len < n && row[len] == 0.0f) ++len;
    for (std::size_t j = len; j < n; ++j)
      if (row[j] != 1.0f) return std::nullopt;  // a real key after padding, or not a boolean
    lengths[bi] = len;
  }
  return lengths;
}

}  // namespace detail
}  // namespace attnkit
