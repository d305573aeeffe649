// The standard bench configurations and the FLOP count, against numbers written out here and a count made by
// walking the loops of a naive forward pass (one multiply-add = 2 FLOPs, masked (query, key) pairs skipped).
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "configs.hpp"

namespace {

using attnkit::Config;
using attnkit::Mechanism;
using attnkit::Shape;
using attnkit_test::make_config;

// Every multiply-add of the seed's classes, counted one at a time (sizes are small), with no formula shared
// with the library: projections row by row, then each head's scores and context over the keys a query sees.
double counted_flops(const Config& c, std::size_t b, std::size_t n, std::size_t d_in, bool causal) {
  double macs = 0;
  const bool simplified = c.mechanism == Mechanism::simplified;
  const std::size_t heads =
      c.mechanism == Mechanism::multihead || c.mechanism == Mechanism::multihead_wrapper ? c.num_heads : 1;
  const std::size_t head_dim = simplified                            ? d_in
                               : c.mechanism == Mechanism::multihead ? c.d_out / c.num_heads
                                                                     : c.d_out;
  for (std::size_t bi = 0; bi < b; ++bi) {
    for (std::size_t t = 0; t < n; ++t)  // q, k and v of each token: one dot product of length d_in per output
      if (!simplified)
        for (std::size_t out = 0; out < 3 * heads * head_dim; ++out)
          for (std::size_t i = 0; i < d_in; ++i) macs += 1;
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t query = 0; query < n; ++query)
        for (std::size_t key = 0; key < n; ++key) {
          if (causal && key > query) continue;  // masked: weight 0, not useful work
          macs += double(head_dim);             // score q·k
          macs += double(head_dim);             // weight · v into the context
        }
    if (c.mechanism == Mechanism::multihead)
      for (std::size_t t = 0; t < n; ++t)
        for (std::size_t out = 0; out < c.d_out; ++out)
          for (std::size_t i = 0; i < c.d_out; ++i) macs += 1;
  }
  return 2 * macs;
}

TEST(ForwardFlops, MatchesACountOfTheLoopsForEveryMechanism) {
  for (const auto& t : attnkit::mechanism_traits()) {
    const bool heads = attnkit::option_applies(t.mechanism, "num_heads");
    for (std::size_t n : {1, 3, 7, 17}) {
      for (bool causal : {false, true}) {
        Config c = make_config(t.mechanism, 5, heads ? 6 : 4, heads ? 3 : 1);
        c.causal = causal;
        SCOPED_TRACE(std::string(t.name) + " n" + std::to_string(n) + (causal ? " causal" : ""));
        EXPECT_EQ(attnkit::forward_flops(c, {2, n, 5}), counted_flops(c, 2, n, 5, causal));
        EXPECT_EQ(attnkit::forward_flops(c, {n, 5}), counted_flops(c, 1, n, 5, causal));  // unbatched: b = 1
      }
      // The default causal setting is the mechanism's.
      const Config c = make_config(t.mechanism, 5, heads ? 6 : 4, heads ? 3 : 1);
      EXPECT_EQ(attnkit::forward_flops(c, {n, 5}), counted_flops(c, 1, n, 5, t.default_causal)) << t.name;
    }
  }
  // Simplified takes d_in from x.
  EXPECT_EQ(attnkit::forward_flops(make_config(Mechanism::simplified, 0, 0), {4, 3}),
            counted_flops(make_config(Mechanism::simplified, 0, 0), 1, 4, 3, false));
}

// forward(x, inputs)'s multiply-adds one at a time: queries from x, keys and values from kv (kv_heads heads of
// head_dim, k_dim and v_dim features), out_proj; scores and context only over the (query, key) pairs a head attends:
// causal (lower-right when n_q ≠ n_k), not padding, allowed by the attn_mask.
double counted_cross_flops(const Config& c, std::size_t b, std::size_t n_q, std::size_t n_k,
                           const std::vector<bool>& padding /* (b, n_k) */, const std::vector<bool>& forbidden
                           /* (n_q, n_k) or empty */) {
  const std::size_t heads = c.num_heads, head_dim = c.d_out / heads, kv_heads = c.kv_heads ? c.kv_heads : heads;
  const std::size_t k_dim = c.k_dim ? c.k_dim : c.d_in, v_dim = c.v_dim ? c.v_dim : c.d_in;
  const bool causal = c.causal.value_or(true);
  double macs = 0;
  for (std::size_t bi = 0; bi < b; ++bi) {
    for (std::size_t t = 0; t < n_q; ++t)
      for (std::size_t out = 0; out < heads * head_dim; ++out) macs += double(c.d_in);  // query
    for (std::size_t t = 0; t < n_k; ++t)
      for (std::size_t out = 0; out < kv_heads * head_dim; ++out) macs += double(k_dim + v_dim);  // key, value
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t i = 0; i < n_q; ++i)
        for (std::size_t j = 0; j < n_k; ++j) {
          const long long last = n_q == n_k ? (long long)i : (long long)i + (long long)n_k - (long long)n_q;
          if (causal && (long long)j > last) continue;
          if (!padding.empty() && padding[bi * n_k + j]) continue;
          if (!forbidden.empty() && forbidden[i * n_k + j]) continue;
          macs += 2.0 * double(head_dim);
        }
    for (std::size_t t = 0; t < n_q; ++t) macs += double(c.d_out * c.d_out);  // out_proj
  }
  return 2 * macs;
}

