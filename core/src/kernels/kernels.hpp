// attnkit — the kernel table: every hot loop of the mechanisms, written once over xsimd in
// kernels_impl.hpp and compiled once per instruction set. select.cpp is the one place that picks the
// set (xsimd::dispatch at start-up). Kernels never create threads: each takes the row range
// [row_begin, row_end) its caller (parallel_for) assigns. The accumulation order of every output
// element does not depend on the row range, so results are identical for any thread count.
#pragma once
#include <cstddef>

namespace attnkit::kernels {

// C[i, j] = alpha · Σ_p A[i, p] · B[j, p] + (bias ? bias[j] : 0)      A: (m, k)  B: (n, k)  C: (m, n)
// Used for nn.Linear (x·Wᵀ + b) and for scores (q·kᵀ). Leading dimensions are in elements.
// b_packed: B already packed by pack_nt_b_f32 for this table (nn.Linear weights, packed once per Module);
// the call then skips packing B. b must still point at B (tiny products read it in place). Same bits either way.
struct GemmNT {
  const float* a;
  std::size_t lda;
  const float* b;
  std::size_t ldb;
  float* c;
  std::size_t ldc;
  std::size_t m, n, k;
  float alpha = 1.0f;
  const float* bias = nullptr;
  const float* b_packed = nullptr;
};

// C[i, j] = Σ_p A[i, p] · B[p, j]                                     A: (m, k)  B: (k, n)  C: (m, n)
// Used for weights·values and for the self-v1 projection x·W.
struct GemmNN {
  const float* a;
  std::size_t lda;
  const float* b;
  std::size_t ldb;
  float* c;
  std::size_t ldc;
  std::size_t m, n, k;
};

// Row-wise softmax in place over an (m, n) matrix with leading dimension ld: subtract the row max,
// exponentiate, divide by the sum. −inf entries become 0; a row that is entirely −inf becomes all 0
// (documented behaviour: a fully masked row attends to nothing) instead of NaN.
struct Softmax {
  float* x;
  std::size_t ld;
  std::size_t m, n;
};

// The fused fast path for one (batch, head): context = softmax(q·kᵀ·scale [+ mask] [+ causal mask])·v, with an
// online softmax over key blocks, never holding an (n_q, n_k) matrix. Rows [row_begin, row_end) of the queries.
//   q: (n_q, d) ld_q    k: (n_k, d) ld_k    v: (n_k, d_v) ld_v    out: (n_q, d_v) ld_out
// causal: query i sees keys j ≤ i + causal_offset (0: PyTorch's upper-left alignment; n_k − n_q: lower-right).
// mask: added to the scores, −inf = may not attend; row i at mask + i·ld_mask (ld_mask 0: one row for every
// query), keys contiguous. Key blocks that no row may see are skipped. A row that sees no key gives zeros.
// Returns how many rows of the range had scores or a context that left float32: their output is set to NaN, for
// the caller to recompute (core/src/overflow.hpp). Same numbers as the explain path to ~1e-6 relative.
struct Attention {
  const float* q;
  std::size_t ld_q;
  const float* k;
  std::size_t ld_k;
  const float* v;
  std::size_t ld_v;
  float* out;
  std::size_t ld_out;
  std::size_t n_q, n_k, d;
  float scale;
  bool causal;
  std::ptrdiff_t causal_offset = 0;
  std::size_t d_v = 0;  // columns of v and out; 0: d
  const float* mask = nullptr;
  std::size_t ld_mask = 0;
  // Optional (n_q): each row's log-sum-exp of its visible scaled scores, m + log(l) (running max m, sum l of the
  // online softmax); −inf for a row that sees no key. Partial results over key ranges merge with it (split-KV
  // decoding, core/src/decoder_attention.cpp); the backward pass needs it too.
  float* lse = nullptr;
  // Optional (n_q, n_k) at ld_weights: each computed row's attention weights, softmax(q·kᵀ·scale [+ mask]), 0 where it
  // may not attend, all 0 for a row that sees no key (the explain path's weights, kernels/attention_weights.hpp).
  // A flagged row's weights are left to the caller, with its output.
  float* weights = nullptr;
  std::size_t ld_weights = 0;
  // The caller's weights are already 0 (a new Tensor is): the fused kernel leaves the keys past those a tile's rows
  // may see (the causal future, half of a causal plane) unwritten instead of storing zeros over them again.
  bool weights_zeroed = false;
};

// Every (batch, head) problem of a call in one go, laid out as Module's projections (batch, tokens, heads·head_dim):
// problem (b, h) is `t` with q and out moved by b·n_q·ld + h·head_step and k and v by b·n_k·ld + h·head_step. For
// the direct path's problems (attention_scratch_floats 0) without mask, lse or weights: lanes across problems, more
// rows per vector, one call. Same bits per row as attention_f32; returns how many rows were flagged (as
// attention_f32: output NaN). Any other problem is refused whole: returns batch·heads·n_q, computes nothing.
struct AttentionHeads {
  Attention t;  // problem (0, 0), all rows
  std::size_t batch, heads, head_step;
};

// Call granularity (performance, not correctness): each call packs its B operand (gemm: all of B, unless
// b_packed; attention: k and v of one head) into per-thread panels, which costs O(n·k) no matter how few rows the call
// covers. Give each call many rows: one contiguous range per thread (split_range(rows, ith, nth)) or
// whole heads. Attention's query tiles (16, 24 or 48 rows, aligned) all divide 96: ranges that start on
// multiples of 96 split no tile. Any split gives bitwise identical results (see the top).

// The attention op's backward pass (core/src/attention_backward.cpp) for one key/value head and its `group` query
// heads, over keys [key_begin, key_end): FlashAttention-2's recurrences, the weights recomputed tile by tile from the
// forward's log-sum-exp, never an (n_q, n_k) matrix. Writes rows [key_begin, key_end) of grad_k and grad_v, and all of
// grad_q as this key range's share, scale·Σ_{j in range} dS_ij·k_j (the caller sums the shares of a split key axis).
// key_begin must be a multiple of kAttentionBackwardKeys. Every gradient element is one fma chain in a fixed order
// (query heads, then queries, for dK and dV; keys for dQ), whatever ran before on the thread.
//   q: (group, n_q, d)   k: (n_k, d)   v: (n_k, d_v)   grad_out: (group, n_q, d_v)   lse, D: (group, n_q)
// D = Σ_c grad_out·out per row. mask: additive (−inf = may not attend), head g's row i at
// mask + g·mask_head_stride + i·ld_mask, keys contiguous. keep: (group, n_q, n_k) 0/1 bytes of the forward's dropout.
constexpr std::size_t kAttentionBackwardKeys = 96;
struct AttentionBackward {
  const float *q, *k, *v, *grad_out, *lse, *D;
  std::size_t group, n_q, n_k, d, d_v;
  float scale;
  bool causal;
  std::ptrdiff_t causal_offset;  // as Attention::causal_offset
  float* grad_q;                 // (group, n_q, d)
  float* grad_k;                 // (n_k, d)
  float* grad_v;                 // (n_k, d_v)
  const float* mask = nullptr;
  std::size_t ld_mask = 0, mask_head_stride = 0;
  const unsigned char* keep = nullptr;
  float dropout_scale = 1.0f;  // 1 / (1 − p): the forward's scale of kept weights
};

struct KernelTable {
  const char* isa;         // "avx512bw", "fma3+avx2", "sse2", "wasm-simd128"
  std::size_t simd_width;  // floats per vector
  // gemm's register tile rows (MR) and packed A block rows (MC), for callers that split rows into tasks: a range that
  // ends inside a tile runs the whole tile's arithmetic for its last rows, and a block of MC rows reuses each B panel
  // most (core/src/kernels/gemm.hpp).
  std::size_t gemm_tile_rows, gemm_block_rows;
  // Returns whether an element it wrote is not finite (±inf, NaN): the overflow screen, at no extra pass.
  bool (*gemm_nt_f32)(const GemmNT&, std::size_t row_begin, std::size_t row_end);
  void (*gemm_nn_f32)(const GemmNN&, std::size_t row_begin, std::size_t row_end);
  void (*softmax_f32)(const Softmax&, std::size_t row_begin, std::size_t row_end);
  std::size_t (*attention_f32)(const Attention&, std::size_t row_begin, std::size_t row_end);
  // The same for few query rows against many keys (decoding): k and v read in place, no packing, no heap.
  // mask as attention_f32's (−inf keys are not scored). Same numbers as attention_f32 to ~1e-6 relative; each row's
  // bits depend only on its inputs.
  std::size_t (*attention_decode_f32)(const Attention&, std::size_t row_begin, std::size_t row_end);
  std::size_t (*attention_heads_f32)(const AttentionHeads&);
  // Packs B (n, k) of gemm_nt once, for GemmNT::b_packed: writes packed_nt_b_floats(n, k) floats to `packed`,
  // which must be aligned to 64 bytes. The layout is this table's own (its tile width).
  std::size_t (*packed_nt_b_floats)(std::size_t n, std::size_t k);
  void (*pack_nt_b_f32)(const float* b, std::size_t ldb, std::size_t n, std::size_t k, float* packed);
  // Floats of per-thread scratch (thread_local, grown, never shrunk) a call of that shape leaves on the thread
  // that ran it, for memory estimates (Module::forward_bytes). Each kernel's buffers are its own, and gemm_nt with
  // and without b_packed use different ones. Keep these next to the buffers they describe.
  std::size_t (*gemm_nt_scratch_floats)(std::size_t m, std::size_t n, std::size_t k, bool b_packed);
  std::size_t (*gemm_nn_scratch_floats)(std::size_t m, std::size_t n, std::size_t k);
  std::size_t (*attention_scratch_floats)(std::size_t n_q, std::size_t n_k, std::size_t d);
  void (*attention_backward_f32)(const AttentionBackward&, std::size_t key_begin, std::size_t key_end);
  // The efficiency yardstick (kernels/fma_peak.hpp): `steps` rounds of independent fma chains at this table's width,
  // registers only; returns the FLOPs done and writes a lane of the result to *sink.
  double (*fma_peak_f32)(std::size_t steps, float* sink);
};

// The table for the best instruction set this CPU runs (chosen once).
const KernelTable& table();
// Every table compiled into this build that this CPU can run (for tests and benchmarks).
const KernelTable* const* available_tables(std::size_t* count);

}  // namespace attnkit::kernels
