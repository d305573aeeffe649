// attnkit — the tiny model's forward and backward (attnkit/model.hpp): embeddings, the residual around the attention
// layer (whose backward is Module::backward), the read-out and the mean cross-entropy.
#include <cmath>
#include <limits>

#include "attnkit/errors.hpp"
#include "attnkit/model.hpp"
#include "ops.hpp"

namespace attnkit {

struct Model::Saved {
  TaskBatch batch;
  Tensor hidden;                   // (b·n, d_model): embedded + attention
  Tensor logits;                   // (b, n, vocab)
  std::vector<float> grad_logits;  // (b·n, vocab): ∂loss/∂logits = (softmax − one-hot) / scored, 0 where unscored
};

namespace {

// Indexes of the model's parameters in params_ (Model's order, attnkit/model.hpp).
constexpr std::size_t kTokenEmbedding = 0, kPositionEmbedding = 1;

// (rows, cols) → (cols, rows)
std::vector<float> transposed(const float* a, std::size_t rows, std::size_t cols) {
  std::vector<float> t(rows * cols);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}

}  // namespace

void Model::check_batch(const TaskBatch& b) const {
  const std::size_t n = b.batch * b.tokens;
  if (b.batch < 1 || b.tokens < 1 || b.tokens > config_.tokens)
    throw Error("batch of " + std::to_string(b.batch) + " x " + std::to_string(b.tokens) +
                    " tokens; expected at least 1 sequence of 1 to " + std::to_string(config_.tokens) + " tokens",
                ErrorKind::range);
  if (b.inputs.size() != n || b.targets.size() != n)
    throw Error("batch inputs/targets hold " + std::to_string(b.inputs.size()) + "/" +
                std::to_string(b.targets.size()) + " tokens; expected batch x tokens = " + std::to_string(n));
  const auto vocab = static_cast<std::int32_t>(config_.vocab);
  for (std::size_t i = 0; i < n; ++i) {
    if (b.inputs[i] < 0 || b.inputs[i] >= vocab)
      throw Error("input token " + std::to_string(b.inputs[i]) + " at index " + std::to_string(i) + "; expected 0 to " +
                      std::to_string(vocab - 1),
                  ErrorKind::range);
    if (b.targets[i] < -1 || b.targets[i] >= vocab)
      throw Error("target " + std::to_string(b.targets[i]) + " at index " + std::to_string(i) + "; expected 0 to " +
                      std::to_string(vocab - 1) + ", or -1 (not scored)",
                  ErrorKind::range);
  }
}

Tensor Model::embed(const TaskBatch& b) const {
  check_batch(b);
  const std::size_t d = config_.d_model;
  const float* token = params_[kTokenEmbedding].second.ptr();
  const float* position = params_[kPositionEmbedding].second.ptr();
  Tensor e({b.batch, b.tokens, d});  // (b, n, d_model)
  for (std::size_t r = 0; r < b.batch * b.tokens; ++r) {
    const float* tok = token + static_cast<std::size_t>(b.inputs[r]) * d;
    const float* pos = position + (r % b.tokens) * d;
    for (std::size_t c = 0; c < d; ++c) e.data[r * d + c] = tok[c] + pos[c];
  }
  return e;
}

std::shared_ptr<Model::Saved> Model::run(const TaskBatch& b, bool grad) {
  saved_.reset();
  const Tensor embedded = embed(b);
  ForwardOptions o;
  o.grad = grad;
  const Tensor context = attention_.forward(embedded, o).context;  // (b, n, d_model)
  auto s = std::make_shared<Saved>();
  const std::size_t rows = b.batch * b.tokens, d = config_.d_model;
  s->hidden = Tensor({rows, d});
  for (std::size_t i = 0; i < rows * d; ++i) s->hidden.data[i] = embedded.data[i] + context.data[i];  // residual
  s->logits = Tensor({b.batch, b.tokens, config_.vocab});
  const Tensor& w = params_[params_.size() - 2].second;  // readout.weight (vocab, d_model)
  detail::linear(s->hidden.ptr(), rows, d, w.ptr(), params_.back().second.ptr(), config_.vocab, s->logits.ptr(), 1);
  return s;
}

Tensor Model::logits(const TaskBatch& b) { return run(b, false)->logits; }

LossAccuracy Model::forward(const TaskBatch& b, bool grad) {
  std::shared_ptr<Saved> s = run(b, grad);
  const std::size_t rows = b.batch * b.tokens, vocab = config_.vocab;
  std::size_t scored = 0, correct = 0;
  for (std::size_t r = 0; r < rows; ++r) scored += b.targets[r] >= 0;
  if (scored == 0) throw Error("the batch scores no position (every target is -1); expected at least one target >= 0");
  // Mean cross-entropy in double: log Σ exp(logits − max) + max − logit[target].
  s->grad_logits.assign(rows * vocab, 0.0f);
  double loss = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    if (b.targets[r] < 0) continue;
    const float* l = s->logits.ptr() + r * vocab;
    std::size_t best = 0;
    for (std::size_t v = 1; v < vocab; ++v)
      if (l[v] > l[best]) best = v;
    double sum = 0.0;
    for (std::size_t v = 0; v < vocab; ++v) sum += std::exp(double(l[v]) - double(l[best]));
    const auto target = static_cast<std::size_t>(b.targets[r]);
    loss += std::log(sum) + double(l[best]) - double(l[target]);
    correct += best == target;
    float* g = s->grad_logits.data() + r * vocab;
    for (std::size_t v = 0; v < vocab; ++v)
      g[v] = static_cast<float>((std::exp(double(l[v]) - double(l[best])) / sum - (v == target)) / double(scored));
  }
  if (!std::isfinite(loss))
    throw Error("the loss is not finite (the parameters overflowed); expected a smaller learning rate",
                ErrorKind::range);
  if (grad) {
    s->batch = b;
    saved_ = std::move(s);
  }
  return {loss / double(scored), double(correct) / double(scored)};
}

