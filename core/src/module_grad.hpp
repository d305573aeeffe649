// attnkit — what a Module forward with ForwardOptions::grad keeps for Module::backward (core/src/module_backward.cpp):
// copies of the inputs, each attention pass's split heads and the op's AttentionForwardState, and multihead's
// context before out_proj. Internal to core.
#pragma once
#include <cstddef>
#include <optional>
#include <vector>

#include "attnkit/attention.hpp"
#include "attnkit/attention_grad.hpp"
#include "attnkit/mechanisms.hpp"

namespace attnkit {

struct Module::GradTape {
  // Where the keys' and the values' input came from (x when no kv was given, kv when no value_input).
  enum class Source { x, kv, value_input };

  bool batched = true;
  std::size_t batch = 1, n_q = 0, n_k = 0;
  std::size_t d_in = 0, key_features = 0, value_features = 0;  // widths of x, the keys' input, the values' input
  std::size_t heads = 1, kv_heads = 1, head_dim = 0, value_head_dim = 0;
  std::size_t heads_per_pass = 1, kv_per_pass = 1;  // the wrapper runs one head per pass, the others all at once
  std::size_t threads = 0;
  Source key_from = Source::x, value_from = Source::x;
  Shape context_shape;               // as forward returned it
  Tensor x, kv, value_input;         // (b, n_q, d_in), (b, n_k, key_features), (b, n_k, value_features); copies
  std::vector<float> context_heads;  // (b·n_q, heads·value_head_dim): multihead's input of out_proj
  AttentionOptions options;          // the op's options (attn_mask and generator are set per pass)

  struct Pass {
    Tensor query, key, value;           // (b, heads_per_pass, n_q, hd), (b, kv_per_pass, n_k, hd), (…, value_hd)
    std::optional<AttentionMask> mask;  // the op's mask of this pass
    AttentionForwardState state;
  };
  std::vector<Pass> passes;
};

}  // namespace attnkit
