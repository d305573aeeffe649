// attnkit tests — the modules' forward and backward in float64, written from the book's classes and the chain rule
// (nothing of the library but its data types and the op mask of module_attention_mask): for a loss L = Σ dC ⊙ C
//   q = x·W_qᵀ + b_q  (v1: x·W_q)   k, v likewise from kv / value_input   per (b, head): P = softmax(q·kᵀ·scale + mask)
//   O = (P ⊙ keep)·v   heads concatenated   multihead: C = O·W_oᵀ + b_o
//   dO = dC·W_o  dW_o = dCᵀ·O  db_o = Σ dC    dP = keep ⊙ dO·vᵀ  dS = P ⊙ (dP − Σ P ⊙ dP)
//   dq = scale·dS·k  dk = scale·dSᵀ·q  dv = (P ⊙ keep)ᵀ·dO    dW_q = dqᵀ·x  db_q = Σ dq  dx = dq·W_q  (and so on)
#pragma once
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "attention_reference.hpp"
#include "attnkit/attnkit.hpp"

namespace ref {

using Vec = std::vector<double>;

struct ModuleCase {
  attnkit::Config config;
  std::size_t batch = 1, n_q = 0, n_k = 0;
  bool causal = false;
  const attnkit::AttentionMask* mask = nullptr;  // the op's mask (module_attention_mask), broadcastable to (b,H,nq,nk)
  const std::vector<float>* keep = nullptr;      // (b, H, n_q, n_k) dropout factors, or none
};

// Inputs in float64: x (b, n_q, d_in), kv (b, n_k, k_features) and value input (b, n_k, v_features); absent ones
// are the previous (kv defaults to x, value to kv). params by state_dict name.
struct ModuleInputs {
  Vec x, kv, value;
  std::size_t d_in = 0, k_features = 0, v_features = 0;
  std::map<std::string, Vec> params;
};

struct ModuleGrads {
  Vec context, x, kv, value;  // context: the forward's; x/kv/value: gradients (kv/value accumulate into x if shared)
  std::map<std::string, Vec> params;
};

namespace mg {

inline double param(const ModuleInputs& in, const std::string& name, std::size_t i) { return in.params.at(name)[i]; }

// Projection `which` (0 query, 1 key, 2 value) as (out, in) rows with bias: the classes' layouts stacked per head.
struct Linear {
  Vec w, b;  // (out, in), (out) or empty
  std::size_t out = 0, in = 0;
};

inline Linear projection(const ModuleCase& c, const ModuleInputs& in, int which) {
  static const char* names[] = {"W_query", "W_key", "W_value"};
  const attnkit::Config& cf = c.config;
  const std::size_t cols = which == 0 ? in.d_in : which == 1 ? in.k_features : in.v_features;
  const std::size_t heads = cf.mechanism == attnkit::Mechanism::multihead_wrapper ? cf.num_heads : 1;
  Linear l;
  l.in = cols;
  for (std::size_t h = 0; h < heads; ++h) {
    const std::string prefix =
        heads > 1 || cf.mechanism == attnkit::Mechanism::multihead_wrapper ? "heads." + std::to_string(h) + "." : "";
    if (cf.mechanism == attnkit::Mechanism::self_v1) {  // (in, out): y = x·W
      const Vec& w = in.params.at(names[which]);
      const std::size_t out = w.size() / cols;
      for (std::size_t o = 0; o < out; ++o)
        for (std::size_t p = 0; p < cols; ++p) l.w.push_back(w[p * out + o]);
      l.out += out;
      continue;
    }
    const Vec& w = in.params.at(prefix + names[which] + ".weight");
    l.w.insert(l.w.end(), w.begin(), w.end());
    l.out += w.size() / cols;
    if (cf.qkv_bias) {
      const Vec& b = in.params.at(prefix + names[which] + ".bias");
      l.b.insert(l.b.end(), b.begin(), b.end());
    }
  }
  return l;
}

inline Vec apply(const Linear& l, const Vec& x, std::size_t rows) {
  Vec y(rows * l.out);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t o = 0; o < l.out; ++o) {
      double acc = l.b.empty() ? 0.0 : l.b[o];
      for (std::size_t p = 0; p < l.in; ++p) acc += x[r * l.in + p] * l.w[o * l.in + p];
      y[r * l.out + o] = acc;
    }
  return y;
}

}  // namespace mg

