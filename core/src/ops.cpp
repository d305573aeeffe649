#include "ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <atomic>
#include <vector>

#include "attnkit/errors.hpp"
#include "attnkit/parallel.hpp"
#include "kernels/kernels.hpp"
#include "overflow.hpp"

namespace attnkit::detail {
namespace {

// Work is dealt in tasks claimed dynamically from the pool (core/src/parallel.cpp), several per thread, so a thread
// that another process slows down takes fewer of them, and the last tasks are small, so both threads finish together.
// The kernels give the same bits for any split (each output row is computed whole by one task), so the split may
// depend on the thread count.
constexpr std::size_t kRowBlock = 96;
// Below this visible mass the renormalise route recomputes the row from the scores: a visible weight it drops to
// a denormal or zero would otherwise be off by more than 1e-32 of the row.
constexpr float kMinVisibleMass = 1e-6f;
// Attention: whole heads are the tasks when there are at least kTasksPerThread per thread; otherwise the last heads
// are cut into kTailTasksPerThread pieces per thread in all (head_row_tasks).
constexpr std::size_t kTasksPerThread = 8;
constexpr std::size_t kTailTasksPerThread = 4;
// Projections with prepacked weights: tasks of at most one packed A block of the gemm (KernelTable::gemm_block_rows,
// so each B panel serves as many rows as in a one-range call), shrinking towards the end (guided: a task takes
// 1/(2·threads) of what is left) down to about 24 rows (fewer would stream the whole packed B from L3 for too little
// work); the last rows join the task before them rather than make a smaller one. Every task is whole register tiles
// (gemm_tile_rows) but the last. (Tasks of at most 96 rows cut at multiples of 12, on AVX-512's 14-row tiles, cost
// C2's q|k|v projection 8–12 % more CPU than one range of its 1024 rows; these cost 0–2 %.)
constexpr std::size_t kLinearMinRows = 24;

std::size_t resolve(std::size_t threads) { return threads ? threads : default_num_threads(); }

std::size_t round_up_to(std::size_t x, std::size_t m) { return (x + m - 1) / m * m; }

// The row ranges of linear's tasks, as their ends: task i is [ends[i−1], ends[i]) (ends[−1] = 0).
// `packed`: the weights are prepacked; otherwise each call packs all of w, so each thread gets one equal range
// (whole tiles) and no more.
void linear_tasks(std::size_t rows, std::size_t threads, bool packed, std::vector<std::size_t>& ends) {
  const kernels::KernelTable& table = kernels::table();
  const std::size_t tile = table.gemm_tile_rows;
  ends.clear();
  if (!packed) {
    const std::size_t step = round_up_to((rows + threads - 1) / threads, tile);
    for (std::size_t r = step; r < rows + step; r += step) ends.push_back(std::min(rows, r));
    return;
  }
  const std::size_t min_rows = round_up_to(kLinearMinRows, tile), max_rows = table.gemm_block_rows;
  for (std::size_t r = 0; r < rows;) {
    const std::size_t guided = round_up_to((rows - r) / (2 * threads), tile);
    const std::size_t step = std::min(max_rows, std::max(min_rows, guided));
    r = rows - r < step + min_rows ? rows : r + step;
    ends.push_back(r);
  }
}

// One task of for_each_head_rows: rows [row_begin, row_end) of (batch·head) bh.
struct HeadRows {
  std::size_t bh, row_begin, row_end;
};

// The tasks of for_each_head_rows: whole heads when there are enough of them. Otherwise the last heads (as many as
// threads) are cut into row ranges of about equal cost (causal: row i sees i + 1 keys, so the cuts sit at
// n·√(k/parts)), at multiples of kRowBlock rows (whole query tiles), and the other heads stay whole: each piece of
// a cut head packs again the keys and values its rows see (cutting every one of C2's 12 heads in two for 2 threads
// cost ~4 % of its attention). Ordered heaviest first, so the last tasks claimed are the small pieces and the
// threads finish together.
std::vector<HeadRows> head_row_tasks(std::size_t batch_heads, std::size_t n, std::size_t threads, bool causal) {
  const std::size_t cut_heads = batch_heads >= threads * kTasksPerThread ? 0 : std::min(batch_heads, threads);
  std::size_t parts = cut_heads ? (threads * kTailTasksPerThread + cut_heads - 1) / cut_heads : 1;
  parts = std::max<std::size_t>(1, std::min(parts, n / kRowBlock));
  std::vector<std::size_t> cuts{0};
  for (std::size_t k = 1; k < parts; ++k) {
    const double f = causal ? std::sqrt(double(k) / double(parts)) : double(k) / double(parts);
    const std::size_t cut = round_up_to(static_cast<std::size_t>(f * double(n)), kRowBlock);
    if (cut > cuts.back() && cut < n) cuts.push_back(cut);
  }
  cuts.push_back(n);
  const std::size_t whole = batch_heads - cut_heads;
  std::vector<HeadRows> tasks;
  tasks.reserve(whole + cut_heads * (cuts.size() - 1));
  for (std::size_t bh = 0; bh < whole; ++bh) tasks.push_back({bh, 0, n});
  for (std::size_t p = 0; p + 1 < cuts.size(); ++p)
    for (std::size_t bh = whole; bh < batch_heads; ++bh) tasks.push_back({bh, cuts[p], cuts[p + 1]});
  const auto cost = [&](const HeadRows& t) {
    const double r0 = double(t.row_begin), r1 = double(t.row_end);
    return causal ? r1 * r1 - r0 * r0 : (r1 - r0) * double(n);
  };
  std::stable_sort(tasks.begin(), tasks.end(), [&](const HeadRows& a, const HeadRows& b) { return cost(a) > cost(b); });
  return tasks;
}

// Runs fn(bh, row_begin, row_end) over every (batch·head, row range) of an (n, ·) matrix per head (head_row_tasks).
// `causal`: row i's cost grows with i (the fused kernel skips the future), so equal-cost ranges are not equal-sized.
template <class Fn>
void for_each_head_rows(std::size_t batch_heads, std::size_t n, std::size_t threads, bool causal, Fn fn) {
  if (threads <= 1) {  // no pool, and no std::function to build (C1 runs whole in a microsecond)
    for (std::size_t bh = 0; bh < batch_heads; ++bh) fn(bh, 0, n);
    return;
  }
  const std::vector<HeadRows> tasks = head_row_tasks(batch_heads, n, threads, causal);
  parallel_for(tasks.size(), threads, [&](std::size_t ith, std::size_t) {
    const HeadRows& t = tasks[ith];
    fn(t.bh, t.row_begin, t.row_end);
  });
}
template <class Fn>
void for_each_head_rows(std::size_t batch_heads, std::size_t n, std::size_t threads, Fn fn) {
  for_each_head_rows(batch_heads, n, threads, false, fn);
}

// Query row i of head (b, h), for the float64 recomputation of a row whose scores or context left float32.
AttentionRow module_row(const Sdpa& s, std::size_t b, std::size_t h, std::size_t i) {
  const std::size_t n = s.tokens, hd = s.head_dim;
  return AttentionRow{s.query.data + (b * n + i) * s.query.ld + s.query.col + h * hd,
                      s.key.data + b * n * s.key.ld + s.key.col + h * hd,
                      s.key.ld,
                      s.value.data + b * n * s.value.ld + s.value.col + h * hd,
                      s.value.ld,
                      n,
                      hd,
                      hd,
                      s.scaled ? 1.0 / std::sqrt(static_cast<double>(hd)) : 1.0,
                      std::min(s.causal ? i + 1 : n, s.key_lengths ? s.key_lengths[b] : n),
                      nullptr};
}

// Recomputes row i in float64 from its weights (weights == nullptr: from its scores); false if it does not fit.
bool recompute_row(const Sdpa& s, std::size_t bh, std::size_t i, const float* weights, float* context_row) {
  const AttentionRow row = module_row(s, bh / s.heads, bh % s.heads, i);
  thread_local std::vector<float> own;
  if (!weights) {
    own.resize(s.tokens);
    attention_weights_f64(row, own.data());
    weights = own.data();
  }
  return attention_context_f64(weights, row, context_row);
}

// The smallest failed (batch·head, query) row, whatever the thread count: the error names the same row.
void note_failure(std::atomic<std::size_t>& first, std::size_t row) {
  std::size_t seen = first.load();
  while (row < seen && !first.compare_exchange_weak(seen, row)) {
  }
}
void throw_if_failed(const std::atomic<std::size_t>& first, const Sdpa& s) {
  const std::size_t row = first.load();
  if (row == SIZE_MAX) return;
  const std::size_t bh = row / s.tokens;
  throw Error(context_overflow_message(bh / s.heads, bh % s.heads, row % s.tokens), ErrorKind::range);
}

}  // namespace

std::size_t threads_for(double flops, std::size_t threads) { return flops < 2e5 ? 1 : resolve(threads); }

std::size_t linear_threads(std::size_t rows, std::size_t d_in, std::size_t n_out, std::size_t threads) {
  threads = threads_for(2.0 * rows * d_in * n_out, threads);
  if (threads <= 1) return 1;
  std::vector<std::size_t> ends;
  linear_tasks(rows, threads, false, ends);  // the fewest tasks: a prepacked weight gives at least as many
  return std::min(threads, ends.size());
}

std::size_t sdpa_threads(std::size_t batch, std::size_t tokens, std::size_t heads, std::size_t head_dim,
                         std::size_t threads) {
  const std::size_t BH = batch * heads;
  threads = threads_for(4.0 * BH * tokens * tokens * head_dim, threads);
  return threads <= 1 ? 1 : std::min(threads, head_row_tasks(BH, tokens, threads, false).size());
}

PackedWeight::PackedWeight(const float* w, std::size_t n_out, std::size_t d_in) {
  const auto& table = kernels::table();
  constexpr std::size_t kAlign = 64 / sizeof(float);
  storage_.resize(table.packed_nt_b_floats(n_out, d_in) + kAlign);
  offset_ = (kAlign - reinterpret_cast<std::uintptr_t>(storage_.data()) / sizeof(float) % kAlign) % kAlign;
  table.pack_nt_b_f32(w, d_in, n_out, d_in, storage_.data() + offset_);
  table_ = &table;
}

const float* PackedWeight::panels() const noexcept {
  return table_ == &kernels::table() ? storage_.data() + offset_ : nullptr;
}

bool linear(const float* x, std::size_t rows, std::size_t d_in, const float* w, const float* bias, std::size_t n_out,
            float* y, std::size_t threads, const PackedWeight* packed) {
  const auto& table = kernels::table();
  const kernels::GemmNT g{x,    d_in,  w,    d_in, y,    n_out,
                          rows, n_out, d_in, 1.0f, bias, packed ? packed->panels() : nullptr};
  threads = threads_for(2.0 * rows * d_in * n_out, threads);
  // One range runs here, with no std::function to build (it would allocate: a decoding step makes no allocation).
  if (threads <= 1) return table.gemm_nt_f32(g, 0, rows);
  thread_local std::vector<std::size_t> ends;  // the caller's: tasks read it, and a task never calls linear
  linear_tasks(rows, threads, g.b_packed != nullptr, ends);
  if (ends.size() == 1) return table.gemm_nt_f32(g, 0, rows);
  // The kernel notes a non-finite element as it stores it (the caller then screens y: core/src/overflow.hpp).
  std::atomic<bool> non_finite{false};
  const std::vector<std::size_t>& task_ends = ends;
  parallel_for(task_ends.size(), threads, [&](std::size_t ith, std::size_t) {
    const std::size_t r0 = ith ? task_ends[ith - 1] : 0, r1 = task_ends[ith];
    if (table.gemm_nt_f32(g, r0, r1)) non_finite.store(true, std::memory_order_relaxed);
  });
  return non_finite.load();
}

void sdpa_explain(const Sdpa& s, bool keep_steps, Generator* generator, double dropout_p, DropoutOrder order,
                  SdpaSteps& steps, float* context) {
  const auto& table = kernels::table();
  const std::size_t n = s.tokens, hd = s.head_dim, H = s.heads, BH = s.batch * H;
  const Shape wshape{s.batch, H, n, n};
  const std::size_t threads = threads_for(4.0 * BH * n * n * hd, s.threads);
  const float divisor = s.scaled ? static_cast<float>(std::sqrt(static_cast<double>(hd))) : 1.0f;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const std::size_t ldo = H * hd;

  // Pass 1 — scores: q·kᵀ per (batch, head)                                    (b, h, n, n)
  Tensor scores(wshape);
  for_each_head_rows(BH, n, threads, [&](std::size_t bh, std::size_t r0, std::size_t r1) {
    const std::size_t b = bh / H, h = bh % H;
    const float* query_rows = s.query.data + b * n * s.query.ld + s.query.col + h * hd;  // (n, hd) ld_q
    const float* key_rows = s.key.data + b * n * s.key.ld + s.key.col + h * hd;          // (n, hd) ld_k
    const kernels::GemmNT g{query_rows, s.query.ld, key_rows, s.key.ld, scores.ptr() + bh * n * n, n, n,
                            n,          hd,         1.0f,     nullptr};
    table.gemm_nt_f32(g, r0, r1);
  });
  if (keep_steps) steps.scores = scores;

  // Pass 2 — scale by √d_k (as the seed: scores / keys.shape[-1]**0.5), mask the future, softmax. In place.
  Tensor& w = scores;
  const bool renormalise = s.causal && s.route == CausalRoute::renormalise;
  auto scale_rows = [&](std::size_t bh, std::size_t r0, std::size_t r1) {
    float* base = w.ptr() + bh * n * n;
    for (std::size_t i = r0; i < r1; ++i)
      for (std::size_t j = 0; j < n; ++j) base[i * n + j] /= divisor;
  };
  if (s.scaled) for_each_head_rows(BH, n, threads, scale_rows);
  if (keep_steps) steps.scaled_scores = w;
  if (s.causal && !renormalise) {
    for_each_head_rows(BH, n, threads, [&](std::size_t bh, std::size_t r0, std::size_t r1) {
      float* base = w.ptr() + bh * n * n;
      for (std::size_t i = r0; i < r1; ++i) std::fill(base + i * n + i + 1, base + (i + 1) * n, neg_inf);
    });
    if (keep_steps) steps.masked_scores = w;
  }
  // Rows whose visible scaled scores left float32 get their weights in float64 below (core/src/overflow.hpp).
  std::vector<unsigned char> recompute(BH * n, 0);
  for_each_head_rows(BH, n, threads, [&](std::size_t bh, std::size_t r0, std::size_t r1) {
    for (std::size_t i = r0; i < r1; ++i) {
      const std::size_t see = s.causal ? i + 1 : n;
      if (first_non_finite(w.ptr() + (bh * n + i) * n, see) < see) recompute[bh * n + i] = 1;
    }
  });
  // The renormalise route needs the scaled scores again for rows whose visible weights underflow to 0
  // (steps.scaled_scores holds them when the steps are kept: no second copy).
  const Tensor scaled_copy = renormalise && !keep_steps ? w : Tensor();
  const Tensor& scaled = keep_steps ? steps.scaled_scores : scaled_copy;
  for_each_head_rows(BH, n, threads, [&](std::size_t bh, std::size_t r0, std::size_t r1) {
    table.softmax_f32(kernels::Softmax{w.ptr() + bh * n * n, n, n, n}, r0, r1);
  });
  if (renormalise) {
    // The seed's other route: softmax over every key, zero the future, divide each row by what is left.
    if (keep_steps) steps.unmasked_weights = w;
    for_each_head_rows(BH, n, threads, [&](std::size_t bh, std::size_t r0, std::size_t r1) {
      float* base = w.ptr() + bh * n * n;
      for (std::size_t i = r0; i < r1; ++i) {
        float* row = base + i * n;
        std::fill(row + i + 1, row + n, 0.0f);
        float sum = 0.0f;
        for (std::size_t j = 0; j <= i; ++j) sum += row[j];
        if (sum >= kMinVisibleMass) {
          for (std::size_t j = 0; j <= i; ++j) row[j] /= sum;
        } else {
          // The future dominated the row, so visible weights underflowed or lost precision: the renormalised row
          // is, in exact arithmetic, the softmax over the visible scores, which is what the −inf route computes.
          std::copy(scaled.ptr() + bh * n * n + i * n, scaled.ptr() + bh * n * n + i * n + i + 1, row);
          table.softmax_f32(kernels::Softmax{row, n, 1, i + 1}, 0, 1);
        }
      }
    });
  }
  for (std::size_t row = 0; row < BH * n; ++row)
    if (recompute[row]) attention_weights_f64(module_row(s, row / n / H, row / n % H, row % n), w.ptr() + row * n);
  steps.weights = std::move(scores);  // w: the scores buffer, now the weights (not copied)

  // Pass 3 — dropout on the weights (training only), drawn in PyTorch's order.
  const Tensor* applied = &steps.weights;
  if (generator && dropout_p > 0.0) {
    steps.weights_after_dropout = steps.weights;
    float* d = steps.weights_after_dropout.ptr();
    if (order == DropoutOrder::batch_major) {
      generator->dropout_(d, steps.weights_after_dropout.numel(), dropout_p);
    } else {
      for (std::size_t h = 0; h < H; ++h)
        for (std::size_t b = 0; b < s.batch; ++b) generator->dropout_(d + (b * H + h) * n * n, n * n, dropout_p);
    }
    applied = &steps.weights_after_dropout;
  }

  // Pass 4 — context: weights·v per head, written into its columns of (b, n, h·hd).
  std::atomic<std::size_t> failed{SIZE_MAX};
  for_each_head_rows(BH, n, threads, [&](std::size_t bh, std::size_t r0, std::size_t r1) {
    const std::size_t b = bh / H, h = bh % H;
    const float* v = s.value.data + b * n * s.value.ld + s.value.col + h * hd;  // (n, hd) ld_v
    const kernels::GemmNN g{
        applied->ptr() + bh * n * n, n, v, s.value.ld, context + b * n * ldo + h * hd, ldo, n, hd, n};
    table.gemm_nn_f32(g, r0, r1);
    for (std::size_t i = r0; i < r1; ++i) {  // rows recomputed above, or whose context left float32: float64
      float* row = context + (b * n + i) * ldo + h * hd;
      if ((recompute[bh * n + i] || first_non_finite(row, hd) < hd) &&
          !recompute_row(s, bh, i, applied->ptr() + (bh * n + i) * n, row))
        note_failure(failed, bh * n + i);
    }
  });
  throw_if_failed(failed, s);
  if (!keep_steps) steps.weights_after_dropout = Tensor();
}

namespace {

float sdpa_scale(const Sdpa& s) {
  return s.scaled ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim))) : 1.0f;
}

