// attnkit — the attention op's backward pass, FlashAttention-2's recurrences without atomics: per (query block,
// key block) tile the weights P = exp(S + mask − lse) are recomputed from the forward's row log-sum-exp, so no
// (n_q, n_k) matrix is held. Pass 1 owns key blocks (dV += Pᵀ·dO, dK += dSᵀ·Q), pass 2 owns query blocks
// (dQ += dS·K); each accumulates in a fixed order, so any thread count gives the same bits. The products run on
// the kernel table's gemms (xsimd, one build per instruction set); the element-wise step between them too
// (kernels::AttentionGradRow).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention_backward.hpp"
#include "attnkit/parallel.hpp"
#include "kernels/kernels.hpp"

namespace attnkit::detail {
namespace {

// Tile sizes: fixed (never from the table or the thread count), so every table gives its own fixed order.
constexpr std::size_t kQueryBlock = 128, kKeyBlock = 128;

struct TileBuffers {
  std::vector<float> weights, dropped, grad_scores, transposed, product;  // (kQueryBlock, kKeyBlock) or (block, d)
  TileBuffers(std::size_t d_max)
      : weights(kQueryBlock * kKeyBlock),
        dropped(kQueryBlock * kKeyBlock),
        grad_scores(kQueryBlock * kKeyBlock),
        transposed(kQueryBlock * kKeyBlock),
        product(std::max(kQueryBlock, kKeyBlock) * d_max) {}
};

// One tile: rows [i0, i0 + qn) of (batch b, query head h) against keys [j0, j0 + kn). Fills weights P (qn, kn),
// dropped P·keep·scale (qn, kn; = P without dropout) and grad_scores dS = P ⊙ (dP − D) (qn, kn), where
// dP = (dO·Vᵀ)·keep·scale. D: (n_q) for this head.
void tile(const BackwardProblem& g, const kernels::KernelTable& table, const float* D, std::size_t b, std::size_t h,
          std::size_t i0, std::size_t qn, std::size_t j0, std::size_t kn, TileBuffers& t) {
  const AttentionProblem& p = *g.forward;
  const std::size_t bh = b * p.h_q + h, d = p.d, d_v = p.d_v;
  float* S = t.weights.data();
  float* dP = t.grad_scores.data();
  table.gemm_nt_f32(
      kernels::GemmNT{p.query_of(b, h) + i0 * d, d, p.key_of(b, h) + j0 * d, d, S, kn, qn, kn, d, p.scale, nullptr}, 0,
      qn);
  table.gemm_nt_f32(kernels::GemmNT{g.grad_output + (bh * p.n_q + i0) * d_v, d_v, p.value_of(b, h) + j0 * d_v, d_v, dP,
                                    kn, qn, kn, d_v, 1.0f, nullptr},
                    0, qn);
  const float* mask = p.mask_of(b, h);
  for (std::size_t r = 0; r < qn; ++r) {
    const std::size_t i = i0 + r, see = p.visible(i);
    table.attention_grad_row_f32(kernels::AttentionGradRow{
        S + r * kn, t.dropped.data() + r * kn, dP + r * kn, mask ? mask + i * p.mask->stride_q + j0 : nullptr,
        g.keep ? g.keep + (bh * p.n_q + i) * p.n_k + j0 : nullptr, kn, see > j0 ? see - j0 : 0, g.lse[bh * p.n_q + i],
        D[i], g.dropout_scale});
  }
}

// out (cols, rows) = in (rows, cols)ᵀ
void transpose(const float* in, std::size_t rows, std::size_t cols, float* out) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
}

std::size_t blocks(std::size_t n, std::size_t block) { return (n + block - 1) / block; }

}  // namespace

