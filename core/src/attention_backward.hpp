// attnkit — the attention op's backward pass over a validated problem (attention_op.hpp). Internal to core.
#pragma once
#include "attention_op.hpp"
#include "kernels/kernels.hpp"

namespace attnkit::detail {

struct BackwardProblem {
  const AttentionProblem* forward;
  const float* output;        // (b, h_q, n_q, d_v)
  const float* grad_output;   // (b, h_q, n_q, d_v)
  const float* lse;           // (b, h_q, n_q)
  const unsigned char* keep;  // (b, h_q, n_q, n_k): the forward's dropout keep mask; nullptr: no dropout
  float dropout_scale;        // 1 / (1 − p) as the forward's dropout scales kept weights
  float* grad_query;          // (b, h_q, n_q, d)
  float* grad_key;            // (b, h_kv, n_k, d)
  float* grad_value;          // (b, h_kv, n_k, d_v)
  const kernels::KernelTable* table = nullptr;  // nullptr: kernels::table() (tests pick each table)
};

// One task per (batch, key/value head): its dK, dV and its query heads' dQ (attention_backward.cpp); the result
// has the same bits for any thread count.
void attention_backward_tiled(const BackwardProblem& g);

}  // namespace attnkit::detail
