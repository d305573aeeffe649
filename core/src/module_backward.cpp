// attnkit — Module::backward: the chain rule through the forward of forward_inputs.cpp, from the state a forward
// with ForwardOptions::grad kept (module_grad.hpp). For a loss L = Σ grad_context ⊙ context:
//
//   out_proj (multihead)  context = C·W_oᵀ + b_o      dW_o = dcontextᵀ·C   db_o = Σ_rows dcontext   dC = dcontext·W_o
//   attention per pass    the op's backward (attention_backward.cpp): dquery, dkey, dvalue per head
//   projections           q = x·W_qᵀ + b_q            dW_q = dqᵀ·x         db_q = Σ_rows dq          dx = dq·W_q
//                         (keys from kv, values from value_input, or both from x: their input gradients add up)
//
// Each matrix product runs on detail::linear, whose kernels give the same bits for any row split, and every sum
// (bias rows, input gradients from several projections) runs in one fixed order: the same bits for any thread count.
#include <algorithm>
#include <string>
#include <vector>

#include "attnkit/attention_grad.hpp"
#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "module_grad.hpp"
#include "module_internal.hpp"
#include "ops.hpp"

namespace attnkit {
namespace {

// (cols, rows) = (rows, cols)ᵀ
std::vector<float> transpose(const float* a, std::size_t rows, std::size_t cols) {
  std::vector<float> t(rows * cols);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = a[r * cols + c];
  return t;
}

// Gradients of y (rows, out) = x (rows, in) · wᵀ (+ bias): dx (rows, in) = dy·w (when dx is not null),
// dw (out, in) = dyᵀ·x, db (out) = Σ_rows dy (when db is not null, summed in row order in double).
void linear_backward(const float* x, std::size_t rows, std::size_t in, const float* w, std::size_t out, const float* dy,
                     float* dx, float* dw, float* db, std::size_t threads) {
  const std::vector<float> dy_t = transpose(dy, rows, out);  // (out, rows)
  if (dx) detail::linear(dy, rows, out, transpose(w, out, in).data(), nullptr, in, dx, threads);
  detail::linear(dy_t.data(), out, rows, transpose(x, rows, in).data(), nullptr, in, dw, threads);
  if (db)
    for (std::size_t o = 0; o < out; ++o) {
      double sum = 0.0;
      for (std::size_t r = 0; r < rows; ++r) sum += dy_t[o * rows + r];
      db[o] = static_cast<float>(sum);
    }
}

void add_to(std::vector<float>& sum, const std::vector<float>& term) {
  for (std::size_t e = 0; e < sum.size(); ++e) sum[e] += term[e];
}

}  // namespace

ModuleGrad Module::backward(const Tensor& grad_context) {
  if (!tape_)
    throw Error(
        "backward needs a forward with ForwardOptions::grad = true before it (none since the last backward, "
        "forward without grad or load_state_dict); expected forward(x, {grad = true}) first");
  const GradTape& t = *tape_;
  if (grad_context.shape != t.context_shape)
    throw Error("grad_context has shape " + shape_to_string(grad_context.shape) + "; expected the context's shape " +
                shape_to_string(t.context_shape));
  check_finite(grad_context, "grad_context");
  const std::shared_ptr<GradTape> keep = std::move(tape_);  // one backward per forward

  const Config& c = config_;
  const bool simplified = c.mechanism == Mechanism::simplified, multihead = c.mechanism == Mechanism::multihead;
  const std::size_t b = t.batch, n_q = t.n_q, n_k = t.n_k, H = t.heads, hd = t.head_dim, vhd = t.value_head_dim;
  const std::size_t D = H * hd, D_kv = t.kv_heads * hd, D_v = t.kv_heads * vhd, rows_q = b * n_q, rows_k = b * n_k;
  ModuleGrad g;
  StateDict grads;  // filled below, returned in state_dict() order

  // Step 3 back — out_proj: the gradient of the heads' context (b·n_q, H·vhd).
  std::vector<float> d_heads;
  if (multihead) {
    const Tensor& w_out = params_[out_proj_weight_].second;  // (d_out, D)
    Tensor dw(w_out.shape), db(params_[out_proj_bias_].second.shape);
    d_heads.resize(rows_q * D);
    linear_backward(t.context_heads.data(), rows_q, D, w_out.ptr(), c.d_out, grad_context.ptr(), d_heads.data(),
                    dw.ptr(), db.ptr(), t.threads);
    grads.emplace_back("out_proj.weight", std::move(dw));
    grads.emplace_back("out_proj.bias", std::move(db));
  } else {
    d_heads = grad_context.data;
  }

  // Step 2 back — the op per pass; its gradients land in the heads' columns of the projections.
  std::vector<float> d_queries(rows_q * D), d_keys(rows_k * D_kv), d_values(rows_k * D_v);  // (b·n, ·)
  const std::size_t hp = t.heads_per_pass, kvp = t.kv_per_pass;
  for (std::size_t pass = 0; pass < t.passes.size(); ++pass) {
    const GradTape::Pass& p = t.passes[pass];
    Tensor d_output({b, hp, n_q, vhd});
    for (std::size_t bi = 0; bi < b; ++bi)
      for (std::size_t h = 0; h < hp; ++h)
        for (std::size_t i = 0; i < n_q; ++i)
          std::copy_n(d_heads.data() + (bi * n_q + i) * H * vhd + (pass * hp + h) * vhd, vhd,
                      d_output.ptr() + ((bi * hp + h) * n_q + i) * vhd);
    AttentionOptions o = t.options;
    o.attn_mask = p.mask ? &*p.mask : nullptr;
    const AttentionGrad a = attention_backward(p.query, p.key, p.value, d_output, o, p.state);
    for (std::size_t bi = 0; bi < b; ++bi) {
      for (std::size_t h = 0; h < hp; ++h)
        for (std::size_t i = 0; i < n_q; ++i)
          std::copy_n(a.query.ptr() + ((bi * hp + h) * n_q + i) * hd, hd,
                      d_queries.data() + (bi * n_q + i) * D + (pass * hp + h) * hd);
      for (std::size_t h = 0; h < kvp; ++h)
        for (std::size_t j = 0; j < n_k; ++j) {
          std::copy_n(a.key.ptr() + ((bi * kvp + h) * n_k + j) * hd, hd,
                      d_keys.data() + (bi * n_k + j) * D_kv + (pass * kvp + h) * hd);
          std::copy_n(a.value.ptr() + ((bi * kvp + h) * n_k + j) * vhd, vhd,
                      d_values.data() + (bi * n_k + j) * D_v + (pass * kvp + h) * vhd);
        }
    }
  }

  // Step 1 back — the projections (simplified has none: queries, keys and values are its inputs).
  std::vector<float> dx_query, dx_key, dx_value;  // gradients of the three projections' inputs
  std::vector<float> dw[3], db[3];                // stacked layout of pack_parameters.cpp: rows D, D_kv, D_kv
  if (simplified) {
    dx_query = std::move(d_queries);
    dx_key = std::move(d_keys);
    dx_value = std::move(d_values);
  } else {
    const auto source = [&t](GradTape::Source from) {
      return from == GradTape::Source::x ? &t.x : from == GradTape::Source::kv ? &t.kv : &t.value_input;
    };
    const Tensor* inputs[3] = {&t.x, source(t.key_from), source(t.value_from)};
    const std::size_t width[3] = {t.d_in, t.key_features, t.value_features}, outs[3] = {D, D_kv, D_kv},
                      rows[3] = {rows_q, rows_k, rows_k};
    const std::vector<float>* dys[3] = {&d_queries, &d_keys, &d_values};
    std::vector<float>* dxs[3] = {&dx_query, &dx_key, &dx_value};
    std::size_t weight_at = 0;
    for (std::size_t which = 0; which < 3; ++which) {
      dxs[which]->resize(rows[which] * width[which]);
      dw[which].resize(outs[which] * width[which]);
      if (c.qkv_bias) db[which].resize(outs[which]);
      linear_backward(inputs[which]->ptr(), rows[which], width[which], qkv_weight_.data() + weight_at, outs[which],
                      dys[which]->data(), dxs[which]->data(), dw[which].data(), c.qkv_bias ? db[which].data() : nullptr,
                      t.threads);
      weight_at += outs[which] * width[which];
    }
  }

  // The inputs' gradients: a projection whose input was x adds to x's, in the order query, key, value.
  const Shape x_shape = t.x.shape;
  g.input = Tensor(x_shape, std::move(dx_query));
  if (t.key_from == GradTape::Source::x) add_to(g.input.data, dx_key);
  else g.kv = Tensor(t.kv.shape, std::move(dx_key));
  if (t.value_from == GradTape::Source::x) add_to(g.input.data, dx_value);
  else if (t.value_from == GradTape::Source::kv) add_to(g.kv.data, dx_value);
  else g.value_input = Tensor(t.value_input.shape, std::move(dx_value));

  // Parameters under their state_dict names: the stacked rows go back where pack_parameters.cpp took them from.
  if (!simplified) {
    const bool wrapper = c.mechanism == Mechanism::multihead_wrapper;
    const char* names[] = {"W_query", "W_key", "W_value"};
    const std::size_t cols[3] = {t.d_in, t.key_features, t.value_features};
    const auto by_name = detail::index_by_name(params_);
    for (std::size_t which = 0; which < 3; ++which) {
      const std::size_t heads = wrapper ? H : 1, width = dw[which].size() / cols[which] / heads;
      for (std::size_t h = 0; h < heads; ++h) {
        const std::string prefix = wrapper ? "heads." + std::to_string(h) + "." : "";
        const float* rows = dw[which].data() + h * width * cols[which];
        if (c.mechanism == Mechanism::self_v1) {  // (d_in, d_out): the transpose of the nn.Linear layout
          grads.emplace_back(names[which],
                             Tensor(by_name.at(names[which])->shape, transpose(rows, width, cols[which])));
          continue;
        }
        const std::string weight = prefix + names[which] + ".weight";
        grads.emplace_back(weight,
                           Tensor(by_name.at(weight)->shape, std::vector<float>(rows, rows + width * cols[which])));
        if (c.qkv_bias) {
          const std::string bias = prefix + names[which] + ".bias";
          const float* from = db[which].data() + h * width;
          grads.emplace_back(bias, Tensor(by_name.at(bias)->shape, std::vector<float>(from, from + width)));
        }
      }
    }
  }
  const auto grad_by_name = detail::index_by_name(grads);
  for (const auto& [name, value] : params_) g.params.emplace_back(name, *grad_by_name.at(name));
  return g;
}

}  // namespace attnkit
