// attnkit — the attention op's two paths over a validated AttentionProblem (attention_op.hpp). Both give the same
// numbers (≤ 1e-6 relative): the explain path holds the (n_q, n_k) weights, the fused path never does. Rows whose
// float32 scores or context overflow are recomputed in float64 (overflow.hpp) on both paths alike.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention_op.hpp"
#include "attnkit/errors.hpp"
#include "attnkit/parallel.hpp"
#include "kernels/kernels.hpp"
#include "overflow.hpp"

namespace attnkit::detail {
namespace {

// Row ranges in whole blocks of 96 query rows (every kernel table's query tile divides 96, so no tile is split),
// about 4 tasks per thread; small problems run on the calling thread. The kernels give the same bits for any split.
constexpr std::size_t kRowBlock = 96;
constexpr std::size_t kTasksPerThread = 4;

template <class Fn>
void for_each_head_rows(std::size_t heads, std::size_t rows, double flops, std::size_t threads, Fn fn) {
  threads = flops < 2e5 ? 1 : threads ? threads : default_num_threads();
  if (threads <= 1) {
    for (std::size_t h = 0; h < heads; ++h) fn(h, 0, rows);
    return;
  }
  const std::size_t want = threads * kTasksPerThread;
  const std::size_t blocks = (rows + kRowBlock - 1) / kRowBlock, parts = (want + heads - 1) / heads;
  const std::size_t step = heads >= want ? rows : ((blocks + parts - 1) / parts) * kRowBlock;
  const std::size_t ranges = (rows + step - 1) / step;
  parallel_for(heads * ranges, threads, [&](std::size_t ith, std::size_t) {
    const std::size_t h = ith / ranges, r = ith % ranges;
    fn(h, r * step, std::min(rows, (r + 1) * step));
  });
}

AttentionRow row_of(const AttentionProblem& p, std::size_t b, std::size_t h, std::size_t i) {
  const float* mask = p.mask_of(b, h);
  return AttentionRow{p.query_of(b, h) + i * p.d,
                      p.key_of(b, h),
                      p.d,
                      p.value_of(b, h),
                      p.d_v,
                      p.n_k,
                      p.d,
                      p.d_v,
                      double(p.scale),
                      p.visible(i),
                      mask ? mask + i * p.mask->stride_q : nullptr};
}

// After a pass: the first (batch·head, query) row whose context does not fit in float32, in row order, so the
// error names the same row for any thread count.
void throw_first_overflow(const AttentionProblem& p, const std::vector<unsigned char>& failed) {
  const auto it = std::find(failed.begin(), failed.end(), 1);
  if (it == failed.end()) return;
  const std::size_t row = static_cast<std::size_t>(it - failed.begin()), bh = row / p.n_q;
  throw Error(context_overflow_message(bh / p.h_q, bh % p.h_q, row % p.n_q), ErrorKind::range);
}

}  // namespace

void attention_explain(const AttentionProblem& p, Generator* generator, double dropout, Tensor& weights,
                       float* output) {
  const auto& table = kernels::table();
  const std::size_t BH = p.batch * p.h_q, n_q = p.n_q, n_k = p.n_k;
  const double flops = 2.0 * BH * n_q * n_k * (p.d + p.d_v);
  const float ninf = -std::numeric_limits<float>::infinity();
  std::vector<unsigned char> recompute(BH * n_q, 0), failed(BH * n_q, 0);

  // Pass 1 — weights: scores q·kᵀ·scale, checked (visible keys only) before the mask is added, masked, softmax.
  for_each_head_rows(BH, n_q, flops, p.threads, [&](std::size_t bh, std::size_t r0, std::size_t r1) {
    const std::size_t b = bh / p.h_q, h = bh % p.h_q;
    float* plane = weights.ptr() + bh * n_q * n_k;  // (n_q, n_k)
    const kernels::GemmNT g{p.query_of(b, h), p.d, p.key_of(b, h), p.d, plane, n_k, n_q, n_k, p.d, p.scale, nullptr};
    table.gemm_nt_f32(g, r0, r1);
    const float* mask = p.mask_of(b, h);
    for (std::size_t i = r0; i < r1; ++i) {
      float* row = plane + i * n_k;
      const std::size_t see = p.visible(i);
      bool overflow = false;
      if (mask) {  // keys the mask allows: the score, and the score plus the mask, must be finite
        const float* m = mask + i * p.mask->stride_q;
        for (std::size_t j = 0; j < see; ++j) {
          row[j] = m[j] == ninf ? ninf : row[j] + m[j];
          overflow |= m[j] != ninf && !std::isfinite(row[j]);
        }
      } else {
        overflow = first_non_finite(row, see) < see;
      }
      std::fill(row + see, row + n_k, ninf);
      if (overflow) {
        recompute[bh * n_q + i] = 1;
        attention_weights_f64(row_of(p, b, h, i), row);
      } else {
        table.softmax_f32(kernels::Softmax{row, n_k, 1, n_k}, 0, 1);  // a row with nothing visible becomes 0
      }
    }
  });

  // Pass 2 — dropout on a copy, drawn as F.dropout draws over the whole (b, h_q, n_q, n_k) tensor in memory order.
  Tensor dropped;
  const Tensor* applied = &weights;
  if (generator && dropout > 0.0) {
    dropped = weights;
    generator->dropout_(dropped.ptr(), dropped.numel(), dropout);
    applied = &dropped;
  }

  // Pass 3 — output = weights·value per head; rows recomputed above, or whose context overflowed, in float64.
  for_each_head_rows(BH, n_q, flops, p.threads, [&](std::size_t bh, std::size_t r0, std::size_t r1) {
    const std::size_t b = bh / p.h_q, h = bh % p.h_q;
    const float* w = applied->ptr() + bh * n_q * n_k;
    float* out = output + bh * n_q * p.d_v;
    table.gemm_nn_f32(kernels::GemmNN{w, n_k, p.value_of(b, h), p.d_v, out, p.d_v, n_q, p.d_v, n_k}, r0, r1);
    for (std::size_t i = r0; i < r1; ++i) {
      float* orow = out + i * p.d_v;
      if (!recompute[bh * n_q + i] && first_non_finite(orow, p.d_v) == p.d_v) continue;
      if (!attention_context_f64(w + i * n_k, row_of(p, b, h, i), orow)) failed[bh * n_q + i] = 1;
    }
  });
  throw_first_overflow(p, failed);
}

// One past the last key any of rows [r0, r1) may attend (its mask not −inf): keys after it (a padded batch's
// trailing padding) are left out of the kernel's call, so they are neither packed nor scored. They would add exact
// zeros to every row's sums, so leaving them out changes no result.
static std::size_t attended_keys(const float* mask, std::size_t ld_mask, std::size_t r0, std::size_t r1,
                                 std::size_t n_k) {
  const float ninf = -std::numeric_limits<float>::infinity();
  std::size_t end = 0;
  for (std::size_t i = ld_mask == 0 ? r1 - 1 : r0; i < r1 && end < n_k; ++i) {
    const float* row = mask + i * ld_mask;
    std::size_t j = n_k;
    while (j > end && row[j - 1] == ninf) --j;
    end = std::max(end, j);
  }
  return std::max<std::size_t>(end, 1);  // a row masked everywhere still gets its zeros from the kernel
}

// True if rows [r0, r1) of the mask are exactly 0 over keys [0, n_k): the kernel may then run unmasked (a padded
// batch's mask, once its trailing padding is left out).
static bool mask_is_zero(const float* mask, std::size_t ld_mask, std::size_t r0, std::size_t r1, std::size_t n_k) {
  for (std::size_t i = ld_mask == 0 ? r1 - 1 : r0; i < r1; ++i)
    for (std::size_t j = 0; j < n_k; ++j)
      if (mask[i * ld_mask + j] != 0.0f) return false;
  return true;
}

void attention_fused(const AttentionProblem& p, float* output, float* lse, float* weights) {
  const auto& table = kernels::table();
  const std::size_t BH = p.batch * p.h_q, n_q = p.n_q;
  std::vector<unsigned char> failed(BH * n_q, 0);
  for_each_head_rows(BH, n_q, 2.0 * BH * n_q * p.n_k * (p.d + p.d_v), p.threads,
                     [&](std::size_t bh, std::size_t r0, std::size_t r1) {
                       const std::size_t b = bh / p.h_q, h = bh % p.h_q;
                       float* out = output + bh * n_q * p.d_v;
                       kernels::Attention a{p.query_of(b, h),
                                            p.d,
                                            p.key_of(b, h),
                                            p.d,
                                            p.value_of(b, h),
                                            p.d_v,
                                            out,
                                            p.d_v,
                                            n_q,
                                            p.n_k,
                                            p.d,
                                            p.scale,
                                            p.causal != CausalAlign::none};
                       a.causal_offset = p.causal_offset();
                       a.d_v = p.d_v;
                       a.mask = p.mask_of(b, h);
                       a.ld_mask = p.mask ? p.mask->stride_q : 0;
                       if (a.mask) {
                         a.n_k = attended_keys(a.mask, a.ld_mask, r0, r1, p.n_k);
                         if (mask_is_zero(a.mask, a.ld_mask, r0, r1, a.n_k)) a.mask = nullptr;  // padding only
                       }
                       a.lse = lse ? lse + bh * n_q : nullptr;
                       float* plane = weights ? weights + bh * n_q * p.n_k : nullptr;  // (n_q, n_k)
                       if (plane) a.weights = plane, a.ld_weights = p.n_k, a.weights_zeroed = true;
                       if (table.attention_f32(a, r0, r1) == 0) return;
                       // Rows the kernel flagged (their output is NaN): float64, as the explain path does.
                       std::vector<float> own(plane ? 0 : p.n_k);
                       for (std::size_t i = r0; i < r1; ++i) {
                         float* orow = out + i * p.d_v;
                         if (!std::isnan(orow[0])) continue;
                         const AttentionRow row = row_of(p, b, h, i);
                         float* wrow = plane ? plane + i * p.n_k : own.data();
                         attention_weights_f64(row, wrow);
                         if (!attention_context_f64(wrow, row, orow)) failed[bh * n_q + i] = 1;
                       }
                     });
  throw_first_overflow(p, failed);
}

}  // namespace attnkit::detail
