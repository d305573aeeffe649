// attnkit — attention ops composed from the kernels: projections, scaled dot-product attention
// (explain path with every step, fused fast path), masks and dropout. Internal to core.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "attnkit/mechanisms.hpp"
#include "attnkit/random.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit::detail {

// An nn.Linear weight (n_out, d_in) packed once into the gemm kernel's panels (kernels::GemmNT::b_packed), so
// forward calls skip repacking it. Immutable; Modules and their copies share it.
class PackedWeight {
 public:
  PackedWeight(const float* w, std::size_t n_out, std::size_t d_in);
  PackedWeight(const PackedWeight&) = delete;
  PackedWeight& operator=(const PackedWeight&) = delete;
  // The packed panels for the kernel table in use, or nullptr (then linear packs on the fly).
  const float* panels() const noexcept;

 private:
  std::vector<float> storage_;
  std::size_t offset_ = 0;  // floats from storage_.data() to the first 64-byte boundary
  const void* table_ = nullptr;
};

// Threads a problem of this many flops runs on: 1 when small (waking the pool costs more than the work),
// else `threads` (0: default_num_threads()).
std::size_t threads_for(double flops, std::size_t threads);
// The threads linear and sdpa_explain / sdpa_fast run their tasks on at most (the caller is one), for memory estimates.
std::size_t linear_threads(std::size_t rows, std::size_t d_in, std::size_t n_out, std::size_t threads);
std::size_t sdpa_threads(std::size_t batch, std::size_t tokens, std::size_t heads, std::size_t head_dim,
                         std::size_t threads);

// y (rows, n_out) = x (rows, d_in) · wᵀ (n_out, d_in)ᵀ + bias (n_out, optional)    nn.Linear
// packed: w packed ahead of time (optional; same results). Returns whether an element of y is not finite (the
// gemm kernel notes it as it stores): a caller screens y for overflow (core/src/overflow.hpp) only then.
bool linear(const float* x, std::size_t rows, std::size_t d_in, const float* w, const float* bias, std::size_t n_out,
            float* y, std::size_t threads, const PackedWeight* packed = nullptr);

// One of queries/keys/values as (batch, tokens, ld) rows: head h reads columns [col + h·head_dim, … + head_dim).
struct HeadsView {
  const float* data;
  std::size_t ld;   // floats between consecutive tokens
  std::size_t col;  // first column of head 0
};

struct Sdpa {
  HeadsView query, key, value;
  std::size_t batch, tokens, heads, head_dim;
  bool causal;
  bool scaled;  // divide scores by √head_dim (every mechanism but simplified)
  CausalRoute route;
  std::size_t threads;
  // sdpa_fast only: per batch item, keys [0, key_lengths[b]) are attended and the rest are padding (a padded
  // batch's key_padding_mask, right-aligned); nullptr: every key.
  const std::size_t* key_lengths = nullptr;
};

// Steps kept by the explain path; each (b, h, n, n). Empty tensors when not kept.
struct SdpaSteps {
  Tensor scores, scaled_scores, masked_scores, unmasked_weights, weights, weights_after_dropout;
};

// How dropout draws over the (b, h, n, n) weights: MultiHeadAttention draws over the whole tensor in memory
// order; the wrapper's heads are separate CausalAttention modules, so head 0 draws its (b, n, n) first.
enum class DropoutOrder { batch_major, head_major };

// context (batch, tokens, heads·head_dim) row-major. Keeps scores and weights (b, h, n, n): `weights` always,
// the other steps only when keep_steps. dropout_p > 0 applies dropout with `generator` before ·v.
void sdpa_explain(const Sdpa& s, bool keep_steps, Generator* generator, double dropout_p, DropoutOrder order,
                  SdpaSteps& steps, float* context);

// Same numbers without any (n, n) matrix: the fused kernel with an online softmax. weights (b, h, n, n), optional: the
// kernel also writes the weights from its own tiles (the explain path's weights, without its separate passes); they
// must be zero-filled (a new Tensor is): keys past those a query tile may see are left as they are.
void sdpa_fast(const Sdpa& s, float* context, float* weights = nullptr);

// sdpa_fast on the calling thread for the direct kernel's problems (KernelTable::attention_scratch_floats 0), all heads
// in one kernel call, without key_lengths and without the float64 recomputation: false if the kernel flags a row (its
// scores or context left float32; sdpa_fast then recomputes it or throws) or the problem is not the direct path's.
// Allocates nothing, throws nothing.
bool sdpa_fast_unflagged(const Sdpa& s, float* context);

}  // namespace attnkit::detail
