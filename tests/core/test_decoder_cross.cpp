// Decoding grouped-query modules (kv_heads < num_heads: the cache holds kv_heads heads) and cross-attention over
// an encoder's memory (DecodeMemory: kv, value_input, key_padding_mask) against the full forward, which
// tests/core/test_module_inputs*.cpp check against a float64 reference and PyTorch: contexts and weights ≤ 1e-6
// relative, token by token and in steps, caches and memories crossing the split-KV chunk; bitwise identical for
// 1, 2 and 3 threads; a past loaded from forward's keys and values; overflow, set_memory and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"

namespace {

using attnkit::AttentionMask;
using attnkit::Config;
using attnkit::DecodeMemory;
using attnkit::Decoder;
using attnkit::Error;
using attnkit::Generator;
using attnkit::MaskKind;
using attnkit::Mechanism;
using attnkit::Module;
using attnkit::Shape;
using attnkit::Tensor;

Config multihead(std::size_t d_in, std::size_t d_out, std::size_t heads, std::size_t kv_heads, bool causal) {
  Config c;
  c.mechanism = Mechanism::multihead;
  c.d_in = d_in;
  c.d_out = d_out;
  c.num_heads = heads;
  c.kv_heads = kv_heads;
  c.causal = causal;
  c.qkv_bias = true;
  return c;
}

// Decodes x (b, n, d_in) in steps of `chunk` tokens; returns the contexts (b, n, w) and weights (b, h, n, keys).
struct Decoded {
  std::vector<float> context, weights;
};
Decoded decode(Decoder& decoder, const Tensor& x, std::size_t chunk, std::size_t heads, std::size_t keys) {
  const std::size_t b = x.shape[0], n = x.shape[1], d_in = x.shape[2];
  Decoded r;
  std::size_t w = 0;
  r.weights.assign(b * heads * n * keys, 0.0f);
  for (std::size_t s0 = 0; s0 < n; s0 += chunk) {
    const std::size_t t = std::min(chunk, n - s0);
    Tensor step({b, t, d_in});
    for (std::size_t bi = 0; bi < b; ++bi)
      std::memcpy(step.ptr() + bi * t * d_in, x.ptr() + (bi * n + s0) * d_in, t * d_in * sizeof(float));
    Tensor weights;
    const Tensor& context = decoder.step(step, &weights);
    w = context.shape[2];
    if (r.context.empty()) r.context.assign(b * n * w, 0.0f);
    for (std::size_t bi = 0; bi < b; ++bi)
      std::memcpy(r.context.data() + (bi * n + s0) * w, context.ptr() + bi * t * w, t * w * sizeof(float));
    const std::size_t seen = weights.shape[3];
    EXPECT_EQ(weights.shape, (Shape{b, heads, t, seen}));
    for (std::size_t bh = 0; bh < b * heads; ++bh)
      for (std::size_t i = 0; i < t; ++i)
        std::copy_n(weights.ptr() + (bh * t + i) * seen, seen, r.weights.data() + (bh * n + s0 + i) * keys);
  }
  return r;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double top = 0.0, worst = 0.0;
  for (float v : want) top = std::max(top, double(std::fabs(v)));
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - double(want[i])));
  EXPECT_LE(worst, 1e-6 * top) << what << ": largest error " << worst << " against largest value " << top;
}

AttentionMask padding(std::size_t b, std::size_t n_k, const std::vector<std::size_t>& valid) {
  AttentionMask m{MaskKind::boolean, {b, n_k}, std::vector<float>(b * n_k, 0.0f)};
  for (std::size_t bi = 0; bi < b; ++bi)
    for (std::size_t j = valid[bi]; j < n_k; ++j) m.values[bi * n_k + j] = 1.0f;  // true = padding
  return m;
}

