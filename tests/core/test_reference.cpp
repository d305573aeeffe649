// The library against the float64 reference (reference.hpp) on random problems: sizes around the SIMD
// widths (4, 8, 16 floats) and past them, odd head counts, batch 1 and 3 and unbatched input, qkv bias
// on and off, causal on and off, both causal routes, the explain and the fast path.
//
// Tolerance: 1e-5 relative, plus 1e-6 of the tensor's largest magnitude as an absolute floor. float32
// carries 24 bits (6e-8 relative); a dot product of k terms in float32 is off by ≲ k·6e-8 of Σ|terms| in
// the worst case and ~√k·6e-8 typically (k ≤ 130 here, so ≲ 1e-6), and softmax turns an absolute error
// δ in a scaled score into a relative error δ in its weight. A value much smaller than the terms that
// produced it (cancellation in x·Wᵀ, tiny weights) keeps only the absolute part of that error, hence the
// floor relative to the tensor's scale instead of each element's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "golden.hpp"
#include "reference.hpp"

namespace {

using attnkit::CausalRoute;
using attnkit::Config;
using attnkit::ForwardOptions;
using attnkit::ForwardResult;
using attnkit::Mechanism;
using attnkit::Module;
using attnkit::Shape;
using attnkit::StateDict;
using attnkit::Tensor;

constexpr double kRel = 1e-5;
constexpr double kScaleFloor = 1e-6;

::testing::AssertionResult close(const Tensor& got, const std::vector<double>& want, const Shape& want_shape,
                                 const std::string& what, double rel = kRel, double floor = kScaleFloor) {
  if (got.shape != want_shape)
    return ::testing::AssertionFailure() << what << ": shape " << attnkit::shape_to_string(got.shape) << ", expected "
                                         << attnkit::shape_to_string(want_shape);
  double scale = 0;
  for (double w : want)
    if (std::isfinite(w)) scale = std::max(scale, std::fabs(w));
  return golden::near(got, golden::Array{want_shape, want}, floor * scale + 1e-30, rel, what);
}

struct Case {
  Mechanism mechanism;
  std::size_t batch;  // 0: unbatched (tokens, d_in)
  std::size_t n, d_in, head_dim, heads;
  std::optional<bool> causal;
  bool qkv_bias;
  CausalRoute route;
  std::uint64_t seed;
};

std::string name_of(const Case& c) {
  std::ostringstream s;
  std::string m = attnkit::mechanism_name(c.mechanism);
  std::replace(m.begin(), m.end(), '-', '_');
  s << m << "_b" << c.batch << "_n" << c.n << "_din" << c.d_in << "_hd" << c.head_dim << "_h" << c.heads
    << (c.causal ? (*c.causal ? "_causal" : "_nocausal") : "") << (c.qkv_bias ? "_bias" : "")
    << (c.route == CausalRoute::renormalise ? "_renorm" : "");
  return s.str();
}
void PrintTo(const Case& c, std::ostream* os) { *os << name_of(c); }

Config config_of(const Case& c) {
  Config cfg;
  cfg.mechanism = c.mechanism;
  cfg.d_in = c.mechanism == Mechanism::simplified ? 0 : c.d_in;
  cfg.num_heads = c.heads;
  cfg.d_out = c.mechanism == Mechanism::multihead ? c.heads * c.head_dim : c.head_dim;
  cfg.causal = c.causal;
  cfg.qkv_bias = c.qkv_bias;
  cfg.causal_route = c.route;
  cfg.seed = c.seed;
  // A mask buffer longer than the input (the classes slice it to num_tokens) on every other case.
  cfg.context_length = c.seed % 2 ? c.n + 3 : 0;
  return cfg;
}

ref::Spec spec_of(const Case& c) {
  ref::Spec s = ref::spec_from(config_of(c));
  s.d_in = c.d_in;
  return s;
}

Shape batch_shape(const Case& c, Shape rest) {
  if (c.batch) rest.insert(rest.begin(), c.batch);
  return rest;
}

// Sizes around the SIMD widths and one well past them; every dimension takes each of them somewhere.
std::vector<Case> cases() {
  const std::size_t sizes[] = {1, 3, 7, 15, 16, 17, 48, 130};
  const std::size_t heads[] = {3, 5, 7, 1, 2, 3, 5, 7};
  const std::size_t batches[] = {0, 1, 3};
  std::vector<Case> out;
  std::uint64_t seed = 1;
  for (Mechanism m : attnkit::all_mechanisms()) {
    for (std::size_t i = 0; i < 8; ++i) {
      Case c;
      c.mechanism = m;
      c.batch = batches[i % 3];
      c.n = sizes[i];
      c.d_in = sizes[(i + 3) % 8];
      c.head_dim = sizes[(i + 5) % 8];
      const bool multi = m == Mechanism::multihead || m == Mechanism::multihead_wrapper;
      c.heads = multi ? heads[i] : 1;
      if (multi && c.head_dim * c.heads > 300) c.head_dim = sizes[(i + 2) % 8];  // keep the largest cases quick
      c.qkv_bias = (i % 2 == 1) && m != Mechanism::simplified && m != Mechanism::self_v1;
      if (m == Mechanism::multihead || m == Mechanism::causal) c.causal = (i % 4) != 3;  // mostly causal, some not
      c.route = (i % 3 == 2) ? CausalRoute::renormalise : CausalRoute::neg_inf;
      c.seed = seed++;
      out.push_back(c);
    }
  }
  // Causal on a mechanism whose class has no mask (the seed's §3.5 applies the mask to SelfAttention_v2).
  out.push_back({Mechanism::self, 1, 17, 7, 15, 1, true, true, CausalRoute::neg_inf, 101});
  out.push_back({Mechanism::self, 0, 16, 16, 16, 1, true, false, CausalRoute::renormalise, 102});
  // Simplified attention with the causal mask (the seed's §3.5 mask applies to any scores).
  out.push_back({Mechanism::simplified, 3, 17, 16, 16, 1, true, false, CausalRoute::neg_inf, 104});
  out.push_back({Mechanism::simplified, 0, 9, 8, 8, 1, true, false, CausalRoute::renormalise, 105});
  // The wrapper without the mask, and with one token.
  out.push_back({Mechanism::multihead_wrapper, 3, 15, 7, 8, 3, false, true, CausalRoute::neg_inf, 106});
  out.push_back({Mechanism::multihead_wrapper, 0, 1, 7, 8, 5, std::nullopt, true, CausalRoute::neg_inf, 107});
  // Long enough for the fused path's key blocks and causal block skipping to matter (odd block tails).
  out.push_back({Mechanism::multihead, 1, 513, 32, 16, 4, true, false, CausalRoute::neg_inf, 108});
  out.push_back({Mechanism::causal, 2, 257, 16, 8, 1, true, true, CausalRoute::renormalise, 109});
  out.push_back({Mechanism::multihead_wrapper, 1, 300, 24, 8, 3, false, false, CausalRoute::neg_inf, 110});
  // The benchmark shapes' head layout at a small size: 12 heads of 64.
  out.push_back({Mechanism::multihead, 2, 33, 96, 64, 12, true, false, CausalRoute::neg_inf, 103});
  return out;
}

class ReferenceCase : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceCase, ExplainPathMatchesTheFloat64Reference) {
  const Case& c = GetParam();
  ref::Rng rng(c.seed);
  const ref::Spec spec = spec_of(c);
  const StateDict sd = ref::random_state_dict(rng, spec);
  const Tensor x = ref::random_tensor(rng, batch_shape(c, {c.n, c.d_in}), -1.0, 1.0);
  Module m(config_of(c), sd);
  const ref::Result want = ref::forward(spec, sd, x);

