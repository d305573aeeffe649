// Decoding through the KV cache (attnkit/decoder.hpp) against the float64 reference of the full causal forward
// (tests/core/reference.hpp): token by token and in chunks, head sizes around the SIMD width, caches crossing the
// split-KV chunk (kDecodeChunk keys); bitwise identical for 1, 2 and 3 threads; overflow, reset and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "reference.hpp"

namespace {

using attnkit::Config;
using attnkit::Decoder;
using attnkit::Error;
using attnkit::Generator;
using attnkit::Mechanism;
using attnkit::Module;
using attnkit::Tensor;

Config make(Mechanism m, std::size_t d_in, std::size_t d_out, std::size_t heads, bool bias = false) {
  Config c;
  c.mechanism = m;
  c.d_in = d_in;
  c.d_out = d_out;
  c.num_heads = heads;
  c.qkv_bias = bias;
  if (m == Mechanism::self || m == Mechanism::self_v1) c.causal = true;
  return c;
}

// Decodes x (b, n, d_in) in steps of `chunk` tokens (the last may be shorter); returns the contexts in order.
std::vector<float> decode(const Module& module, const Tensor& x, std::size_t chunk, std::size_t threads = 1,
                          std::size_t max_tokens = 0) {
  const std::size_t b = x.shape[0], n = x.shape[1], d_in = x.shape[2], w = module.d_out_total();
  Decoder decoder = module.begin_decode(max_tokens ? max_tokens : n, b, threads);
  std::vector<float> out(b * n * w);
  for (std::size_t s0 = 0; s0 < n; s0 += chunk) {
    const std::size_t t = std::min(chunk, n - s0);
    Tensor step({b, t, d_in});
    for (std::size_t bi = 0; bi < b; ++bi)
      std::memcpy(step.ptr() + bi * t * d_in, x.ptr() + (bi * n + s0) * d_in, t * d_in * sizeof(float));
    const Tensor& context = decoder.step(step);
    EXPECT_EQ(context.shape, (attnkit::Shape{b, t, w}));
    for (std::size_t bi = 0; bi < b; ++bi)
      std::memcpy(out.data() + (bi * n + s0) * w, context.ptr() + bi * t * w, t * w * sizeof(float));
  }
  EXPECT_EQ(decoder.length(), n);
  return out;
}

// Every element within 1e-6 of the reference's largest magnitude (float32 sums of d_in products).
void expect_matches_reference(const Module& module, const Tensor& x, const std::vector<float>& got,
                              const std::string& what) {
  const ref::Result want = ref::forward(ref::spec_from(module.config()), module.state_dict(), x);
  ASSERT_EQ(want.context.size(), got.size()) << what;
  double top = 0.0, worst = 0.0;
  for (double v : want.context) top = std::max(top, std::fabs(v));
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want.context[i]));
  EXPECT_LE(worst, 1e-6 * top) << what << ": largest error " << worst << " against largest value " << top;
}

struct Case {
  Mechanism mechanism;
  std::size_t d_in, d_out, heads, batch, tokens;
  bool bias;
};

TEST(Decoder, TokenByTokenAndInChunksMatchTheFullCausalForward) {
  const std::vector<Case> cases = {
      {Mechanism::multihead, 3, 2, 2, 2, 6, false},       // the book's multi-head example's shape, head_dim 1
      {Mechanism::multihead, 21, 21, 3, 1, 40, true},     // head_dim 7
      {Mechanism::multihead, 48, 48, 3, 2, 33, false},    // head_dim 16 (AVX-512 width)
      {Mechanism::multihead, 24, 24, 3, 1, 29, true},     // head_dim 8 (AVX2 width)
      {Mechanism::multihead, 34, 34, 2, 1, 17, false},    // head_dim 17
      {Mechanism::multihead, 64, 130, 2, 1, 300, false},  // head_dim 65 (past a register pass); 300 keys: 2 chunks
      {Mechanism::multihead, 32, 128, 2, 2, 530, true},   // head_dim 64, three chunks, batch 2
      {Mechanism::causal, 5, 3, 1, 2, 30, true},
      {Mechanism::multihead_wrapper, 7, 15, 2, 1, 270, false},  // head_dim 15, two chunks
      {Mechanism::self, 9, 1, 1, 1, 12, true},
      {Mechanism::self_v1, 4, 7, 1, 1, 9, false},
  };
  for (const Case& k : cases) {
    Module module(make(k.mechanism, k.d_in, k.d_out, k.heads, k.bias));
    Generator generator(11);
    const Tensor x = generator.rand({k.batch, k.tokens, k.d_in});
    const std::string what = std::string(attnkit::mechanism_name(k.mechanism)) + " d_in " + std::to_string(k.d_in) +
                             " d_out " + std::to_string(k.d_out) + " n " + std::to_string(k.tokens);
    const std::vector<float> one = decode(module, x, 1);
    expect_matches_reference(module, x, one, what + " one at a time");
    for (std::size_t chunk : {3, 16, 17}) {
      const std::vector<float> some = decode(module, x, chunk);
      expect_matches_reference(module, x, some, what + " chunks of " + std::to_string(chunk));
      // Rows are computed on their own: a token's context has the same bits however the steps group it.
      EXPECT_EQ(0, std::memcmp(one.data(), some.data(), one.size() * sizeof(float))) << what << " chunk " << chunk;
    }
    expect_matches_reference(module, x, decode(module, x, k.tokens), what + " in one step");
  }
}

TEST(Decoder, LargeMagnitudesStayExact) {
  Module module(make(Mechanism::multihead, 16, 32, 2));
  Generator generator(3);
  Tensor x = generator.rand({1, 280, 16});
  for (float& v : x.data) v = (v - 0.5f) * 8.0f + 1000.0f;  // inputs near 1e3 with spread: scores in the tens
  expect_matches_reference(module, x, decode(module, x, 1), "large magnitudes");
}