TEST(ForwardFlops, CountsKvTokensGroupedHeadsCrossWidthsAndMasks) {
  for (std::size_t kv_heads : {1, 3})
    for (std::size_t n_k : {1, 4, 9})
      for (bool causal : {false, true})
        for (int masks = 0; masks < 3; ++masks) {
          Config c = make_config(Mechanism::multihead, 5, 6, 3);
          c.kv_heads = kv_heads;
          c.k_dim = 4;
          c.v_dim = 7;
          c.causal = causal;
          const std::size_t b = 2, n_q = 5;
          std::vector<bool> padding, forbidden;
          attnkit::AttentionMask kpm{attnkit::MaskKind::boolean, {b, n_k}, std::vector<float>(b * n_k, 0.0f)};
          attnkit::AttentionMask am{attnkit::MaskKind::additive, {n_q, n_k}, std::vector<float>(n_q * n_k, 0.5f)};
          for (std::size_t e = 0; e < b * n_k; ++e) {
            padding.push_back(e % 3 == 1);
            kpm.values[e] = padding.back() ? 1.0f : 0.0f;
          }
          for (std::size_t e = 0; e < n_q * n_k; ++e) {
            forbidden.push_back(e % 4 == 2);
            if (forbidden.back()) am.values[e] = -INFINITY;
          }
          const attnkit::Tensor kv({b, n_k, 4}), value({b, n_k, 7});
          attnkit::ForwardInputs in;
          in.kv = &kv;
          in.value_input = &value;
          if (masks >= 1) in.key_padding_mask = &kpm;
          if (masks >= 2) in.attn_mask = &am;
          SCOPED_TRACE("kv_heads " + std::to_string(kv_heads) + " n_k " + std::to_string(n_k) +
                       (causal ? " causal" : "") + " masks " + std::to_string(masks));
          EXPECT_EQ(attnkit::forward_flops(c, {b, n_q, 5}, in),
                    counted_cross_flops(c, b, n_q, n_k, masks >= 1 ? padding : std::vector<bool>{},
                                        masks >= 2 ? forbidden : std::vector<bool>{}));
        }
}

TEST(ForwardFlops, RefusesWhatForwardRefuses) {
  EXPECT_THROW(attnkit::forward_flops(make_config(Mechanism::self, 3, 2), {6}), attnkit::Error);
  EXPECT_THROW(attnkit::forward_flops(make_config(Mechanism::self, 3, 2), {6, 4}), attnkit::Error);  // d_in 4 ≠ 3
  EXPECT_THROW(attnkit::forward_flops(make_config(Mechanism::multihead, 3, 5, 2), {6, 3}), attnkit::Error);
}