  ForwardOptions o;
  o.return_weights = true;
  o.intermediates = true;
  const ForwardResult r = m.forward(x, o);
  const std::size_t h = want.h, n = want.n, hd = want.head_dim;
  EXPECT_TRUE(close(r.context, want.context, batch_shape(c, {n, want.width}), "context"));
  EXPECT_TRUE(close(r.weights, want.weights, batch_shape(c, {h, n, n}), "weights"));
  auto step = [&](const char* name) -> const Tensor& {
    const Tensor* t = r.intermediate(name);
    if (!t) throw std::runtime_error(std::string("missing intermediate ") + name);
    return *t;
  };
  EXPECT_TRUE(close(step("queries"), want.queries, batch_shape(c, {h, n, hd}), "queries"));
  EXPECT_TRUE(close(step("keys"), want.keys, batch_shape(c, {h, n, hd}), "keys"));
  EXPECT_TRUE(close(step("values"), want.values, batch_shape(c, {h, n, hd}), "values"));
  EXPECT_TRUE(close(step("scores"), want.scores, batch_shape(c, {h, n, n}), "scores"));
  EXPECT_TRUE(close(step("weights"), want.weights, batch_shape(c, {h, n, n}), "weights (intermediate)"));
  EXPECT_EQ(step("context").data, r.context.data);
  if (spec.causal && c.route == CausalRoute::neg_inf)
    EXPECT_TRUE(close(step("masked_scores"), want.scaled_scores, batch_shape(c, {h, n, n}), "masked scores"));
  if (c.mechanism == Mechanism::multihead)
    EXPECT_TRUE(close(step("context_before_out_proj"), want.context_before_out_proj, batch_shape(c, {n, h * hd}),
                      "context before out_proj"));
}

