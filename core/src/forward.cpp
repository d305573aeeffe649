// attnkit — Module::forward: queries, keys and values in one GEMM, attention per head (the explain path
// that keeps every step, or the fused fast path), then out_proj for multihead.
#include <cstring>
#include <vector>
#include <optional>
#include <string>

#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "module_internal.hpp"
#include "ops.hpp"
#include "overflow.hpp"
#include "scratch.hpp"

namespace attnkit {
namespace {

using detail::Scratch;
using detail::split_heads;

// Unbatched input gives unbatched outputs, as PyTorch does.
void drop_batch(Tensor& t) {
  if (!t.shape.empty()) t.shape.erase(t.shape.begin());
}

}  // namespace

namespace detail {

Tensor split_heads(const HeadsView& v, std::size_t b, std::size_t n, std::size_t H, std::size_t hd) {
  Tensor t({b, H, n, hd});
  for (std::size_t bi = 0; bi < b; ++bi)
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t i = 0; i < n; ++i)
        std::memcpy(t.ptr() + ((bi * H + h) * n + i) * hd, v.data + (bi * n + i) * v.ld + v.col + h * hd,
                    hd * sizeof(float));
  return t;
}

}  // namespace detail

const Tensor* ForwardResult::intermediate(const std::string& name) const {
  for (const auto& [key, value] : intermediates)
    if (key == name) return &value;
  return nullptr;
}

ForwardResult Module::forward(const Tensor& x, const ForwardInputs& inputs, const ForwardOptions& options) {
  if (!inputs.kv && !inputs.value_input && !inputs.key_padding_mask && !inputs.attn_mask) return forward(x, options);
  // A padded batch (self-attention, boolean key_padding_mask, padding at the end of each sequence) on the fused
  // path keeps the one-GEMM route: each sequence's attention just stops at its last real key.
  if (!inputs.kv && !inputs.value_input && !inputs.attn_mask && stacked_projections() && !options.average_weights &&
      !options.return_weights && !options.intermediates && !options.grad && !(options.train && config_.dropout > 0.0)) {
    const std::optional<std::vector<std::size_t>> lengths = detail::padding_lengths(*inputs.key_padding_mask, x.shape);
    if (lengths) return forward_stacked(x, options, lengths->data());
  }
  return forward_general(x, inputs, options);
}

ForwardResult Module::forward(const Tensor& x, const ForwardOptions& options) {
  // Separate projections (grouped-query, cross-attention widths), averaged weights and gradient mode take the op's
  // route.
  if (!stacked_projections() || options.average_weights || options.grad)
    return forward_general(x, ForwardInputs{}, options);
  // A small call computes straight into its result (forward_small), without forward_stacked's set-up per step.
  if ((x.rank() == 2 || x.rank() == 3) && x.numel() <= Scratch::kReused && small_route(options)) {
    const bool batched = x.rank() == 3;
    const std::size_t b = batched ? x.shape[0] : 1, n = x.shape[batched ? 1 : 0], d_in = x.shape[batched ? 2 : 1];
    const std::size_t D = config_.mechanism == Mechanism::simplified ? d_in : d_out_total(), rows = b * n;
    if (rows != 0 && D <= Scratch::kReused / rows) {  // the context is small too
      ForwardResult r;
      r.context = batched ? Tensor({b, n, D}) : Tensor({n, D});
      if (forward_small(x.ptr(), b, n, d_in, options, r.context.ptr())) return r;
    }
  }
  return forward_stacked(x, options, nullptr);
}

