// attnkit — the tiny model (attnkit/model.hpp): construction, parameters, training steps, evaluation and the probe.
// The forward and backward arithmetic is in model_forward.cpp.
#include <algorithm>
#include <unordered_map>

#include "attnkit/errors.hpp"
#include "attnkit/model.hpp"
#include "attnkit/traits.hpp"
#include "init.hpp"
#include "model_internal.hpp"

namespace attnkit {
namespace detail {

ModelConfig resolve_model_config(ModelConfig c) {
  const TaskSpec& spec = task_spec(c.task);
  if (!c.tokens) c.tokens = spec.tokens;
  if (!c.vocab) c.vocab = spec.vocab;
  if (!c.causal) c.causal = spec.causal;
  const auto at_least_one = [](const char* what, std::size_t v) {
    if (v < 1) throw Error(std::string(what) + " (0) must be at least 1", ErrorKind::range);
  };
  at_least_one("d_model", c.d_model);
  at_least_one("heads", c.heads);
  at_least_one("batch", c.batch);
  at_least_one("eval_batch", c.eval_batch);
  const auto at_most = [](const char* what, std::size_t v, std::size_t limit) {
    if (v > limit)
      throw Error(std::string(what) + " (" + std::to_string(v) + ") must be at most " + std::to_string(limit) +
                      " (the tiny model's limit)",
                  ErrorKind::range);
  };
  at_most("tokens", c.tokens, kModelMaxTokens);
  at_most("vocab", c.vocab, kModelMaxVocab);
  at_most("d_model", c.d_model, kModelMaxDModel);
  at_most("heads", c.heads, kModelMaxHeads);
  at_most("batch", c.batch, kModelMaxBatch);
  at_most("eval_batch", c.eval_batch, kModelMaxBatch);
  if (c.d_model % c.heads != 0)
    throw Error(
        "d_model (" + std::to_string(c.d_model) + ") must be divisible by heads (" + std::to_string(c.heads) + ")",
        ErrorKind::range);
  return c;
}

Config model_attention_config(const ModelConfig& c) {
  Config a;
  a.mechanism = Mechanism::multihead;
  a.d_in = a.d_out = c.d_model;
  a.num_heads = c.heads;
  a.context_length = c.tokens;
  a.causal = c.causal;
  a.seed = c.seed;
  return a;
}

}  // namespace detail

namespace {

const std::string kAttention = "attention.";

// PyTorch's order after torch.manual_seed(seed) (attnkit/model.hpp).
StateDict draw(const ModelConfig& c) {
  Generator g(c.seed);
  StateDict p;
  p.emplace_back("token_embedding.weight", detail::embedding_init(g, {c.vocab, c.d_model}));
  p.emplace_back("position_embedding.weight", detail::embedding_init(g, {c.tokens, c.d_model}));
  for (auto& [name, t] : detail::draw_linear_parameters(g, parameter_shapes(detail::model_attention_config(c))))
    p.emplace_back(kAttention + name, std::move(t));
  for (auto& [name, t] :
       detail::draw_linear_parameters(g, {{"readout.weight", {c.vocab, c.d_model}}, {"readout.bias", {c.vocab}}}))
    p.emplace_back(name, std::move(t));
  return p;
}

// The attention layer's part of the model's state_dict, names without "attention.".
StateDict attention_part(const StateDict& sd) {
  StateDict part;
  for (const auto& [name, t] : sd)
    if (name.rfind(kAttention, 0) == 0) part.emplace_back(name.substr(kAttention.size()), t);
  return part;
}

// Sequences [first, first + count) of a batch.
TaskBatch slice_batch(const TaskBatch& b, std::size_t first, std::size_t count) {
  TaskBatch s;
  s.batch = count;
  s.tokens = b.tokens;
  const auto from = static_cast<std::ptrdiff_t>(first * b.tokens),
             to = from + static_cast<std::ptrdiff_t>(count * b.tokens);
  s.inputs.assign(b.inputs.begin() + from, b.inputs.begin() + to);
  s.targets.assign(b.targets.begin() + from, b.targets.begin() + to);
  s.expected_key.assign(b.expected_key.begin() + from, b.expected_key.begin() + to);
  return s;
}

}  // namespace

Model::Model(const ModelConfig& config) : Model(config, nullptr) {}
Model::Model(const ModelConfig& config, const StateDict& state_dict) : Model(config, &state_dict) {}

Model::Model(const ModelConfig& config, const StateDict* state_dict)
    : config_(detail::resolve_model_config(config)),
      params_(draw(config_)),
      attention_(detail::model_attention_config(config_), attention_part(params_)),
      train_data_(config_.seed + 1) {
  Generator eval_data(config_.seed + 2);
  eval_ = make_task_batch(config_.task, config_.eval_batch, config_.tokens, config_.vocab, eval_data);
  probe_ = slice_batch(eval_, 0, 1);
  if (state_dict) load_state_dict(*state_dict);
}

void Model::load_state_dict(const StateDict& sd) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < params_.size(); ++i) index.emplace(params_[i].first, i);
  std::vector<bool> seen(params_.size(), false);
  StateDict next = params_;
  for (const auto& [name, t] : sd) {
    if (name == kAttention + "mask") continue;  // the book's buffer: the attention layer checks it below
    const auto it = index.find(name);
    if (it == index.end()) {
      std::string names;
      for (const auto& p : params_) names += (names.empty() ? "" : ", ") + p.first;
      throw Error("unknown state_dict key '" + name + "'; expected " + names + " (and attention.mask)");
    }
    if (seen[it->second]) throw Error("state_dict key '" + name + "' is given twice; expected each key once");
    const Shape& want = params_[it->second].second.shape;
    if (t.shape != want)
      throw Error("state_dict key '" + name + "' has shape " + shape_to_string(t.shape) + "; expected " +
                  shape_to_string(want));
    check_finite(t, "state_dict key '" + name + "'");
    seen[it->second] = true;
    next[it->second].second = t;
  }
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (!seen[i]) throw Error("state_dict key '" + params_[i].first + "' is missing; expected every parameter");
  StateDict attention = attention_part(next);
  for (const auto& [name, t] : sd)
    if (name == kAttention + "mask") attention.emplace_back("mask", t);
  attention_.load_state_dict(attention);
  params_ = std::move(next);
  saved_.reset();
}

LossAccuracy Model::train_step(Optimizer& optimizer) {
  const TaskBatch batch = make_task_batch(config_.task, config_.batch, config_.tokens, config_.vocab, train_data_);
  const LossAccuracy result = forward(batch, true);
  const StateDict grads = backward();
  StateDict params = params_;
  optimizer.step(params, grads);
  load_state_dict(params);
  ++steps_;
  return result;
}

LossAccuracy Model::evaluate() { return forward(eval_, false); }

Tensor Model::probe_weights() {
  ForwardOptions o;
  o.return_weights = true;
  Tensor w = attention_.forward(embed(probe_), o).weights;  // (1, h, n, n)
  w.shape.erase(w.shape.begin());
  return w;
}

std::unique_ptr<Optimizer> Model::make_optimizer(std::string_view name, std::optional<double> lr) const {
  if (name == "sgd") {
    SGDOptions o;
    o.lr = lr.value_or(kModelSGDLr);
    o.momentum = kModelSGDMomentum;
    return std::make_unique<SGD>(params_, o);
  }
  return attnkit::make_optimizer(name, params_, lr.value_or(kModelAdamWLr));
}

}  // namespace attnkit
