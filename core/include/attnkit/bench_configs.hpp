// attnkit — the standard benchmark configurations (C1–C5, P1, D1, D2) and the FLOP count every benchmark reports
// against
// (`attnkit bench`, bench/, the npm package and bench/compare read them from here).
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "attnkit/mechanisms.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

// What is timed: a whole forward pass, or one decoding step (attnkit/decoder.hpp) with `tokens` keys in the cache.
enum class BenchKind { forward, decode };

// One configuration: causal multi-head attention on x (batch, tokens, d_in) with d_out split into `heads`.
struct BenchConfig {
  const char* name;  // "C1"
  std::size_t batch, tokens, d_in, d_out, heads;
  bool causal;
  const char* description;  // "b2 n6 d_in3 d_out2 h2: the book's multi-head example"
  BenchKind kind = BenchKind::forward;
  std::size_t padding = 0;  // keys at the end of every sequence that are padding (key_padding_mask), 0: none
};

// C1 is the book's example (b2 n6 d_in3 d_out2 h2); C2–C4 are GPT-2-sized (d 768 or 512, up to 4096 tokens).
// P1 is C3's shape as a padded prefill: the last 64 of the 256 keys of every sequence are padding
// (key_padding_mask), so a quarter of the keys are never attended.
// C5 is C4 at 16384 tokens, where an unfused attention's (h, n, n) scores alone would take 12.9 GB and attnkit's
// fused path keeps memory linear in n.
// D1 is one decoding step of a GPT-2 small layer (b1, 12 heads of 64) whose cache holds 4096 tokens: the step reads
// decode_kv_bytes(D1) bytes of keys and values (25 MB), so it is timed as bandwidth. Those fit in a 32 MB L3 cache;
// D2 is the same step over 16384 tokens (101 MB), which must come from DRAM.
const std::vector<BenchConfig>& bench_configs();
// Throws Error listing the names: "unknown bench config 'C9'; expected one of C1, C2, C3, C4".
const BenchConfig& find_bench_config(std::string_view name);
// The module timed: multihead, causal as c says, parameters drawn from seed 123, no qkv bias, dropout 0,
// context_length = c.tokens.
Config bench_module_config(const BenchConfig& c);
// The deterministic input x (batch, tokens, d_in) `attnkit bench` times: torch.rand from seed 7.
Tensor bench_input(const BenchConfig& c);
// P1's key_padding_mask (batch, tokens), true (1) = padding on the last c.padding keys; nullopt when c has none.
std::optional<AttentionMask> bench_key_padding_mask(const BenchConfig& c);
// The FLOPs one timed forward of c does: forward_flops on its shape and padding mask (padded keys not counted).
double bench_flops(const BenchConfig& c);
// Bytes of keys and values one decoding step of c reads: 2 · batch · tokens · d_out · 4 (float32).
double decode_kv_bytes(const BenchConfig& c);

// Useful FLOPs of one forward pass of a module with this config on an input of shape x, (b, n, d_in) or (n, d_in),
// for every mechanism. Multiply-add = 2 FLOPs:
//   projections  q, k, v = x·Wᵀ:           3 · 2 · b · n · d_in · (h · head_dim)     (none for simplified)
//   out_proj (multihead):                  2 · b · n · d_out · d_out
//   attention, q·kᵀ and weights·v:         2 · 2 · b · h · pairs · head_dim
// where pairs = n(n+1)/2 when causal (the masked half is not counted) and n² otherwise. Biases, scaling,
// masking, softmax and dropout are not counted. forward_flops(bench_module_config(c), {b, n, d_in}) is C's count.
// Throws Error for a config Module refuses or a shape forward refuses (rank, d_in).
double forward_flops(const Config& config, const Shape& x);
// The same for forward(x, inputs): queries from x, keys and values from kv (n_k tokens of k_dim, value_input's v_dim
// features; kv_heads·head_dim outputs each), and pairs = the (query, key) pairs each head attends: causally visible
// (upper-left when n_q = n_k, else lower-right, as the modules align) and allowed by key_padding_mask and attn_mask.
// Padding keys are not counted. Throws Error as forward would for a bad mask shape.
double forward_flops(const Config& config, const Shape& x, const ForwardInputs& inputs);

}  // namespace attnkit
