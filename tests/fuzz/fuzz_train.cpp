// attnkit fuzzing — the training surface: the tiny model (attnkit/model.hpp) and the optimizers (attnkit/optim.hpp).
//
// Bytes → a ModelConfig (task, tokens, vocab, d_model, heads, causal, batch, eval_batch, seed: small sizes, 0, and
// edge sizes ≥ 2^43 whose products exceed max_tensor_bytes() or wrap size_t), an optimizer (by name as `attnkit train`
// and ak.createModel make it, or SGD/AdamW with hyper-parameters that may be NaN/±Inf/negative/huge, nesterov,
// amsgrad, maximize), 1–3 training steps, then: Optimizer::step with the model's gradients mutated (one dropped,
// renamed, reshaped, NaN, duplicated or added), Model(config, state_dict) with the state_dict mutated (the same, and
// attention.mask buffers), and the state_dict through JSON as `attnkit train --save` writes it.
//
// attnkit::Error is an answer; anything else is a finding. Beyond that: every accepted step has a finite loss and an
// accuracy in [0, 1]; 2 threads train to the same bits as 1; an optimizer step that throws changed neither the
// parameters nor its state; an accepted state_dict is the model's state_dict afterwards, bit for bit; the probe's
// weights have shape (heads, n, n), rows in [0, 1] summing to 1, zeros above the diagonal when causal.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "attnkit/attnkit.hpp"
#include "fuzz_common.hpp"
#include "json_io.hpp"

using namespace attnkit;
using attnkit_fuzz::finding;
using attnkit_fuzz::run_expecting_error_or_success;

namespace {

struct Draw {
  FuzzedDataProvider& p;

  // Mostly [lo, hi]; now and then 0 or an edge size (≥ 2^43: any product with it exceeds max_tensor_bytes()).
  std::size_t size(std::size_t lo, std::size_t hi) {
    const std::uint8_t sel = p.ConsumeIntegral<std::uint8_t>();
    if (sel < 236) return lo + sel % (hi - lo + 1);
    static const std::size_t edges[] = {0, std::size_t(1) << 43, std::size_t(1) << 62, SIZE_MAX / 3 + 1, SIZE_MAX};
    return edges[sel % 5];
  }
  // A hyper-parameter: usually moderate, sometimes NaN, ±Inf, negative, huge or exactly a boundary.
  double hyper(double moderate) {
    const std::uint8_t sel = p.ConsumeIntegral<std::uint8_t>();
    if (sel < 200) return moderate * (sel % 8) / 4.0;
    static const double edges[] = {NAN, INFINITY, -INFINITY, -1e-3, 1.0, 1e38, 1e300, 5e-324, 0.0, 0.999999999};
    return edges[sel % 10];
  }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0;
}

bool same_bits(const StateDict& a, const StateDict& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !same_bits(a[i].second, b[i].second)) return false;
  return true;
}

std::unique_ptr<Optimizer> make(FuzzedDataProvider& p, Draw& draw, const Model& model) {
  const StateDict params = model.state_dict();
  switch (p.ConsumeIntegral<std::uint8_t>() % 5) {
    case 0: return model.make_optimizer("adamw");
    case 1: return model.make_optimizer("sgd", draw.hyper(0.1));
    case 2: return model.make_optimizer(p.ConsumeBool() ? "adam" : "", draw.hyper(0.01));  // unknown names
    case 3: {
      SGDOptions o;
      if (p.ConsumeBool()) o.lr = draw.hyper(0.1);
      o.momentum = draw.hyper(0.9);
      o.dampening = draw.hyper(0.1);
      o.weight_decay = draw.hyper(0.01);
      o.nesterov = p.ConsumeBool();
      o.maximize = p.ConsumeIntegral<std::uint8_t>() > 240;
      return std::make_unique<SGD>(params, o);
    }
    default: {
      AdamWOptions o;
      o.lr = draw.hyper(0.01);
      o.beta1 = draw.hyper(0.9);
      o.beta2 = draw.hyper(0.999);
      o.eps = draw.hyper(1e-8);
      o.weight_decay = draw.hyper(0.01);
      o.amsgrad = p.ConsumeIntegral<std::uint8_t>() > 240;
      o.maximize = p.ConsumeIntegral<std::uint8_t>() > 240;
      return std::make_unique<AdamW>(params, o);
    }
  }
}

// One of: drop, rename, reshape, NaN, duplicate, add an entry; or nothing.
StateDict mutate(FuzzedDataProvider& p, StateDict sd) {
  if (sd.empty()) return sd;
  const std::size_t i = p.ConsumeIntegralInRange<std::size_t>(0, sd.size() - 1);
  switch (p.ConsumeIntegral<std::uint8_t>() % 7) {
    case 0: sd.erase(sd.begin() + static_cast<std::ptrdiff_t>(i)); break;
    case 1: sd[i].first += p.ConsumeBool() ? "x" : ".mask"; break;
    case 2: sd[i].second = Tensor(Shape{sd[i].second.numel() + 1}); break;
    case 3:
      if (!sd[i].second.data.empty()) sd[i].second.data[0] = p.ConsumeBool() ? NAN : INFINITY;
      break;
    case 4: sd.push_back(sd[i]); break;
    case 5: sd.emplace_back("attention.mask", Tensor({2, 2})); break;
    default: break;
  }
  return sd;
}

void check_loss(const LossAccuracy& r, const char* what) {
  if (!std::isfinite(r.loss) || r.loss < 0) finding(std::string(what) + ": loss " + std::to_string(r.loss));
  if (!(r.accuracy >= 0 && r.accuracy <= 1)) finding(std::string(what) + ": accuracy " + std::to_string(r.accuracy));
}