TEST(DecoderGroupedQuery, MatchesTheFullCausalForward) {
  struct Case {
    std::size_t d_in, d_out, heads, kv_heads, batch, tokens, chunk;
  };
  // Head sizes 1, 3, 7, 8, 9 and 16 around the SIMD width; 300 tokens cross the 256-key chunk.
  for (const Case k : {Case{8, 8, 8, 2, 1, 9, 1}, Case{12, 12, 4, 1, 2, 17, 3}, Case{14, 14, 2, 1, 1, 33, 5},
                       Case{16, 16, 2, 1, 2, 300, 1}, Case{18, 18, 2, 1, 1, 40, 40}, Case{64, 64, 4, 2, 1, 300, 7}}) {
    const std::string what = "d_out " + std::to_string(k.d_out) + " heads " + std::to_string(k.heads) + "/" +
                             std::to_string(k.kv_heads) + " tokens " + std::to_string(k.tokens);
    Module module(multihead(k.d_in, k.d_out, k.heads, k.kv_heads, true));
    Generator generator(11);
    const Tensor x = generator.rand({k.batch, k.tokens, k.d_in});
    attnkit::ForwardOptions options;
    options.return_weights = true;
    const attnkit::ForwardResult want = module.forward(x, options);
    Decoder decoder = module.begin_decode(k.tokens, k.batch, 1);
    const Decoded got = decode(decoder, x, k.chunk, k.heads, k.tokens);
    expect_close(got.context, want.context.data, what + " context");
    expect_close(got.weights, want.weights.data, what + " weights");
    // The cache (and a step's keys and values) hold kv_heads heads, not num_heads.
    const std::size_t head_dim = k.d_out / k.heads, slice = std::min<std::size_t>(k.tokens, 16);
    Module full(multihead(k.d_in, k.d_out, k.heads, k.heads, true));
    const std::size_t saved = full.begin_decode(k.tokens, k.batch).bytes() - decoder.bytes();
    EXPECT_EQ(saved, 2 * (k.heads - k.kv_heads) * head_dim * k.batch * (k.tokens + slice) * sizeof(float)) << what;
  }
}

TEST(DecoderCrossAttention, MatchesTheFullForwardWithPadding) {
  struct Case {
    std::size_t d_in, d_out, heads, kv_heads, k_dim, v_dim, batch, tokens, memory, chunk;
    bool value_input;
  };
  for (const Case k : {Case{8, 8, 2, 1, 5, 5, 2, 6, 3, 1, false}, Case{12, 12, 4, 2, 7, 9, 2, 11, 300, 4, true},
                       Case{16, 24, 3, 3, 16, 16, 1, 5, 257, 2, false}, Case{8, 8, 2, 2, 3, 6, 3, 4, 40, 4, true}}) {
    const std::string what =
        "memory " + std::to_string(k.memory) + " heads " + std::to_string(k.heads) + "/" + std::to_string(k.kv_heads);
    Config c = multihead(k.d_in, k.d_out, k.heads, k.kv_heads, false);
    c.k_dim = k.k_dim;
    c.v_dim = k.v_dim;
    Module module(c);
    Generator generator(5);
    const Tensor x = generator.rand({k.batch, k.tokens, k.d_in});
    const Tensor kv = generator.rand({k.batch, k.memory, k.k_dim});
    const Tensor value = generator.rand({k.batch, k.memory, k.v_dim});
    // Sequence 0 keeps every key; 1 keeps a third; 2 (when present) is all padding: a zero context.
    const std::vector<std::size_t> valid = {k.memory, std::max<std::size_t>(1, k.memory / 3), 0};
    const AttentionMask mask = padding(k.batch, k.memory, valid);
    attnkit::ForwardInputs inputs;
    inputs.kv = &kv;
    inputs.value_input = k.value_input || k.k_dim != k.v_dim ? &value : nullptr;
    inputs.key_padding_mask = &mask;
    attnkit::ForwardOptions options;
    options.return_weights = true;
    const attnkit::ForwardResult want = module.forward(x, inputs, options);
    Decoder decoder = module.begin_decode(k.tokens, DecodeMemory{&kv, inputs.value_input, &mask}, 1);
    EXPECT_TRUE(decoder.cross());
    EXPECT_EQ(decoder.memory_tokens(), k.memory);
    EXPECT_EQ(decoder.batch(), k.batch);
    const Decoded got = decode(decoder, x, k.chunk, k.heads, k.memory);
    expect_close(got.context, want.context.data, what + " context");
    expect_close(got.weights, want.weights.data, what + " weights");
  }
}

