// attnkit — a Module's parameters in the layout forward uses: one stacked q|k|v nn.Linear weight, and both
// projections packed once into the gemm kernel's panels.
#include <algorithm>
#include <memory>
#include <string>

#include "attnkit/mechanisms.hpp"
#include "module_internal.hpp"
#include "ops.hpp"

namespace attnkit {

void Module::pack_parameters() {
  // Stack every head's W_query, then W_key, then W_value into one nn.Linear weight, so one GEMM projects all
  // three and head h of each reads columns [h·hd, (h+1)·hd) of its part: W_query (D, d_in), W_key (D_kv, k_dim),
  // W_value (D_kv, v_dim) one after the other (D_kv = kv_heads·head_dim; the three are (D, d_in) but for
  // grouped-query or cross-attention projections, which project separately: forward_inputs.cpp).
  const Config& c = config_;
  if (c.mechanism == Mechanism::simplified) return;
  const std::size_t D = d_out_total(), d_in = c.d_in, D_kv = kv_heads() * head_dim_;
  const std::size_t cols[3] = {d_in, key_dim(), value_dim()}, rows[3] = {D, D_kv, D_kv};
  const std::size_t weight_at[3] = {0, D * d_in, D * d_in + D_kv * cols[1]}, bias_at[3] = {0, D, D + D_kv};
  qkv_weight_.assign(weight_at[2] + D_kv * cols[2], 0.0f);
  if (c.qkv_bias) qkv_bias_.assign(D + 2 * D_kv, 0.0f);
  const auto params = detail::index_by_name(params_);
  const char* names[] = {"W_query", "W_key", "W_value"};
  for (std::size_t which = 0; which < 3; ++which) {
    const std::size_t heads = c.mechanism == Mechanism::multihead_wrapper ? num_heads_ : 1;
    const std::size_t width = rows[which] / heads;  // rows each source tensor contributes
    for (std::size_t h = 0; h < heads; ++h) {
      const std::string prefix = c.mechanism == Mechanism::multihead_wrapper ? "heads." + std::to_string(h) + "." : "";
      float* dst = qkv_weight_.data() + weight_at[which] + h * width * cols[which];
      if (c.mechanism == Mechanism::self_v1) {
        const Tensor& w = *params.at(names[which]);  // (d_in, d_out): transpose into nn.Linear layout
        for (std::size_t o = 0; o < width; ++o)
          for (std::size_t i = 0; i < d_in; ++i) dst[o * d_in + i] = w.data[i * width + o];
        continue;
      }
      const Tensor& w = *params.at(prefix + names[which] + ".weight");
      std::copy(w.data.begin(), w.data.end(), dst);
      if (c.qkv_bias) {
        const Tensor& b = *params.at(prefix + names[which] + ".bias");
        std::copy(b.data.begin(), b.data.end(), qkv_bias_.begin() + bias_at[which] + h * width);
      }
    }
  }
  // Pack both projections once for the gemm kernel: every forward call would otherwise repack them (per thread).
  auto packed = std::make_shared<PackedWeights>();
  // Whenever all three read x (grouped-query heads too: D + 2·D_kv rows), for forward and the decoder's step.
  if (key_dim() == d_in && value_dim() == d_in)
    packed->qkv = std::make_unique<detail::PackedWeight>(qkv_weight_.data(), D + 2 * D_kv, d_in);
  if (c.mechanism == Mechanism::multihead) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (params_[i].first == "out_proj.weight") out_proj_weight_ = i;
      if (params_[i].first == "out_proj.bias") out_proj_bias_ = i;
    }
    packed->out_proj = std::make_unique<detail::PackedWeight>(params.at("out_proj.weight")->ptr(), c.d_out, D);
  }
  packed_ = std::move(packed);
}

}  // namespace attnkit
