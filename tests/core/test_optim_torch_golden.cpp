// 50 optimizer steps of the book's MultiHeadAttention(3, 4, 6, 0.0, num_heads=2) on a fixed batch against
// PyTorch 1.13 (tests/golden/torch/train_*.json, scripts/torch_golden/cases_train.py): loss = mean((context −
// target)²), gradients from Module::backward, the update from attnkit's SGD / AdamW; the loss curve within 1e-4
// relative of torch's float32 run at every step, and the final parameters close to torch's.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "attnkit/attnkit.hpp"
#include "attnkit/optim.hpp"
#include "golden.hpp"
#include "torch_golden.hpp"

namespace attnkit {
namespace {

using golden::json;

std::unique_ptr<Optimizer> optimizer_of(const json& call, const StateDict& params) {
  const json& o = call.at("options");
  const auto get = [&](const char* k, double d) { return o.contains(k) ? o.at(k).get<double>() : d; };
  if (call.at("optimizer") == "AdamW") {
    AdamWOptions a;  // torch's defaults where the file gives none
    a.lr = get("lr", a.lr);
    if (o.contains("betas")) a.beta1 = o.at("betas")[0].get<double>(), a.beta2 = o.at("betas")[1].get<double>();
    a.eps = get("eps", a.eps);
    a.weight_decay = get("weight_decay", a.weight_decay);
    return std::make_unique<AdamW>(params, a);
  }
  SGDOptions s;
  s.lr = o.at("lr").get<double>();
  s.momentum = get("momentum", 0.0);
  s.dampening = get("dampening", 0.0);
  s.weight_decay = get("weight_decay", 0.0);
  s.nesterov = o.contains("nesterov") && o.at("nesterov").get<bool>();
  return std::make_unique<SGD>(params, s);
}

// mean((context − target)²) and its gradient with respect to the context.
double loss_and_grad(const Tensor& context, const Tensor& target, Tensor& grad) {
  grad = Tensor(context.shape);
  double sum = 0.0;
  const double n = double(context.numel());
  for (std::size_t i = 0; i < context.numel(); ++i) {
    const double d = double(context.data[i]) - double(target.data[i]);
    sum += d * d;
    grad.data[i] = static_cast<float>(2.0 * d / n);
  }
  return sum / n;
}

TEST(OptimTorchGolden, FiftyStepsOfMultiHeadAttention) {
  for (const char* file : {"train_adamw_defaults.json", "train_adamw_custom.json", "train_sgd_momentum_dampening.json",
                           "train_sgd_nesterov.json", "train_sgd_plain.json"}) {
    SCOPED_TRACE(file);
    const json g = torch_golden::load(file);
    StateDict params;
    for (const auto& [name, value] : g.at("state_dict").items())
      if (name != "mask") params.emplace_back(name, golden::tensor(value));
    const json& m = g.at("call").at("module");
    Config c;
    c.mechanism = Mechanism::multihead;
    c.d_in = m.at("d_in").get<std::size_t>();
    c.d_out = m.at("d_out").get<std::size_t>();
    c.num_heads = m.at("num_heads").get<std::size_t>();
    c.context_length = m.at("context_length").get<std::size_t>();
    Module module(c, params);
    const Tensor x = golden::tensor(g.at("inputs").at("x")), target = golden::tensor(g.at("inputs").at("target"));
    const golden::Array losses = golden::array(g.at("outputs").at("losses"));
    const std::unique_ptr<Optimizer> optimizer = optimizer_of(g.at("call"), params);
    ForwardOptions o;
    o.grad = true;
    const std::size_t steps = g.at("call").at("steps").get<std::size_t>();
    ASSERT_EQ(losses.numel(), steps + 1);
    for (std::size_t step = 0; step <= steps; ++step) {
      Tensor grad_context;
      const double loss = loss_and_grad(module.forward(x, o).context, target, grad_context);
      ASSERT_NEAR(loss, losses.data[step], 1e-4 * std::fabs(losses.data[step])) << "loss before step " << step;
      ModuleGrad grads = module.backward(grad_context);
      if (step == steps) break;
      optimizer->step(params, grads.params);
      module.load_state_dict(params);
    }
    for (const auto& [name, t] : params) {
      const golden::Array want = golden::array(g.at("outputs").at("state_dict_final").at(name));
      EXPECT_TRUE(golden::near(t, want, 1e-4, 1e-4, name)) << name;
    }
    EXPECT_EQ(optimizer->steps(), steps);
  }
}

}  // namespace
}  // namespace attnkit
