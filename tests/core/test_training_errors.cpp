// attnkit tests — bad input to training (issue "Reliability" §3): gradients (attention_backward, Module::backward
// and the forward with ForwardOptions::grad) and the optimizers (SGD, AdamW: hyper-parameters, steps with foreign
// or broken gradients, a step that would leave float32). Each row throws attnkit::Error of its kind, one line
// naming the problem and the expected value. Counts per interface: docs/reliability.md §8.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attention_grad.hpp"
#include "attnkit/attnkit.hpp"
#include "attnkit/model.hpp"
#include "attnkit/optim.hpp"
#include "bad_input_table.hpp"

namespace attnkit {
namespace {

const double kNanD = std::numeric_limits<double>::quiet_NaN();
const double kInfD = std::numeric_limits<double>::infinity();

Tensor filled(Shape s, float v = 0.5f) {
  Tensor t(std::move(s));
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = v + 0.01f * static_cast<float>(i % 7);
  return t;
}

Tensor with(Tensor t, std::size_t i, float v) {
  t.data[i] = v;
  return t;
}

Config multihead(std::size_t d_in = 4, std::size_t d_out = 6, std::size_t heads = 2) {
  Config c;
  c.mechanism = Mechanism::multihead;
  c.d_in = d_in;
  c.d_out = d_out;
  c.num_heads = heads;
  return c;
}

ForwardOptions grad_on() {
  ForwardOptions o;
  o.grad = true;
  return o;
}

TEST(TrainingErrors, GradientsNameTheProblemAndTheExpectedValue) {
  const Tensor x = filled({2, 3, 4}), ones({2, 3, 6}, std::vector<float>(36, 1.0f));
  const std::string none = "backward needs a forward with ForwardOptions::grad = true";
  // a module whose forward with grad ran: each row's call leaves it ready for the next (refused calls keep the tape)
  auto primed = [&] {
    auto m = std::make_shared<Module>(multihead());
    m->forward(x, grad_on());
    return m;
  };
  const Tensor query = filled({1, 2, 3, 4}), key = filled({1, 2, 5, 4}), value = filled({1, 2, 5, 3});
  const AttentionOptions plain;
  const AttentionForwardState state = attention_forward(query, key, value, plain).state;
  const Tensor out_grad = filled({1, 2, 3, 3});
  expect_bad_inputs({
      {"Module::backward: grad_context of another width",
       [&] {
         primed()->backward(Tensor({2, 3, 5}));
       },
       ErrorKind::invalid,
       {"grad_context has shape [2, 3, 5]; expected the context's shape [2, 3, 6]"}},
      {"Module::backward: grad_context unbatched",
       [&] {
         primed()->backward(Tensor({3, 6}));
       },
       ErrorKind::invalid,
       {"grad_context has shape [3, 6]; expected the context's shape [2, 3, 6]"}},
      {"Module::backward: grad_context empty",
       [&] { primed()->backward(Tensor()); },
       ErrorKind::invalid,
       {"grad_context has shape", "expected the context's shape [2, 3, 6]"}},
      {"Module::backward: NaN",
       [&] { primed()->backward(with(ones, 7, NAN)); },
       ErrorKind::invalid,
       {"grad_context contains NaN at index [0, 1, 1]; expected finite numbers"}},
      {"Module::backward: +Inf",
       [&] { primed()->backward(with(ones, 0, INFINITY)); },
       ErrorKind::invalid,
       {"grad_context contains Inf at index [0, 0, 0]; expected finite numbers"}},
      {"Module::backward: -Inf",
       [&] { primed()->backward(with(ones, 35, -INFINITY)); },
       ErrorKind::invalid,
       {"grad_context contains -Inf at index [1, 2, 5]; expected finite numbers"}},
      {"Module::backward without a forward", [&] { Module(multihead()).backward(ones); }, ErrorKind::invalid, {none}},
      {"Module::backward after a forward without grad",
       [&] {
         Module m(multihead());
         m.forward(x);
         m.backward(ones);
       },
       ErrorKind::invalid,
       {none}},
      {"Module::backward twice",
       [&] {
         auto m = primed();
         m->backward(ones);
         m->backward(ones);
       },
       ErrorKind::invalid,
       {none}},
      {"Module::backward after a grad forward, then one without",
       [&] {
         auto m = primed();
         m->forward(x);
         m->backward(ones);
       },
       ErrorKind::invalid,
       {none}},
      {"Module::backward after load_state_dict (the parameters changed)",
       [&] {
         auto m = primed();
         m->load_state_dict(Module(multihead()).state_dict());
         m->backward(ones);
       },
       ErrorKind::invalid,
       {none}},
      {"Module::backward on another module than the forward's",
       [&] {
         primed();
         Module(multihead()).backward(ones);
       },
       ErrorKind::invalid,
       {none}},
      {"attention_backward: grad_output of another d_v",
       [&] {
         attention_backward(query, key, value, filled({1, 2, 3, 4}), plain, state);
       },
       ErrorKind::invalid,
       {"grad_output has shape [1, 2, 3, 4]; expected [1, 2, 3, 3]"}},
      {"attention_backward: grad_output rank 3",
       [&] {
         attention_backward(query, key, value, filled({2, 3, 3}), plain, state);
       },
       ErrorKind::invalid,
       {"grad_output has shape [2, 3, 3]; expected [1, 2, 3, 3]"}},
      {"attention_backward: NaN",
       [&] { attention_backward(query, key, value, with(out_grad, 4, NAN), plain, state); },
       ErrorKind::invalid,
       {"grad_output contains NaN at index [0, 0, 1, 1]; expected finite numbers"}},
      {"attention_backward: -Inf",
       [&] { attention_backward(query, key, value, with(out_grad, 17, -INFINITY), plain, state); },
       ErrorKind::invalid,
       {"grad_output contains -Inf at index [0, 1, 2, 2]; expected finite numbers"}},
      {"attention_backward: the state of another problem",
       [&] {
         const AttentionForwardState other = attention_forward(filled({1, 2, 2, 4}), key, value, plain).state;
         attention_backward(query, key, value, out_grad, plain, other);
       },
       ErrorKind::invalid,
       {"state.", "expected [1, 2, 3"}},
      {"attention_backward: dropout in training without the forward's generator",
       [&] {
         AttentionOptions dropped;
         dropped.dropout = 0.5;
         dropped.train = true;
         attention_backward(query, key, value, out_grad, dropped, state);
       },
       ErrorKind::invalid,
       {"state.dropout_generator is empty"}},
  });
}

TEST(TrainingErrors, OptimizersNameTheHyperParameterAndItsRange) {
  const StateDict params = Module(multihead()).state_dict();
  auto sgd = [&](SGDOptions o) { return [&, o] { SGD(params, o); }; };
  auto adamw = [&](AdamWOptions o) { return [&, o] { AdamW(params, o); }; };
  auto sgd_with = [](auto set) {
    SGDOptions o;
    o.lr = 0.1;
    set(o);
    return o;
  };
  auto adamw_with = [](auto set) {
    AdamWOptions o;
    set(o);
    return o;
  };
  expect_bad_inputs({
      {"SGD lr NaN", sgd({kNanD}), ErrorKind::range, {"SGD: lr (nan) must be a finite number >= 0"}},
      {"SGD lr +Inf", sgd({kInfD}), ErrorKind::range, {"SGD: lr (inf) must be a finite number >= 0"}},
      {"SGD lr negative", sgd({-1.0}), ErrorKind::range, {"SGD: lr (-1) must be a finite number >= 0"}},
      {"SGD momentum NaN",
       sgd(sgd_with([](SGDOptions& o) { o.momentum = kNanD; })),
       ErrorKind::range,
       {"SGD: momentum (nan) must be a finite number >= 0"}},
      {"SGD momentum -Inf",
       sgd(sgd_with([](SGDOptions& o) { o.momentum = -kInfD; })),
       ErrorKind::range,
       {"SGD: momentum (-inf) must be a finite number >= 0"}},
      {"SGD weight_decay NaN",
       sgd(sgd_with([](SGDOptions& o) { o.weight_decay = kNanD; })),
       ErrorKind::range,
       {"SGD: weight_decay (nan) must be a finite number >= 0"}},
      {"SGD weight_decay negative",
       sgd(sgd_with([](SGDOptions& o) { o.weight_decay = -0.5; })),
       ErrorKind::range,
       {"SGD: weight_decay (-0.5) must be a finite number >= 0"}},
      {"SGD dampening NaN",
       sgd(sgd_with([](SGDOptions& o) { o.dampening = kNanD; })),
       ErrorKind::range,
       {"SGD: dampening (nan) must be a finite number"}},
      {"SGD nesterov without momentum",
       sgd(sgd_with([](SGDOptions& o) { o.nesterov = true; })),
       ErrorKind::range,
       {"SGD: nesterov needs momentum > 0 and dampening = 0 (got momentum 0, dampening 0)"}},
      {"AdamW lr NaN", adamw({kNanD}), ErrorKind::range, {"AdamW: lr (nan) must be a finite number >= 0"}},
      {"AdamW lr negative", adamw({-0.01}), ErrorKind::range, {"AdamW: lr (-0.01) must be a finite number >= 0"}},
      {"AdamW beta1 NaN",
       adamw(adamw_with([](AdamWOptions& o) { o.beta1 = kNanD; })),
       ErrorKind::range,
       {"AdamW: beta1 (nan) must be in [0, 1)"}},
      {"AdamW beta1 1",
       adamw(adamw_with([](AdamWOptions& o) { o.beta1 = 1.0; })),
       ErrorKind::range,
       {"AdamW: beta1 (1) must be in [0, 1)"}},
      {"AdamW beta2 negative",
       adamw(adamw_with([](AdamWOptions& o) { o.beta2 = -0.001; })),
       ErrorKind::range,
       {"AdamW: beta2 (-0.001) must be in [0, 1)"}},
      {"AdamW beta2 +Inf",
       adamw(adamw_with([](AdamWOptions& o) { o.beta2 = kInfD; })),
       ErrorKind::range,
       {"AdamW: beta2 (inf) must be in [0, 1)"}},
      {"AdamW eps NaN",
       adamw(adamw_with([](AdamWOptions& o) { o.eps = kNanD; })),
       ErrorKind::range,
       {"AdamW: eps (nan) must be a finite number >= 0"}},
      {"AdamW eps negative",
       adamw(adamw_with([](AdamWOptions& o) { o.eps = -1e-8; })),
       ErrorKind::range,
       {"AdamW: eps (-1e-08) must be a finite number >= 0"}},
      {"AdamW weight_decay +Inf",
       adamw(adamw_with([](AdamWOptions& o) { o.weight_decay = kInfD; })),
       ErrorKind::range,
       {"AdamW: weight_decay (inf) must be a finite number >= 0"}},
      {"AdamW weight_decay negative",
       adamw(adamw_with([](AdamWOptions& o) { o.weight_decay = -1.0; })),
       ErrorKind::range,
       {"AdamW: weight_decay (-1) must be a finite number >= 0"}},
      {"make_optimizer: unknown name",
       [&] { make_optimizer("adam", params, 0.1); },
       ErrorKind::invalid,
       {"unknown optimizer 'adam'; expected adamw or sgd"}},
      {"make_optimizer: sgd without lr",
       [&] { make_optimizer("sgd", params, std::nullopt); },
       ErrorKind::invalid,
       {"SGD: lr is required (torch.optim.SGD has no default); expected a number >= 0"}},
  });
}

TEST(TrainingErrors, StepsWithForeignOrBrokenGradientsMoveNothing) {
  Module module(multihead());
  StateDict params = module.state_dict();
  const StateDict before = params;
  AdamW adamw(params, {});
  SGD sgd(params, [] {
    SGDOptions o;
    o.lr = 1e38;
    return o;
  }());
  // the gradients of another module: d_in 3, so W_query, W_key, W_value are [6, 3]
  Module other(multihead(3));
  other.forward(filled({2, 3, 3}), grad_on());
  const StateDict foreign = other.backward(Tensor({2, 3, 6}, std::vector<float>(36, 1.0f))).params;
  module.forward(filled({2, 3, 4}), grad_on());
  const StateDict own = module.backward(Tensor({2, 3, 6}, std::vector<float>(36, 1.0f))).params;
  StateDict huge = own;  // finite gradients a lr of 1e38 turns into ±Inf parameters
  for (auto& [name, g] : huge)
    for (auto& v : g.data) v = v == 0.0f ? 1e3f : v * 1e3f;
  auto step = [&](Optimizer& o, StateDict g) { return [&o, &params, g] { o.step(params, g); }; };
  expect_bad_inputs({
      {"gradients of another module's shapes",
       step(adamw, foreign),
       ErrorKind::invalid,
       {"adamw: gradient of 'W_query.weight' has shape [6, 3]; expected [6, 4] (the parameter's shape)"}},
      {"a gradient of a parameter this module has not",
       step(adamw, {{"W_bogus.weight", Tensor({6, 4})}}),
       ErrorKind::invalid,
       {"adamw: gradient of unknown parameter 'W_bogus.weight'; expected one of W_query.weight"}},
      {"a gradient with -Inf",
       step(sgd, {{"out_proj.bias", with(Tensor({6}), 5, -INFINITY)}}),
       ErrorKind::invalid,
       {"sgd: gradient of 'out_proj.bias' contains -Inf at index [5]; expected finite numbers"}},
      {"a gradient of rank 0",
       step(sgd, {{"out_proj.bias", Tensor(Shape{})}}),
       ErrorKind::invalid,
       {"sgd: gradient of 'out_proj.bias' has shape []; expected [6] (the parameter's shape)"}},
      // was: the parameters became ±Inf and the error came later, from load_state_dict, naming a state_dict key
      {"a step that would leave float32 (lr 1e38)",
       step(sgd, huge),
       ErrorKind::range,
       {"sgd: this step would make parameter 'W_value.weight' non-finite (Inf at index [0, 0]) with lr 1e+38; "
        "expected a step that keeps every parameter a finite float32 (a smaller lr); nothing was updated"}},
  });
  EXPECT_EQ(sgd.steps(), 0u);
  EXPECT_EQ(adamw.steps(), 0u);
  for (std::size_t i = 0; i < params.size(); ++i) EXPECT_EQ(params[i].second.data, before[i].second.data);
  // AdamW's step is bounded by lr per element, so it takes an lr near float32's range to overflow: refused whole
  // too, its moments as they were
  AdamW wild(params, [] {
    AdamWOptions o;
    o.lr = 1e39;
    o.weight_decay = 0.0;
    return o;
  }());
  expect_bad_inputs({{"AdamW lr 1e39",
                      step(wild, own),
                      ErrorKind::range,
                      {"adamw: this step would make parameter '", ") with lr 1e+39; expected"}}});
  EXPECT_EQ(wild.steps(), 0u);
  EXPECT_EQ(wild.state("W_query.weight")->step, 0u);
  for (float v : wild.state("W_query.weight")->exp_avg.data) EXPECT_EQ(v, 0.0f);
  // and a sane step still works after the refused ones
  adamw.step(params, own);
  EXPECT_EQ(adamw.steps(), 1u);
  EXPECT_NE(params[0].second.data, before[0].second.data);
}

TEST(TrainingErrors, ModelTrainStepWithADivergingLrIsRefusedAndTheModelStaysUsable) {
  ModelConfig config;
  config.task = Task::copy_previous;
  config.batch = 4;
  Model model(config);
  const StateDict before = model.state_dict();
  const std::unique_ptr<Optimizer> diverging = model.make_optimizer("sgd", 1e300);
  expect_bad_inputs({{"train_step with lr 1e300",
                      [&] { model.train_step(*diverging); },
                      ErrorKind::range,
                      {"sgd: this step would make parameter '", ") with lr 1e+300; expected"}}});
  const StateDict after = model.state_dict();
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i].second.data, before[i].second.data);
  const std::unique_ptr<Optimizer> sane = model.make_optimizer("adamw");
  EXPECT_TRUE(std::isfinite(model.train_step(*sane).loss));
}

}  // namespace
}  // namespace attnkit