StateDict Model::backward() {
  if (!saved_) throw Error("backward needs a forward with grad = true first; expected forward(batch, true)");
  const Saved& s = *saved_;
  const TaskBatch& b = s.batch;
  const std::size_t rows = b.batch * b.tokens, d = config_.d_model, vocab = config_.vocab;
  const Tensor& readout = params_[params_.size() - 2].second;  // (vocab, d_model)
  // ∂hidden = ∂logits · W (b·n, d_model); ∂W = ∂logitsᵀ · hidden (vocab, d_model); ∂bias = Σ rows ∂logits.
  Tensor grad_hidden({b.batch, b.tokens, d});
  const std::vector<float> readout_t = transposed(readout.ptr(), vocab, d);  // (d_model, vocab)
  detail::linear(s.grad_logits.data(), rows, vocab, readout_t.data(), nullptr, d, grad_hidden.ptr(), 1);
  Tensor grad_readout({vocab, d}), grad_bias({vocab});
  const std::vector<float> grad_logits_t = transposed(s.grad_logits.data(), rows, vocab);  // (vocab, b·n)
  const std::vector<float> hidden_t = transposed(s.hidden.ptr(), rows, d);                 // (d_model, b·n)
  detail::linear(grad_logits_t.data(), vocab, rows, hidden_t.data(), nullptr, d, grad_readout.ptr(), 1);
  for (std::size_t v = 0; v < vocab; ++v) {
    double sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r) sum += grad_logits_t[v * rows + r];
    grad_bias.data[v] = static_cast<float>(sum);
  }
  // The residual: ∂embedded = ∂hidden + the attention layer's ∂input.
  ModuleGrad attention = attention_.backward(grad_hidden);
  Tensor grad_token(params_[kTokenEmbedding].second.shape), grad_position(params_[kPositionEmbedding].second.shape);
  for (std::size_t r = 0; r < rows; ++r) {
    float* tok = grad_token.ptr() + static_cast<std::size_t>(b.inputs[r]) * d;
    float* pos = grad_position.ptr() + (r % b.tokens) * d;
    for (std::size_t c = 0; c < d; ++c) {
      const float g = grad_hidden.data[r * d + c] + attention.input.data[r * d + c];
      tok[c] += g;
      pos[c] += g;
    }
  }
  StateDict grads;
  grads.emplace_back(params_[kTokenEmbedding].first, std::move(grad_token));
  grads.emplace_back(params_[kPositionEmbedding].first, std::move(grad_position));
  for (auto& [name, t] : attention.params) grads.emplace_back("attention." + name, std::move(t));
  grads.emplace_back(params_[params_.size() - 2].first, std::move(grad_readout));
  grads.emplace_back(params_.back().first, std::move(grad_bias));
  saved_.reset();
  return grads;
}

}  // namespace attnkit
