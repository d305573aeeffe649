// attnkit tests — Module::forward's extra inputs against a float64 reference written here from
// nn.MultiheadAttention's definition: cross-attention (kv, k_dim, v_dim), grouped-query projections (kv_heads),
// key_padding_mask and attn_mask (bool and float), causal modules with n_q ≠ n_k (lower-right), fully masked
// rows (zeros), at sizes around the SIMD width; both paths; bitwise the same for any thread count; the mask
// conversion; the draw order; and the bad-input table.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"

namespace attnkit {
namespace {

std::vector<float> random_values(std::size_t count, std::uint64_t seed, double scale = 1.0) {
  Generator g(seed);
  const Tensor t = g.uniform({count}, -scale, scale);
  return t.data;
}

Tensor random_tensor(Shape s, std::uint64_t seed) {
  const std::size_t count = checked_numel(s);
  return Tensor(s, random_values(count, seed));
}

const Tensor& param(const StateDict& sd, const std::string& name) {
  const Tensor* t = find_parameter(sd, name);
  if (!t) throw std::runtime_error("no parameter " + name);
  return *t;
}

// y (rows, out) = x·wᵀ + b in float64.
std::vector<double> linear64(const std::vector<float>& x, std::size_t rows, std::size_t in, const Tensor& w,
                             const Tensor* b) {
  const std::size_t out = w.shape[0];
  std::vector<double> y(rows * out);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t o = 0; o < out; ++o) {
      double s = b ? b->data[o] : 0.0;
      for (std::size_t i = 0; i < in; ++i) s += double(x[r * in + i]) * w.data[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

struct Reference {
  std::vector<double> context, weights;  // (b, n_q, d_out), (b, h, n_q, n_k)
};

// nn.MultiheadAttention (batch_first) with attnkit's documented choices: a row with no key gives zeros; a causal
// module's query i sees keys j ≤ i + n_k − n_q.
Reference reference(const Module& m, const Tensor& x, const Tensor& kv, const AttentionMask* padding,
                    const AttentionMask* attn) {
  const Config& c = m.config();
  const StateDict sd = m.state_dict();
  const std::size_t b = x.shape[0], n_q = x.shape[1], n_k = kv.shape[1], H = m.num_heads(), hd = m.head_dim(),
                    H_kv = m.kv_heads();
  const Tensor* no_bias = nullptr;
  const auto q = linear64(x.data, b * n_q, x.shape[2], param(sd, "W_query.weight"),
                          c.qkv_bias ? &param(sd, "W_query.bias") : no_bias);
  const auto k = linear64(kv.data, b * n_k, kv.shape[2], param(sd, "W_key.weight"),
                          c.qkv_bias ? &param(sd, "W_key.bias") : no_bias);
  const auto v = linear64(kv.data, b * n_k, kv.shape[2], param(sd, "W_value.weight"),
                          c.qkv_bias ? &param(sd, "W_value.bias") : no_bias);
  Reference r;
  r.weights.assign(b * H * n_q * n_k, 0.0);
  std::vector<float> heads(b * n_q * H * hd);
  const double ninf = -std::numeric_limits<double>::infinity();
  for (std::size_t bi = 0; bi < b; ++bi)
    for (std::size_t h = 0; h < H; ++h) {
      const std::size_t g = h / (H / H_kv);
      for (std::size_t i = 0; i < n_q; ++i) {
        std::vector<double> s(n_k);
        double mx = ninf;
        for (std::size_t j = 0; j < n_k; ++j) {
          double dot = 0;
          for (std::size_t e = 0; e < hd; ++e)
            dot += q[(bi * n_q + i) * H * hd + h * hd + e] * k[(bi * n_k + j) * H_kv * hd + g * hd + e];
          s[j] = dot / std::sqrt(double(hd));
          if (padding) {
            const float p = padding->values[bi * n_k + j];
            s[j] = padding->kind == MaskKind::boolean ? (p != 0 ? ninf : s[j]) : s[j] + p;
          }
          if (attn) {
            const std::size_t at = attn->shape.size() == 3 ? ((bi * H + h) * n_q + i) * n_k + j : i * n_k + j;
            const float a = attn->values[at];
            s[j] = attn->kind == MaskKind::boolean ? (a != 0 ? ninf : s[j]) : s[j] + a;
          }
          if (m.causal() && double(j) > double(i) + double(n_k) - double(n_q)) s[j] = ninf;
          mx = std::max(mx, s[j]);
        }
        if (mx == ninf) continue;  // nothing to attend to: zeros
        double sum = 0;
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (std::size_t j = 0; j < n_k; ++j) r.weights[((bi * H + h) * n_q + i) * n_k + j] = s[j] / sum;
        for (std::size_t e = 0; e < hd; ++e) {
          double acc = 0;
          for (std::size_t j = 0; j < n_k; ++j) acc += s[j] / sum * v[(bi * n_k + j) * H_kv * hd + g * hd + e];
          heads[(bi * n_q + i) * H * hd + h * hd + e] = float(acc);  // float64 kept below via the double copy
        }
      }
    }
  // out_proj on the float64 heads (recomputed in double to avoid the float rounding above).
  std::vector<double> heads64(heads.begin(), heads.end());
  for (std::size_t bi = 0; bi < b; ++bi)
    for (std::size_t h = 0; h < H; ++h) {
      const std::size_t g = h / (H / H_kv);
      for (std::size_t i = 0; i < n_q; ++i)
        for (std::size_t e = 0; e < hd; ++e) {
          double acc = 0;
          for (std::size_t j = 0; j < n_k; ++j)
            acc += r.weights[((bi * H + h) * n_q + i) * n_k + j] * v[(bi * n_k + j) * H_kv * hd + g * hd + e];
          heads64[(bi * n_q + i) * H * hd + h * hd + e] = acc;
        }
    }
  const Tensor& w = param(sd, "out_proj.weight");
  const Tensor& ob = param(sd, "out_proj.bias");
  r.context.assign(b * n_q * c.d_out, 0.0);
  for (std::size_t row = 0; row < b * n_q; ++row)
    for (std::size_t o = 0; o < c.d_out; ++o) {
      double s = ob.data[o];
      for (std::size_t i = 0; i < H * hd; ++i) s += heads64[row * H * hd + i] * w.data[o * H * hd + i];
      r.context[row * c.d_out + o] = s;
    }
  return r;
}

::testing::AssertionResult close(const std::vector<float>& got, const std::vector<double>& want, double rel = 2e-5) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  double scale = 0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= rel * (std::fabs(want[i]) + scale * 1e-2)))
      return ::testing::AssertionFailure() << "at " << i << ": " << got[i] << " vs " << want[i];
  return ::testing::AssertionSuccess();
}

TEST(ModuleInputs, CrossGroupedQueryAndMasksMatchFloat64AtSimdSizes) {
  // 16 floats a vector on AVX-512: sizes around it, and n_q ≠ n_k both ways.
  const std::size_t sizes[][2] = {{1, 1}, {3, 7}, {7, 3}, {15, 16}, {16, 17}, {17, 15}, {48, 48}, {5, 130}};
  std::uint64_t seed = 1;
  for (const auto& [n_q, n_k] : sizes) {
    for (int variant = 0; variant < 4; ++variant) {
      SCOPED_TRACE("n_q " + std::to_string(n_q) + " n_k " + std::to_string(n_k) + " variant " +
                   std::to_string(variant));
      Config c;
      c.d_in = 12;
      c.d_out = 16;
      c.num_heads = 4;
      c.kv_heads = variant % 2 ? 2 : 1;  // grouped-query and multi-query projections
      c.k_dim = c.v_dim = 9;             // cross-attention input width
      c.qkv_bias = variant >= 2;
      c.causal = variant == 3;
      c.seed = seed++;
      Module m(c);
      const std::size_t b = 2;
      const Tensor x = random_tensor({b, n_q, c.d_in}, seed * 7), kv = random_tensor({b, n_k, 9}, seed * 11);
      // Padding: batch 1 pads its last third of keys (all keys when n_k = 1: a fully masked row).
      AttentionMask padding{MaskKind::boolean, {b, n_k}, std::vector<float>(b * n_k, 0.0f)};
      for (std::size_t j = n_k - (n_k + 2) / 3; j < n_k; ++j) padding.values[n_k + j] = 1.0f;
      // attn_mask: float (n_q, n_k) with −inf on some entries, or bool per (batch·head) with a fully masked row.
      AttentionMask attn =
          variant % 2
              ? AttentionMask{MaskKind::additive, {n_q, n_k}, random_values(n_q * n_k, seed, 2.0)}
              : AttentionMask{MaskKind::boolean, {b * 4, n_q, n_k}, std::vector<float>(b * 4 * n_q * n_k, 0.0f)};
      if (variant % 2) {
        for (std::size_t e = 0; e < attn.values.size(); e += 5)
          attn.values[e] = -std::numeric_limits<float>::infinity();
      } else {
        for (std::size_t j = 0; j < n_k; ++j)
          attn.values[(1 * n_q + 0) * n_k + j] = 1.0f;  // batch 0 head 1 row 0: nothing
        for (std::size_t e = 3; e < attn.values.size(); e += 7) attn.values[e] = 1.0f;
      }
      const Reference want = reference(m, x, kv, &padding, &attn);
      ForwardInputs in;
      in.kv = &kv;
      in.key_padding_mask = &padding;
      in.attn_mask = &attn;
      ForwardOptions fused, explain;
      explain.return_weights = true;
      const ForwardResult a = m.forward(x, in, fused), e = m.forward(x, in, explain);
      EXPECT_TRUE(close(a.context.data, want.context));
      EXPECT_TRUE(close(e.context.data, want.context));
      EXPECT_TRUE(close(e.weights.data, want.weights));
      EXPECT_EQ(e.weights.shape, (Shape{b, 4, n_q, n_k}));
      // Thread count never changes a bit, on either path.
      for (std::size_t threads : {1, 2, 3}) {
        fused.threads = explain.threads = threads;
        EXPECT_EQ(m.forward(x, in, fused).context.data, a.context.data) << threads << " threads, fused";
        const ForwardResult t = m.forward(x, in, explain);
        EXPECT_EQ(t.context.data, e.context.data) << threads << " threads, explain";
        EXPECT_EQ(t.weights.data, e.weights.data) << threads << " threads, explain weights";
      }
    }
  }
}

TEST(ModuleInputs, KvEqualToXGivesTheBooksPathForEveryMechanismWithDropout) {
  // The book's path (checked against the book's printed numbers elsewhere) and the op's path must agree, and
  // dropout must draw the same masks: the wrapper head by head, multihead over (b, h, n, n).
  for (Mechanism mech : all_mechanisms()) {
    SCOPED_TRACE(mechanism_name(mech));
    Config c;
    c.mechanism = mech;
    c.d_in = 5;
    c.d_out = mech == Mechanism::multihead ? 6 : 3;
    c.num_heads = mech == Mechanism::multihead || mech == Mechanism::multihead_wrapper ? 3 : 1;
    c.dropout = option_applies(mech, "dropout") ? 0.5 : 0.0;
    const Tensor x = random_tensor({2, 7, 5}, 9);
    ForwardOptions o;
    o.train = true;
    o.return_weights = true;
    Module book(c), general(c);
    const ForwardResult want = book.forward(x, o);
    ForwardInputs in;
    in.kv = &x;
    const ForwardResult got = general.forward(x, in, o);
    ASSERT_EQ(got.context.shape, want.context.shape);
    ASSERT_EQ(got.weights.shape, want.weights.shape);
    for (std::size_t i = 0; i < want.context.numel(); ++i)
      EXPECT_NEAR(got.context.data[i], want.context.data[i], 1e-5 * (1 + std::fabs(want.context.data[i]))) << i;
    for (std::size_t i = 0; i < want.weights.numel(); ++i)
      EXPECT_NEAR(got.weights.data[i], want.weights.data[i], 1e-6) << i;
  }
}

TEST(ModuleInputs, FullyMaskedRowsAreZerosAndLargeMagnitudesStayFinite) {
  Config c;
  c.d_in = 8;
  c.d_out = 8;
  c.num_heads = 2;
  c.causal = false;
  Module m(c);
  Tensor x = random_tensor({1, 3, 8}, 5);
  for (float& v : x.data) v *= 1e3f;
  AttentionMask padding{MaskKind::boolean, {1, 3}, {1, 1, 1}};  // every key is padding
  ForwardInputs in;
  in.key_padding_mask = &padding;
  ForwardOptions o;
  o.return_weights = true;
  const ForwardResult r = m.forward(x, in, o);
  for (float w : r.weights.data) EXPECT_EQ(w, 0.0f);
  // Context = out_proj(0) = its bias on every row.
  const StateDict sd = m.state_dict();
  const Tensor& bias = *find_parameter(sd, "out_proj.bias");
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t o2 = 0; o2 < 8; ++o2) EXPECT_EQ(r.context.data[i * 8 + o2], bias.data[o2]);
  const ForwardResult fused = m.forward(x, in, {});
  EXPECT_EQ(fused.context.data, r.context.data);
}

