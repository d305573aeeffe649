// attnkit — ak.createModel(): the tiny trainable model of attnkit/model.hpp (embeddings, one multihead layer, a
// read-out) with its optimizer, behind Embind. Training runs in the core; this wraps it for wasm/src/model.mjs.
#pragma once
#include <emscripten/val.h>

#include <memory>

#include "attnkit/model.hpp"
#include "attnkit/optim.hpp"

namespace attnkit::wasm {

class Model {
 public:
  Model() = default;

  // options: the snake_case fields wasm/src/model.mjs read (task, tokens, vocab, d_model, heads, causal, batch,
  // eval_batch, seed_lo/seed_hi, optimizer, lr); a field left out keeps attnkit::ModelConfig's default (the task's).
  // → info() or { error, status }.
  emscripten::val init(const emscripten::val& options);
  // { task, tokens, vocab, d_model, heads, causal, batch, eval_batch, optimizer, lr, steps }
  emscripten::val info() const;
  emscripten::val train_step();  // { loss, accuracy } on this step's batch, before the update
  emscripten::val evaluate();    // { loss, accuracy } on the evaluation set
  // { weights: { shape: [heads, n, n], data }, inputs, targets, expected_key } on the probe sequence
  emscripten::val probe_weights();
  emscripten::val state_dict() const;  // [{ name, shape, data }]
  void release();

 private:
  attnkit::Model& model() const;

  std::unique_ptr<attnkit::Model> model_;
  std::unique_ptr<attnkit::Optimizer> optimizer_;
};

// The core's task table (attnkit::task_specs): [{ name, what, causal, tokens, vocab, goal_accuracy, goal_steps }].
emscripten::val task_specs();

}  // namespace attnkit::wasm
