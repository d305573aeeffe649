// attnkit — what the files that make up Module share: the mechanisms' predicates, message helpers, the
// state_dict index and the packed parameters. Internal to core.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attnkit/mechanisms.hpp"
#include "ops.hpp"

namespace attnkit {

// The parameters in the kernels' layout: the stacked q|k|v weight and multihead's out_proj.
struct Module::PackedWeights {
  std::unique_ptr<detail::PackedWeight> qkv, out_proj;
};

namespace detail {

// What a valid config implies; check_config throws Error naming the first problem otherwise.
struct ModuleGeometry {
  bool causal = false;
  std::size_t num_heads = 1, head_dim = 0;  // simplified: head_dim 0 (the input's d_in) unless d_in is set
};
ModuleGeometry check_config(const Config& c);

// Read from the traits table.
bool has_dropout(Mechanism m);
bool has_heads(Mechanism m);
bool has_linear(Mechanism m);       // nn.Linear projections (and so a qkv bias)
bool has_mask_buffer(Mechanism m);  // the classes that register_buffer('mask')
// "causal, multihead-wrapper and multihead": the mechanisms `option` applies to, for messages.
std::string mechanisms_with(const std::string& option);

// User text in a message, on one line: control characters are shown as \xNN.
std::string printable(const std::string& s);
// The same in single quotes: 'foo'.
std::string quoted(const std::string& s);

// Name → tensor, so loading and packing stay linear in the number of heads (the wrapper has 3 per head).
std::unordered_map<std::string_view, const Tensor*> index_by_name(const StateDict& sd);

// The lengths (per batch item: keys before the first padding key) of a boolean key_padding_mask for x whose
// padding is all at the end of each sequence (true = padding); nullopt for any other mask (or a shape forward
// refuses: the general path names the problem).
std::optional<std::vector<std::size_t>> padding_lengths(const AttentionMask& key_padding_mask, const Shape& x);

// Copies a (b, n, ld) view's H heads of hd columns into (b, H, n, hd) layout.
Tensor split_heads(const HeadsView& v, std::size_t b, std::size_t n, std::size_t H, std::size_t hd);

}  // namespace detail
}  // namespace attnkit