TEST(DecoderCrossAttention, FloatPaddingUnbatchedAndSetMemory) {
  Config c = multihead(8, 8, 2, 1, false);
  c.k_dim = c.v_dim = 4;
  Module module(c);
  Generator generator(9);
  const Tensor x = generator.rand({5, 8});
  const Tensor kv = generator.rand({6, 4});
  AttentionMask added{MaskKind::additive, {6}, {0.5f, -1.0f, 0.0f, -INFINITY, 2.0f, 0.0f}};
  attnkit::ForwardInputs inputs;
  inputs.kv = &kv;
  inputs.key_padding_mask = &added;
  const Tensor want = module.forward(x, inputs).context;
  Decoder decoder = module.begin_decode(5, DecodeMemory{&kv, nullptr, &added});
  const Tensor got = decoder.step(x);
  EXPECT_EQ(got.shape, (Shape{5, 8}));
  expect_close(got.data, want.data, "float key_padding_mask, unbatched");
  // A new memory: the session forgets its tokens and attends the new keys.
  const Tensor kv2 = generator.rand({9, 4});
  decoder.set_memory(DecodeMemory{&kv2});
  EXPECT_EQ(decoder.length(), 0u);
  EXPECT_EQ(decoder.memory_tokens(), 9u);
  attnkit::ForwardInputs inputs2;
  inputs2.kv = &kv2;
  expect_close(decoder.step(x).data, module.forward(x, inputs2).context.data, "after set_memory");
}

TEST(DecoderCrossAttention, BitwiseIdenticalForOneTwoAndThreeThreads) {
  Config c = multihead(32, 64, 4, 2, false);
  c.k_dim = c.v_dim = 24;
  Module module(c);
  Generator generator(13);
  const Tensor x = generator.rand({2, 20, 32});
  const Tensor kv = generator.rand({2, 700, 24});
  const AttentionMask mask = padding(2, 700, {700, 333});
  std::vector<float> base;
  for (std::size_t threads : {1, 2, 3})
    for (std::size_t chunk : {1, 7}) {
      Decoder decoder = module.begin_decode(20, DecodeMemory{&kv, nullptr, &mask}, threads);
      const Decoded got = decode(decoder, x, chunk, 4, 700);
      if (base.empty()) {
        base = got.context;
        continue;
      }
      EXPECT_EQ(0, std::memcmp(base.data(), got.context.data(), base.size() * sizeof(float)))
          << threads << " threads, chunk " << chunk;
    }
}

TEST(DecoderGroupedQuery, BitwiseIdenticalForOneTwoAndThreeThreads) {
  Module module(multihead(64, 64, 8, 2, true));
  Generator generator(17);
  const Tensor x = generator.rand({2, 600, 64});
  std::vector<float> base;
  for (std::size_t threads : {1, 2, 3})
    for (std::size_t chunk : {1, 50}) {
      Decoder decoder = module.begin_decode(600, 2, threads);
      const Decoded got = decode(decoder, x, chunk, 8, 600);
      if (base.empty()) {
        base = got.context;
        continue;
      }
      EXPECT_EQ(0, std::memcmp(base.data(), got.context.data(), base.size() * sizeof(float)))
          << threads << " threads, chunk " << chunk;
    }
}

// load_past: the keys and values forward computes (its intermediates, (b, kv_heads, n, head_dim)) for the first
// n − 3 tokens, then three steps: the last three rows of forward's context.
TEST(DecoderGroupedQuery, LoadPastThenStepsMatchTheFullForward) {
  for (std::size_t kv_heads : {1, 2, 4}) {
    Module module(multihead(16, 16, 4, kv_heads, true));
    Generator generator(23);
    const std::size_t b = 2, n = 300, hd = 4;
    const Tensor x = generator.rand({b, n, 16});
    attnkit::ForwardOptions options;
    options.intermediates = true;
    const attnkit::ForwardResult full = module.forward(x, options);
    const Tensor& keys = *full.intermediate("keys");
    const Tensor& values = *full.intermediate("values");
    ASSERT_EQ(keys.shape, (Shape{b, kv_heads, n, hd}));
    const std::size_t t = n - 3;
    Tensor past_key({b, kv_heads, t, hd}), past_value({b, kv_heads, t, hd});
    for (std::size_t bg = 0; bg < b * kv_heads; ++bg) {
      std::copy_n(keys.ptr() + bg * n * hd, t * hd, past_key.ptr() + bg * t * hd);
      std::copy_n(values.ptr() + bg * n * hd, t * hd, past_value.ptr() + bg * t * hd);
    }
    Decoder decoder = module.begin_decode(n, b);
    decoder.load_past(past_key, past_value);
    EXPECT_EQ(decoder.length(), t);
    Tensor last({b, 3, 16});
    for (std::size_t bi = 0; bi < b; ++bi) std::copy_n(x.ptr() + (bi * n + t) * 16, 3 * 16, last.ptr() + bi * 3 * 16);
    const Tensor got = decoder.step(last);
    std::vector<float> want;
    for (std::size_t bi = 0; bi < b; ++bi)
      want.insert(want.end(), full.context.ptr() + (bi * n + t) * 16, full.context.ptr() + (bi * n + n) * 16);
    expect_close(got.data, want, "load_past, kv_heads " + std::to_string(kv_heads));
  }
}