void check_probe(Model& model) {
  Tensor w;
  if (!run_expecting_error_or_success([&] { w = model.probe_weights(); })) return;
  const ModelConfig& c = model.config();
  const std::size_t n = c.tokens;
  if (w.shape != Shape{c.heads, n, n}) finding("probe weights of shape " + shape_to_string(w.shape));
  for (std::size_t r = 0; r < c.heads * n; ++r) {
    double sum = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const float v = w.data[r * n + k];
      if (!(v >= 0 && v <= 1)) finding("a probe weight outside [0, 1]");
      if (*c.causal && k > r % n && v != 0) finding("a probe weight above the diagonal of a causal model");
      sum += v;
    }
    if (std::fabs(sum - 1) > 1e-4) finding("a probe weight row sums to " + std::to_string(sum));
  }
}

// The state_dict as `attnkit train --save` writes it, read back as the CLI reads a state_dict.
StateDict through_json(const StateDict& sd) {
  std::string s = "{";
  for (std::size_t i = 0; i < sd.size(); ++i) {
    s += i ? ", " : "";
    cli::append_string(s, sd[i].first);
    s += ": ";
    cli::append_tensor(s, sd[i].second);
  }
  return cli::state_dict_from_json(cli::parse_json(s + "}", "state_dict"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  Draw draw{p};
  ModelConfig c;
  c.task = static_cast<Task>(p.ConsumeIntegral<std::uint8_t>() % task_specs().size());
  const std::uint8_t flags = p.ConsumeIntegral<std::uint8_t>();
  if (flags & 0x01) c.tokens = draw.size(1, 20);
  if (flags & 0x02) c.vocab = draw.size(1, 24);
  c.d_model = (flags & 0x04) ? draw.size(1, 16) : 8;  // not the default 64: slow under ASan (fuzz_options runs it)
  if (flags & 0x08) c.heads = draw.size(1, 4);
  if (flags & 0x10) c.causal = (flags & 0x20) != 0;
  c.batch = draw.size(1, 6);
  c.eval_batch = draw.size(1, 6);
  c.seed = p.ConsumeIntegral<std::uint64_t>();

  set_default_num_threads(1);
  std::optional<Model> model;
  if (!run_expecting_error_or_success([&] { model.emplace(c); })) return 0;
  std::unique_ptr<Optimizer> optimizer;
  if (!run_expecting_error_or_success([&] { optimizer = make(p, draw, *model); })) return 0;

  // Training on 1 thread, then the same on 2 from a fresh model and an optimizer with the same options: the same bits.
  const std::size_t steps = p.ConsumeIntegralInRange<std::size_t>(1, 3);
  std::size_t done = 0;
  for (; done < steps; ++done) {
    LossAccuracy r;
    if (!run_expecting_error_or_success([&] { r = model->train_step(*optimizer); })) break;
    check_loss(r, "train_step");
  }
  if (done > 0) {
    set_default_num_threads(2);
    Model again(c);
    std::unique_ptr<Optimizer> optimizer2 =
        std::strcmp(optimizer->name(), "sgd") == 0
            ? std::unique_ptr<Optimizer>(
                  std::make_unique<SGD>(again.state_dict(), dynamic_cast<const SGD&>(*optimizer).options()))
            : std::unique_ptr<Optimizer>(
                  std::make_unique<AdamW>(again.state_dict(), dynamic_cast<const AdamW&>(*optimizer).options()));
    for (std::size_t i = 0; i < done; ++i)
      if (!run_expecting_error_or_success([&] { again.train_step(*optimizer2); }))
        finding("training on 2 threads refused a step 1 thread took");
    if (!same_bits(model->state_dict(), again.state_dict())) finding("2 threads trained to other parameters than 1");
    set_default_num_threads(1);
  }
  LossAccuracy eval;
  if (run_expecting_error_or_success([&] { eval = model->evaluate(); })) check_loss(eval, "evaluate");
  check_probe(*model);

  // Optimizer::step with mutated gradients: on an Error nothing moved.
  if (run_expecting_error_or_success([&] { model->forward(model->evaluation_set(), true); })) {
    StateDict grads;
    if (run_expecting_error_or_success([&] { grads = model->backward(); })) {
      const StateDict bad = mutate(p, grads);
      StateDict params = model->state_dict();
      const StateDict before = params;
      const std::size_t count = optimizer->steps();
      const OptimizerState* s = optimizer->state(params.front().first);
      const std::size_t state_step = s ? s->step : 0;
      if (!run_expecting_error_or_success([&] { optimizer->step(params, bad); })) {
        if (!same_bits(params, before)) finding("an optimizer step that threw changed the parameters");
        if (optimizer->steps() != count || (s && s->step != state_step))
          finding("an optimizer step that threw changed the optimizer's state");
      }
    }
  }

  // Model(config, state_dict) with a mutated state_dict, and the state_dict through JSON (attnkit train --save).
  const StateDict sd = mutate(p, model->state_dict());
  std::optional<Model> loaded;
  if (run_expecting_error_or_success([&] { loaded.emplace(c, sd); })) {
    StateDict params;
    for (const auto& entry : sd)
      if (entry.first != "attention.mask") params.push_back(entry);
    if (!same_bits(loaded->state_dict(), params)) finding("a loaded state_dict is not the model's state_dict");
    StateDict json;
    if (!run_expecting_error_or_success([&] { json = through_json(loaded->state_dict()); }))
      finding("the state_dict attnkit train --save writes cannot be read back");
    if (!same_bits(json, loaded->state_dict())) finding("the state_dict changed through JSON");
  }
  return 0;
}
