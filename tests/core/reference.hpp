// attnkit tests — an independent float64 implementation of the seed's six mechanisms, written from the
// PyTorch classes in the seed (SelfAttention_v1/v2, CausalAttention, MultiHeadAttentionWrapper,
// MultiHeadAttention) and nothing of the library but its data types. Plain loops, no SIMD, no threads,
// so that it is easy to read and check by eye:
//   projections (x·W for v1, x·Wᵀ + b for nn.Linear) → scores q·kᵀ → ÷ √head_dim (not for simplified)
//   → −inf where j > i (causal) → softmax over keys → weights·v → heads concatenated → out_proj (multihead).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "attnkit/attnkit.hpp"

namespace ref {

using attnkit::Mechanism;
using attnkit::Shape;
using attnkit::StateDict;
using attnkit::Tensor;

struct Spec {
  Mechanism mechanism = Mechanism::multihead;
  std::size_t d_in = 0;
  std::size_t d_out = 0;      // per head for the wrapper, total for multihead
  std::size_t num_heads = 1;  // wrapper and multihead
  bool causal = false;
  bool qkv_bias = false;
};

// The seed's defaults: the classes with a mask buffer (CausalAttention, the wrapper, MultiHeadAttention)
// are causal unless told otherwise; the others never mask.
inline Spec spec_from(const attnkit::Config& c) {
  Spec s;
  s.mechanism = c.mechanism;
  s.d_in = c.d_in;
  s.d_out = c.d_out;
  s.num_heads = c.num_heads;
  const bool masks_by_default = c.mechanism == Mechanism::causal || c.mechanism == Mechanism::multihead_wrapper ||
                                c.mechanism == Mechanism::multihead;
  s.causal = c.causal.value_or(masks_by_default);
  s.qkv_bias = c.qkv_bias;
  return s;
}

// The names and shapes of model.state_dict() for the seed's class, in PyTorch's order (mask buffers left out).
inline std::vector<std::pair<std::string, Shape>> parameter_shapes(const Spec& s) {
  std::vector<std::pair<std::string, Shape>> out;
  auto linear = [&](const std::string& prefix, std::size_t in, std::size_t o, bool bias) {
    out.emplace_back(prefix + ".weight", Shape{o, in});
    if (bias) out.emplace_back(prefix + ".bias", Shape{o});
  };
  switch (s.mechanism) {
    case Mechanism::simplified: break;
    case Mechanism::self_v1:
      for (const char* n : {"W_query", "W_key", "W_value"}) out.emplace_back(n, Shape{s.d_in, s.d_out});
      break;
    case Mechanism::self:
    case Mechanism::causal:
      for (const char* n : {"W_query", "W_key", "W_value"}) linear(n, s.d_in, s.d_out, s.qkv_bias);
      break;
    case Mechanism::multihead_wrapper:
      for (std::size_t h = 0; h < s.num_heads; ++h)
        for (const char* n : {"W_query", "W_key", "W_value"})
          linear("heads." + std::to_string(h) + "." + n, s.d_in, s.d_out, s.qkv_bias);
      break;
    case Mechanism::multihead:
      for (const char* n : {"W_query", "W_key", "W_value"}) linear(n, s.d_in, s.d_out, s.qkv_bias);
      linear("out_proj", s.d_out, s.d_out, true);
      break;
  }
  return out;
}

// Everything the forward pass computes, in float64. Activations keep a batch dimension (b = 1 for
// unbatched input). Per-head tensors are (b, h, n, ·); context is (b, n, width).
struct Result {
  std::size_t b = 0, h = 0, n = 0, head_dim = 0, width = 0;
  std::vector<double> queries, keys, values;           // (b, h, n, head_dim)
  std::vector<double> scores, scaled_scores, weights;  // (b, h, n, n); scaled_scores has −inf where masked
  std::vector<double> context_before_out_proj;         // (b, n, h·head_dim), multihead only
  std::vector<double> context;                         // (b, n, width)
};

namespace detail {

inline const Tensor& param(const StateDict& sd, const std::string& name) {
  for (const auto& [k, v] : sd)
    if (k == name) return v;
  throw std::runtime_error("reference: state_dict has no " + name);
}
inline bool has(const StateDict& sd, const std::string& name) {
  for (const auto& kv : sd)
    if (kv.first == name) return true;
  return false;
}

// nn.Linear: y[i][o] = Σ_p x[i][p]·W[o][p] + b[o]      x: (n, in) W: (out, in)
inline std::vector<double> linear(const std::vector<double>& x, std::size_t n, std::size_t in, const Tensor& w,
                                  const Tensor* bias) {
  const std::size_t out = w.shape.at(0);
  if (w.shape.at(1) != in) throw std::runtime_error("reference: linear weight shape");
  std::vector<double> y(n * out);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t o = 0; o < out; ++o) {
      double acc = bias ? double(bias->data[o]) : 0.0;
      for (std::size_t p = 0; p < in; ++p) acc += x[i * in + p] * double(w.data[o * in + p]);
      y[i * out + o] = acc;
    }
  return y;
}

// SelfAttention_v1: y = x·W      x: (n, in) W: (in, out)
inline std::vector<double> matmul(const std::vector<double>& x, std::size_t n, std::size_t in, const Tensor& w) {
  const std::size_t out = w.shape.at(1);
  if (w.shape.at(0) != in) throw std::runtime_error("reference: v1 weight shape");
  std::vector<double> y(n * out, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t o = 0; o < out; ++o) {
      double acc = 0.0;
      for (std::size_t p = 0; p < in; ++p) acc += x[i * in + p] * double(w.data[p * out + o]);
      y[i * out + o] = acc;
    }
  return y;
}

// Row-wise softmax, −inf entries get weight 0; a row with nothing visible is all zeros.
inline void softmax_row(double* row, std::size_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::size_t j = 0; j < n; ++j) m = std::max(m, row[j]);
  if (std::isinf(m) && m < 0) {
    for (std::size_t j = 0; j < n; ++j) row[j] = 0.0;
    return;
  }
  double sum = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    row[j] = std::isinf(row[j]) ? 0.0 : std::exp(row[j] - m);
    sum += row[j];
  }
  for (std::size_t j = 0; j < n; ++j) row[j] /= sum;
}

}  // namespace detail

