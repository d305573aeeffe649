// attnkit — a tiny trainable model around one attention layer, and the toy sequence tasks it learns.
//
//   embedded = token_embedding[inputs] + position_embedding[0..tokens)        (b, n, d_model)
//   hidden   = embedded + attention(embedded)                                 one `multihead` Module, d_out = d_model
//   logits   = hidden · readout.weightᵀ + readout.bias                        (b, n, vocab)
//   loss     = mean cross-entropy over the scored positions (targets ≥ 0)    F.cross_entropy(ignore_index=-1)
//
// The state_dict is that of this PyTorch module after torch.manual_seed(seed), parameters drawn in this order:
//   token_embedding = nn.Embedding(vocab, d_model); position_embedding = nn.Embedding(tokens, d_model)
//   attention = MultiHeadAttention(d_model, d_model, tokens, 0.0, heads)   (the book's class, causal or not)
//   readout = nn.Linear(d_model, vocab)
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attnkit/mechanisms.hpp"
#include "attnkit/optim.hpp"
#include "attnkit/parameters.hpp"
#include "attnkit/random.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

// The built-in tasks, n = tokens; "scored" positions are those whose target counts in the loss and the accuracy,
// and each scored position's expected key is the position holding its target (what attention should find).
//   copy-previous  random tokens; position t predicts token t−1                (scored: 1 … n−1; causal)
//   reverse        random tokens; position t predicts token n−1−t              (scored: all; not causal)
//   sort           n/2 distinct tokens below vocab−1, the separator vocab−1, then the sorted tokens but the last
//                  (teacher forcing); position n/2+i predicts the i-th smallest (scored: n/2 … n−1; causal)
//   induction      n/2 distinct random tokens, then the same again; position t predicts token t+1, which in the
//                  second half only the first half shows (token t+1−n/2)      (scored: n/2−1 … n−2; causal)
enum class Task { copy_previous, reverse, sort, induction };

// A task's defaults and its documented goal: from the default seed with the defaults (ModelConfig, AdamW at
// kModelAdamWLr), the accuracy on the evaluation set reaches goal_accuracy within goal_steps training steps.
struct TaskSpec {
  Task task;
  const char* name;  // "copy-previous"
  const char* what;  // one line for help and documentation
  bool causal;
  std::size_t tokens, vocab;
  double goal_accuracy;
  std::size_t goal_steps;
};

const std::vector<TaskSpec>& task_specs();  // one per Task, in the enum's order
const TaskSpec& task_spec(Task task);
// Throws Error listing the names: "unknown task 'x'; expected copy-previous, reverse, sort or induction".
Task parse_task(std::string_view name);

// A batch of token sequences, row-major (batch, tokens).
struct TaskBatch {
  std::size_t batch = 0, tokens = 0;
  std::vector<std::int32_t> inputs;        // token ids in [0, vocab)
  std::vector<std::int32_t> targets;       // the token to predict, −1 where not scored
  std::vector<std::int32_t> expected_key;  // the position holding the target token (what attention should find), −1
};

// batch sequences of `task`, drawn from `generator`. Throws Error for a tokens/vocab pair the task cannot use
// (naming the limit): every task needs tokens ≥ 2, sort and induction an even count, sort vocab ≥ tokens/2 + 1,
// induction vocab ≥ tokens/2, vocab ≥ 2.
TaskBatch make_task_batch(Task task, std::size_t batch, std::size_t tokens, std::size_t vocab, Generator& generator);

struct ModelConfig {
  Task task = Task::copy_previous;
  std::size_t tokens = 0;        // sequence length; 0: the task's default
  std::size_t vocab = 0;         // 0: the task's default
  std::size_t d_model = 64;      // features of the embeddings and of the attention layer
  std::size_t heads = 4;         // must divide d_model
  std::optional<bool> causal;    // default: the task's
  std::size_t batch = 32;        // training sequences per step
  std::uint64_t seed = 123;      // torch.manual_seed(seed) before the parameters; seed + 1 draws the training
                                 // batches, seed + 2 the evaluation set (its first sequence is the probe)
  std::size_t eval_batch = 256;  // sequences in the evaluation set
};