TEST_P(ReferenceCase, FastPathMatchesTheFloat64Reference) {
  const Case& c = GetParam();
  ref::Rng rng(c.seed);
  const ref::Spec spec = spec_of(c);
  const StateDict sd = ref::random_state_dict(rng, spec);
  const Tensor x = ref::random_tensor(rng, batch_shape(c, {c.n, c.d_in}), -1.0, 1.0);
  Module m(config_of(c), sd);
  const ref::Result want = ref::forward(spec, sd, x);
  const ForwardResult r = m.forward(x);  // return_weights = false: the fused path, no (n, n) matrix
  EXPECT_TRUE(close(r.context, want.context, batch_shape(c, {want.n, want.width}), "context"));
  EXPECT_TRUE(r.weights.empty());
  EXPECT_TRUE(r.intermediates.empty());
}

// Parameters drawn from the seed (not loaded) are the ones forward uses, under the names and shapes of the
// seed's classes.
TEST_P(ReferenceCase, DrawnParametersHaveTheSeedsNamesAndAreTheOnesUsed) {
  const Case& c = GetParam();
  const ref::Spec spec = spec_of(c);
  Module m(config_of(c));
  const auto names = ref::parameter_shapes(spec);
  const StateDict sd = m.state_dict();
  ASSERT_EQ(sd.size(), names.size());
  const auto declared = m.parameter_shapes();
  ASSERT_EQ(declared.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(sd[i].first, names[i].first);
    EXPECT_EQ(sd[i].second.shape, names[i].second) << names[i].first;
    EXPECT_EQ(declared[i].first, names[i].first);
    EXPECT_EQ(declared[i].second, names[i].second) << names[i].first;
  }
  ref::Rng rng(c.seed + 1000);
  const Tensor x = ref::random_tensor(rng, batch_shape(c, {c.n, c.d_in}), -1.0, 1.0);
  const ref::Result want = ref::forward(spec, sd, x);
  EXPECT_TRUE(close(m.forward(x).context, want.context, batch_shape(c, {want.n, want.width}), "context"));
  if (c.mechanism != Mechanism::simplified)  // simplified takes d_in, and so its width, from the input
    EXPECT_EQ(m.d_out_total(), want.width);
  EXPECT_EQ(m.num_heads(), want.h);
  EXPECT_EQ(m.causal(), spec.causal);
}