void attention_backward_tiled(const BackwardProblem& g) {
  const AttentionProblem& p = *g.forward;
  const auto& table = g.table ? *g.table : kernels::table();
  const std::size_t BH = p.batch * p.h_q, n_q = p.n_q, n_k = p.n_k, d = p.d, d_v = p.d_v;
  const std::size_t group = p.h_q / p.h_kv, d_max = std::max(d, d_v);
  const double flops = 2.0 * BH * n_q * n_k * (2 * d + 3 * d_v);
  const std::size_t threads = flops < 2e5 ? 1 : p.threads ? p.threads : default_num_threads();

  // D_i = Σ_c dO_ic·O_ic per row (b, h_q, n_q), in column order.
  std::vector<float> D(BH * n_q);
  for (std::size_t row = 0; row < BH * n_q; ++row) {
    float sum = 0.0f;
    for (std::size_t c = 0; c < d_v; ++c) sum += g.grad_output[row * d_v + c] * g.output[row * d_v + c];
    D[row] = sum;
  }

  // Pass 1: one task per (batch, kv head, key block); query heads of the group, then query blocks, in order.
  const std::size_t key_blocks = blocks(n_k, kKeyBlock), query_blocks = blocks(n_q, kQueryBlock);
  parallel_for(p.batch * p.h_kv * key_blocks, threads, [&](std::size_t task, std::size_t) {
    const std::size_t kb = task % key_blocks, bkv = task / key_blocks, b = bkv / p.h_kv, hkv = bkv % p.h_kv;
    const std::size_t j0 = kb * kKeyBlock, kn = std::min(kKeyBlock, n_k - j0);
    TileBuffers t(d_max);
    std::vector<float> dK(kn * d, 0.0f), dV(kn * d_v, 0.0f);  // (kn, d), (kn, d_v)
    for (std::size_t h = hkv * group; h < (hkv + 1) * group; ++h) {
      const std::size_t bh = b * p.h_q + h;
      for (std::size_t qb = 0; qb < query_blocks; ++qb) {
        const std::size_t i0 = qb * kQueryBlock, qn = std::min(kQueryBlock, n_q - i0);
        if (p.visible(i0 + qn - 1) <= j0) continue;  // no row of the block sees these keys (causal future)
        tile(g, table, D.data() + bh * n_q, b, h, i0, qn, j0, kn, t);
        // dV (kn, d_v) += droppedᵀ (kn, qn) · dO (qn, d_v)
        transpose(t.dropped.data(), qn, kn, t.transposed.data());
        table.gemm_nn_f32(kernels::GemmNN{t.transposed.data(), qn, g.grad_output + (bh * n_q + i0) * d_v, d_v,
                                          t.product.data(), d_v, kn, d_v, qn},
                          0, kn);
        for (std::size_t e = 0; e < kn * d_v; ++e) dV[e] += t.product[e];
        // dK (kn, d) += dSᵀ (kn, qn) · Q (qn, d)
        transpose(t.grad_scores.data(), qn, kn, t.transposed.data());
        table.gemm_nn_f32(
            kernels::GemmNN{t.transposed.data(), qn, p.query_of(b, h) + i0 * d, d, t.product.data(), d, kn, d, qn}, 0,
            kn);
        for (std::size_t e = 0; e < kn * d; ++e) dK[e] += t.product[e];
      }
    }
    float* key_out = g.grad_key + ((b * p.h_kv + hkv) * n_k + j0) * d;
    float* value_out = g.grad_value + ((b * p.h_kv + hkv) * n_k + j0) * d_v;
    for (std::size_t e = 0; e < kn * d; ++e) key_out[e] = dK[e] * p.scale;
    std::copy(dV.begin(), dV.end(), value_out);
  });

  // Pass 2: one task per (batch, query head, query block); key blocks in order.
  parallel_for(BH * query_blocks, threads, [&](std::size_t task, std::size_t) {
    const std::size_t qb = task % query_blocks, bh = task / query_blocks, b = bh / p.h_q, h = bh % p.h_q;
    const std::size_t i0 = qb * kQueryBlock, qn = std::min(kQueryBlock, n_q - i0);
    TileBuffers t(d_max);
    std::vector<float> dQ(qn * d, 0.0f);  // (qn, d)
    const std::size_t see = p.visible(i0 + qn - 1);
    for (std::size_t kb = 0; kb < key_blocks && kb * kKeyBlock < see; ++kb) {
      const std::size_t j0 = kb * kKeyBlock, kn = std::min(kKeyBlock, n_k - j0);
      tile(g, table, D.data() + bh * n_q, b, h, i0, qn, j0, kn, t);
      // dQ (qn, d) += dS (qn, kn) · K (kn, d)
      table.gemm_nn_f32(
          kernels::GemmNN{t.grad_scores.data(), kn, p.key_of(b, h) + j0 * d, d, t.product.data(), d, qn, d, kn}, 0, qn);
      for (std::size_t e = 0; e < qn * d; ++e) dQ[e] += t.product[e];
    }
    float* query_out = g.grad_query + (bh * n_q + i0) * d;
    for (std::size_t e = 0; e < qn * d; ++e) query_out[e] = dQ[e] * p.scale;
  });
}

}  // namespace attnkit::detail