TEST(Decoder, BitwiseIdenticalForOneTwoAndThreeThreads) {
  Module module(make(Mechanism::multihead, 64, 64, 4, true));
  Generator generator(21);
  const Tensor x = generator.rand({2, 700, 64});
  const std::vector<float> base = decode(module, x, 1, 1);
  expect_matches_reference(module, x, base, "threads 1");
  for (std::size_t threads : {2, 3})
    for (std::size_t chunk : {1, 40}) {
      const std::vector<float> other = decode(module, x, chunk, threads);
      EXPECT_EQ(0, std::memcmp(base.data(), other.data(), base.size() * sizeof(float)))
          << threads << " threads, chunk " << chunk;
    }
}

TEST(Decoder, ResetStartsAgainAndOverflowIsRefused) {
  Module module(make(Mechanism::multihead, 8, 8, 2));
  Generator generator(4);
  const Tensor x = generator.rand({1, 5, 8});
  Decoder decoder = module.begin_decode(7);
  EXPECT_EQ(decoder.max_tokens(), 7u);
  const std::vector<float> first = decoder.step(x).data;
  EXPECT_EQ(decoder.length(), 5u);
  try {
    decoder.step(generator.rand({1, 3, 8}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(
        e.what(),
        "the KV cache holds max_tokens (7) tokens; this step adds 3 to 5; expected at most 2 new tokens or reset()");
  }
  EXPECT_EQ(decoder.length(), 5u);  // unchanged by the refused step
  decoder.step(generator.rand({1, 2, 8}));
  EXPECT_EQ(decoder.length(), 7u);
  EXPECT_THROW(decoder.step(generator.rand({1, 1, 8})), Error);
  decoder.reset();
  EXPECT_EQ(decoder.length(), 0u);
  const std::vector<float> again = decoder.step(x).data;
  EXPECT_EQ(first, again);
  // Unbatched input gives unbatched context.
  decoder.reset();
  const Tensor x2({5, 8}, x.data);
  const Tensor& context = decoder.step(x2);
  EXPECT_EQ(context.shape, (attnkit::Shape{5, 8}));
  EXPECT_EQ(context.data, first);
}

void expect_error(const std::function<void()>& fn, const std::string& message) {
  try {
    fn();
    ADD_FAILURE() << "expected: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(Decoder, BadInputIsRefusedWithTheExpectedValue) {
  Config c = make(Mechanism::multihead, 6, 4, 2);
  c.context_length = 10;
  Module module(c);
  Generator generator(1);
  expect_error([&] { module.begin_decode(0); }, "max_tokens must be at least 1 (got 0)");
  expect_error([&] { module.begin_decode(11); },
               "max_tokens (11) exceeds the module's context_length (10); expected at most 10");
  expect_error([&] { module.begin_decode(4, 0); }, "batch must be at least 1 (got 0)");
  Decoder decoder = module.begin_decode(10, 2);
  expect_error([&] { decoder.step(generator.rand({2, 1, 5})); }, "x_new has d_in 5 (shape [2, 1, 5]); expected d_in 6");
  expect_error(
      [&] {
        decoder.step(generator.rand({3, 1, 6}));
      },
      "x_new has batch 3 (shape [3, 1, 6]); expected batch 2 (the session's, from begin_decode)");
  expect_error(
      [&] {
        decoder.step(generator.rand({1, 6}));
      },
      "x_new must have shape (batch, tokens, d_in); got rank 2 shape [1, 6]");
  expect_error([&] { decoder.step(Tensor({2, 0, 6})); }, "x_new has 0 tokens; expected at least 1");
  Tensor bad = generator.rand({2, 1, 6});
  bad.data[3] = NAN;
  EXPECT_THROW(decoder.step(bad), Error);
  EXPECT_EQ(decoder.length(), 0u);

  Module self(make(Mechanism::self, 3, 2, 1));
  Config not_causal = make(Mechanism::self, 3, 2, 1);
  not_causal.causal = false;
  expect_error([&] { Module(not_causal).begin_decode(4); },
               "decoding needs a causal module; this 'self' module is not causal (expected Config::causal = true)");
  Config cross = make(Mechanism::multihead, 8, 8, 4);
  cross.k_dim = 5;
  expect_error([&] { Module(cross).begin_decode(4); },
               "self-attention decoding projects keys and values from x_new, but this module reads k_dim 5 and v_dim 8 "
               "features; expected k_dim, v_dim 0 or 8, or a DecodeMemory (cross-attention)");
  Config simplified;
  simplified.mechanism = Mechanism::simplified;
  simplified.causal = true;
  expect_error([&] { Module(simplified).begin_decode(4); },
               "self-attention decoding needs key and value projections; mechanism 'simplified' has none (expected one "
               "of self-v1, self, "
               "causal, multihead-wrapper, multihead)");
}

TEST(Decoder, ScoresBeyondFloat32AreComputedInFloat64) {
  // Queries and keys of 1e20: their scores overflow float32, the weights and context do not.
  Config c = make(Mechanism::self, 1, 1, 1);
  attnkit::StateDict sd = {{"W_query.weight", Tensor({1, 1}, {1.0f})},
                           {"W_key.weight", Tensor({1, 1}, {1.0f})},
                           {"W_value.weight", Tensor({1, 1}, {1.0f})}};
  Module module(c, sd);
  const Tensor x({1, 2, 1}, {1e20f, 2e20f});
  const std::vector<float> got = decode(module, x, 1);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FLOAT_EQ(got[0], 1e20f);
  EXPECT_FLOAT_EQ(got[1], 2e20f);  // the second key dominates
}

}  // namespace