// ForwardResult::intermediates lists the documented steps, in the order computed (mechanisms.hpp).
TEST_P(ReferenceCase, IntermediatesAreTheDocumentedStepsInOrder) {
  const Case& c = GetParam();
  const ref::Spec spec = spec_of(c);
  std::vector<std::string> want = {"queries", "keys", "values", "scores", "scaled_scores"};
  if (spec.causal) want.push_back(c.route == CausalRoute::neg_inf ? "masked_scores" : "unmasked_weights");
  want.push_back("weights");
  if (c.mechanism == Mechanism::multihead) want.push_back("context_before_out_proj");
  want.push_back("context");
  ref::Rng rng(c.seed);
  Module m(config_of(c));
  ForwardOptions o;
  o.intermediates = true;
  const ForwardResult r = m.forward(ref::random_tensor(rng, batch_shape(c, {c.n, c.d_in}), -1.0, 1.0), o);
  std::vector<std::string> got;
  for (const auto& kv : r.intermediates) got.push_back(kv.first);
  EXPECT_EQ(got, want);
  EXPECT_TRUE(r.weights.empty()) << "weights are returned only when asked for";
}

// Unbatched input is a batch of one with the batch dimension dropped; every batch element is computed
// as if alone (each output element accumulates in a fixed order whatever the rows around it).
TEST_P(ReferenceCase, BatchElementsAreIndependentAndUnbatchedIsBatchOfOne) {
  const Case& c = GetParam();
  ref::Rng rng(c.seed + 7);
  const std::size_t b = 3;
  const Tensor x = ref::random_tensor(rng, {b, c.n, c.d_in}, -1.0, 1.0);
  Module m(config_of(c));
  ForwardOptions o;
  o.return_weights = true;
  const ForwardResult all = m.forward(x, o);
  const std::size_t per_x = c.n * c.d_in, per_ctx = all.context.numel() / b, per_w = all.weights.numel() / b;
  for (std::size_t bi = 0; bi < b; ++bi) {
    const Tensor xi({c.n, c.d_in}, golden::slice(x, bi * per_x, per_x));
    const ForwardResult alone = m.forward(xi, o);
    EXPECT_EQ(alone.context.shape, Shape(all.context.shape.begin() + 1, all.context.shape.end()));
    EXPECT_EQ(alone.weights.shape, Shape(all.weights.shape.begin() + 1, all.weights.shape.end()));
    EXPECT_EQ(alone.context.data, golden::slice(all.context, bi * per_ctx, per_ctx)) << "batch " << bi;
    EXPECT_EQ(alone.weights.data, golden::slice(all.weights, bi * per_w, per_w)) << "batch " << bi;
    const ForwardResult fast_alone = m.forward(Tensor({1, c.n, c.d_in}, xi.data));
    const ForwardResult fast_unbatched = m.forward(xi);
    EXPECT_EQ(fast_alone.context.data, fast_unbatched.context.data) << "batch " << bi;
  }
}

INSTANTIATE_TEST_SUITE_P(Random, ReferenceCase, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return name_of(info.param); });

// ---------------------------------------------------------------------------------------------------------
// The reference itself agrees with the float64 golden cases (so a failure above is the library's).
// Only the float32 rounding of the files' decimal weights and inputs separates them: ~1e-7 relative.