// The forward, and with grad_context the backward. H heads of hd (simplified: 1 head of d_in, values as given).
inline ModuleGrads module_grad(const ModuleCase& c, const ModuleInputs& in, const Vec* grad_context) {
  using attnkit::Mechanism;
  const attnkit::Config& cf = c.config;
  const bool simplified = cf.mechanism == Mechanism::simplified, multihead = cf.mechanism == Mechanism::multihead;
  const std::size_t B = c.batch, NQ = c.n_q, NK = c.n_k;
  const std::size_t H = simplified ? 1 : cf.num_heads;
  const std::size_t hd = simplified ? in.d_in : cf.mechanism == Mechanism::multihead ? cf.d_out / H : cf.d_out;
  const std::size_t HKV = simplified ? 1 : cf.kv_heads ? cf.kv_heads : H, vhd = simplified ? in.v_features : hd;
  const double scale = simplified ? 1.0 : 1.0 / std::sqrt(double(hd));
  mg::Linear lin[3];
  Vec Q, K, V;
  if (simplified) {
    Q = in.x, K = in.kv, V = in.value;
  } else {
    for (int w = 0; w < 3; ++w) lin[w] = mg::projection(c, in, w);
    Q = mg::apply(lin[0], in.x, B * NQ), K = mg::apply(lin[1], in.kv, B * NK), V = mg::apply(lin[2], in.value, B * NK);
  }
  const std::size_t DQ = H * hd, DK = HKV * hd, DV = HKV * vhd, DO = H * vhd;
  const double ninf = -std::numeric_limits<double>::infinity();
  Vec P(B * H * NQ * NK, 0.0), O(B * NQ * DO, 0.0);
  auto q_at = [&](std::size_t b, std::size_t h, std::size_t i, std::size_t p) {
    return (b * NQ + i) * DQ + h * hd + p;
  };
  auto k_at = [&](std::size_t b, std::size_t h, std::size_t j, std::size_t p) {
    return (b * NK + j) * DK + h * hd + p;
  };
  auto v_at = [&](std::size_t b, std::size_t h, std::size_t j, std::size_t p) {
    return (b * NK + j) * DV + h * vhd + p;
  };
  auto o_at = [&](std::size_t b, std::size_t h, std::size_t i, std::size_t p) {
    return (b * NQ + i) * DO + h * vhd + p;
  };
  auto keep_at = [&](std::size_t row, std::size_t j) { return c.keep ? double((*c.keep)[row * NK + j]) : 1.0; };
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t h = 0; h < H; ++h) {
      const std::size_t hk = h / (H / HKV);
      for (std::size_t i = 0; i < NQ; ++i) {
        const std::size_t row = (b * H + h) * NQ + i;
        Vec s(NK, ninf);
        double mx = ninf;
        for (std::size_t j = 0; j < NK; ++j) {
          if (c.causal && double(j) > double(i) + double(NK) - double(NQ)) continue;
          const double add = c.mask ? mask_at(*c.mask, b, h, i, j) : 0.0;
          if (add == ninf) continue;
          double dot = 0.0;
          for (std::size_t p = 0; p < hd; ++p) dot += Q[q_at(b, h, i, p)] * K[k_at(b, hk, j, p)];
          s[j] = dot * scale + add;
          mx = std::max(mx, s[j]);
        }
        if (mx == ninf) continue;  // nothing to attend to: zeros
        double sum = 0.0;
        for (double e : s) sum += e == ninf ? 0.0 : std::exp(e - mx);
        for (std::size_t j = 0; j < NK; ++j) {
          P[row * NK + j] = s[j] == ninf ? 0.0 : std::exp(s[j] - mx) / sum;
          for (std::size_t p = 0; p < vhd; ++p)
            O[o_at(b, h, i, p)] += P[row * NK + j] * keep_at(row, j) * V[v_at(b, hk, j, p)];
        }
      }
    }
  ModuleGrads g;
  mg::Linear out;
  if (multihead) {
    out.w = in.params.at("out_proj.weight"), out.b = in.params.at("out_proj.bias"), out.out = cf.d_out, out.in = DO;
    g.context = mg::apply(out, O, B * NQ);
  } else {
    g.context = O;
  }
  if (!grad_context) return g;

  // Backward.
  const Vec& dC = *grad_context;
  Vec dO = dC;
  if (multihead) {
    dO.assign(B * NQ * DO, 0.0);
    Vec dw(out.w.size(), 0.0), db(out.out, 0.0);
    for (std::size_t r = 0; r < B * NQ; ++r)
      for (std::size_t o = 0; o < out.out; ++o) {
        db[o] += dC[r * out.out + o];
        for (std::size_t p = 0; p < DO; ++p) {
          dw[o * DO + p] += dC[r * out.out + o] * O[r * DO + p];
          dO[r * DO + p] += dC[r * out.out + o] * out.w[o * DO + p];
        }
      }
    g.params["out_proj.weight"] = dw, g.params["out_proj.bias"] = db;
  }
  Vec dQ(Q.size(), 0.0), dK(K.size(), 0.0), dV(V.size(), 0.0);
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t h = 0; h < H; ++h) {
      const std::size_t hk = h / (H / HKV);
      for (std::size_t i = 0; i < NQ; ++i) {
        const std::size_t row = (b * H + h) * NQ + i;
        Vec dP(NK, 0.0);
        double Dsum = 0.0;
        for (std::size_t j = 0; j < NK; ++j) {
          for (std::size_t p = 0; p < vhd; ++p) dP[j] += dO[o_at(b, h, i, p)] * V[v_at(b, hk, j, p)];
          dP[j] *= keep_at(row, j);
          Dsum += P[row * NK + j] * dP[j];
        }
        for (std::size_t j = 0; j < NK; ++j) {
          const double Pij = P[row * NK + j], dS = Pij * (dP[j] - Dsum);
          for (std::size_t p = 0; p < vhd; ++p) dV[v_at(b, hk, j, p)] += Pij * keep_at(row, j) * dO[o_at(b, h, i, p)];
          for (std::size_t p = 0; p < hd; ++p) {
            dQ[q_at(b, h, i, p)] += scale * dS * K[k_at(b, hk, j, p)];
            dK[k_at(b, hk, j, p)] += scale * dS * Q[q_at(b, h, i, p)];
          }
        }
      }
    }
  Vec dx[3];
  Vec* dy[3] = {&dQ, &dK, &dV};
  const Vec* xs[3] = {&in.x, &in.kv, &in.value};
  const std::size_t rows[3] = {B * NQ, B * NK, B * NK};
  static const char* names[] = {"W_query", "W_key", "W_value"};
  for (int w = 0; w < 3; ++w) {
    if (simplified) {
      dx[w] = *dy[w];
      continue;
    }
    const mg::Linear& l = lin[w];
    Vec dw(l.w.size(), 0.0), db(l.out, 0.0);
    dx[w].assign(rows[w] * l.in, 0.0);
    for (std::size_t r = 0; r < rows[w]; ++r)
      for (std::size_t o = 0; o < l.out; ++o) {
        const double d = (*dy[w])[r * l.out + o];
        db[o] += d;
        for (std::size_t p = 0; p < l.in; ++p) {
          dw[o * l.in + p] += d * (*xs[w])[r * l.in + p];
          dx[w][r * l.in + p] += d * l.w[o * l.in + p];
        }
      }
    // Back to the classes' names and layouts.
    const bool wrapper = cf.mechanism == Mechanism::multihead_wrapper;
    const std::size_t heads = wrapper ? H : 1, per = l.out / heads;
    for (std::size_t h = 0; h < heads; ++h) {
      const std::string prefix = wrapper ? "heads." + std::to_string(h) + "." : "";
      if (cf.mechanism == Mechanism::self_v1) {
        Vec t(l.in * l.out);
        for (std::size_t o = 0; o < l.out; ++o)
          for (std::size_t p = 0; p < l.in; ++p) t[p * l.out + o] = dw[o * l.in + p];
        g.params[names[w]] = t;
        continue;
      }
      g.params[prefix + names[w] + ".weight"] = Vec(dw.begin() + h * per * l.in, dw.begin() + (h + 1) * per * l.in);
      if (cf.qkv_bias) g.params[prefix + names[w] + ".bias"] = Vec(db.begin() + h * per, db.begin() + (h + 1) * per);
    }
  }
  g.x = dx[0], g.kv = dx[1], g.value = dx[2];
  return g;
}

}  // namespace ref
