// attnkit — ak.createModel() (see model.hpp).
#include "model.hpp"

#include <cstdint>
#include <string>
#include <utility>

#include "convert.hpp"
#include "errors.hpp"
#include "limits.hpp"

namespace attnkit::wasm {

using emscripten::val;

namespace {

val loss_accuracy(const attnkit::LossAccuracy& r) {
  val o = val::object();
  o.set("loss", val(r.loss));
  o.set("accuracy", val(r.accuracy));
  return o;
}

val ints(const std::vector<std::int32_t>& v) {
  val a = val::array();
  for (std::size_t i = 0; i < v.size(); ++i) a.set(i, val(v[i]));
  return a;
}

template <class T>
void read_size(const val& options, const char* name, T& field) {
  const val v = options[name];
  if (!v.isUndefined()) field = size_from(v);
}

}  // namespace

attnkit::Model& Model::model() const {
  if (!model_) throw attnkit::Error("model was disposed; create a new one with ak.createModel()");
  return *model_;
}

val Model::init(const val& options) {
  return guarded([&]() -> val {
    attnkit::ModelConfig c;
    c.task = attnkit::parse_task(options["task"].as<std::string>());
    read_size(options, "tokens", c.tokens);
    read_size(options, "vocab", c.vocab);
    read_size(options, "d_model", c.d_model);
    read_size(options, "heads", c.heads);
    read_size(options, "batch", c.batch);
    read_size(options, "eval_batch", c.eval_batch);
    const val causal = options["causal"];
    if (!causal.isUndefined()) c.causal = causal.isTrue();
    const val seed_lo = options["seed_lo"];
    if (!seed_lo.isUndefined())
      c.seed = (static_cast<std::uint64_t>(options["seed_hi"].as<double>()) << 32) |
               static_cast<std::uint64_t>(seed_lo.as<double>());
    const val name = options["optimizer"], lr = options["lr"];
    check_model_fits(c);
    auto model = std::make_unique<attnkit::Model>(c);
    optimizer_ = model->make_optimizer(name.isUndefined() ? std::string("adamw") : name.as<std::string>(),
                                       lr.isUndefined() ? std::nullopt : std::optional<double>(lr.as<double>()));
    model_ = std::move(model);
    return info();
  });
}

val Model::info() const {
  val o = val::object();
  if (!model_) return o;
  const attnkit::ModelConfig& c = model_->config();
  o.set("task", val(std::string(attnkit::task_spec(c.task).name)));
  o.set("tokens", val(static_cast<double>(c.tokens)));
  o.set("vocab", val(static_cast<double>(c.vocab)));
  o.set("d_model", val(static_cast<double>(c.d_model)));
  o.set("heads", val(static_cast<double>(c.heads)));
  o.set("causal", val(c.causal.value_or(false)));
  o.set("batch", val(static_cast<double>(c.batch)));
  o.set("eval_batch", val(static_cast<double>(c.eval_batch)));
  o.set("optimizer", val(std::string(optimizer_->name())));
  o.set("lr", val(optimizer_->lr()));
  o.set("steps", val(static_cast<double>(model_->steps())));
  return o;
}

val Model::train_step() {
  return guarded([&]() -> val { return loss_accuracy(model().train_step(*optimizer_)); });
}

val Model::evaluate() {
  return guarded([&]() -> val { return loss_accuracy(model().evaluate()); });
}

val Model::probe_weights() {
  return guarded([&]() -> val {
    attnkit::Model& m = model();
    val o = val::object();
    o.set("weights", tensor_to_js(m.probe_weights()));  // (heads, n, n)
    const attnkit::TaskBatch& probe = m.probe();
    o.set("inputs", ints(probe.inputs));
    o.set("targets", ints(probe.targets));
    o.set("expected_key", ints(probe.expected_key));
    return o;
  });
}

val Model::state_dict() const {
  return guarded([&]() -> val {
    const attnkit::StateDict sd = model().state_dict();
    val list = val::array();
    for (std::size_t i = 0; i < sd.size(); ++i) {
      val item = tensor_to_js(sd[i].second);
      item.set("name", val(sd[i].first));
      list.set(i, item);
    }
    return list;
  });
}

void Model::release() {
  optimizer_.reset();
  model_.reset();
}

val task_specs() {
  val list = val::array();
  const auto& all = attnkit::task_specs();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const attnkit::TaskSpec& t = all[i];
    val item = val::object();
    item.set("name", val(std::string(t.name)));
    item.set("what", val(std::string(t.what)));
    item.set("causal", val(t.causal));
    item.set("tokens", val(static_cast<double>(t.tokens)));
    item.set("vocab", val(static_cast<double>(t.vocab)));
    item.set("goal_accuracy", val(t.goal_accuracy));
    item.set("goal_steps", val(static_cast<double>(t.goal_steps)));
    list.set(i, item);
  }
  return list;
}

}  // namespace attnkit::wasm