TEST(ReferenceSelfCheck, AgreesWithTheGoldenMultiheadCase) {
  const golden::json g = golden::load("ref_mha_b2_t5_din4_dout6_h3_causal_noqkvbias.json");
  const auto& cfg = g.at("config");
  const auto& w = g.at("weights");
  StateDict sd;
  for (const char* n : {"W_query", "W_key", "W_value"})
    sd.emplace_back(std::string(n) + ".weight", golden::tensor(w.at(n)));
  sd.emplace_back("out_proj.weight", golden::tensor(w.at("out_proj")));
  sd.emplace_back("out_proj.bias", golden::tensor(w.at("out_proj_bias")));
  ref::Spec s;
  s.mechanism = Mechanism::multihead;
  s.d_in = cfg.at("d_in");
  s.d_out = cfg.at("d_out");
  s.num_heads = cfg.at("num_heads");
  s.causal = cfg.at("causal");
  const ref::Result r = ref::forward(s, sd, golden::tensor(g.at("inputs")));
  auto check = [&](const std::vector<double>& got, const char* key) {
    const golden::Array want = golden::array(g.at(key));
    ASSERT_EQ(got.size(), want.numel()) << key;
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (std::isinf(want.data[i])) EXPECT_EQ(got[i], want.data[i]) << key << " " << i;
      else EXPECT_NEAR(got[i], want.data[i], 1e-6 + 1e-6 * std::fabs(want.data[i])) << key << " " << i;
    }
  };
  check(r.queries, "queries_per_head");
  check(r.keys, "keys_per_head");
  check(r.values, "values_per_head");
  check(r.scaled_scores, "scaled_scores_per_head");
  check(r.weights, "attn_weights_per_head");
  check(r.context_before_out_proj, "context_before_out_proj");
  check(r.context, "output");
}

TEST(ReferenceSelfCheck, AgreesWithTheGoldenV1Case) {
  const golden::json g = golden::load("ref_self_attention_v1_t5_din4_dout6.json");
  StateDict sd;
  for (const char* n : {"W_query", "W_key", "W_value"})
    sd.emplace_back(n, golden::tensor(g.at("weights_in_out").at(n)));
  ref::Spec s;
  s.mechanism = Mechanism::self_v1;
  s.d_in = g.at("config").at("d_in");
  s.d_out = g.at("config").at("d_out");
  const ref::Result r = ref::forward(s, sd, golden::tensor(g.at("inputs")));
  const golden::Array w = golden::array(g.at("attn_weights")), out = golden::array(g.at("output"));
  for (std::size_t i = 0; i < w.numel(); ++i) EXPECT_NEAR(r.weights[i], w.data[i], 1e-6) << i;
  for (std::size_t i = 0; i < out.numel(); ++i) EXPECT_NEAR(r.context[i], out.data[i], 1e-6) << i;
}

// ---------------------------------------------------------------------------------------------------------
// Large magnitudes: scores of ±1e30 are finite in float32 and must give finite weights (max subtracted
// before exp), on both paths. The float32 rounding of such scores (~1e23) is far below their spread.

TEST(ReferenceExtremes, ScoresOfOrder1e30GiveFiniteWeights) {
  ref::Rng rng(7);
  const std::size_t n = 9, d = 5;
  const Tensor x = ref::random_tensor(rng, {2, n, d}, -1.0, 1.0);
  for (bool causal : {false, true}) {
    for (CausalRoute route : {CausalRoute::neg_inf, CausalRoute::renormalise}) {
      SCOPED_TRACE(std::string(causal ? "causal " : "") + (route == CausalRoute::neg_inf ? "neg_inf" : "renormalise"));
      ref::Spec s;
      s.mechanism = Mechanism::multihead;
      s.d_in = d;
      s.d_out = 6;
      s.num_heads = 3;
      s.causal = causal;
      StateDict sd = ref::random_state_dict(rng, s);
      // W_query, W_key ×1e15: q·kᵀ ~ 1e30 (float32 max 3.4e38).
      for (auto& [name, t] : sd)
        if (name == "W_query.weight" || name == "W_key.weight")
          for (auto& v : t.data) v *= 1e15f;
      Config c;
      c.mechanism = Mechanism::multihead;
      c.d_in = s.d_in;
      c.d_out = s.d_out;
      c.num_heads = s.num_heads;
      c.causal = causal;
      c.causal_route = route;
      Module m(c, sd);
      const ref::Result want = ref::forward(s, sd, x);
      ForwardOptions o;
      o.return_weights = true;
      const ForwardResult r = m.forward(x, o);
      double max_score = 0;
      for (double v : want.scores) max_score = std::max(max_score, std::fabs(v));
      ASSERT_GT(max_score, 1e29) << "the test must actually produce huge scores";
      for (float v : r.weights.data) ASSERT_TRUE(std::isfinite(v) && v >= 0.0f && v <= 1.0f) << v;
      for (float v : r.context.data) ASSERT_TRUE(std::isfinite(v)) << v;
      EXPECT_TRUE(close(r.weights, want.weights, {2, 3, n, n}, "weights", 1e-5, 1e-5));
      EXPECT_TRUE(close(r.context, want.context, {2, n, 6}, "context", 1e-5, 1e-5));
      const ForwardResult fast = m.forward(x);
      for (float v : fast.context.data) ASSERT_TRUE(std::isfinite(v)) << "fast path: " << v;
      EXPECT_TRUE(close(fast.context, want.context, {2, n, 6}, "fast context", 1e-5, 1e-5));
    }
  }
}

