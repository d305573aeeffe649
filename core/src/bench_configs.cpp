// attnkit — the standard benchmark configurations C1–C5, P1 (forward) and D1, D2 (a decoding step).
#include "attnkit/bench_configs.hpp"

#include <string>

#include "attnkit/errors.hpp"
#include "attnkit/random.hpp"
#include "module_internal.hpp"

namespace attnkit {

const std::vector<BenchConfig>& bench_configs() {
  static const std::vector<BenchConfig> configs = {
      {"C1", 2, 6, 3, 2, 2, true, "b2 n6 d_in3 d_out2 h2: the book's multi-head example"},
      {"C2", 1, 1024, 768, 768, 12, true, "b1 n1024 d768 h12: a GPT-2 small layer on 1024 tokens"},
      {"C3", 8, 256, 512, 512, 8, true, "b8 n256 d512 h8: a batch of short sequences"},
      {"C4", 1, 4096, 768, 768, 12, true, "b1 n4096 d768 h12: a long context"},
      {"C5", 1, 16384, 768, 768, 12, true,
       "b1 n16384 d768 h12: longer than an unfused peer holds (memory linear in n)"},
      {"P1", 8, 256, 512, 512, 8, true,
       "b8 n256 d512 h8: a padded prefill, the last 64 keys of each sequence padding (key_padding_mask)",
       BenchKind::forward, 64},
      {"D1", 1, 4096, 768, 768, 12, true, "b1 n4096 d768 h12: one decoding step over a cache of 4096 tokens (25 MB)",
       BenchKind::decode},
      {"D2", 1, 16384, 768, 768, 12, true,
       "b1 n16384 d768 h12: one decoding step over a cache of 16384 tokens (101 MB, past the L3 cache)",
       BenchKind::decode},
  };
  return configs;
}

const BenchConfig& find_bench_config(std::string_view name) {
  std::string names;
  for (const auto& c : bench_configs()) {
    if (name == c.name) return c;
    names += (names.empty() ? "" : ", ") + std::string(c.name);
  }
  throw Error("unknown bench config " + detail::quoted(std::string(name)) + "; expected one of " + names);
}

Config bench_module_config(const BenchConfig& c) {
  Config config;
  config.mechanism = Mechanism::multihead;
  config.d_in = c.d_in;
  config.d_out = c.d_out;
  config.num_heads = c.heads;
  config.context_length = c.tokens;
  config.causal = c.causal;
  config.qkv_bias = false;
  config.dropout = 0.0;
  config.seed = 123;
  return config;
}

double decode_kv_bytes(const BenchConfig& c) {
  return 2.0 * double(c.batch) * double(c.tokens) * double(c.d_out) * sizeof(float);
}

std::optional<AttentionMask> bench_key_padding_mask(const BenchConfig& c) {
  if (c.padding == 0) return std::nullopt;
  AttentionMask mask{MaskKind::boolean, {c.batch, c.tokens}, std::vector<float>(c.batch * c.tokens, 0.0f)};
  for (std::size_t b = 0; b < c.batch; ++b)
    for (std::size_t j = c.tokens - c.padding; j < c.tokens; ++j) mask.values[b * c.tokens + j] = 1.0f;
  return mask;
}

double bench_flops(const BenchConfig& c) {
  const std::optional<AttentionMask> padding = bench_key_padding_mask(c);
  ForwardInputs inputs;
  inputs.key_padding_mask = padding ? &*padding : nullptr;
  return forward_flops(bench_module_config(c), {c.batch, c.tokens, c.d_in}, inputs);
}

Tensor bench_input(const BenchConfig& c) {
  Generator generator(7);  // any fixed numbers will do
  return generator.rand({c.batch, c.tokens, c.d_in});
}

}  // namespace attnkit
