// attnkit tests — the attention op's gradients in float64, written from the chain rule (nothing of the library but
// its data types): for each row, P = softmax(scores), O = (P ⊙ keep)·V, and for a loss L = Σ dO ⊙ O
//   dV_j += P_ij·keep_ij·dO_i    dP_ij = keep_ij·(dO_i·V_j)    dS_ij = P_ij·(dP_ij − Σ_l P_il·dP_il)
//   dQ_i += scale·Σ_j dS_ij·K_j  dK_j += scale·dS_ij·Q_i
// plus central finite differences of L through the float64 forward (attention_reference.hpp).
#pragma once
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <vector>

#include "attention_reference.hpp"

namespace ref {

struct GradOut {
  std::vector<double> query, key, value;  // shapes of query, key, value
};

// keep: optional (b, h_q, n_q, n_k) dropout factors (0 or 1/(1 − p)).
inline GradOut sdpa_grad(const attnkit::Tensor& q, const attnkit::Tensor& k, const attnkit::Tensor& v,
                         const attnkit::Tensor& grad_output, double scale, attnkit::CausalAlign causal,
                         const attnkit::AttentionMask* mask, const std::vector<float>* keep = nullptr) {
  const std::size_t B = q.shape[0], HQ = q.shape[1], NQ = q.shape[2], D = q.shape[3];
  const std::size_t HKV = k.shape[1], NK = k.shape[2], DV = v.shape[3];
  const AttentionOut f = sdpa(q, k, v, scale, causal, mask, keep);
  GradOut g{std::vector<double>(q.numel()), std::vector<double>(k.numel()), std::vector<double>(v.numel())};
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t h = 0; h < HQ; ++h) {
      const std::size_t hk = h / (HQ / HKV);
      for (std::size_t i = 0; i < NQ; ++i) {
        const std::size_t row = (b * HQ + h) * NQ + i;
        const double* dO = nullptr;
        std::vector<double> dout(DV);
        for (std::size_t c = 0; c < DV; ++c) dout[c] = grad_output.data[row * DV + c];
        dO = dout.data();
        std::vector<double> dP(NK, 0.0);
        double Dsum = 0.0;
        for (std::size_t j = 0; j < NK; ++j) {
          const double z = keep ? double((*keep)[row * NK + j]) : 1.0;
          double dot = 0.0;
          for (std::size_t c = 0; c < DV; ++c) dot += dO[c] * v.data[((b * HKV + hk) * NK + j) * DV + c];
          dP[j] = z * dot;
          Dsum += f.weights[row * NK + j] * dP[j];
        }
        for (std::size_t j = 0; j < NK; ++j) {
          const double P = f.weights[row * NK + j], z = keep ? double((*keep)[row * NK + j]) : 1.0;
          const double dS = P * (dP[j] - Dsum);
          for (std::size_t c = 0; c < DV; ++c) g.value[((b * HKV + hk) * NK + j) * DV + c] += P * z * dO[c];
          for (std::size_t p = 0; p < D; ++p) {
            g.query[row * D + p] += scale * dS * k.data[((b * HKV + hk) * NK + j) * D + p];
            g.key[((b * HKV + hk) * NK + j) * D + p] += scale * dS * q.data[row * D + p];
          }
        }
      }
    }
  return g;
}

// Central differences of L = Σ grad_output ⊙ sdpa(…) with respect to every element of `which` (a copy of query,
// key or value that `forward` reads). The step taken is the float32 difference actually made, so the inputs'
// rounding does not enter the quotient.
inline std::vector<double> finite_differences(attnkit::Tensor& which, const attnkit::Tensor& grad_output,
                                              const std::function<std::vector<double>()>& forward, double step = 1e-3) {
  std::vector<double> out(which.numel());
  auto loss = [&] {
    const std::vector<double> o = forward();
    double s = 0.0;
    for (std::size_t e = 0; e < o.size(); ++e) s += o[e] * grad_output.data[e];
    return s;
  };
  for (std::size_t e = 0; e < which.numel(); ++e) {
    const float x = which.data[e];
    const float up = float(x + step), down = float(x - step);
    which.data[e] = up;
    const double lu = loss();
    which.data[e] = down;
    const double ld = loss();
    which.data[e] = x;
    out[e] = (lu - ld) / (double(up) - double(down));
  }
  return out;
}

}  // namespace ref