// Simplified attention on embeddings of magnitude 1e15: x·xᵀ ~ 1e30, no scaling to soften it.
TEST(ReferenceExtremes, SimplifiedOnHugeEmbeddings) {
  ref::Rng rng(8);
  Tensor x = ref::random_tensor(rng, {6, 3}, -1.0, 1.0);
  for (auto& v : x.data) v *= 1e15f;
  Config c;
  c.mechanism = Mechanism::simplified;
  Module m(c);
  ForwardOptions o;
  o.return_weights = true;
  const ForwardResult r = m.forward(x, o);
  const ref::Result want = ref::forward(ref::spec_from(c), {}, x);
  for (float v : r.weights.data) ASSERT_TRUE(std::isfinite(v)) << v;
  EXPECT_TRUE(close(r.weights, want.weights, {1, 6, 6}, "weights", 1e-5, 1e-5));
  EXPECT_TRUE(close(r.context, want.context, {6, 3}, "context", 1e-5, 1e-5));
  EXPECT_TRUE(close(m.forward(x).context, want.context, {6, 3}, "fast context", 1e-5, 1e-5));
}

// The renormalise route's corner: token 0's only visible score is −1e30 while a future one is +1e30, so
// softmax over the whole row gives it exp(−2e30) = 0 and the masked row sums to 0. The weights must not be
// NaN; the seed's two routes are the same function, so the row should still be [1, 0] as on the −inf route.
TEST(ReferenceExtremes, RenormaliseRouteRowWhoseVisibleWeightsUnderflow) {
  const StateDict sd = {{"W_query.weight", Tensor({1, 1}, {1e15f})},
                        {"W_key.weight", Tensor({1, 1}, {-1e15f})},
                        {"W_value.weight", Tensor({1, 1}, {1.0f})}};
  const Tensor x({2, 1}, {1.0f, -1.0f});  // scores: [[−1e30, +1e30], [+1e30, −1e30]]
  Config c;
  c.mechanism = Mechanism::causal;
  c.d_in = 1;
  c.d_out = 1;
  ForwardOptions o;
  o.return_weights = true;
  const Tensor neg_inf = Module(c, sd).forward(x, o).weights;
  c.causal_route = CausalRoute::renormalise;
  Module m(c, sd);
  const ForwardResult r = m.forward(x, o);
  for (float v : r.weights.data) EXPECT_FALSE(std::isnan(v)) << "renormalise route produced NaN weights";
  for (float v : r.context.data) EXPECT_FALSE(std::isnan(v)) << "renormalise route produced a NaN context";
  EXPECT_EQ(r.weights.data, neg_inf.data) << "both causal routes should give the same weights";
}

}  // namespace
