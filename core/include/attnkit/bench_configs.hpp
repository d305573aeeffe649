// attnkit — the standard benchmark configurations C1–C5 and the FLOP count every benchmark reports against
// (`attnkit bench`, bench/, the npm package and bench/compare read them from here).
#pragma once
#include <cstddef>
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
};

// C1 is the book's example (b2 n6 d_in3 d_out2 h2); C2–C4 are GPT-2-sized (d 768 or 512, up to 4096 tokens); C5 is
// C4 at 16384 tokens, where an unfused attention's (h, n, n) scores alone would take 12.9 GB and attnkit's fused path
// keeps memory linear in n.
// D1 is one decoding step of a GPT-2 small layer (b1, 12 heads of 64) whose cache holds 4096 tokens: the step reads
// decode_kv_bytes(D1) bytes of keys and values, so it is timed as bandwidth.
const std::vector<BenchConfig>& bench_configs();
// Throws Error listing the names: "unknown bench config 'C9'; expected one of C1, C2, C3, C4".
const BenchConfig& find_bench_config(std::string_view name);
// The module timed: multihead, causal as c says, parameters drawn from seed 123, no qkv bias, dropout 0,
// context_length = c.tokens.
Config bench_module_config(const BenchConfig& c);
// The deterministic input x (batch, tokens, d_in) `attnkit bench` times: torch.rand from seed 7.
Tensor bench_input(const BenchConfig& c);
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

}  // namespace attnkit