// The largest sizes a ModelConfig takes (the Model constructor refuses more, naming the limit): a tiny model's,
// well inside the wasm32 heap, so a typo is an immediate error instead of minutes of allocation.
constexpr std::size_t kModelMaxTokens = 1024, kModelMaxVocab = 65536, kModelMaxDModel = 4096, kModelMaxHeads = 1024,
                      kModelMaxBatch = 4096;

// `attnkit train`'s defaults for its optimizers.
constexpr double kModelAdamWLr = 0.01;                        // AdamW, otherwise torch's defaults
constexpr double kModelSGDLr = 0.1, kModelSGDMomentum = 0.9;  // SGD

struct LossAccuracy {
  double loss = 0.0;      // mean cross-entropy over the scored positions
  double accuracy = 0.0;  // fraction of scored positions whose largest logit is the target (first on ties)
};

class Model {
 public:
  // Parameters drawn from config.seed. Throws Error naming a bad option and its allowed values.
  explicit Model(const ModelConfig& config);
  // Parameters from a state_dict of this model (names and shapes checked; attention.mask accepted).
  Model(const ModelConfig& config, const StateDict& state_dict);

  // The peak heap bytes of building this model, an optimizer over it (AdamW's two moments: the larger state),
  // training steps, evaluate() and probe_weights(), from the config alone (saturating, never wrapping), so an
  // interface can refuse what would not fit before allocating it (core/src/model_bytes.cpp; tests/memory checks it
  // against measured peaks). Throws what the constructor throws for a bad config.
  static std::size_t memory_bytes(const ModelConfig& config);

  const ModelConfig& config() const noexcept { return config_; }  // 0s and nullopt resolved
  const Module& attention() const noexcept { return attention_; }

  StateDict state_dict() const { return params_; }
  void load_state_dict(const StateDict& state_dict);  // every parameter, by name and shape, or Error

  // Forward: logits (b, n, vocab) and, with scored targets, the loss and accuracy. With grad, keeps what backward
  // needs (until the next forward).
  Tensor logits(const TaskBatch& batch);
  LossAccuracy forward(const TaskBatch& batch, bool grad = false);
  // Gradients of the last forward(…, grad = true)'s loss under the state_dict's names. Error without one.
  StateDict backward();

  // One step: the next training batch, forward, backward, optimizer.step, the new parameters in place; returns the
  // loss and accuracy on that batch before the step. The optimizer must be made from state_dict() (make_optimizer).
  LossAccuracy train_step(Optimizer& optimizer);
  std::size_t steps() const noexcept { return steps_; }

  // The evaluation set's loss and accuracy (no gradients kept).
  LossAccuracy evaluate();
  const TaskBatch& evaluation_set() const noexcept { return eval_; }
  // The probe: the evaluation set's first sequence (batch 1), and each head's weights on it, (heads, n, n).
  const TaskBatch& probe() const noexcept { return probe_; }
  Tensor probe_weights();

  // "sgd" (lr default kModelSGDLr, momentum kModelSGDMomentum) or "adamw" (lr default kModelAdamWLr) over this
  // model's state_dict.
  std::unique_ptr<Optimizer> make_optimizer(std::string_view name, std::optional<double> lr = std::nullopt) const;

 private:
  struct Saved;  // what backward needs from the forward (core/src/model.cpp)

  ModelConfig config_;
  StateDict params_;  // token_embedding.weight, position_embedding.weight, attention.*, readout.weight, readout.bias
  Module attention_;
  Generator train_data_;
  TaskBatch eval_, probe_;
  std::shared_ptr<Saved> saved_;
  std::size_t steps_ = 0;

  Model(const ModelConfig& config, const StateDict* state_dict);
  void check_batch(const TaskBatch& batch) const;                 // shapes and token ids, or Error
  Tensor embed(const TaskBatch& batch) const;                     // (b, n, d_model): token + position embeddings
  std::shared_ptr<Saved> run(const TaskBatch& batch, bool grad);  // embeddings to logits
};

}  // namespace attnkit
