// attnkit — Module::forward with keys and values from other inputs (cross-attention), masks, grouped-query
// projections or averaged weights: project queries from x, keys and values from kv (each with its own weight),
// then the attention op (core/src/attention_op.cpp: the fused path skips masked tiles; the explain path returns
// weights), then out_proj. nn.MultiheadAttention's conventions; a query row with no key left gives zeros.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "attnkit/attention_grad.hpp"
#include "module_grad.hpp"
#include "module_internal.hpp"
#include "ops.hpp"
#include "overflow.hpp"

namespace attnkit {
namespace {

std::string n(std::size_t v) { return std::to_string(v); }

// (b, n, features) of x or kv; the same rank as x.
struct Operand {
  const Tensor* t;
  std::size_t tokens, features;
};

Operand operand(const Tensor& t, const char* name, bool batched, std::size_t batch, std::size_t expected_features,
                const char* features_name) {
  const std::size_t rank = batched ? 3 : 2;
  if (t.rank() != rank)
    throw Error(std::string(name) + " must have rank " + n(rank) + " like x, " + (batched ? "(b, n_k, " : "(n_k, ") +
                features_name + "); got rank " + n(t.rank()) + " shape " + shape_to_string(t.shape));
  if (batched && t.shape[0] != batch)
    throw Error(std::string(name) + " has batch " + n(t.shape[0]) + " (shape " + shape_to_string(t.shape) +
                "); expected x's batch " + n(batch));
  const Operand o{&t, t.shape[rank - 2], t.shape[rank - 1]};
  if (o.tokens == 0) throw Error(std::string(name) + " has 0 tokens; expected at least 1", ErrorKind::range);
  if (expected_features && o.features != expected_features)
    throw Error(std::string(name) + " has " + n(o.features) + " features (shape " + shape_to_string(t.shape) +
                "); expected " + features_name + " " + n(expected_features));
  check_finite(t, name);
  return o;
}

// y (rows, out) = x·wᵀ + bias, screened for overflow where produced (core/src/overflow.hpp).
std::vector<float> project(const float* x, std::size_t rows, std::size_t in, const float* w, const float* bias,
                           std::size_t out, std::size_t tokens, detail::Projection kind, std::size_t threads) {
  std::vector<float> y(checked_numel({rows, out}));
  if (detail::linear(x, rows, in, w, bias, out, y.data(), threads))
    detail::screen_projection(y.data(), rows, tokens, out, kind);
  return y;
}

// Head h of a (B, H, Q, n_k) op mask as (B, 1, Q, n_k) (the wrapper runs its heads one at a time).
AttentionMask head_of(const AttentionMask& m, std::size_t h) {
  if (m.shape[1] == 1) return m;
  const std::size_t B = m.shape[0], H = m.shape[1], plane = m.shape[2] * m.shape[3];
  AttentionMask out{m.kind, Shape{B, 1, m.shape[2], m.shape[3]}, std::vector<float>(B * plane)};
  for (std::size_t b = 0; b < B; ++b)
    std::copy(m.values.begin() + (b * H + h) * plane, m.values.begin() + (b * H + h + 1) * plane,
              out.values.begin() + b * plane);
  return out;
}

}  // namespace

ForwardResult Module::forward_general(const Tensor& x, const ForwardInputs& in, const ForwardOptions& options) {
  tape_.reset();  // a backward belongs to the latest forward only
  const Config& c = config_;
  const bool simplified = c.mechanism == Mechanism::simplified;
  if (x.rank() != 2 && x.rank() != 3)
    throw Error("x must have shape (batch, tokens, d_in) or (tokens, d_in); got rank " + n(x.rank()) + " shape " +
                shape_to_string(x.shape));
  const bool batched = x.rank() == 3;
  const std::size_t b = batched ? x.shape[0] : 1, n_q = x.shape[batched ? 1 : 0], d_in = x.shape[batched ? 2 : 1];
  if (b == 0) throw Error("x has batch size 0; expected at least 1", ErrorKind::range);
  if (n_q == 0) throw Error("x has 0 tokens; expected at least 1", ErrorKind::range);
  if (d_in == 0) throw Error("x has d_in 0; expected at least 1", ErrorKind::range);
  if (c.d_in != 0 && d_in != c.d_in)
    throw Error("x has d_in " + n(d_in) + " (shape " + shape_to_string(x.shape) + "); expected d_in " + n(c.d_in));
  check_finite(x, "x");
  // Without kv, keys and values come from x, which W_key and W_value must then be able to read.
  if (!in.kv && !simplified && key_dim() != d_in)
    throw Error("W_key reads k_dim " + n(key_dim()) + " features but no kv was given; expected kv (b, n_k, " +
                n(key_dim()) + ")");
  if (!in.kv && !in.value_input && !simplified && value_dim() != d_in)
    throw Error("W_value reads v_dim " + n(value_dim()) + " features but no kv was given; expected kv (b, n_k, " +
                n(value_dim()) + ")");
  const Operand query_in{&x, n_q, d_in};
  const Operand key_in =
      in.kv ? operand(*in.kv, "kv", batched, b, simplified ? d_in : key_dim(), simplified ? "d_in" : "k_dim")
            : query_in;
  const Tensor* value_tensor = in.value_input ? in.value_input : key_in.t;
  const std::size_t value_features = simplified ? 0 : value_dim();
  const Operand value_in = in.value_input || (in.kv && value_features != key_in.features)
                               ? operand(*value_tensor, in.value_input ? "value_input" : "kv", batched, b,
                                         value_features, simplified ? "features" : "v_dim")
                               : key_in;
  if (value_in.tokens != key_in.tokens)
    throw Error("value_input has " + n(value_in.tokens) + " tokens but kv has " + n(key_in.tokens) + "; expected " +
                n(key_in.tokens));
  const std::size_t n_k = key_in.tokens;
  if (c.context_length != 0 && std::max(n_q, n_k) > c.context_length)
    throw Error("x has " + n(n_q) + " and kv " + n(n_k) + " tokens but context_length is " + n(c.context_length) +
                    "; expected at most " + n(c.context_length) + " tokens",
                ErrorKind::range);

  const std::size_t H = num_heads_, hd = simplified ? d_in : head_dim_, D = H * hd, H_kv = simplified ? 1 : kv_heads(),
                    D_kv = H_kv * hd;
  const std::optional<AttentionMask> mask =
      module_attention_mask(in.key_padding_mask, in.attn_mask, b, H, n_q, n_k, batched);
  const bool dropout_on = options.train && c.dropout > 0.0;
  const bool weights_wanted = options.return_weights || options.intermediates;
  if (weights_wanted || dropout_on)
    checked_numel({b, H, n_q, n_k});  // the explain path holds them; refuse before any work
  ForwardResult r;

  // Step 1 — queries (b·n_q, D) from x, keys and values (b·n_k, D_kv) from kv: three GEMMs, as nn.Linear.
  std::vector<float> queries, keys, values;
  detail::HeadsView query{x.ptr(), d_in, 0}, key{key_in.t->ptr(), key_in.features, 0},
      value{value_in.t->ptr(), value_in.features, 0};
  if (!simplified) {
    const float* bias = qkv_bias_.empty() ? nullptr : qkv_bias_.data();
    const float* w_key = qkv_weight_.data() + D * d_in;
    const float* w_value = w_key + D_kv * key_in.features;
    queries =
        project(x.ptr(), b * n_q, d_in, qkv_weight_.data(), bias, D, n_q, detail::Projection::query, options.threads);
    keys = project(key_in.t->ptr(), b * n_k, key_in.features, w_key, bias ? bias + D : nullptr, D_kv, n_k,
                   detail::Projection::key, options.threads);
    values = project(value_in.t->ptr(), b * n_k, value_in.features, w_value, bias ? bias + D + D_kv : nullptr, D_kv,
                     n_k, detail::Projection::value, options.threads);
    query = {queries.data(), D, 0};
    key = {keys.data(), D_kv, 0};
    value = {values.data(), D_kv, 0};
  }
  const std::size_t value_hd = simplified ? value_in.features : hd;  // simplified: values are the value input itself

  // Step 2 — the attention op per head: (b, H, n_q, hd) against (b, H_kv, n_k, hd). The book's causal modules
  // align the mask lower-right when n_q ≠ n_k (the last query sees every key, as when decoding); the same
  // mask as upper-left when n_q = n_k.
  AttentionOptions o;
  o.scale = simplified ? 1.0 : 1.0 / std::sqrt(static_cast<double>(hd));
  o.causal = !causal_ ? CausalAlign::none : n_q == n_k ? CausalAlign::upper_left : CausalAlign::lower_right;
  o.dropout = c.dropout;
  o.train = options.train;
  o.generator = &generator_;  // dropout continues the parameters' generator, as Module::forward
  o.weights = weights_wanted || dropout_on ? AttentionWeights::per_head : AttentionWeights::none;
  o.threads = options.threads;
  // The wrapper's heads are separate CausalAttention modules: run one at a time, so dropout draws head 0's
  // (b, n_q, n_k) first as PyTorch does.
  const bool one_at_a_time = c.mechanism == Mechanism::multihead_wrapper;
  Tensor context_heads({b, n_q, H * value_hd}), weights;  // (b, n_q, H·hd), (b, H, n_q, n_k)
  if (o.weights == AttentionWeights::per_head && one_at_a_time) weights = Tensor({b, H, n_q, n_k});  // else: the op's
  const std::size_t passes = one_at_a_time ? H : 1, heads_per_pass = H / passes, kv_per_pass = one_at_a_time ? 1 : H_kv;
  Tensor split_query, split_key, split_value;
  GradTape tape;  // filled only with grad
  for (std::size_t pass = 0; pass < passes; ++pass) {
    const detail::HeadsView qv{query.data, query.ld, query.col + pass * heads_per_pass * hd};
    const detail::HeadsView kv{key.data, key.ld, key.col + pass * kv_per_pass * hd};
    const detail::HeadsView vv{value.data, value.ld, value.col + pass * kv_per_pass * value_hd};
    split_query = detail::split_heads(qv, b, n_q, heads_per_pass, hd);
    split_key = detail::split_heads(kv, b, n_k, kv_per_pass, hd);
    split_value = detail::split_heads(vv, b, n_k, kv_per_pass, value_hd);
    std::optional<AttentionMask> pass_mask;
    if (mask) pass_mask = one_at_a_time ? head_of(*mask, pass) : *mask;
    o.attn_mask = pass_mask ? &*pass_mask : nullptr;
    // output (b, heads_per_pass, n_q, value_hd); with grad the op keeps its state for the backward pass.
    AttentionResult a;
    AttentionForwardState state;
    if (options.grad) {
      AttentionForward f = attention_forward(split_query, split_key, split_value, o);
      state = std::move(f.state);
      a.weights = std::move(f.weights);
    } else {
      a = attention(split_query, split_key, split_value, o);
    }
    const Tensor& output = options.grad ? state.output : a.output;
    for (std::size_t bi = 0; bi < b; ++bi)
      for (std::size_t h = 0; h < heads_per_pass; ++h) {
        const std::size_t head = pass * heads_per_pass + h;
        for (std::size_t i = 0; i < n_q; ++i)
          std::copy_n(output.ptr() + ((bi * heads_per_pass + h) * n_q + i) * value_hd, value_hd,
                      context_heads.ptr() + (bi * n_q + i) * H * value_hd + head * value_hd);
        if (one_at_a_time && !weights.empty())
          std::copy_n(a.weights.ptr() + (bi * heads_per_pass + h) * n_q * n_k, n_q * n_k,
                      weights.ptr() + (bi * H + head) * n_q * n_k);
      }
    if (!one_at_a_time && o.weights == AttentionWeights::per_head) weights = std::move(a.weights);  // (b, H, n_q, n_k)
    if (options.grad)
      tape.passes.push_back({std::move(split_query), std::move(split_key), std::move(split_value), std::move(pass_mask),
                             std::move(state)});
  }
  if (options.intermediates) {
    r.intermediates.emplace_back("queries", detail::split_heads(query, b, n_q, H, hd));
    r.intermediates.emplace_back("keys", detail::split_heads(key, b, n_k, H_kv, hd));
    r.intermediates.emplace_back("values", detail::split_heads(value, b, n_k, H_kv, value_hd));
    r.intermediates.emplace_back("weights", weights);
  }

  // Step 3 — multihead combines the heads with out_proj.                                      (b, n_q, d_out)
  if (options.grad && c.mechanism == Mechanism::multihead) tape.context_heads = context_heads.data;
  if (c.mechanism == Mechanism::multihead) {
    if (options.intermediates) r.intermediates.emplace_back("context_before_out_proj", context_heads);
    r.context = Tensor({b, n_q, c.d_out});
    if (detail::linear(context_heads.ptr(), b * n_q, D, params_[out_proj_weight_].second.ptr(),
                       params_[out_proj_bias_].second.ptr(), c.d_out, r.context.ptr(), options.threads,
                       packed_->out_proj.get()))
      detail::screen_projection(r.context.ptr(), b * n_q, n_q, c.d_out, detail::Projection::out_proj);
  } else {
    r.context = std::move(context_heads);
  }
  if (options.intermediates) r.intermediates.emplace_back("context", r.context);
  if (options.return_weights && options.average_weights) {
    // Mean over heads, summed in head order (nn.MultiheadAttention's average_attn_weights).
    r.weights = Tensor({b, n_q, n_k});
    std::vector<double> sum(n_q * n_k);
    for (std::size_t bi = 0; bi < b; ++bi) {
      std::fill(sum.begin(), sum.end(), 0.0);
      for (std::size_t h = 0; h < H; ++h)
        for (std::size_t e = 0; e < sum.size(); ++e) sum[e] += weights.data[(bi * H + h) * sum.size() + e];
      for (std::size_t e = 0; e < sum.size(); ++e)
        r.weights.data[bi * sum.size() + e] = static_cast<float>(sum[e] / double(H));
    }
  } else if (options.return_weights) {
    r.weights = std::move(weights);
  }
  if (!batched) {
    for (Tensor* t : {&r.context, &r.weights})
      if (!t->shape.empty()) t->shape.erase(t->shape.begin());
    for (auto& [name, t] : r.intermediates) t.shape.erase(t.shape.begin());
  }
  if (options.grad) {
    using Source = GradTape::Source;
    tape.batched = batched;
    tape.batch = b;
    tape.n_q = n_q;
    tape.n_k = n_k;
    tape.d_in = d_in;
    tape.key_features = key_in.features;
    tape.value_features = value_in.features;
    tape.heads = H;
    tape.kv_heads = H_kv;
    tape.head_dim = hd;
    tape.value_head_dim = value_hd;
    tape.heads_per_pass = heads_per_pass;
    tape.kv_per_pass = kv_per_pass;
    tape.threads = options.threads;
    tape.key_from = in.kv ? Source::kv : Source::x;
    tape.value_from = in.value_input ? Source::value_input : tape.key_from;
    tape.context_shape = r.context.shape;
    tape.x = x;
    if (in.kv) tape.kv = *in.kv;
    if (in.value_input) tape.value_input = *in.value_input;
    tape.options = o;
    tape.options.attn_mask = nullptr;
    tape.options.generator = nullptr;
    tape.options.weights = AttentionWeights::none;
    tape_ = std::make_shared<GradTape>(std::move(tape));
  }
  return r;
}

}  // namespace attnkit
