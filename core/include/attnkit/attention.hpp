// attnkit — scaled dot-product attention on the caller's own queries, keys and values, with the semantics of
// PyTorch's torch.nn.functional.scaled_dot_product_attention, plus grouped-query heads and weights on request:
//
//   output = dropout(softmax(query·keyᵀ·scale + mask)) · value          per (batch, query head)
//
//   query (b, h_q, n_q, d)    key (b, h_kv, n_k, d)    value (b, h_kv, n_k, d_v)    output (b, h_q, n_q, d_v)
//
// h_q must be a multiple of h_kv: query head h reads key/value head h / (h_q / h_kv) (grouped-query attention;
// h_kv = 1 is multi-query attention), without copying keys. n_q ≠ n_k and d ≠ d_v are allowed.
// A query row with nothing to attend to (every key masked) gives zeros, never NaN.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "attnkit/random.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

// Which keys a query sees when causal (j: key index, i: query index).
enum class CausalAlign {
  none,        // every key
  upper_left,  // j ≤ i: PyTorch's is_causal=True
  lower_right,  // j ≤ i + n_k − n_q: the last query sees every key (decoding with a cache); rows with i + n_k < n_q see
                // none
};

enum class MaskKind {
  boolean,   // 1 = may attend, 0 = may not (scaled_dot_product_attention's bool mask); other values are an error
  additive,  // added to the scores; −inf = may not attend; NaN and +inf are an error
};

// A mask broadcastable to (b, h_q, n_q, n_k): rank 1 to 4, dimensions aligned from the right as in NumPy, each
// 1 or the full size, e.g. (n_k), (n_q, n_k), (b, 1, 1, n_k), (1, h_q, n_q, n_k). Row-major values.
struct AttentionMask {
  MaskKind kind = MaskKind::boolean;
  Shape shape;
  std::vector<float> values;
};

// A boolean mask from bools (true = may attend).
AttentionMask boolean_mask(Shape shape, const std::vector<bool>& allowed);
// An additive mask (values added to the scores).
AttentionMask additive_mask(Shape shape, std::vector<float> added);

enum class AttentionWeights {
  none,      // not returned: the fused path, which never holds an (n_q, n_k) matrix
  per_head,  // (b, h_q, n_q, n_k)
  averaged,  // (b, n_q, n_k): the mean over query heads (nn.MultiheadAttention's average_attn_weights)
};

struct AttentionOptions {
  std::optional<double> scale;  // multiplies query·keyᵀ; default 1/√d
  CausalAlign causal = CausalAlign::none;
  const AttentionMask* attn_mask = nullptr;  // combined with causal: a key must be allowed by both
  // Dropout on the weights, in training mode only: inverted dropout (kept weights scaled by 1/(1 − p)), drawn as
  // torch.nn.functional.dropout draws over the (b, h_q, n_q, n_k) weights in memory order, from `generator`
  // (continuing its sequence) or, without one, from a fresh Generator(seed) (torch.manual_seed(seed)).
  double dropout = 0.0;  // in [0, 1)
  bool train = false;
  std::uint64_t seed = 123;
  Generator* generator = nullptr;
  AttentionWeights weights = AttentionWeights::none;  // returned weights are before dropout, as Module::forward's
  std::size_t threads = 0;  // 0: default_num_threads(). The result has the same bits for any count.
};

struct AttentionResult {
  Tensor output;   // (b, h_q, n_q, d_v)
  Tensor weights;  // see AttentionWeights; empty when none
};

// Errors (attnkit::Error) name the problem and the expected value: shape mismatches between query, key, value and
// mask, h_q not a multiple of h_kv, empty dimensions, NaN or ±Inf inputs, a bad mask, dropout outside [0, 1), and
// overflow: scores, weights and output are checked where they are produced; a row whose float32 scores overflow is
// recomputed in float64 and gets its answer when that answer fits in float32, otherwise an Error names the overflow.
AttentionResult attention(const Tensor& query, const Tensor& key, const Tensor& value,
                          const AttentionOptions& options = {});

}  // namespace attnkit