ForwardResult Module::forward_stacked(const Tensor& x, const ForwardOptions& options, const std::size_t* key_lengths) {
  tape_.reset();  // a backward belongs to the latest forward only
  const Config& c = config_;
  if (x.rank() != 2 && x.rank() != 3)
    throw Error("x must have shape (batch, tokens, d_in) or (tokens, d_in); got rank " + std::to_string(x.rank()) +
                " shape " + shape_to_string(x.shape));
  const bool batched = x.rank() == 3;
  const std::size_t b = batched ? x.shape[0] : 1, n = x.shape[batched ? 1 : 0], d_in = x.shape[batched ? 2 : 1];
  if (b == 0) throw Error("x has batch size 0; expected at least 1", ErrorKind::range);
  if (n == 0) throw Error("x has 0 tokens; expected at least 1", ErrorKind::range);
  if (d_in == 0) throw Error("x has d_in 0; expected at least 1", ErrorKind::range);
  if (c.d_in != 0 && d_in != c.d_in)
    throw Error("x has d_in " + std::to_string(d_in) + " (shape " + shape_to_string(x.shape) + "); expected d_in " +
                std::to_string(c.d_in));
  if (c.context_length != 0 && n > c.context_length)
    throw Error("x has " + std::to_string(n) + " tokens but context_length is " + std::to_string(c.context_length) +
                    "; expected at most " + std::to_string(c.context_length) + " tokens",
                ErrorKind::range);
  // x is screened where its projection is (below): a NaN or ±Inf in a row of x makes every element of that row's
  // projection non-finite (a product with it is NaN or ±Inf, and a sum holding one stays non-finite), so the kernel's
  // flag finds it and x is searched only then, to name the element. Scanning x up front was a serial pass over the
  // whole input on every call (C3: 4 MB).
  if (c.mechanism == Mechanism::simplified) check_finite(x, "x");

  const std::size_t H = num_heads_, hd = c.mechanism == Mechanism::simplified ? d_in : head_dim_, D = H * hd,
                    rows = b * n;
  const bool dropout_on = options.train && c.dropout > 0.0;
  // The explain path keeps every step (or draws dropout over the weights); weights alone come from the fused kernel's
  // own tiles (core/src/kernels/attention_weights.hpp).
  const bool explain = options.intermediates || dropout_on;
  if (explain || options.return_weights) checked_numel({b, H, n, n});  // (b, h, n, n): refuse it before any work
  ForwardResult r;

  // Step 1 — queries, keys, values: x·Wᵀ (+ b) in one GEMM over the stacked weights.          (b·n, 3·D)
  std::optional<Scratch> qkv;
  detail::HeadsView query{x.ptr(), d_in, 0}, key = query, value = query;  // simplified: q = k = v = x
  if (c.mechanism != Mechanism::simplified) {
    qkv.emplace(std::initializer_list<std::size_t>{rows, 3 * D}, 0);
    // Screened where produced (core/src/overflow.hpp): a projection that left float32 has no answer to give. The
    // kernel notes a non-finite element as it stores it; the screen then finds it and names it.
    if (detail::linear(x.ptr(), rows, d_in, qkv_weight_.data(), qkv_bias_.empty() ? nullptr : qkv_bias_.data(), 3 * D,
                       qkv->get(), options.threads, packed_->qkv.get())) {
      check_finite(x, "x");
      detail::screen_projection(
          qkv->get(), rows, n, 3 * D,
          c.mechanism == Mechanism::self_v1 ? detail::Projection::qkv_v1 : detail::Projection::qkv);
    }
    query = {qkv->get(), 3 * D, 0};
    key = {qkv->get(), 3 * D, D};
    value = {qkv->get(), 3 * D, 2 * D};
  }
  if (options.intermediates) {
    r.intermediates.emplace_back("queries", split_heads(query, b, n, H, hd));
    r.intermediates.emplace_back("keys", split_heads(key, b, n, H, hd));
    r.intermediates.emplace_back("values", split_heads(value, b, n, H, hd));
  }

  // Step 2 — attention per head: softmax(q·kᵀ / √d_k [+ mask]) [dropout] · v.                  (b, n, D)
  const detail::Sdpa sdpa{
      query,           key,        value, b, n, H, hd, causal_, c.mechanism != Mechanism::simplified, c.causal_route,
      options.threads, key_lengths};
  // Multihead's context only feeds out_proj: a scratch buffer. Otherwise it is the result.
  const bool multihead = c.mechanism == Mechanism::multihead;
  Tensor context;
  std::optional<Scratch> context_scratch;
  if (multihead) context_scratch.emplace(std::initializer_list<std::size_t>{b, n, D}, 1);
  else context = Tensor({b, n, D});
  float* const context_ptr = multihead ? context_scratch->get() : context.ptr();
  if (explain) {
    detail::SdpaSteps steps;
    const auto order = c.mechanism == Mechanism::multihead_wrapper ? detail::DropoutOrder::head_major
                                                                   : detail::DropoutOrder::batch_major;
    detail::sdpa_explain(sdpa, options.intermediates, dropout_on ? &generator_ : nullptr, c.dropout, order, steps,
                         context_ptr);
    if (options.intermediates) {  // moved, not copied: only the weights are returned twice
      for (auto* step : {&steps.scores, &steps.scaled_scores, &steps.masked_scores, &steps.unmasked_weights}) {
        static const char* const names[] = {"scores", "scaled_scores", "masked_scores", "unmasked_weights"};
        if (!step->empty()) r.intermediates.emplace_back(names[step - &steps.scores], std::move(*step));
      }
      r.intermediates.emplace_back("weights", options.return_weights ? steps.weights : std::move(steps.weights));
      if (!steps.weights_after_dropout.empty())
        r.intermediates.emplace_back("weights_after_dropout", std::move(steps.weights_after_dropout));
    }
    if (options.return_weights) r.weights = std::move(steps.weights);
  } else if (options.return_weights) {
    r.weights = Tensor({b, H, n, n});
    detail::sdpa_fast(sdpa, context_ptr, r.weights.ptr());
  } else {
    detail::sdpa_fast(sdpa, context_ptr);
  }

  // Step 3 — multihead combines the heads with out_proj.                                      (b, n, d_out)
  if (multihead) {
    if (options.intermediates)
      r.intermediates.emplace_back("context_before_out_proj",
                                   Tensor({b, n, D}, std::vector<float>(context_ptr, context_ptr + b * n * D)));
    Tensor out({b, n, c.d_out});
    if (detail::linear(context_ptr, rows, D, params_[out_proj_weight_].second.ptr(),
                       params_[out_proj_bias_].second.ptr(), c.d_out, out.ptr(), options.threads,
                       packed_->out_proj.get()))
      detail::screen_projection(out.ptr(), rows, n, c.d_out, detail::Projection::out_proj);
    context = std::move(out);
  }
  r.context = std::move(context);
  if (options.intermediates) r.intermediates.emplace_back("context", r.context);

  if (!batched) {
    drop_batch(r.context);
    drop_batch(r.weights);
    for (auto& [name, t] : r.intermediates) drop_batch(t);
  }
  return r;
}

}  // namespace attnkit
