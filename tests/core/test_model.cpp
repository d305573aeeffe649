// The tiny model (attnkit/model.hpp): parameters drawn as PyTorch draws them, the loss and every gradient against
// the same model in torch (tests/golden/torch/model_tiny.json, scripts/torch_golden/cases_model.py) and against
// central finite differences, 20 AdamW steps against torch's loss curve, the probe's weights, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "attnkit/attnkit.hpp"
#include "attnkit/model.hpp"
#include "golden.hpp"
#include "torch_golden.hpp"

namespace attnkit {
namespace {

using golden::json;

ModelConfig golden_config(const json& g) {
  const json& c = g.at("call").at("config");
  ModelConfig m;
  m.task = Task::copy_previous;  // causal, as the book's MultiHeadAttention
  m.vocab = c.at("vocab").get<std::size_t>();
  m.tokens = c.at("tokens").get<std::size_t>();
  m.d_model = c.at("d_model").get<std::size_t>();
  m.heads = c.at("heads").get<std::size_t>();
  m.seed = g.at("seed").get<std::uint64_t>();
  m.eval_batch = 4;
  return m;
}

TaskBatch golden_batch(const json& g, std::size_t batch, std::size_t tokens) {
  TaskBatch b;
  b.batch = batch;
  b.tokens = tokens;
  for (double v : golden::array(g.at("inputs").at("inputs")).data) b.inputs.push_back(static_cast<std::int32_t>(v));
  for (double v : golden::array(g.at("inputs").at("targets")).data) b.targets.push_back(static_cast<std::int32_t>(v));
  b.expected_key.assign(b.inputs.size(), -1);
  return b;
}

TEST(Model, ParametersDrawnAsPyTorchDrawsThem) {
  const json g = torch_golden::load("model_tiny.json");
  const Model model(golden_config(g));
  const StateDict sd = model.state_dict();
  std::size_t i = 0;
  for (const auto& [name, value] : g.at("state_dict").items()) {
    if (name == "attention.mask") continue;
    ASSERT_LT(i, sd.size());
    EXPECT_EQ(sd[i].first, name);  // same names in the same order
    // Embeddings: torch's vectorised log/sin/cos may differ from std::'s in the last bit.
    EXPECT_TRUE(golden::near(sd[i].second, golden::array(value), 1e-6, 1e-6, name));
    ++i;
  }
  EXPECT_EQ(i, sd.size());
}

TEST(Model, LossAndGradientsMatchPyTorch) {
  const json g = torch_golden::load("model_tiny.json");
  Model model(golden_config(g));
  const TaskBatch batch =
      golden_batch(g, g.at("call").at("config").at("batch").get<std::size_t>(), model.config().tokens);
  const LossAccuracy r = model.forward(batch, true);
  EXPECT_NEAR(r.loss, golden::array(g.at("outputs").at("loss")).data[0], 1e-5);
  const StateDict grads = model.backward();
  ASSERT_EQ(grads.size(), g.at("outputs").at("grads").size());
  for (const auto& [name, t] : grads)
    EXPECT_TRUE(golden::near(t, golden::array(g.at("outputs").at("grads").at(name)), 1e-6, 1e-4, name));
}

TEST(Model, AdamWStepsFollowPyTorchsLossCurve) {
  const json g = torch_golden::load("model_tiny.json");
  Model model(golden_config(g));
  const TaskBatch batch =
      golden_batch(g, g.at("call").at("config").at("batch").get<std::size_t>(), model.config().tokens);
  const golden::Array losses = golden::array(g.at("outputs").at("losses"));
  AdamW optimizer(model.state_dict(), {0.01});
  for (std::size_t step = 0; step < losses.numel(); ++step) {
    const double loss = model.forward(batch, true).loss;
    ASSERT_NEAR(loss, losses.data[step], 1e-4 * losses.data[step]) << "before step " << step;
    StateDict params = model.state_dict();
    optimizer.step(params, model.backward());
    model.load_state_dict(params);
  }
}

// Central differences of the loss in each parameter element against backward(), on a non-causal model (the
// golden file covers the causal one) with unscored positions.
TEST(Model, GradientsMatchCentralDifferences) {
  ModelConfig c;
  c.task = Task::reverse;
  c.tokens = 5;
  c.vocab = 7;
  c.d_model = 6;
  c.heads = 3;
  c.eval_batch = 3;
  c.seed = 9;
  Model model(c);
  TaskBatch batch = model.evaluation_set();
  batch.targets[2] = -1;
  model.forward(batch, true);
  const StateDict grads = model.backward();
  const StateDict base = model.state_dict();
  constexpr double h = 1e-2;
  for (std::size_t k = 0; k < base.size(); ++k) {
    const auto& [name, t] = base[k];
    for (std::size_t i = 0; i < t.numel(); ++i) {
      const auto loss_at = [&](double delta) {
        StateDict p = base;
        p[k].second.data[i] = static_cast<float>(double(t.data[i]) + delta);
        model.load_state_dict(p);
        return model.forward(batch).loss;
      };
      const double numeric = (loss_at(h) - loss_at(-h)) / (2 * h);
      const double analytic = grads[k].second.data[i];
      ASSERT_NEAR(analytic, numeric, 2e-3 + 2e-2 * std::fabs(numeric)) << name << " element " << i;
    }
  }
}

TEST(Model, ProbeWeightsArePerHeadRows) {
  ModelConfig c;
  c.task = Task::induction;
  Model model(c);
  const Tensor w = model.probe_weights();
  const std::size_t n = model.config().tokens;
  ASSERT_EQ(w.shape, (Shape{model.config().heads, n, n}));
  for (std::size_t h = 0; h < model.config().heads; ++h)
    for (std::size_t i = 0; i < n; ++i) {
      double sum = 0.0;
      for (std::size_t j = 0; j < n; ++j) {
        const float v = w.data[(h * n + i) * n + j];
        if (j > i) EXPECT_EQ(v, 0.0f);  // causal
        sum += v;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  EXPECT_EQ(model.probe().batch, 1u);
  EXPECT_EQ(model.probe().inputs, std::vector<std::int32_t>(model.evaluation_set().inputs.begin(),
                                                            model.evaluation_set().inputs.begin() + n));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Model, BadInputNamed) {
  const auto make = [](std::function<void(ModelConfig&)> change) {
    ModelConfig c;
    change(c);
    return error_of([&] { Model m(c); });
  };
  EXPECT_EQ(make([](ModelConfig& c) {
              c.d_model = 10;
              c.heads = 4;
            }),
            "d_model (10) must be divisible by heads (4)");
  EXPECT_EQ(make([](ModelConfig& c) { c.heads = 0; }), "heads (0) must be at least 1");
  EXPECT_EQ(make([](ModelConfig& c) { c.batch = 0; }), "batch (0) must be at least 1");
  EXPECT_EQ(make([](ModelConfig& c) {
              c.task = Task::sort;
              c.tokens = 7;
            }),
            "tokens (7) must be even for the sort task");
  EXPECT_EQ(make([](ModelConfig& c) {
              c.task = Task::sort;
              c.tokens = 40;
            }),
            "vocab (16) must be at least 21 for the sort task with 40 tokens (distinct tokens and a separator)");
  EXPECT_EQ(make([](ModelConfig& c) { c.tokens = 1; }), "tokens (1) must be at least 2");
  EXPECT_EQ(make([](ModelConfig& c) { c.vocab = 1; }), "vocab (1) must be at least 2");

  Model model(ModelConfig{});
  EXPECT_EQ(error_of([&] { model.backward(); }),
            "backward needs a forward with grad = true first; expected forward(batch, true)");
  TaskBatch b = model.probe();
  b.inputs[3] = 16;
  EXPECT_EQ(error_of([&] { model.forward(b); }), "input token 16 at index 3; expected 0 to 15");
  b = model.probe();
  b.targets.assign(b.targets.size(), -1);
  EXPECT_EQ(error_of([&] { model.forward(b); }),
            "the batch scores no position (every target is -1); expected at least one target >= 0");
  b = model.probe();
  b.inputs.pop_back();
  EXPECT_EQ(error_of([&] { model.forward(b); }),
            "batch inputs/targets hold 15/16 tokens; expected batch x tokens = 16");
  StateDict sd = model.state_dict();
  sd[0].second = Tensor({3, 3});
  EXPECT_EQ(error_of([&] { model.load_state_dict(sd); }),
            "state_dict key 'token_embedding.weight' has shape [3, 3]; expected [16, 64]");
  sd = model.state_dict();
  sd.pop_back();
  EXPECT_EQ(error_of([&] { model.load_state_dict(sd); }),
            "state_dict key 'readout.bias' is missing; expected every parameter");
  sd = model.state_dict();
  sd.emplace_back("extra", Tensor({1}));
  EXPECT_NE(error_of([&] { model.load_state_dict(sd); }).find("unknown state_dict key 'extra'"), std::string::npos);
  EXPECT_EQ(error_of([&] { model.make_optimizer("rmsprop"); }), "unknown optimizer 'rmsprop'; expected adamw or sgd");
  EXPECT_EQ(error_of([] { parse_task("copy"); }),
            "unknown task 'copy'; expected copy-previous, reverse, sort or induction");
}

}  // namespace
}  // namespace attnkit
