// attnkit tests — an independent float64 scaled dot-product attention, written from the documentation of
// torch.nn.functional.scaled_dot_product_attention (bool mask: true = may attend; float mask: added; is_causal:
// upper-left) plus lower-right alignment and grouped-query heads (enable_gqa: key head h / (h_q / h_kv)).
// Plain loops, no SIMD, no threads, nothing of the library but its data types. A row with nothing to attend to
// is all zeros (attnkit's documented choice; PyTorch gives NaN there).
#pragma once
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "attnkit/attention.hpp"

namespace ref {

struct AttentionOut {
  std::vector<double> weights;    // (b, h_q, n_q, n_k), before dropout
  std::vector<double> output;     // (b, h_q, n_q, d_v)
  std::vector<double> magnitude;  // (b, h_q, n_q, d_v): Σ_j |w·keep·v|, the condition of each output sum
};

// The mask value that applies to (b, h, i, j): broadcasting from the right, a dimension of 1 repeats.
inline double mask_at(const attnkit::AttentionMask& m, std::size_t b, std::size_t h, std::size_t i, std::size_t j) {
  const std::size_t idx4[4] = {b, h, i, j};
  const std::size_t r = m.shape.size();
  std::size_t flat = 0;
  for (std::size_t k = 0; k < r; ++k) {
    const std::size_t dim = m.shape[k], idx = idx4[4 - r + k];
    flat = flat * dim + (dim == 1 ? 0 : idx);
  }
  const double v = m.values[flat];
  if (m.kind == attnkit::MaskKind::boolean) return v != 0.0 ? 0.0 : -std::numeric_limits<double>::infinity();
  return v;
}

// keep: optional (b, h_q, n_q, n_k) dropout factors (0 or 1/(1 − p)) applied to the weights before ·value.
inline AttentionOut sdpa(const attnkit::Tensor& q, const attnkit::Tensor& k, const attnkit::Tensor& v, double scale,
                         attnkit::CausalAlign causal, const attnkit::AttentionMask* mask,
                         const std::vector<float>* keep = nullptr) {
  const std::size_t B = q.shape[0], HQ = q.shape[1], NQ = q.shape[2], D = q.shape[3];
  const std::size_t HKV = k.shape[1], NK = k.shape[2], DV = v.shape[3];
  const double ninf = -std::numeric_limits<double>::infinity();
  AttentionOut r;
  r.weights.assign(B * HQ * NQ * NK, 0.0);
  r.output.assign(B * HQ * NQ * DV, 0.0);
  r.magnitude = r.output;
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t h = 0; h < HQ; ++h) {
      const std::size_t hk = h / (HQ / HKV);
      for (std::size_t i = 0; i < NQ; ++i) {
        std::vector<double> s(NK, ninf);
        double mx = ninf;
        for (std::size_t j = 0; j < NK; ++j) {
          bool visible = true;
          if (causal == attnkit::CausalAlign::upper_left) visible = j <= i;
          if (causal == attnkit::CausalAlign::lower_right) visible = double(j) <= double(i) + double(NK) - double(NQ);
          if (!visible) continue;
          const double add = mask ? mask_at(*mask, b, h, i, j) : 0.0;
          if (add == ninf) continue;
          double dot = 0.0;
          for (std::size_t p = 0; p < D; ++p)
            dot += double(q.data[((b * HQ + h) * NQ + i) * D + p]) * double(k.data[((b * HKV + hk) * NK + j) * D + p]);
          s[j] = dot * scale + add;
          mx = std::max(mx, s[j]);
        }
        const std::size_t row = (b * HQ + h) * NQ + i;
        if (mx == ninf) continue;  // nothing to attend to: zeros
        double sum = 0.0;
        for (std::size_t j = 0; j < NK; ++j) sum += s[j] == ninf ? 0.0 : std::exp(s[j] - mx);
        for (std::size_t j = 0; j < NK; ++j) {
          const double w = s[j] == ninf ? 0.0 : std::exp(s[j] - mx) / sum;
          r.weights[row * NK + j] = w;
          const double wk = keep ? w * double((*keep)[row * NK + j]) : w;
          for (std::size_t c = 0; c < DV; ++c) {
            const double x = wk * double(v.data[((b * HKV + hk) * NK + j) * DV + c]);
            r.output[row * DV + c] += x;
            r.magnitude[row * DV + c] += std::fabs(x);
          }
        }
      }
    }
  return r;
}

}  // namespace ref
