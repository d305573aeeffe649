// attnkit — the attention op's backward pass over a validated problem: one task per (batch, key/value head) runs the
// kernel table's fused backward (kernels::AttentionBackward, core/src/kernels/attention_backward.hpp), which owns that
// head's dK, dV and its query heads' dQ, so no gradient element is shared between tasks. When there are few heads
// (fewer than kTasks), the key axis is also split into chunks fixed by the shape alone; each chunk's share of dQ goes
// to its own buffer and the shares are summed in chunk order. Either way the bits do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "attention_backward.hpp"
#include "attnkit/parallel.hpp"
#include "kernels/kernels.hpp"

namespace attnkit::detail {
namespace {

constexpr std::size_t kTasks = 8;  // enough tasks for any thread count this library runs well at; never from threads

std::size_t blocks(std::size_t n, std::size_t block) { return (n + block - 1) / block; }

}  // namespace

void attention_backward_tiled(const BackwardProblem& g) {
  const AttentionProblem& p = *g.forward;
  const auto& table = g.table ? *g.table : kernels::table();
  const std::size_t BH = p.batch * p.h_q, n_q = p.n_q, n_k = p.n_k, d = p.d, d_v = p.d_v;
  const std::size_t group = p.h_q / p.h_kv, heads = p.batch * p.h_kv;
  if (n_q == 0 || n_k == 0) {  // nothing to attend to, or nobody attending: zero gradients (else the kernel writes all)
    std::fill(g.grad_query, g.grad_query + BH * n_q * d, 0.0f);
    std::fill(g.grad_key, g.grad_key + heads * n_k * d, 0.0f);
    std::fill(g.grad_value, g.grad_value + heads * n_k * d_v, 0.0f);
    return;
  }
  const double flops = 2.0 * BH * n_q * n_k * (2 * d + 3 * d_v);
  const std::size_t threads = flops < 2e5 ? 1 : p.threads ? p.threads : default_num_threads();

  // D_i = Σ_c dO_ic·O_ic per row (b, h_q, n_q), in column order.
  std::vector<float> D(BH * n_q);
  parallel_for(BH, threads, [&](std::size_t bh, std::size_t) {
    for (std::size_t row = bh * n_q; row < (bh + 1) * n_q; ++row) {
      float sum = 0.0f;
      for (std::size_t c = 0; c < d_v; ++c) sum += g.grad_output[row * d_v + c] * g.output[row * d_v + c];
      D[row] = sum;
    }
  });

  // The key axis in `chunks` runs of whole kernel blocks (1 when there are heads enough).
  constexpr std::size_t KB = kernels::kAttentionBackwardKeys;
  const std::size_t key_blocks = blocks(n_k, KB);
  std::size_t chunks = heads >= kTasks ? 1 : std::min(key_blocks, blocks(kTasks, heads));
  const std::size_t per_chunk = blocks(key_blocks, chunks) * KB;
  chunks = blocks(n_k, per_chunk);
  std::vector<float> shares(chunks > 1 ? chunks * BH * n_q * d : 0);  // (chunks, b, h_q, n_q, d)

  parallel_for(heads * chunks, threads, [&](std::size_t task, std::size_t) {
    const std::size_t chunk = task % chunks, bkv = task / chunks, b = bkv / p.h_kv, h0 = (bkv % p.h_kv) * group;
    const std::size_t bh0 = b * p.h_q + h0;  // the group's first query head
    kernels::AttentionBackward a{p.query_of(b, h0),
                                 p.key_of(b, h0),
                                 p.value_of(b, h0),
                                 g.grad_output + bh0 * n_q * d_v,
                                 g.lse + bh0 * n_q,
                                 D.data() + bh0 * n_q,
                                 group,
                                 n_q,
                                 n_k,
                                 d,
                                 d_v,
                                 p.scale,
                                 p.causal != CausalAlign::none,
                                 static_cast<std::ptrdiff_t>(p.causal_offset()),
                                 (chunks > 1 ? shares.data() + chunk * BH * n_q * d : g.grad_query) + bh0 * n_q * d,
                                 g.grad_key + bkv * n_k * d,
                                 g.grad_value + bkv * n_k * d_v};
    if (p.mask) {
      a.mask = p.mask_of(b, h0);
      a.ld_mask = p.mask->stride_q;
      a.mask_head_stride = p.mask->stride_h;
    }
    if (g.keep) {
      a.keep = g.keep + bh0 * n_q * n_k;
      a.dropout_scale = g.dropout_scale;
    }
    table.attention_backward_f32(a, chunk * per_chunk, std::min(n_k, (chunk + 1) * per_chunk));
  });

  if (chunks > 1)  // dQ = the chunks' shares summed in chunk order
    parallel_for(BH, threads, [&](std::size_t bh, std::size_t) {
      for (std::size_t e = bh * n_q * d; e < (bh + 1) * n_q * d; ++e) {
        float sum = shares[e];
        for (std::size_t c = 1; c < chunks; ++c) sum += shares[c * BH * n_q * d + e];
        g.grad_query[e] = sum;
      }
    });
}

}  // namespace attnkit::detail
