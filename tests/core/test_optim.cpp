// SGD and AdamW (attnkit/optim.hpp) against a float64 transcription of torch.optim 1.13's _single_tensor_sgd and
// _single_tensor_adamw, on sizes around the SIMD width and large magnitudes; state (step counts, momentum buffers
// as torch makes them); parameters without a gradient skipped; every bad input refused before anything changes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "attnkit/optim.hpp"

namespace attnkit {
namespace {

// Sizes around the SIMD widths (4, 8, 16 floats): 1, 3, 7, W−1, W, W+1, 3W, 8W+2.
const std::vector<std::size_t> kSizes = {1, 3, 7, 15, 16, 17, 48, 130};

StateDict make_parameters(Generator& g, double scale) {
  StateDict sd;
  for (std::size_t i = 0; i < kSizes.size(); ++i) {
    Tensor t = g.uniform({kSizes[i]}, -scale, scale);
    sd.emplace_back("p" + std::to_string(i), std::move(t));
  }
  return sd;
}

StateDict make_gradients(Generator& g, const StateDict& params, double scale) {
  StateDict grads;
  for (const auto& [name, t] : params) grads.emplace_back(name, g.uniform(t.shape, -scale, scale));
  return grads;
}

std::vector<double> widen(const Tensor& t) { return std::vector<double>(t.data.begin(), t.data.end()); }

// torch.optim.SGD, one parameter, in float64.
struct ReferenceSGD {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  std::vector<double> buf;
  void step(std::vector<double>& p, const std::vector<double>& grad) {
    std::vector<double> d = grad;
    if (weight_decay != 0)
      for (std::size_t i = 0; i < p.size(); ++i) d[i] += weight_decay * p[i];
    if (momentum != 0) {
      if (buf.empty()) buf = d;
      else
        for (std::size_t i = 0; i < p.size(); ++i) buf[i] = buf[i] * momentum + (1 - dampening) * d[i];
      for (std::size_t i = 0; i < p.size(); ++i) d[i] = nesterov ? d[i] + momentum * buf[i] : buf[i];
    }
    for (std::size_t i = 0; i < p.size(); ++i) p[i] -= lr * d[i];
  }
};

// torch.optim.AdamW (amsgrad off), one parameter, in float64.
struct ReferenceAdamW {
  double lr, beta1, beta2, eps, weight_decay;
  std::vector<double> m, v;
  int t = 0;
  void step(std::vector<double>& p, const std::vector<double>& g) {
    if (m.empty()) m.assign(p.size(), 0.0), v.assign(p.size(), 0.0);
    ++t;
    const double bc1 = 1 - std::pow(beta1, t), bc2 = 1 - std::pow(beta2, t);
    for (std::size_t i = 0; i < p.size(); ++i) {
      p[i] *= 1 - lr * weight_decay;
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      p[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + eps);
    }
  }
};

// Runs `steps` steps of opt and of the references (one per parameter) on the same gradients and returns the worst
// difference relative to what float32 can hold there: the element's magnitude plus the distance its updates
// travelled (each step rounds at the scale of the values it adds).
template <class Ref>
double run_against(Optimizer& opt, StateDict params, std::vector<Ref> refs, Generator& g, int steps, double gscale) {
  std::vector<std::vector<double>> want, travelled;
  for (const auto& [name, t] : params) {
    want.push_back(widen(t));
    travelled.emplace_back(t.numel(), 0.0);
  }
  double worst = 0.0;
  for (int s = 0; s < steps; ++s) {
    const StateDict grads = make_gradients(g, params, gscale);
    opt.step(params, grads);
    for (std::size_t k = 0; k < params.size(); ++k) {
      const std::vector<double> last = want[k];
      refs[k].step(want[k], widen(grads[k].second));
      for (std::size_t i = 0; i < want[k].size(); ++i) {
        travelled[k][i] += std::fabs(want[k][i] - last[i]) + std::fabs(last[i]);
        const double got = params[k].second.data[i];
        worst = std::max(worst, std::fabs(got - want[k][i]) / (std::fabs(want[k][i]) + travelled[k][i]));
      }
    }
  }
  return worst;
}

TEST(Optim, SGDMatchesTorchFormulasInFloat64) {
  struct Case {
    double lr, momentum, dampening, weight_decay;
    bool nesterov;
    double scale;
  };
  for (const Case& c : {Case{0.1, 0.0, 0.0, 0.0, false, 1.0}, Case{0.05, 0.9, 0.1, 0.01, false, 1.0},
                        Case{0.05, 0.9, 0.0, 0.01, true, 1.0}, Case{0.01, 0.5, 0.5, 0.0, false, 1e6},
                        Case{0.2, 0.99, 0.0, 0.1, true, 1e-3}}) {
    SCOPED_TRACE("lr " + std::to_string(c.lr) + " momentum " + std::to_string(c.momentum) + " scale " +
                 std::to_string(c.scale));
    Generator g(7);
    const StateDict params = make_parameters(g, c.scale);
    SGD opt(params, {c.lr, c.momentum, c.dampening, c.weight_decay, c.nesterov});
    std::vector<ReferenceSGD> refs(params.size(), {c.lr, c.momentum, c.dampening, c.weight_decay, c.nesterov, {}});
    EXPECT_LT(run_against(opt, params, refs, g, 30, c.scale), 1e-6);
    EXPECT_EQ(opt.steps(), 30u);
  }
}

TEST(Optim, AdamWMatchesTorchFormulasInFloat64) {
  for (const AdamWOptions& o : {AdamWOptions{}, AdamWOptions{0.01, 0.8, 0.99, 1e-6, 0.1},
                                AdamWOptions{0.1, 0.0, 0.5, 0.0, 0.0}, AdamWOptions{1e-3, 0.9, 0.999, 1e-8, 0.0}}) {
    for (const double scale : {1.0, 1e-4, 1e5}) {
      SCOPED_TRACE("lr " + std::to_string(o.lr) + " beta1 " + std::to_string(o.beta1) + " scale " +
                   std::to_string(scale));
      Generator g(11);
      const StateDict params = make_parameters(g, scale);
      AdamW opt(params, o);
      std::vector<ReferenceAdamW> refs(params.size(), {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, {}, {}, 0});
      EXPECT_LT(run_against(opt, params, refs, g, 40, scale), 1e-6);
    }
  }
}

TEST(Optim, StateAsTorchKeepsIt) {
  Generator g(3);
  StateDict params = make_parameters(g, 1.0);
  const StateDict grads = make_gradients(g, params, 1.0);
  SGD sgd(params, {0.1, 0.9, 0.3, 0.5, false});
  EXPECT_TRUE(sgd.state("p2")->momentum_buffer.empty());  // torch: None before the first step
  const StateDict before = params;
  sgd.step(params, grads);
  // The first step's buffer is a clone of d_p = grad + weight_decay·p (no dampening yet), and p moves by −lr·buf.
  const OptimizerState* s = sgd.state("p2");
  ASSERT_EQ(s->momentum_buffer.shape, params[2].second.shape);
  for (std::size_t i = 0; i < kSizes[2]; ++i) {
    const double d = double(grads[2].second.data[i]) + 0.5 * double(before[2].second.data[i]);
    EXPECT_NEAR(s->momentum_buffer.data[i], d, 1e-6 * std::fabs(d) + 1e-7);
    EXPECT_NEAR(params[2].second.data[i], before[2].second.data[i] - 0.1 * d, 1e-6);
  }
  EXPECT_EQ(s->step, 1u);
  EXPECT_EQ(sgd.state("nothing"), nullptr);

  AdamW adamw(params, {});
  for (const auto& [name, t] : params) {
    const OptimizerState* st = adamw.state(name);
    ASSERT_EQ(st->exp_avg.shape, t.shape);
    for (float v : st->exp_avg.data) EXPECT_EQ(v, 0.0f);
    for (float v : st->exp_avg_sq.data) EXPECT_EQ(v, 0.0f);
    EXPECT_EQ(st->step, 0u);
  }
}

TEST(Optim, ParameterWithoutGradientIsSkipped) {
  Generator g(5);
  StateDict params = make_parameters(g, 1.0);
  StateDict grads = make_gradients(g, params, 1.0);
  grads.erase(grads.begin() + 1);  // p1 has no gradient this step (torch: p.grad is None)
  const StateDict before = params;
  AdamW opt(params, {});
  opt.step(params, grads);
  EXPECT_EQ(params[1].second.data, before[1].second.data);
  EXPECT_EQ(opt.state("p1")->step, 0u);
  EXPECT_EQ(opt.state("p0")->step, 1u);
  EXPECT_NE(params[0].second.data, before[0].second.data);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Optim, BadHyperParametersNamed) {
  const StateDict params = {{"w", Tensor({2}, {1.0f, 2.0f})}};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto sgd = [&](SGDOptions o) { return error_of([&] { SGD(params, o); }); };
  const auto adamw = [&](AdamWOptions o) { return error_of([&] { AdamW(params, o); }); };
  EXPECT_EQ(sgd({}), "SGD: lr is required (torch.optim.SGD has no default); expected a number >= 0");
  EXPECT_EQ(sgd({-0.1}), "SGD: lr (-0.1) must be a finite number >= 0");
  EXPECT_EQ(sgd({nan}), "SGD: lr (nan) must be a finite number >= 0");
  EXPECT_EQ(sgd({0.1, -0.5}), "SGD: momentum (-0.5) must be a finite number >= 0");
  EXPECT_EQ(sgd({0.1, 0.0, 0.0, -1.0}), "SGD: weight_decay (-1) must be a finite number >= 0");
  EXPECT_EQ(sgd({0.1, 0.9, 0.1, 0.0, true}),
            "SGD: nesterov needs momentum > 0 and dampening = 0 (got momentum 0.9, dampening 0.1)");
  EXPECT_EQ(sgd({0.1, 0.0, 0.0, 0.0, true}),
            "SGD: nesterov needs momentum > 0 and dampening = 0 (got momentum 0, dampening 0)");
  SGDOptions maximize{0.1};
  maximize.maximize = true;
  EXPECT_EQ(sgd(maximize), "SGD: maximize=true is not supported; expected maximize=false");
  EXPECT_EQ(adamw({-1e-3}), "AdamW: lr (-0.001) must be a finite number >= 0");
  EXPECT_EQ(adamw({1e-3, 1.0}), "AdamW: beta1 (1) must be in [0, 1)");
  EXPECT_EQ(adamw({1e-3, -0.1}), "AdamW: beta1 (-0.1) must be in [0, 1)");
  EXPECT_EQ(adamw({1e-3, 0.9, 1.5}), "AdamW: beta2 (1.5) must be in [0, 1)");
  EXPECT_EQ(adamw({1e-3, 0.9, 0.999, -1e-8}), "AdamW: eps (-1e-08) must be a finite number >= 0");
  EXPECT_EQ(adamw({1e-3, 0.9, 0.999, 1e-8, -0.01}), "AdamW: weight_decay (-0.01) must be a finite number >= 0");
  EXPECT_EQ(adamw({1e-3, 0.9, 0.999, 1e-8, 0.01, true}),
            "AdamW: amsgrad=true is not supported; expected amsgrad=false");
  EXPECT_EQ(error_of([&] { make_optimizer("adam", params, 0.1); }), "unknown optimizer 'adam'; expected adamw or sgd");
  EXPECT_EQ(error_of([&] {
              SGD({{"w", Tensor({1})}, {"w", Tensor({1})}}, {0.1});
            }),
            "sgd: parameter 'w' is given twice; expected each name once");
}

TEST(Optim, BadStepRefusedBeforeAnythingMoves) {
  StateDict params = {{"a", Tensor({2}, {1.0f, 2.0f})}, {"b", Tensor({3}, {1.0f, 2.0f, 3.0f})}};
  AdamW opt(params, {});
  const StateDict before = params;
  const auto step = [&](StateDict p, StateDict g) { return error_of([&] { opt.step(p, g); }); };
  const Tensor ga({2}, {0.5f, 0.5f});
  EXPECT_EQ(step(params, {{"a", ga}, {"c", Tensor({1})}}),
            "adamw: gradient of unknown parameter 'c'; expected one of a, b");
  EXPECT_EQ(step(params, {{"a", Tensor({3})}}),
            "adamw: gradient of 'a' has shape [3]; expected [2] (the parameter's shape)");
  EXPECT_EQ(step(params, {{"a", ga}, {"b", Tensor({3}, {0.0f, std::nanf(""), 0.0f})}}),
            "adamw: gradient of 'b' contains NaN at index [1]; expected finite numbers");
  EXPECT_EQ(step(params, {{"a", ga}, {"a", ga}}), "adamw: gradient of 'a' is given twice; expected each name once");
  EXPECT_EQ(step({{"a", params[0].second}}, {{"a", ga}}),
            "adamw: parameter 'b' is missing; expected every parameter the optimizer was made with");
  EXPECT_EQ(step({{"a", Tensor({4})}, {"b", params[1].second}}, {{"a", ga}}),
            "adamw: parameter 'a' has shape [4]; expected [2] (its shape when the optimizer was made)");
  EXPECT_EQ(step({params[0], params[1], {"z", Tensor({1})}}, {{"a", ga}}),
            "adamw: unknown parameter 'z'; expected one of a, b");
  // A NaN in the second gradient: the first parameter, checked earlier, has not moved either.
  EXPECT_NE(error_of([&] { opt.step(params, {{"a", ga}, {"b", Tensor({3}, {0.0f, 0.0f, INFINITY})}}); }), "");
  EXPECT_EQ(params[0].second.data, before[0].second.data);
  EXPECT_EQ(opt.steps(), 0u);
  EXPECT_EQ(opt.state("a")->step, 0u);
}

}  // namespace
}  // namespace attnkit