TEST(ModuleInputs, CausalWithKvIsLowerRightAndSelfStaysTheBooks) {
  Config c;
  c.mechanism = Mechanism::causal;
  c.d_in = 3;
  c.d_out = 2;
  Module m(c);
  const Tensor x = random_tensor({1, 2, 3}, 3), kv = random_tensor({1, 4, 3}, 4);
  ForwardInputs in;
  in.kv = &kv;
  ForwardOptions o;
  o.return_weights = true;
  const ForwardResult r = m.forward(x, in, o);  // query 0 sees keys 0..2, query 1 sees all four
  EXPECT_GT(r.weights.data[2], 0.0f);
  EXPECT_EQ(r.weights.data[3], 0.0f);
  EXPECT_GT(r.weights.data[7], 0.0f);
  // kv = x gives the book's self-attention numbers (same route as forward(x)) to float rounding.
  in.kv = &x;
  const Tensor x3 = x;
  const ForwardResult self = m.forward(x3, o), with_kv = m.forward(x3, in, o);
  for (std::size_t i = 0; i < self.context.numel(); ++i)
    EXPECT_NEAR(with_kv.context.data[i], self.context.data[i], 1e-6);
  EXPECT_EQ(with_kv.weights.shape, self.weights.shape);
}

TEST(ModuleInputs, MaskConversionFollowsMultiheadAttention) {
  // bool + bool: a key is allowed when neither forbids it; the op's sense is true = may attend.
  const AttentionMask padding{MaskKind::boolean, {2, 3}, {0, 0, 1, 0, 1, 1}};
  const AttentionMask attn{MaskKind::boolean, {2, 3}, {0, 1, 0, 0, 0, 0}};
  const auto both = module_attention_mask(&padding, &attn, 2, 4, 2, 3);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->kind, MaskKind::boolean);
  EXPECT_EQ(both->shape, (Shape{2, 1, 2, 3}));
  EXPECT_EQ(both->values, (std::vector<float>{1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0}));
  // float + bool: additive, true → −inf.
  const float ninf = -std::numeric_limits<float>::infinity();
  const AttentionMask added{MaskKind::additive, {2, 3}, {0.5f, -1, 0, 2, ninf, 0}};
  const auto mixed = module_attention_mask(&padding, &added, 2, 4, 2, 3);
  EXPECT_EQ(mixed->kind, MaskKind::additive);
  EXPECT_EQ(mixed->values, (std::vector<float>{0.5f, -1, ninf, 2, ninf, ninf, 0.5f, ninf, ninf, 2, ninf, ninf}));
  // (b·h, n_q, n_k) keeps its heads; padding alone is (b, 1, 1, n_k); unbatched drops b.
  const AttentionMask per_head{MaskKind::boolean, {4, 1, 2}, {1, 0, 0, 1, 0, 0, 1, 1}};
  const auto heads = module_attention_mask(nullptr, &per_head, 2, 2, 1, 2);
  EXPECT_EQ(heads->shape, (Shape{2, 2, 1, 2}));
  EXPECT_EQ(heads->values, (std::vector<float>{0, 1, 1, 0, 1, 1, 0, 0}));
  EXPECT_EQ(module_attention_mask(&padding, nullptr, 2, 4, 7, 3)->shape, (Shape{2, 1, 1, 3}));
  const AttentionMask one{MaskKind::boolean, {3}, {0, 1, 0}};
  EXPECT_EQ(module_attention_mask(&one, nullptr, 1, 2, 5, 3, false)->values, (std::vector<float>{1, 0, 1}));
  EXPECT_FALSE(module_attention_mask(nullptr, nullptr, 1, 1, 1, 1));
}

