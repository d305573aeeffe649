// attnkit — a decoding step's attention over the KV cache, split over the key axis (flash-decoding).
// The cache of each (sequence, head) is cut into fixed chunks of kDecodeChunk keys at absolute positions; each
// chunk is one task: the decode kernel gives, for every query row of the step, that chunk's context normalised by
// its own sum and its log-sum-exp. The merge then weighs the chunks by exp(lse_c − max lse), in chunk order. The
// chunks do not depend on the thread count (threads only take tasks), so neither do the bits. Grouped-query heads:
// query head h reads cache head h / (heads / kv_heads). Cross-attention: every row sees the whole memory (not
// causal), less the padding its additive mask gives −inf.
#include <atomic>
#include <cmath>
#include <limits>

#include "attnkit/decoder.hpp"
#include "attnkit/errors.hpp"
#include "attnkit/parallel.hpp"
#include "kernels/kernels.hpp"
#include "ops.hpp"
#include "overflow.hpp"

namespace attnkit {
namespace {

// What every task of one step reads; tasks capture a pointer to it (a std::function that small needs no heap).
struct SplitJob {
  const kernels::KernelTable* table;
  const float *qkv, *keys, *values, *mask;  // mask: (batch, cache_tokens) additive, or nullptr
  float *partial, *lse;
  std::size_t heads, group, head_dim, qkv_ld, cache_tokens, slice, chunks_max;  // group: query heads per kv head
  std::size_t position, tokens, seen, chunks;  // seen: keys the step's last token sees; chunks: over them
  bool causal;
  float scale;
  std::atomic<std::size_t> flagged{0};

  // Task (sequence bi, head h, chunk c): rows [0, tokens) of the step against keys [c·C, min((c+1)·C, seen)).
  void run(std::size_t task) {
    const std::size_t c = task % chunks, bh = task / chunks, bi = bh / heads, h = bh % heads;
    const std::size_t first = c * kDecodeChunk;
    const std::size_t n_k = seen - first < kDecodeChunk ? seen - first : kDecodeChunk;
    const std::size_t kv_head = bi * (heads / group) + h / group;
    const std::size_t cache = (kv_head * cache_tokens + first) * head_dim, part = (bh * chunks_max + c) * slice;
    kernels::Attention a{qkv + bi * slice * qkv_ld + h * head_dim,
                         qkv_ld,
                         keys + cache,
                         head_dim,
                         values + cache,
                         head_dim,
                         partial + part * head_dim,
                         head_dim,
                         tokens,
                         n_k,
                         head_dim,
                         scale,
                         causal};
    a.causal_offset =
        static_cast<std::ptrdiff_t>(position) - static_cast<std::ptrdiff_t>(first);  // query i sees ≤ position + i
    if (mask) a.mask = mask + bi * cache_tokens + first;  // ld_mask 0: one row of padding for every query
    a.lse = lse + part;
    if (table->attention_decode_f32(a, 0, tokens)) flagged.fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace

void Decoder::attend(std::size_t position, std::size_t tokens, float* out, std::size_t batch_stride) {
  const std::size_t H = heads_, hd = head_dim_, D = width_, b = batch_;
  const std::size_t chunks_max = (cache_tokens_ + kDecodeChunk - 1) / kDecodeChunk;
  const float ninf = -std::numeric_limits<float>::infinity();
  SplitJob job;
  job.table = &kernels::table();
  job.qkv = qkv_.data();
  job.keys = keys_.data();
  job.values = values_.data();
  job.mask = mask_.empty() ? nullptr : mask_.data();
  job.partial = partial_.data();
  job.lse = lse_.data();
  job.heads = H;
  job.group = H / kv_heads_;
  job.head_dim = hd;
  job.qkv_ld = qkv_ld_;
  job.cache_tokens = cache_tokens_;
  job.slice = slice_;
  job.chunks_max = chunks_max;
  job.position = cross_ ? 0 : position;
  job.tokens = tokens;
  job.seen = cross_ ? memory_tokens_ : position + tokens;
  job.causal = !cross_;
  job.chunks = (job.seen + kDecodeChunk - 1) / kDecodeChunk;
  job.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  const std::size_t tasks = b * H * job.chunks;
  const std::size_t threads = detail::threads_for(4.0 * b * H * tokens * job.seen * hd, threads_);
  if (threads <= 1 || tasks == 1) {
    for (std::size_t task = 0; task < tasks; ++task) job.run(task);
  } else {
    SplitJob* shared = &job;
    parallel_for(tasks, threads, [shared](std::size_t ith, std::size_t) { shared->run(ith); });
  }

  // Merge in chunk order: out = Σ_c w_c·partial_c / Σ_c w_c, w_c = exp(lse_c − max_c lse_c).
  for (std::size_t bh = 0; bh < b * H; ++bh) {
    const std::size_t bi = bh / H, h = bh % H;
    for (std::size_t i = 0; i < tokens; ++i) {
      float* dst = out + bi * batch_stride + i * D + h * hd;
      const std::size_t base = bh * chunks_max * slice_ + i;  // lse of chunk c at base + c·slice
      float top = ninf;
      for (std::size_t c = 0; c < job.chunks; ++c) top = std::max(top, lse_[base + c * slice_]);
      bool flagged = false;
      float sum = 0.0f;
      for (std::size_t x = 0; x < hd; ++x) dst[x] = 0.0f;
      for (std::size_t c = 0; c < job.chunks; ++c) {
        const float* part = partial_.data() + (base + c * slice_) * hd;
        if (std::isnan(part[0])) flagged = true;  // the kernel's mark for a row that left float32
        const float lse = lse_[base + c * slice_];
        if (lse == ninf) continue;  // a chunk wholly in this row's future
        const float w = std::exp(lse - top);
        sum += w;
        for (std::size_t x = 0; x < hd; ++x) dst[x] = std::fma(w, part[x], dst[x]);
      }
      if (!flagged) {
        // A row every key of which is padding sees nothing: zeros, as forward gives.
        for (std::size_t x = 0; x < hd; ++x) dst[x] = sum > 0.0f ? dst[x] / sum : 0.0f;
        continue;
      }
      // Scores or context left float32: the row in float64 over every key it sees (core/src/overflow.hpp).
      const std::size_t cache = (bi * kv_heads_ + h / job.group) * cache_tokens_ * hd;
      const std::size_t see = cross_ ? memory_tokens_ : position + i + 1;
      const detail::AttentionRow row{qkv_.data() + (bi * slice_ + i) * qkv_ld_ + h * hd,
                                     keys_.data() + cache,
                                     hd,
                                     values_.data() + cache,
                                     hd,
                                     see,
                                     hd,
                                     hd,
                                     1.0 / std::sqrt(static_cast<double>(hd)),
                                     see,
                                     job.mask ? job.mask + bi * cache_tokens_ : nullptr};
      detail::attention_weights_f64(row, row_weights_.data());
      if (!detail::attention_context_f64(row_weights_.data(), row, dst))
        throw Error(detail::context_overflow_message(bi, h, position + i), ErrorKind::range);
    }
  }
}

}  // namespace attnkit