void expect_error(const std::function<void()>& fn, const std::string& message) {
  try {
    fn();
    ADD_FAILURE() << "expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(DecoderCrossAttention, OverflowAndBadInputAreRefused) {
  Config c = multihead(8, 8, 2, 1, false);
  c.k_dim = 5;
  c.v_dim = 5;
  Module module(c);
  Generator generator(3);
  const Tensor kv = generator.rand({2, 4, 5});
  Decoder decoder = module.begin_decode(3, DecodeMemory{&kv});
  decoder.step(generator.rand({2, 2, 8}));
  expect_error(
      [&] {
        decoder.step(generator.rand({2, 2, 8}));
      },
      "the session decodes max_tokens (3) tokens; this step adds 2 to 2; expected at most 1 new tokens or "
      "reset()");
  EXPECT_EQ(decoder.length(), 2u);
  const Tensor wrong = generator.rand({2, 4, 6});
  expect_error([&] { decoder.set_memory(DecodeMemory{&wrong}); },
               "memory kv has 6 features (shape [2, 4, 6]); expected k_dim 5");
  const Tensor other_batch = generator.rand({3, 4, 5});
  expect_error([&] { decoder.set_memory(DecodeMemory{&other_batch}); },
               "memory kv has batch 3 (shape [3, 4, 5]); expected the session's batch 2");
  const AttentionMask short_mask = padding(2, 3, {3, 3});
  expect_error(
      [&] {
        decoder.set_memory(DecodeMemory{&kv, nullptr, &short_mask});
      },
      "key_padding_mask has shape [2, 3]; expected [2, 4] (b, n_k)");
  EXPECT_EQ(decoder.memory_tokens(), 4u);  // refused memories leave the session as it was
  EXPECT_EQ(decoder.length(), 2u);
  expect_error([&] { module.begin_decode(3, DecodeMemory{}); },
               "cross-attention decoding needs memory.kv (batch, n_k, k_dim); got none");
  Module causal(multihead(8, 8, 2, 1, true));
  const Tensor kv8 = generator.rand({1, 4, 8});
  expect_error([&] { causal.begin_decode(3, DecodeMemory{&kv8}); },
               "cross-attention decoding attends every memory key from every token (not causal); this 'multihead' "
               "module is causal (expected Config::causal = false)");
  Decoder self = causal.begin_decode(3);
  expect_error([&] { self.set_memory(DecodeMemory{&kv8}); },
               "set_memory is for cross-attention sessions; this one decodes self-attention (expected a session from "
               "begin_decode(max_tokens, DecodeMemory))");
}

TEST(DecoderGroupedQuery, CacheOverflowAndBadPastAreRefused) {
  Module module(multihead(8, 8, 4, 2, true));
  Generator generator(6);
  Decoder decoder = module.begin_decode(4);
  decoder.step(generator.rand({1, 3, 8}));
  expect_error(
      [&] {
        decoder.step(generator.rand({1, 2, 8}));
      },
      "the KV cache holds max_tokens (4) tokens; this step adds 2 to 3; expected at most 1 new tokens or "
      "reset()");
  EXPECT_EQ(decoder.length(), 3u);
  expect_error(
      [&] {
        decoder.load_past(Tensor({1, 4, 2, 2}), Tensor({1, 4, 2, 2}));
      },
      "past_key has shape [1, 4, 2, 2]; expected (batch 1, kv_heads 2, t ≤ max_tokens 4, head_dim 2)");
  expect_error(
      [&] {
        decoder.load_past(Tensor({1, 2, 5, 2}), Tensor({1, 2, 5, 2}));
      },
      "past_key has shape [1, 2, 5, 2]; expected (batch 1, kv_heads 2, t ≤ max_tokens 4, head_dim 2)");
  EXPECT_EQ(decoder.length(), 3u);  // refused: unchanged
}

}  // namespace
