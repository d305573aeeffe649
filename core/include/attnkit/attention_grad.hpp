// attnkit — gradients of the attention op (core/include/attnkit/attention.hpp), FlashAttention-2 style: the
// forward keeps only each row's log-sum-exp (and the dropout generator's state); the backward recomputes the
// weights tile by tile and never holds an (n_q, n_k) matrix (except a one-byte-per-weight keep mask when dropout
// applies, regenerated from the forward's generator state in the forward's order).
//
//   D_i = Σ_c dO_ic·O_ic      dV = Pᵀ·dO      dP = dO·Vᵀ      dS = P ⊙ (dP − D)      dQ = dS·K·scale      dK =
//   dSᵀ·Q·scale
//
// Grouped-query heads: a key/value head's gradient sums over its query heads in head order. Every gradient
// element has one owner and a fixed accumulation order, so the result has the same bits for any thread count.
// An additive mask gets no gradient (it is not returned); a row that sees no key gives zero gradients.
#pragma once
#include <optional>

#include "attnkit/attention.hpp"
#include "attnkit/random.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit {

// What attention_backward needs from the forward.
struct AttentionForwardState {
  Tensor output;  // (b, h_q, n_q, d_v): the forward's output (after dropout)
  Tensor lse;     // (b, h_q, n_q): log Σ_j exp(scores_ij) over the keys row i may see; −inf for a row that sees none
  std::optional<Generator> dropout_generator;  // the generator before the forward drew its dropout mask (train, p > 0)
};

struct AttentionForward {
  AttentionForwardState state;
  Tensor weights;  // as attention() returns them (options.weights); empty when none
};

// attention(query, key, value, options), keeping the state for the backward pass. Same output bits as attention().
// Refuses (Error) a row whose float32 scores overflow: the backward pass recomputes them in float32.
AttentionForward attention_forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                   const AttentionOptions& options = {});

struct AttentionGrad {
  Tensor query;  // (b, h_q, n_q, d)
  Tensor key;    // (b, h_kv, n_k, d)
  Tensor value;  // (b, h_kv, n_k, d_v)
};

// Gradients of Σ grad_output ⊙ output with respect to query, key and value. query, key, value and options must be
// those of the forward that made `state` (options.generator is not read: the state holds the generator).
// Errors (attnkit::Error) name the problem and the expected value: grad_output of the wrong shape or not finite, a
// state of the wrong shape, dropout without the forward's generator state, and every check attention() makes.
AttentionGrad attention_backward(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& grad_output,
                                 const AttentionOptions& options, const AttentionForwardState& state);

}  // namespace attnkit
