// attnkit tests — the attention op's fused backward (core/src/kernels/attention_backward.hpp) on shapes of many kernel
// blocks (96 keys, 96 queries): partial last blocks, the causal diagonal crossing blocks, dQ summed over key blocks
// and over the key-axis chunks of few-head problems, key blocks a mask hides entirely (skipped), dropout, on every
// kernel table and for any thread count, against the float64 chain-rule reference (attention_grad_reference.hpp).
#include <cstring>

#include "attention_backward.hpp"
#include "attention_grad_checks.hpp"
#include "attention_grad_reference.hpp"
#include "attention_op_checks.hpp"
#include "kernel_tester.hpp"
#include "attnkit/attention_grad.hpp"

namespace attnkit::test {
namespace {

AttentionOptions options_for(const Case& c, const AttentionMask* mask = nullptr, std::size_t threads = 0) {
  AttentionOptions o;
  o.causal = c.causal;
  o.attn_mask = mask;
  o.threads = threads;
  return o;
}

std::string describe(const Case& c) {
  return "b " + std::to_string(c.b) + " h " + std::to_string(c.h_q) + "/" + std::to_string(c.h_kv) + " n " +
         std::to_string(c.n_q) + "x" + std::to_string(c.n_k) + " d " + std::to_string(c.d) + "/" +
         std::to_string(c.d_v) + " causal " + std::to_string(int(c.causal));
}

// b 1 with two key/value heads splits the key axis into chunks; b 4 gives eight heads, one task each.
std::vector<Case> block_cases() {
  std::vector<Case> cases;
  for (CausalAlign causal : kAligns) {
    Case few;
    few.h_q = 4;
    few.h_kv = 2;
    few.n_q = 203;
    few.n_k = 290;
    few.d = 40;
    few.d_v = 24;
    few.causal = causal;
    cases.push_back(few);
    Case many;
    many.b = 4;
    many.h_q = 4;
    many.h_kv = 2;
    many.n_q = 130;
    many.n_k = 200;
    many.d = 16;
    many.d_v = 33;
    many.causal = causal;
    many.seed = 2;
    cases.push_back(many);
  }
  Case tall;  // lower-right with n_q > n_k: the first 140 rows see no key
  tall.h_q = 3;
  tall.n_q = 250;
  tall.n_k = 110;
  tall.d = 64;
  tall.d_v = 64;
  tall.causal = CausalAlign::lower_right;
  cases.push_back(tall);
  return cases;
}

TEST(AttentionGradBlocks, ManyBlocksOnEveryTable) {
  for (const Case& c : block_cases()) {
    const Inputs in = make(c);
    Rng rng(c.seed + 7);
    const Tensor grad_output = random_tensor(rng, {c.b, c.h_q, c.n_q, c.d_v}, -1.0, 1.0);
    const AttentionForward f = attention_forward(in.query, in.key, in.value, options_for(c));
    const float scale = float(1.0 / std::sqrt(double(c.d)));
    const ref::GradOut want = ref::sdpa_grad(in.query, in.key, in.value, grad_output, double(scale), c.causal, nullptr);
    for (const KernelTable* table : all_tables()) {
      const detail::AttentionProblem p{in.query.ptr(), in.key.ptr(), in.value.ptr(), c.b,   c.h_q,    c.h_kv,  c.n_q,
                                       c.n_k,          c.d,          c.d_v,          scale, c.causal, nullptr, 2};
      AttentionGrad g{Tensor(in.query.shape), Tensor(in.key.shape), Tensor(in.value.shape)};
      detail::attention_backward_tiled(detail::BackwardProblem{&p, f.state.output.ptr(), grad_output.ptr(),
                                                               f.state.lse.ptr(), nullptr, 1.0f, g.query.ptr(),
                                                               g.key.ptr(), g.value.ptr(), table});
      const std::string what = std::string(table->isa) + " " + describe(c);
      expect_close(g.query, want.query, 1e-4, what + " dquery");
      expect_close(g.key, want.key, 1e-4, what + " dkey");
      expect_close(g.value, want.value, 1e-4, what + " dvalue");
    }
  }
}

TEST(AttentionGradBlocks, KeyBlocksAMaskHidesGiveExactZeros) {
  Case c;
  c.b = 2;
  c.h_q = 2;
  c.n_q = 150;
  c.n_k = 290;
  c.d = 24;
  c.d_v = 20;
  const Inputs in = make(c);
  Rng rng(12);
  const Tensor grad_output = random_tensor(rng, {c.b, c.h_q, c.n_q, c.d_v}, -1.0, 1.0);
  // Keys [96, 250) are padding in batch 0: the second key block entirely, most of the third.
  std::vector<bool> allowed(c.b * c.n_k, true);
  for (std::size_t j = 96; j < 250; ++j) allowed[j] = false;
  const AttentionMask padding = boolean_mask({c.b, 1, 1, c.n_k}, allowed);
  const AttentionMask sparse = random_mask(rng, MaskKind::additive, {c.n_q, c.n_k}, 0.5);
  for (const AttentionMask* mask : {&padding, &sparse})
    for (CausalAlign causal : kAligns) {
      c.causal = causal;
      const AttentionOptions o = options_for(c, mask);
      const AttentionGrad g = attention_backward(in.query, in.key, in.value, grad_output, o,
                                                 attention_forward(in.query, in.key, in.value, o).state);
      const ref::GradOut want =
          ref::sdpa_grad(in.query, in.key, in.value, grad_output, 1.0 / std::sqrt(double(c.d)), causal, mask);
      const std::string what = (mask == &padding ? "padding " : "sparse ") + describe(c);
      expect_close(g.query, want.query, 1e-4, what + " dquery");
      expect_close(g.key, want.key, 1e-4, what + " dkey");
      expect_close(g.value, want.value, 1e-4, what + " dvalue");
      if (mask != &padding) continue;
      for (std::size_t e = 96 * c.d; e < 250 * c.d; ++e) ASSERT_EQ(g.key.data[e], 0.0f) << what << " dkey " << e;
      for (std::size_t e = 96 * c.d_v; e < 250 * c.d_v; ++e) ASSERT_EQ(g.value.data[e], 0.0f) << what << " " << e;
    }
}

TEST(AttentionGradBlocks, DropoutAcrossBlocks) {
  Case c;
  c.h_q = 2;
  c.n_q = 150;
  c.n_k = 200;
  c.d = 16;
  c.d_v = 16;
  c.causal = CausalAlign::upper_left;
  const Inputs in = make(c);
  Rng rng(13);
  const Tensor grad_output = random_tensor(rng, {c.b, c.h_q, c.n_q, c.d_v}, -1.0, 1.0);
  AttentionOptions o = options_for(c);
  o.train = true;
  o.dropout = 0.2;
  o.seed = 9;
  const AttentionGrad g = attention_backward(in.query, in.key, in.value, grad_output, o,
                                             attention_forward(in.query, in.key, in.value, o).state);
  const std::vector<float> keep = keep_factors(9, c.b * c.h_q * c.n_q * c.n_k, 0.2);
  const ref::GradOut want = ref::sdpa_grad(in.query, in.key, in.value, grad_output, 0.25, c.causal, nullptr, &keep);
  expect_close(g.query, want.query, 1e-4, "dropout dquery");
  expect_close(g.key, want.key, 1e-4, "dropout dkey");
  expect_close(g.value, want.value, 1e-4, "dropout dvalue");
}

TEST(AttentionGradBlocks, SameBitsForAnyThreadCountWithAndWithoutChunks) {
  Case chunked;  // one head of 600 keys: seven chunks of one key block each
  chunked.n_q = 300;
  chunked.n_k = 600;
  chunked.d = 32;
  chunked.d_v = 32;
  chunked.causal = CausalAlign::lower_right;
  Case heads;  // eight key/value heads: no chunks
  heads.b = 2;
  heads.h_q = 8;
  heads.h_kv = 4;
  heads.n_q = 200;
  heads.n_k = 200;
  heads.d = 20;
  heads.d_v = 12;
  for (const Case& c : {chunked, heads}) {
    const Inputs in = make(c);
    Rng rng(14);
    const Tensor grad_output = random_tensor(rng, {c.b, c.h_q, c.n_q, c.d_v}, -1.0, 1.0);
    std::vector<AttentionGrad> runs;
    for (std::size_t threads : {1, 2, 3, 5}) {
      const AttentionOptions o = options_for(c, nullptr, threads);
      runs.push_back(attention_backward(in.query, in.key, in.value, grad_output, o,
                                        attention_forward(in.query, in.key, in.value, o).state));
    }
    for (std::size_t r = 1; r < runs.size(); ++r) {
      EXPECT_EQ(0, std::memcmp(runs[0].query.ptr(), runs[r].query.ptr(), runs[0].query.numel() * 4)) << describe(c);
      EXPECT_EQ(0, std::memcmp(runs[0].key.ptr(), runs[r].key.ptr(), runs[0].key.numel() * 4)) << describe(c);
      EXPECT_EQ(0, std::memcmp(runs[0].value.ptr(), runs[r].value.ptr(), runs[0].value.numel() * 4)) << describe(c);
    }
    const ref::GradOut want =
        ref::sdpa_grad(in.query, in.key, in.value, grad_output, 1.0 / std::sqrt(double(c.d)), c.causal, nullptr);
    expect_close(runs[0].query, want.query, 1e-4, describe(c) + " dquery");
    expect_close(runs[0].key, want.key, 1e-4, describe(c) + " dkey");
    expect_close(runs[0].value, want.value, 1e-4, describe(c) + " dvalue");
  }
}

}  // namespace
}  // namespace attnkit::test
