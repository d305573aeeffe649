// attnkit tests — Module::backward against the float64 chain-rule reference (module_grad_reference.hpp), itself
// checked by central finite differences of the float64 forward: every mechanism, qkv bias, masks, cross-attention,
// grouped-query heads, dropout, unbatched input, sizes around the SIMD width, odd head counts, bitwise identity for
// any thread count, load_state_dict, and bad input. Tolerance: relative to the largest reference gradient of the
// tensor (float32 sums of O(1) products, as tests/core/test_attention_grad.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "module_grad_reference.hpp"
#include "reference.hpp"

namespace attnkit::test {
namespace {

double max_abs(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// scale: the magnitude the error is relative to (default: the largest |want|).
void expect_close(const Tensor& got, const std::vector<double>& want, double tol, const std::string& what,
                  double scale = 0.0) {
  ASSERT_EQ(got.numel(), want.size()) << what;
  const double bound = tol * std::max(scale ? scale : max_abs(want), 1e-6);
  std::size_t bad = 0;
  for (std::size_t e = 0; e < want.size(); ++e)
    if (!(std::fabs(double(got.data[e]) - want[e]) <= bound) && bad++ < 3)
      ADD_FAILURE() << what << " [" << e << "]: got " << got.data[e] << ", want " << want[e] << " (bound " << bound
                    << ")";
  EXPECT_EQ(bad, 0u) << what;
}

std::vector<double> widen(const Tensor& t) { return std::vector<double>(t.data.begin(), t.data.end()); }

struct GradSetup {
  Config config;
  std::size_t batch = 2, n_q = 5, n_k = 0;  // n_k 0: no kv (keys and values from x)
  std::size_t k_features = 0, v_features = 0;
  bool value_input = false, batched = true, padding = false, train = false;
  std::optional<MaskKind> attn_mask;  // nn.MultiheadAttention's (n_q, n_k) attn_mask of this kind
  std::size_t threads = 1;
  double tol = 1e-4;
};

// What one GradSetup gives: the module's and the reference's results.
struct GradRun {
  ForwardResult forward;
  ModuleGrad grad;
  ref::ModuleGrads want;
  ref::ModuleCase reference_case;
  ref::ModuleInputs reference_inputs;
  std::vector<double> grad_context;
  std::optional<AttentionMask> op_mask;
  std::vector<float> keep;
  Shape x_shape;
};

std::unique_ptr<GradRun> run(const GradSetup& s, std::uint64_t seed = 7) {
  auto r = std::make_unique<GradRun>();
  const Config& c = s.config;
  const bool simplified = c.mechanism == Mechanism::simplified;
  const StateDict sd = Module(c).state_dict();
  Module m(c, sd);  // dropout draws start at the seed: keep factors below are drawn the same way
  ref::Rng rng(seed);
  const std::size_t d_in = c.d_in, n_k = s.n_k ? s.n_k : s.n_q;
  const std::size_t kf = s.n_k ? (s.k_features ? s.k_features : d_in) : d_in;
  const std::size_t vf = s.value_input ? (s.v_features ? s.v_features : kf) : kf;
  const std::size_t B = s.batched ? s.batch : 1;
  auto shape = [&](std::size_t n, std::size_t f) { return s.batched ? Shape{B, n, f} : Shape{n, f}; };
  const Tensor x = ref::random_tensor(rng, shape(s.n_q, d_in), -1.0, 1.0);
  const Tensor kv = ref::random_tensor(rng, shape(n_k, kf), -1.0, 1.0);
  const Tensor value = ref::random_tensor(rng, shape(n_k, vf), -1.0, 1.0);
  ForwardInputs in;
  if (s.n_k) in.kv = &kv;
  if (s.value_input) in.value_input = &value;
  AttentionMask padding, attn;
  if (s.padding) {  // the last key of every sequence but the first is padding (the first key when unbatched)
    std::vector<bool> pad(B * n_k, false);
    for (std::size_t b = 1; b < B; ++b) pad[b * n_k + n_k - 1] = true;
    if (B == 1 && n_k > 1) pad[0] = true;
    padding = boolean_mask(s.batched ? Shape{B, n_k} : Shape{n_k}, pad);
    in.key_padding_mask = &padding;
  }
  if (s.attn_mask) {
    std::vector<float> v(s.n_q * n_k);
    for (std::size_t e = 0; e < v.size(); ++e)
      v[e] = *s.attn_mask == MaskKind::boolean ? float(e % 3 == 1) : float(rng.uniform(-1.0, 1.0));
    if (*s.attn_mask == MaskKind::boolean) v[0] = 0.0f;
    else v[1] = -INFINITY;
    attn = {*s.attn_mask, Shape{s.n_q, n_k}, v};
    in.attn_mask = &attn;
  }
  ForwardOptions o;
  o.grad = true;
  o.train = s.train;
  o.threads = s.threads;
  r->forward = m.forward(x, in, o);
  r->x_shape = x.shape;
  const Tensor grad_context = ref::random_tensor(rng, r->forward.context.shape, -1.0, 1.0);
  r->grad = m.backward(grad_context);
  r->grad_context = widen(grad_context);

  // The reference on the same numbers, batched.
  const std::size_t H = simplified ? 1 : c.num_heads;
  const bool causal = c.causal.value_or(traits(c.mechanism).default_causal);
  r->op_mask = module_attention_mask(in.key_padding_mask, in.attn_mask, B, H, s.n_q, n_k, s.batched);
  if (s.train && c.dropout > 0.0) {  // forward_inputs.cpp: the wrapper's heads draw one after another
    r->keep.assign(B * H * s.n_q * n_k, 1.0f);
    Generator gen(c.seed);
    const std::size_t plane = s.n_q * n_k;
    if (c.mechanism == Mechanism::multihead_wrapper) {
      std::vector<float> head(B * plane, 1.0f);
      for (std::size_t h = 0; h < H; ++h) {
        std::fill(head.begin(), head.end(), 1.0f);
        gen.dropout_(head.data(), head.size(), c.dropout);
        for (std::size_t b = 0; b < B; ++b)
          std::copy_n(head.begin() + b * plane, plane, r->keep.begin() + (b * H + h) * plane);
      }
    } else {
      gen.dropout_(r->keep.data(), r->keep.size(), c.dropout);
    }
  }
  ref::ModuleCase& rc = r->reference_case;
  rc.config = c;
  rc.batch = B;
  rc.n_q = s.n_q;
  rc.n_k = n_k;
  rc.causal = causal;
  rc.mask = r->op_mask ? &*r->op_mask : nullptr;
  rc.keep = r->keep.empty() ? nullptr : &r->keep;
  ref::ModuleInputs& ri = r->reference_inputs;
  ri.x = widen(x);
  ri.kv = s.n_k ? widen(kv) : ri.x;
  ri.value = s.value_input ? widen(value) : ri.kv;
  ri.d_in = d_in;
  ri.k_features = kf;
  ri.v_features = vf;
  for (const auto& [name, t] : sd) ri.params[name] = widen(t);
  r->want = ref::module_grad(rc, ri, &r->grad_context);
  return r;
}

// The module's results against the reference's; input gradients summed where an input fed several projections.
void check(const GradSetup& s, const std::string& what, const GradRun& r) {
  expect_close(r.forward.context, r.want.context, s.tol, what + " context");
  std::vector<double> dx = r.want.x, dkv = r.want.kv;
  if (!s.n_k)
    for (std::size_t e = 0; e < dx.size(); ++e) dx[e] += r.want.kv[e];
  if (!s.value_input) {
    std::vector<double>& to = s.n_k ? dkv : dx;
    for (std::size_t e = 0; e < to.size(); ++e) to[e] += r.want.value[e];
  }
  expect_close(r.grad.input, dx, s.tol, what + " grad input");
  EXPECT_EQ(r.grad.input.shape, r.x_shape) << what;
  if (s.n_k) expect_close(r.grad.kv, dkv, s.tol, what + " grad kv");
  else EXPECT_TRUE(r.grad.kv.empty()) << what;
  if (s.value_input) expect_close(r.grad.value_input, r.want.value, s.tol, what + " grad value_input");
  else EXPECT_TRUE(r.grad.value_input.empty()) << what;
  const auto shapes = parameter_shapes(s.config);
  ASSERT_EQ(r.grad.params.size(), shapes.size()) << what;
  double largest = 0.0;
  for (const auto& [name, values] : r.want.params) largest = std::max(largest, max_abs(values));
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    EXPECT_EQ(r.grad.params[i].first, shapes[i].first) << what;
    EXPECT_EQ(r.grad.params[i].second.shape, shapes[i].second) << what << " " << shapes[i].first;
    // Some gradients are 0 in exact arithmetic (W_key's bias moves every score of a row alike, which softmax ignores;
    // with one key, the weights are 1 whatever the scores): their float32 values are rounding, so the error is
    // also allowed relative to 1e-3 of the largest parameter gradient.
    const std::string& name = shapes[i].first;
    const double scale = std::max(max_abs(r.want.params.at(name)), 1e-3 * largest);
    expect_close(r.grad.params[i].second, r.want.params.at(name), s.tol, what + " " + name, scale);
  }
}

Config config(Mechanism m, std::size_t d_in, std::size_t d_out, std::size_t heads, std::optional<bool> causal = {},
              bool bias = false) {
  Config c;
  c.mechanism = m;
  c.d_in = d_in;
  c.d_out = d_out;
  c.num_heads = heads;
  c.causal = causal;
  c.qkv_bias = bias;
  return c;
}

TEST(ModuleGrad, MultiheadMatchesReference) {
  for (bool causal : {false, true})
    for (bool bias : {false, true}) {
      GradSetup s;
      s.config = config(Mechanism::multihead, 6, 6, 3, causal, bias);
      const std::string what = std::string("multihead causal ") + (causal ? "on" : "off") + (bias ? " bias" : "");
      check(s, what, *run(s));
    }
}

TEST(ModuleGrad, ReferenceAgreesWithFiniteDifferences) {
  // The float64 chain rule against central differences of the float64 forward, for every input and parameter.
  std::vector<GradSetup> setups;
  for (Mechanism m : all_mechanisms()) {
    GradSetup s;
    s.config = config(m, 3, m == Mechanism::multihead ? 4 : 2, option_applies(m, "num_heads") ? 2 : 1);
    s.config.qkv_bias = option_applies(m, "qkv_bias");
    s.batch = 2;
    s.n_q = 3;
    setups.push_back(s);
  }
  GradSetup cross;  // cross-attention with grouped-query heads, a value input, both masks and dropout
  cross.config = config(Mechanism::multihead, 3, 4, 2, true, true);
  cross.config.kv_heads = 1;
  cross.config.k_dim = 2;
  cross.config.v_dim = 5;
  cross.config.dropout = 0.3;
  cross.train = true;
  cross.n_q = 3;
  cross.n_k = 4;
  cross.value_input = true;
  cross.k_features = 2;
  cross.v_features = 5;
  cross.padding = true;
  cross.attn_mask = MaskKind::additive;
  setups.push_back(cross);
  for (const GradSetup& s : setups) {
    const std::string what = std::string(mechanism_name(s.config.mechanism)) + (s.n_k ? " cross" : "");
    const std::unique_ptr<GradRun> r = run(s);
    check(s, what, *r);
    ref::ModuleInputs in = r->reference_inputs;
    auto loss = [&] {
      const ref::ModuleGrads f = ref::module_grad(r->reference_case, in, nullptr);
      double sum = 0.0;
      for (std::size_t e = 0; e < f.context.size(); ++e) sum += f.context[e] * r->grad_context[e];
      return sum;
    };
    auto differences = [&](std::vector<double>& which, const std::vector<double>& analytic, const std::string& name) {
      ASSERT_EQ(which.size(), analytic.size()) << what << " " << name;
      const double step = 1e-5;
      for (std::size_t e = 0; e < which.size(); ++e) {
        const double keep = which[e];
        which[e] = keep + step;
        const double up = loss();
        which[e] = keep - step;
        const double down = loss();
        which[e] = keep;
        EXPECT_NEAR(analytic[e], (up - down) / (2 * step), 1e-7 * std::max(1.0, std::fabs(analytic[e])))
            << what << " " << name << " [" << e << "]";
      }
    };
    // Inputs shared by several projections: perturbing x moves them all, so compare with the summed gradient.
    std::vector<double> dx = r->want.x;
    if (!s.n_k) {
      for (std::size_t e = 0; e < dx.size(); ++e) dx[e] += r->want.kv[e] + r->want.value[e];
      auto shared = [&] {  // kv and value are x
        in.kv = in.x;
        in.value = in.x;
      };
      for (std::size_t e = 0; e < in.x.size(); ++e) {
        const double keep = in.x[e], step = 1e-5;
        in.x[e] = keep + step;
        shared();
        const double up = loss();
        in.x[e] = keep - step;
        shared();
        const double down = loss();
        in.x[e] = keep;
        shared();
        EXPECT_NEAR(dx[e], (up - down) / (2 * step), 1e-7 * std::max(1.0, std::fabs(dx[e]))) << what << " x " << e;
      }
    } else {
      differences(in.x, r->want.x, "x");
      differences(in.kv, r->want.kv, "kv");
      differences(in.value, r->want.value, "value");
    }
    for (auto& [name, values] : in.params) differences(values, r->want.params.at(name), name);
    EXPECT_GT(max_abs(dx), 1e-2) << what;  // the check has something to compare
  }
}

TEST(ModuleGrad, EveryMechanismBiasRouteAndBatching) {
  for (Mechanism m : all_mechanisms())
    for (bool bias : {false, true})
      for (bool batched : {true, false})
        for (CausalRoute route : {CausalRoute::neg_inf, CausalRoute::renormalise}) {
          if (bias && !option_applies(m, "qkv_bias")) continue;
          GradSetup s;
          const bool heads = option_applies(m, "num_heads");
          s.config = config(m, 5, m == Mechanism::multihead ? 6 : 4, heads ? 3 : 1);
          s.config.qkv_bias = bias;
          s.config.causal_route = route;
          s.batched = batched;
          s.n_q = 7;
          const std::string what = std::string(mechanism_name(m)) + (bias ? " bias" : "") +
                                   (batched ? " batched" : " unbatched") +
                                   (route == CausalRoute::renormalise ? " renormalise" : "");
          check(s, what, *run(s));
        }
}

TEST(ModuleGrad, MasksCrossAttentionAndGroupedHeads) {
  for (std::size_t kv_heads : {0, 1, 3})
    for (int masks = 0; masks < 4; ++masks)
      for (bool causal : {false, true}) {
        GradSetup s;
        s.config = config(Mechanism::multihead, 4, 12, 6, causal, true);
        s.config.kv_heads = kv_heads;
        s.config.k_dim = 3;
        s.config.v_dim = 5;
        s.n_q = 6;
        s.n_k = 9;
        s.k_features = 3;
        s.v_features = 5;
        s.value_input = masks % 2 == 1;
        if (!s.value_input) s.config.v_dim = 3;
        s.padding = masks >= 2;
        s.attn_mask = masks == 1 ? MaskKind::boolean : MaskKind::additive;
        const std::string what = "multihead kv_heads " + std::to_string(kv_heads) + " masks " + std::to_string(masks) +
                                 (causal ? " causal" : "");
        check(s, what, *run(s));
      }
  for (Mechanism m : {Mechanism::self, Mechanism::causal, Mechanism::simplified}) {  // the others take kv too
    GradSetup s;
    s.config = config(m, 4, 3, 1);
    s.n_q = 5;
    s.n_k = 3;
    s.padding = true;
    s.attn_mask = MaskKind::boolean;
    check(s, std::string(mechanism_name(m)) + " cross", *run(s));
  }
  GradSetup unbatched;  // cross-attention on unbatched inputs: (n_q, d_in) against (n_k, k_dim)
  unbatched.config = config(Mechanism::multihead, 4, 6, 3, true, true);
  unbatched.config.k_dim = unbatched.config.v_dim = 2;
  unbatched.batched = false;
  unbatched.n_q = 4;
  unbatched.n_k = 7;
  unbatched.k_features = 2;
  unbatched.padding = true;
  unbatched.attn_mask = MaskKind::additive;
  check(unbatched, "multihead cross unbatched", *run(unbatched));
}

TEST(ModuleGrad, DropoutUsesTheForwardsMask) {
  for (Mechanism m : {Mechanism::causal, Mechanism::multihead_wrapper, Mechanism::multihead})
    for (bool batched : {true, false}) {
      GradSetup s;
      s.config = config(m, 4, m == Mechanism::multihead ? 6 : 3, m == Mechanism::causal ? 1 : 3);
      s.config.dropout = 0.4;
      s.train = true;
      s.batched = batched;
      s.n_q = 9;
      const std::unique_ptr<GradRun> r = run(s);
      check(s, std::string(mechanism_name(m)) + " dropout", *r);
      const auto dropped = std::count(r->keep.begin(), r->keep.end(), 0.0f);
      EXPECT_GT(dropped, 0) << "the dropout mask drops something";
      EXPECT_LT(std::size_t(dropped), r->keep.size());
    }
}

TEST(ModuleGrad, SizesAroundTheSimdWidthAndOddHeads) {
  for (std::size_t n : {1, 3, 7, 15, 16, 17, 33, 130})
    for (std::size_t heads : {1, 3, 5}) {
      GradSetup s;
      const std::size_t head_dim = n % 2 ? 7 : 17;
      s.config = config(Mechanism::multihead, n % 2 ? 16 : 9, heads * head_dim, heads, n % 3 != 0, n % 4 == 1);
      s.n_q = n;
      s.batch = n > 32 ? 1 : 2;
      check(s, "n " + std::to_string(n) + " heads " + std::to_string(heads), *run(s));
    }
}

TEST(ModuleGrad, SameBitsForAnyThreadCount) {
  GradSetup s;
  s.config = config(Mechanism::multihead, 48, 64, 4, true, true);
  s.config.kv_heads = 2;
  s.config.dropout = 0.2;
  s.train = true;
  s.n_q = 200;
  s.batch = 2;
  s.padding = true;
  s.threads = 1;
  const std::unique_ptr<GradRun> one = run(s);
  check(s, "threads 1", *one);
  for (std::size_t threads : {2, 3}) {
    s.threads = threads;
    const std::unique_ptr<GradRun> many = run(s);
    auto same = [&](const Tensor& a, const Tensor& b, const std::string& what) {
      ASSERT_EQ(a.shape, b.shape) << what;
      EXPECT_EQ(0, std::memcmp(a.ptr(), b.ptr(), a.numel() * sizeof(float))) << what << " threads " << threads;
    };
    same(one->grad.input, many->grad.input, "input");
    for (std::size_t i = 0; i < one->grad.params.size(); ++i)
      same(one->grad.params[i].second, many->grad.params[i].second, one->grad.params[i].first);
  }
}

TEST(ModuleGrad, ContextAsWithoutGrad) {
  for (Mechanism m : all_mechanisms()) {
    Config c = config(m, 5, 6, option_applies(m, "num_heads") ? 3 : 1);
    if (option_applies(m, "qkv_bias")) c.qkv_bias = true;
    Module module(c);
    ref::Rng rng(3);
    const Tensor x = ref::random_tensor(rng, {2, 11, 5}, -1.0, 1.0);
    ForwardOptions o;
    o.return_weights = true;
    const ForwardResult plain = module.forward(x, o);
    o.grad = true;
    const ForwardResult graded = module.forward(x, o);
    expect_close(graded.context, widen(plain.context), 1e-6, std::string(mechanism_name(m)) + " context");
    expect_close(graded.weights, widen(plain.weights), 1e-6, std::string(mechanism_name(m)) + " weights");
  }
}

TEST(ModuleGrad, LoadStateDictReplacesTheParameters) {
  const Config c = config(Mechanism::multihead, 5, 6, 3, true, true);
  Module module(c);
  const StateDict drawn = module.state_dict();
  StateDict other = Module([&] {
                      Config d = c;
                      d.seed = 9;
                      return d;
                    }())
                        .state_dict();
  module.load_state_dict(other);
  Module fresh(c, other);
  ref::Rng rng(1);
  const Tensor x = ref::random_tensor(rng, {2, 4, 5}, -1.0, 1.0);
  const Tensor got = module.forward(x).context, want = fresh.forward(x).context;
  ASSERT_EQ(got.shape, want.shape);
  EXPECT_EQ(0, std::memcmp(got.ptr(), want.ptr(), got.numel() * sizeof(float)));
  for (std::size_t i = 0; i < other.size(); ++i) EXPECT_EQ(module.state_dict()[i].second.data, other[i].second.data);

  // Refused state_dicts name the problem and leave the parameters as they were.
  StateDict wrong_shape = drawn, unknown = drawn, missing = drawn;
  wrong_shape[0].second = Tensor({6, 4});
  unknown.emplace_back("W_extra.weight", Tensor({1}));
  missing.pop_back();
  const std::pair<const StateDict*, const char*> bad[] = {{&wrong_shape, "has shape [6, 4], expected [6, 5]"},
                                                          {&unknown, "unknown key W_extra.weight"},
                                                          {&missing, "missing key out_proj.bias"}};
  for (const auto& [sd, message] : bad) {
    try {
      module.load_state_dict(*sd);
      ADD_FAILURE() << "accepted: " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
    const Tensor again = module.forward(x).context;
    EXPECT_EQ(0, std::memcmp(again.ptr(), want.ptr(), again.numel() * sizeof(float)));
  }

  // A gradient step through load_state_dict lowers the loss Σ context (what an optimizer does).
  ForwardOptions o;
  o.grad = true;
  const Tensor before = module.forward(x, o).context;
  const ModuleGrad g = module.backward(Tensor(before.shape, std::vector<float>(before.numel(), 1.0f)));
  StateDict stepped = module.state_dict();
  for (std::size_t i = 0; i < stepped.size(); ++i)
    for (std::size_t e = 0; e < stepped[i].second.numel(); ++e)
      stepped[i].second.data[e] -= 1e-3f * g.params[i].second.data[e];
  module.load_state_dict(stepped);
  double sum_before = 0.0, sum_after = 0.0;
  for (float v : before.data) sum_before += v;
  for (float v : module.forward(x).context.data) sum_after += v;
  EXPECT_LT(sum_after, sum_before);
}

TEST(ModuleGrad, BadInputErrors) {
  const Config c = config(Mechanism::multihead, 4, 6, 2);
  Module module(c);
  const Tensor x({2, 3, 4});
  const Tensor ones({2, 3, 6}, std::vector<float>(36, 1.0f));
  auto message = [&](const Tensor& grad_context) {
    try {
      module.backward(grad_context);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string none = "backward needs a forward with ForwardOptions::grad = true";
  EXPECT_NE(message(ones).find(none), std::string::npos);
  ForwardOptions o;
  o.grad = true;
  module.forward(x, o);
  EXPECT_NE(message(Tensor({2, 3, 5})).find("grad_context has shape [2, 3, 5]; expected the context's shape [2, 3, 6]"),
            std::string::npos);
  Tensor nan = ones;
  nan.data[7] = NAN;
  EXPECT_NE(message(nan).find("grad_context contains NaN"), std::string::npos) << message(nan);
  EXPECT_EQ(message(ones), "");  // the refused ones left the saved state
  EXPECT_NE(message(ones).find(none), std::string::npos) << "a second backward";
  module.forward(x, o);
  module.forward(x);  // the latest forward had no grad
  EXPECT_NE(message(ones).find(none), std::string::npos);
  module.forward(x, o);
  module.load_state_dict(module.state_dict());
  EXPECT_NE(message(ones).find(none), std::string::npos) << "after load_state_dict";
}

}  // namespace
}  // namespace attnkit::test