// x: (b, n, d_in) or (n, d_in), float32 as the library gets it (converted to float64 exactly).
inline Result forward(const Spec& s, const StateDict& sd, const Tensor& x) {
  using detail::param;
  if (x.rank() != 2 && x.rank() != 3) throw std::runtime_error("reference: x must be rank 2 or 3");
  Result r;
  r.b = x.rank() == 3 ? x.shape[0] : 1;
  r.n = x.shape[x.rank() - 2];
  const std::size_t d_in = x.shape[x.rank() - 1];
  const std::size_t n = r.n;

  switch (s.mechanism) {
    case Mechanism::simplified:
      r.h = 1;
      r.head_dim = d_in;
      break;
    case Mechanism::self_v1:
    case Mechanism::self:
    case Mechanism::causal:
      r.h = 1;
      r.head_dim = s.d_out;
      break;
    case Mechanism::multihead_wrapper:
      r.h = s.num_heads;
      r.head_dim = s.d_out;
      break;
    case Mechanism::multihead:
      r.h = s.num_heads;
      r.head_dim = s.d_out / s.num_heads;
      break;
  }
  const std::size_t h = r.h, hd = r.head_dim, inner = h * hd;
  r.width = inner;
  // keys.shape[-1]**0.5; the simplified mechanism is not scaled.
  const double scale = s.mechanism == Mechanism::simplified ? 1.0 : 1.0 / std::sqrt(double(hd));

  r.queries.assign(r.b * h * n * hd, 0.0);
  r.keys = r.values = r.queries;
  r.scores.assign(r.b * h * n * n, 0.0);
  r.scaled_scores = r.weights = r.scores;
  r.context.assign(r.b * n * r.width, 0.0);
  if (s.mechanism == Mechanism::multihead) r.context_before_out_proj.assign(r.b * n * inner, 0.0);

  auto bias = [&](const std::string& name) -> const Tensor* {
    return detail::has(sd, name) ? &param(sd, name) : nullptr;
  };

  for (std::size_t bi = 0; bi < r.b; ++bi) {
    std::vector<double> xb(n * d_in);
    for (std::size_t i = 0; i < n * d_in; ++i) xb[i] = x.data[bi * n * d_in + i];

    // Projections as (n, inner) matrices whose columns [hh·hd, (hh+1)·hd) belong to head hh.
    std::vector<double> q(n * inner), k(n * inner), v(n * inner);
    auto place = [&](std::vector<double>& dst, const std::vector<double>& src, std::size_t head) {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < hd; ++d) dst[i * inner + head * hd + d] = src[i * hd + d];
    };
    switch (s.mechanism) {
      case Mechanism::simplified: q = k = v = xb; break;
      case Mechanism::self_v1:
        q = detail::matmul(xb, n, d_in, param(sd, "W_query"));
        k = detail::matmul(xb, n, d_in, param(sd, "W_key"));
        v = detail::matmul(xb, n, d_in, param(sd, "W_value"));
        break;
      case Mechanism::self:
      case Mechanism::causal:
      case Mechanism::multihead:
        q = detail::linear(xb, n, d_in, param(sd, "W_query.weight"), bias("W_query.bias"));
        k = detail::linear(xb, n, d_in, param(sd, "W_key.weight"), bias("W_key.bias"));
        v = detail::linear(xb, n, d_in, param(sd, "W_value.weight"), bias("W_value.bias"));
        break;
      case Mechanism::multihead_wrapper:
        for (std::size_t hh = 0; hh < h; ++hh) {
          const std::string p = "heads." + std::to_string(hh) + ".";
          place(q, detail::linear(xb, n, d_in, param(sd, p + "W_query.weight"), bias(p + "W_query.bias")), hh);
          place(k, detail::linear(xb, n, d_in, param(sd, p + "W_key.weight"), bias(p + "W_key.bias")), hh);
          place(v, detail::linear(xb, n, d_in, param(sd, p + "W_value.weight"), bias(p + "W_value.bias")), hh);
        }
        break;
    }

    std::vector<double> concat(n * inner, 0.0);
    for (std::size_t hh = 0; hh < h; ++hh) {
      const std::size_t base = (bi * h + hh);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < hd; ++d) {
          r.queries[(base * n + i) * hd + d] = q[i * inner + hh * hd + d];
          r.keys[(base * n + i) * hd + d] = k[i * inner + hh * hd + d];
          r.values[(base * n + i) * hd + d] = v[i * inner + hh * hd + d];
        }
      for (std::size_t i = 0; i < n; ++i) {
        double* sc = &r.scores[(base * n + i) * n];
        double* ss = &r.scaled_scores[(base * n + i) * n];
        double* w = &r.weights[(base * n + i) * n];
        for (std::size_t j = 0; j < n; ++j) {
          double dot = 0.0;
          for (std::size_t d = 0; d < hd; ++d) dot += q[i * inner + hh * hd + d] * k[j * inner + hh * hd + d];
          sc[j] = dot;
          ss[j] = (s.causal && j > i) ? -std::numeric_limits<double>::infinity() : dot * scale;
          w[j] = ss[j];
        }
        detail::softmax_row(w, n);
        for (std::size_t d = 0; d < hd; ++d) {
          double acc = 0.0;
          for (std::size_t j = 0; j < n; ++j) acc += w[j] * v[j * inner + hh * hd + d];
          concat[i * inner + hh * hd + d] = acc;
        }
      }
    }

    if (s.mechanism == Mechanism::multihead) {
      for (std::size_t i = 0; i < n * inner; ++i) r.context_before_out_proj[bi * n * inner + i] = concat[i];
      const std::vector<double> out =
          detail::linear(concat, n, inner, param(sd, "out_proj.weight"), bias("out_proj.bias"));
      for (std::size_t i = 0; i < n * inner; ++i) r.context[bi * n * inner + i] = out[i];
    } else {
      for (std::size_t i = 0; i < n * inner; ++i) r.context[bi * n * inner + i] = concat[i];
    }
  }
  return r;
}

// ---- random data for the tests, from a fixed seed (splitmix64: the same numbers on every platform) ----

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_;
};

inline Tensor random_tensor(Rng& rng, const Shape& shape, double lo, double hi) {
  std::size_t numel = 1;
  for (auto d : shape) numel *= d;
  std::vector<float> d(numel);
  for (auto& e : d) e = float(rng.uniform(lo, hi));
  return Tensor(shape, std::move(d));
}

// Weights like nn.Linear's init range (±1/√fan_in), so activations stay O(1) at every size.
inline StateDict random_state_dict(Rng& rng, const Spec& s) {
  StateDict sd;
  for (const auto& [name, shape] : parameter_shapes(s)) {
    const bool v1 = s.mechanism == Mechanism::self_v1;
    const bool out_proj = name.rfind("out_proj", 0) == 0;
    const std::size_t fan_in = shape.size() == 2 ? (v1 ? shape[0] : shape[1]) : (out_proj ? s.d_out : s.d_in);
    const double b = 1.0 / std::sqrt(double(fan_in ? fan_in : 1));
    sd.emplace_back(name, random_tensor(rng, shape, -b, b));
  }
  return sd;
}

}  // namespace ref
