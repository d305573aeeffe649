// attnkit — Model::memory_bytes (attnkit/model.hpp): the tiny model's peak heap, from its config alone, in the
// terms of what model.cpp and model_forward.cpp allocate. Saturating arithmetic: a config too large to count gives
// SIZE_MAX, never a wrapped small number.
#include <algorithm>

#include "attnkit/model.hpp"
#include "model_internal.hpp"
#include "saturating.hpp"

namespace attnkit {
namespace {

using namespace detail::saturating;  // add, mul, sum
constexpr std::size_t F = sizeof(float);
// Bookkeeping no formula above counts: names, optimizer slots, the kernels' per-thread scratch, the pool.
constexpr std::size_t kFixedBytes = std::size_t(1) << 20;

}  // namespace

std::size_t Model::memory_bytes(const ModelConfig& config) {
  const ModelConfig c = detail::resolve_model_config(config);
  const Config attention = detail::model_attention_config(c);
  const std::size_t d = c.d_model, n = c.tokens, V = c.vocab;
  // Parameters (floats): the embeddings and the read-out, then the attention layer's q, k, v, out_proj (+ bias).
  const std::size_t other = sum({mul(mul(2, V), d), mul(n, d), V});
  const std::size_t layer = add(mul(mul(4, d), d), d);
  const std::size_t P = mul(F, add(other, layer)), Pa = mul(F, layer);
  std::size_t module_kept = 0;
  const std::size_t module_build = Module::parameter_bytes(attention, &module_kept);

  // Held for the model's life: params_, the layer (its kept parameters), the evaluation set's three int vectors,
  // the optimizer's two moments (AdamW; SGD keeps one).
  const std::size_t held =
      sum({P, module_kept, mul(mul(3 * sizeof(std::int32_t), c.eval_batch), n), mul(2, P), mul(3 * 8, n)});

  // One forward over `b` sequences: the batch (and its copy kept for backward), the embeddings, the layer's forward
  // (and with grad its saved inputs, queries, keys and values: 4 widths), context, hidden, logits, ∂logits.
  const auto forward = [&](std::size_t b, bool grad) {
    ForwardOptions o;
    o.grad = grad;
    const std::size_t rows = mul(b, n);
    const std::size_t ints = mul(mul(3 * sizeof(std::int32_t), rows), grad ? 2 : 1);
    const std::size_t widths = sum({d, grad ? mul(4, d) : 0, d, d, mul(2, V)});
    return sum({ints, mul(mul(F, rows), widths), Module::forward_bytes(attention, {b, n, d}, o)});
  };
  // backward: ∂hidden, Wᵀ, ∂logitsᵀ, hiddenᵀ; the layer's backward (∂heads, ∂q, ∂k, ∂v, ∂output, three ∂inputs,
  // a transposed ∂y: ten widths, and its weight gradients twice); the gradients' state_dict.
  const std::size_t rows = mul(c.batch, n);
  const std::size_t backward = sum({mul(mul(F, rows), sum({d, V, d, mul(10, d)})), mul(mul(F, V), d), mul(2, Pa), P});
  // The optimizer's step: a copy of the parameters and the gradients, load_state_dict's next copy, the layer's part
  // and the layer's rebuild.
  const std::size_t update = sum({P, P, P, Pa, module_build});
  const std::size_t step = std::max(add(forward(c.batch, true), backward), update);
  // evaluate() (no grad) and probe_weights() (one sequence, the (1, h, n, n) weights).
  ForwardOptions weights;
  weights.return_weights = true;
  const std::size_t probe = add(mul(mul(F, n), d), Module::forward_bytes(attention, {1, n, d}, weights));
  const std::size_t build = sum({P, Pa, module_build, mul(mul(3 * sizeof(std::int32_t), c.eval_batch), n)});
  return add(kFixedBytes, std::max(build, add(held, std::max({step, forward(c.eval_batch, false), probe}))));
}

}  // namespace attnkit