// The fused kernel's problem for (batch·head) bh: its query, key and value columns and its context columns.
kernels::Attention head_attention(const Sdpa& s, std::size_t bh, float scale, float* context) {
  const std::size_t n = s.tokens, hd = s.head_dim, H = s.heads, ldo = H * hd, b = bh / H, h = bh % H;
  // Set field by field: a braced initializer of this padded struct clears all of it first (rep stos, ~5% of C1).
  kernels::Attention a;
  a.q = s.query.data + b * n * s.query.ld + s.query.col + h * hd, a.ld_q = s.query.ld;
  a.k = s.key.data + b * n * s.key.ld + s.key.col + h * hd, a.ld_k = s.key.ld;
  a.v = s.value.data + b * n * s.value.ld + s.value.col + h * hd, a.ld_v = s.value.ld;
  a.out = context + b * n * ldo + h * hd, a.ld_out = ldo;
  a.n_q = a.n_k = n, a.d = hd, a.scale = scale, a.causal = s.causal;
  return a;
}

}  // namespace

void sdpa_fast(const Sdpa& s, float* context, float* weights) {
  const auto& table = kernels::table();
  const std::size_t n = s.tokens, hd = s.head_dim, H = s.heads, ldo = H * hd;
  const float scale = sdpa_scale(s);
  const std::size_t threads = threads_for(4.0 * s.batch * H * n * n * hd, s.threads);
  std::atomic<std::size_t> failed{SIZE_MAX};
  // Causal: row i's cost grows with i (the fused kernel skips the future keys).
  for_each_head_rows(s.batch * H, n, threads, s.causal, [&](std::size_t bh, std::size_t r0, std::size_t r1) {
    const std::size_t b = bh / H, h = bh % H;
    kernels::Attention a = head_attention(s, bh, scale, context);
    // Padding keys are left out of the call: neither packed nor scored. A sequence of padding only gives zeros.
    if (s.key_lengths) a.n_k = s.key_lengths[b];
    if (a.n_k == 0) {
      for (std::size_t i = r0; i < r1; ++i) std::fill_n(a.out + i * ldo, hd, 0.0f);
      return;
    }
    if (weights) a.weights = weights + bh * n * n, a.ld_weights = n, a.weights_zeroed = true;  // (b, h, n, n), 0s
    if (table.attention_f32(a, r0, r1) == 0) return;
    for (std::size_t i = r0; i < r1; ++i) {  // rows the kernel flagged (output NaN): float64, weights too
      float* row = context + (b * n + i) * ldo + h * hd;
      if (!std::isnan(row[0])) continue;
      float* wrow = weights ? weights + (bh * n + i) * n : nullptr;
      if (wrow) attention_weights_f64(module_row(s, b, h, i), wrow);
      if (!recompute_row(s, bh, i, wrow, row)) note_failure(failed, bh * n + i);
    }
  });
  throw_if_failed(failed, s);
}

bool sdpa_fast_unflagged(const Sdpa& s, float* context) {
  kernels::AttentionHeads a;
  a.t = head_attention(s, 0, sdpa_scale(s), context);
  a.batch = s.batch, a.heads = s.heads, a.head_step = s.head_dim;
  return kernels::table().attention_heads_f32(a) == 0;
}

}  // namespace attnkit::detail