TEST(ModuleInputs, DrawOrderIsNnLinearsInConstructionOrder) {
  // nn.Linear(d_in, D), nn.Linear(k_dim, D_kv), nn.Linear(v_dim, D_kv), nn.Linear(D, D) drawn in turn after
  // torch.manual_seed: kaiming_uniform bound 1/√fan_in for weight and bias.
  Config c;
  c.d_in = 6;
  c.d_out = 8;
  c.num_heads = 4;
  c.kv_heads = 2;
  c.k_dim = 5;
  c.v_dim = 3;
  c.qkv_bias = true;
  c.causal = false;
  const Module m(c);
  Generator g(c.seed);
  const std::pair<const char*, Shape> expected[] = {
      {"W_query.weight", {8, 6}}, {"W_query.bias", {8}}, {"W_key.weight", {4, 5}},    {"W_key.bias", {4}},
      {"W_value.weight", {4, 3}}, {"W_value.bias", {4}}, {"out_proj.weight", {8, 8}}, {"out_proj.bias", {8}}};
  const StateDict sd = m.state_dict();
  ASSERT_EQ(sd.size(), 8u);
  const std::size_t fan_in[] = {6, 6, 5, 5, 3, 3, 8, 8};
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(sd[i].first, expected[i].first);
    EXPECT_EQ(sd[i].second.shape, expected[i].second);
    const double bound = 1.0 / std::sqrt(double(fan_in[i]));
    EXPECT_EQ(sd[i].second.data, g.uniform(expected[i].second, -bound, bound).data) << expected[i].first;
  }
  // A state_dict of those shapes loads; the default shapes are refused, naming the expected one.
  EXPECT_NO_THROW(Module(c, sd));
  Config square = c;
  square.kv_heads = square.k_dim = square.v_dim = 0;
  try {
    Module(c, Module(square).state_dict());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("W_key.weight has shape [8, 6], expected [4, 5]"), std::string::npos)
        << e.what();
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ModuleInputs, BadInputsNameTheProblemAndTheExpectedValue) {
  Config c;
  c.d_in = 4;
  c.d_out = 4;
  c.num_heads = 2;
  c.k_dim = c.v_dim = 3;
  Module m(c);
  const Tensor x = random_tensor({2, 5, 4}, 1), kv = random_tensor({2, 6, 3}, 2);
  const auto run = [&](const Tensor& x_, const Tensor* kv_, const AttentionMask* padding, const AttentionMask* attn) {
    return error_of([&] {
      ForwardInputs in;
      in.kv = kv_;
      in.key_padding_mask = padding;
      in.attn_mask = attn;
      m.forward(x_, in, {});
    });
  };
  const auto contains = [](const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; };
  const Tensor kv_wide = random_tensor({2, 6, 4}, 3), kv_batch = random_tensor({3, 6, 3}, 4),
               kv_rank = random_tensor({6, 3}, 5);
  EXPECT_PRED2(contains, run(x, &kv_wide, nullptr, nullptr), "kv has 4 features (shape [2, 6, 4]); expected k_dim 3");
  EXPECT_PRED2(contains, run(x, &kv_batch, nullptr, nullptr), "kv has batch 3 (shape [3, 6, 3]); expected x's batch 2");
  EXPECT_PRED2(contains, run(x, &kv_rank, nullptr, nullptr), "kv must have rank 3 like x");
  EXPECT_PRED2(contains, run(x, nullptr, nullptr, nullptr), "no kv was given; expected kv (b, n_k, 3)");
  const AttentionMask pad_short{MaskKind::boolean, {2, 5}, std::vector<float>(10)};
  EXPECT_PRED2(contains, run(x, &kv, &pad_short, nullptr),
               "key_padding_mask has shape [2, 5]; expected [2, 6] (b, n_k)");
  const AttentionMask attn_wrong{MaskKind::boolean, {5, 5}, std::vector<float>(25)};
  EXPECT_PRED2(contains, run(x, &kv, nullptr, &attn_wrong),
               "attn_mask has shape [5, 5]; expected [5, 6] (n_q, n_k) or [4, 5, 6]");
  const AttentionMask attn_rank{MaskKind::boolean, {1, 2, 5, 6}, std::vector<float>(60)};
  EXPECT_PRED2(contains, run(x, &kv, nullptr, &attn_rank), "attn_mask has shape [1, 2, 5, 6]; expected");
  const AttentionMask bool_two{MaskKind::boolean, {5, 6}, std::vector<float>(30, 2.0f)};
  EXPECT_PRED2(contains, run(x, &kv, nullptr, &bool_two), "attn_mask (boolean) has 2 at flat index 0; expected true");
  const AttentionMask nan_mask{MaskKind::additive, {2, 6}, std::vector<float>(12, std::nanf(""))};
  EXPECT_PRED2(contains, run(x, &kv, &nan_mask, nullptr),
               "key_padding_mask has nan at flat index 0; expected finite numbers or -inf");
  const AttentionMask too_few{MaskKind::boolean, {5, 6}, std::vector<float>(3)};
  EXPECT_PRED2(contains, run(x, &kv, nullptr, &too_few), "attn_mask has 3 values but its shape [5, 6] holds 30");
  Config gqa = c;
  gqa.kv_heads = 3;
  gqa.num_heads = 4;
  EXPECT_PRED2(contains, error_of([&] { Module{gqa}; }), "kv_heads (3) must divide num_heads (4)");
  Config self = c;
  self.mechanism = Mechanism::self;
  self.num_heads = 1;
  self.kv_heads = 1;
  EXPECT_PRED2(contains, error_of([&] { Module{self}; }),
               "kv_heads (1) applies only to multihead; expected 0 for mechanism 'self'");
  Config ctx = c;
  ctx.context_length = 5;
  Module limited(ctx);
  EXPECT_PRED2(contains, error_of([&] {
                 ForwardInputs in;
                 in.kv = &kv;
                 limited.forward(x, in, {});
               }),
               "kv 6 tokens but context_length is 5");
}

}  // namespace
}  // namespace attnkit
