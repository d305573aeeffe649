// attnkit — the attention op's gradients (core/include/attnkit/attention_grad.hpp): the forward that keeps each
// row's log-sum-exp, and the backward's checks; the tiled passes are in attention_backward.cpp.
#include "attnkit/attention_grad.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "attention_backward.hpp"
#include "attention_op.hpp"
#include "attnkit/errors.hpp"

namespace attnkit {
namespace {

bool dropout_on(const AttentionOptions& options) { return options.train && options.dropout > 0.0; }

detail::AttentionProblem problem_of(const Tensor& query, const Tensor& key, const Tensor& value, float scale,
                                    const AttentionOptions& options, const detail::PreparedMask* mask) {
  return detail::AttentionProblem{query.ptr(),  key.ptr(),      value.ptr(),  query.shape[0], query.shape[1],
                                  key.shape[1], query.shape[2], key.shape[2], query.shape[3], value.shape[3],
                                  scale,        options.causal, mask,         options.threads};
}

void check_shape(const Tensor& t, const char* name, const Shape& expected) {
  if (t.shape != expected)
    throw Error(std::string(name) + " has shape " + shape_to_string(t.shape) + "; expected " +
                shape_to_string(expected));
}

}  // namespace

AttentionForward attention_forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const AttentionOptions& options) {
  const float scale = detail::check_attention_inputs(query, key, value, options);
  const std::size_t b = query.shape[0], h_q = query.shape[1], n_q = query.shape[2], n_k = key.shape[2],
                    d_v = value.shape[3];
  std::optional<detail::PreparedMask> mask;
  if (options.attn_mask) mask = detail::prepare_mask(*options.attn_mask, b, h_q, n_q, n_k);
  const detail::AttentionProblem problem = problem_of(query, key, value, scale, options, mask ? &*mask : nullptr);

  AttentionForward f;
  f.state.lse = Tensor({b, h_q, n_q});
  if (!dropout_on(options)) {  // one fused pass: the output, the lse and the weights if wanted
    AttentionResult r = detail::attention_run(problem, options, f.state.lse.ptr());
    f.state.output = std::move(r.output);
    f.weights = std::move(r.weights);
  } else {
    // The explain path gives the output (and weights, and the dropout draws); the fused kernel gives the lse.
    AttentionOptions own = options;
    if (dropout_on(options)) {
      f.state.dropout_generator = options.generator ? *options.generator : Generator(options.seed);
      own.generator = options.generator;  // the forward advances the caller's generator as attention() does
    }
    AttentionResult r = attention(query, key, value, own);
    Tensor scratch({b, h_q, n_q, d_v});
    detail::attention_fused(problem, scratch.ptr(), f.state.lse.ptr());
    f.state.output = std::move(r.output);
    f.weights = std::move(r.weights);
  }
  for (std::size_t row = 0; row < f.state.lse.numel(); ++row) {
    const float v = f.state.lse.data[row];
    if (std::isnan(v) || v == INFINITY) {
      const std::size_t bh = row / n_q;
      throw Error("attention_forward: the scores of batch " + std::to_string(bh / h_q) + ", head " +
                      std::to_string(bh % h_q) + ", query " + std::to_string(row % n_q) +
                      " overflow float32; the backward pass needs finite float32 scores",
                  ErrorKind::range);
    }
  }
  return f;
}

AttentionGrad attention_backward(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& grad_output,
                                 const AttentionOptions& options, const AttentionForwardState& state) {
  const float scale = detail::check_attention_inputs(query, key, value, options);
  const std::size_t b = query.shape[0], h_q = query.shape[1], n_q = query.shape[2], n_k = key.shape[2],
                    d_v = value.shape[3];
  check_shape(grad_output, "grad_output", {b, h_q, n_q, d_v});
  check_finite(grad_output, "grad_output");
  check_shape(state.output, "state.output (the forward's output)", {b, h_q, n_q, d_v});
  check_shape(state.lse, "state.lse (the forward's log-sum-exp)", {b, h_q, n_q});
  if (dropout_on(options) && !state.dropout_generator)
    throw Error(
        "dropout is on but state.dropout_generator is empty; expected the state attention_forward returned for these "
        "options");
  std::optional<detail::PreparedMask> mask;
  if (options.attn_mask) mask = detail::prepare_mask(*options.attn_mask, b, h_q, n_q, n_k);
  const detail::AttentionProblem problem = problem_of(query, key, value, scale, options, mask ? &*mask : nullptr);

  // The forward's dropout mask, drawn again from its generator state in its order (Generator::dropout_ over the
  // (b, h_q, n_q, n_k) weights in memory order): one byte per weight.
  std::vector<unsigned char> keep;
  float dropout_scale = 1.0f;
  if (dropout_on(options)) {
    Generator generator = *state.dropout_generator;
    std::vector<float> ones(checked_numel({b, h_q, n_q, n_k}), 1.0f);
    generator.dropout_(ones.data(), ones.size(), options.dropout);
    dropout_scale = static_cast<float>(1.0f / static_cast<float>(1.0 - options.dropout));
    keep.resize(ones.size());
    for (std::size_t e = 0; e < ones.size(); ++e) keep[e] = ones[e] != 0.0f;
  }

  AttentionGrad grad{Tensor(query.shape), Tensor(key.shape), Tensor(value.shape)};
  const detail::BackwardProblem g{
      &problem,      state.output.ptr(), grad_output.ptr(), state.lse.ptr(), keep.empty() ? nullptr : keep.data(),
      dropout_scale, grad.query.ptr(),   grad.key.ptr(),    grad.value.ptr()};
  detail::attention_backward_tiled(g);
  return grad;
}

}  // namespace attnkit