TEST(BenchConfigs, AreTheOnesBenchCompareUses) {
  // bench/compare/configs.mjs (CONFIGS and flopCount) as of this change, written out.
  struct Want {
    const char* name;
    std::size_t batch, tokens, d_in, d_out, heads;
    double flops;
  };
  const std::vector<Want> want = {
      {"C1", 2, 6, 3, 2, 2, 864},
      {"C2", 1, 1024, 768, 768, 12, 6444023808},
      {"C3", 8, 256, 512, 512, 8, 4833935360},
      {"C4", 1, 4096, 768, 768, 12, 45103448064},
      {"C5", 1, 16384, 768, 768, 12, 489651437568},
  };
  const auto& configs = attnkit::bench_configs();
  ASSERT_EQ(configs.size(), want.size() + 3);  // and P1, D1, D2, below
  const attnkit::BenchConfig& d1 = attnkit::find_bench_config("D1");
  const attnkit::BenchConfig& d2 = attnkit::find_bench_config("D2");
  EXPECT_EQ(&d2, &configs.back());
  EXPECT_EQ(d1.kind, attnkit::BenchKind::decode);
  EXPECT_EQ(d2.kind, attnkit::BenchKind::decode);
  EXPECT_EQ((std::vector<std::size_t>{d1.batch, d1.tokens, d1.d_in, d1.d_out, d1.heads}),
            (std::vector<std::size_t>{1, 4096, 768, 768, 12}));
  EXPECT_EQ((std::vector<std::size_t>{d2.batch, d2.tokens, d2.d_in, d2.d_out, d2.heads}),
            (std::vector<std::size_t>{1, 16384, 768, 768, 12}));
  EXPECT_EQ(attnkit::decode_kv_bytes(d1), 2.0 * 4096 * 768 * 4);  // keys and values of 4096 tokens, 12 heads of 64
  EXPECT_GT(attnkit::decode_kv_bytes(d2), 64.0 * 1024 * 1024);    // twice a 32 MiB L3: from DRAM
  // P1: C3's shape, the last 64 keys of each sequence padding; FLOPs of the keys attended: projections and out_proj
  // as C3 (4 · 2·8·256·512·512), attention over Σ_i min(i + 1, 192) = 30816 pairs per head (4 · 8·8·30816·64).
  const attnkit::BenchConfig& p1 = attnkit::find_bench_config("P1");
  EXPECT_EQ(p1.kind, attnkit::BenchKind::forward);
  EXPECT_EQ((std::vector<std::size_t>{p1.batch, p1.tokens, p1.d_in, p1.d_out, p1.heads, p1.padding}),
            (std::vector<std::size_t>{8, 256, 512, 512, 8, 64}));
  EXPECT_EQ(attnkit::bench_flops(p1), 4.0 * 2 * 8 * 256 * 512 * 512 + 4.0 * 8 * 8 * 30816 * 64);
  const auto mask = attnkit::bench_key_padding_mask(p1);
  ASSERT_TRUE(mask.has_value());
  EXPECT_EQ(mask->shape, (Shape{8, 256}));
  EXPECT_EQ(mask->values[7 * 256 + 191], 0.0f);
  EXPECT_EQ(mask->values[7 * 256 + 192], 1.0f);  // true = padding
  EXPECT_FALSE(attnkit::bench_key_padding_mask(attnkit::find_bench_config("C3")).has_value());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& c = configs[i];
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(std::string(c.name), want[i].name);
    EXPECT_EQ(c.kind, attnkit::BenchKind::forward);
    EXPECT_EQ(c.batch, want[i].batch);
    EXPECT_EQ(c.tokens, want[i].tokens);
    EXPECT_EQ(c.d_in, want[i].d_in);
    EXPECT_EQ(c.d_out, want[i].d_out);
    EXPECT_EQ(c.heads, want[i].heads);
    EXPECT_TRUE(c.causal);
    EXPECT_GT(std::string(c.description).size(), 5u);
    EXPECT_EQ(&attnkit::find_bench_config(want[i].name), &c);
    const Config m = attnkit::bench_module_config(c);
    EXPECT_EQ(m.mechanism, Mechanism::multihead);
    EXPECT_EQ(m.seed, 123u);
    EXPECT_FALSE(m.qkv_bias);
    EXPECT_EQ(m.dropout, 0.0);
    EXPECT_EQ(m.causal, std::optional<bool>(true));
    EXPECT_EQ(attnkit::forward_flops(m, {c.batch, c.tokens, c.d_in}), want[i].flops);
    EXPECT_EQ(attnkit::bench_flops(c), want[i].flops);
  }
  try {
    attnkit::find_bench_config("C9");
    ADD_FAILURE() << "C9 was found";
  } catch (const attnkit::Error& e) {
    EXPECT_STREQ(e.what(), "unknown bench config 'C9'; expected one of C1, C2, C3, C4, C5, P1, D1, D2");
  }
}

// torch.manual_seed(7); torch.rand(b, n, d_in) (the Generator is checked against PyTorch in test_golden.cpp).
TEST(BenchConfigs, InputIsTorchRandFromSeedSeven) {
  const auto& c1 = attnkit::find_bench_config("C1");
  const attnkit::Tensor x = attnkit::bench_input(c1);
  EXPECT_EQ(x.shape, (Shape{2, 6, 3}));
  attnkit::Generator g(7);
  EXPECT_EQ(x.data, g.rand({2, 6, 3}).data);
  EXPECT_EQ(attnkit::bench_input(c1).data, x.data);  // deterministic
}

}  // namespace
