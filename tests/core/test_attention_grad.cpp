// attnkit tests — the attention op's backward pass (attnkit/attention_grad.hpp) against a float64 chain-rule
// reference (attention_grad_reference.hpp), itself checked by central finite differences of the float64 forward:
// masks of both kinds, both causal alignments, grouped-query heads, n_q ≠ n_k, d ≠ d_v, fully masked rows,
// dropout, sizes around every kernel table's SIMD width, bitwise thread-count invariance, and bad input (shapes of
// many kernel blocks: test_attention_grad_blocks.cpp).
#include <array>
#include <cstring>
#include <functional>

#include "attention_backward.hpp"
#include "attention_grad_checks.hpp"
#include "attention_grad_reference.hpp"
#include "attention_op_checks.hpp"
#include "kernel_tester.hpp"
#include "attnkit/attention_grad.hpp"

namespace attnkit::test {
namespace {

struct GradCase {
  Case shape;
  const AttentionMask* mask = nullptr;
  double dropout = 0.0;
  double tol = 1e-4;
};

// attention_forward + attention_backward against the float64 reference; returns the library's gradients.
AttentionGrad check_grad(const GradCase& gc, const std::string& what) {
  const Case& c = gc.shape;
  const Inputs in = make(c);
  Rng rng(c.seed + 99);
  const Tensor grad_output = random_tensor(rng, {c.b, c.h_q, c.n_q, c.d_v}, -1.0, 1.0);
  AttentionOptions o;
  o.causal = c.causal;
  o.attn_mask = gc.mask;
  if (gc.dropout > 0.0) {
    o.dropout = gc.dropout;
    o.train = true;
    o.seed = 5;
  }
  const AttentionForward f = attention_forward(in.query, in.key, in.value, o);
  const AttentionResult plain = attention(in.query, in.key, in.value, o);  // same output bits as attention()
  EXPECT_EQ(0, std::memcmp(plain.output.ptr(), f.state.output.ptr(), plain.output.numel() * sizeof(float))) << what;
  const AttentionGrad g = attention_backward(in.query, in.key, in.value, grad_output, o, f.state);
  std::vector<float> keep;
  if (gc.dropout > 0.0) keep = keep_factors(o.seed, c.b * c.h_q * c.n_q * c.n_k, gc.dropout);
  const double scale = 1.0 / std::sqrt(double(c.d));
  const ref::GradOut want =
      ref::sdpa_grad(in.query, in.key, in.value, grad_output, scale, c.causal, gc.mask, keep.empty() ? nullptr : &keep);
  expect_close(g.query, want.query, gc.tol, what + " dquery");
  expect_close(g.key, want.key, gc.tol, what + " dkey");
  expect_close(g.value, want.value, gc.tol, what + " dvalue");
  return g;
}

TEST(AttentionGrad, ReferenceAgreesWithFiniteDifferences) {
  // The float64 chain rule against central differences of the float64 forward, and the library against both.
  Case c;
  c.b = 1;
  c.h_q = 2;
  c.h_kv = 1;
  c.n_q = 3;
  c.n_k = 5;
  c.d = 4;
  c.d_v = 3;
  c.causal = CausalAlign::lower_right;
  const AttentionMask mask = additive_mask({c.n_q, c.n_k}, {0.5f, -1.0f, 0.0f, 2.0f, -0.25f, 0.0f, -INFINITY, 1.0f,
                                                            0.0f, 0.0f, 0.3f, 0.0f, -2.0f, -INFINITY, 0.0f});
  for (double dropout : {0.0, 0.4}) {
    Inputs in = make(c);
    Rng rng(3);
    const Tensor grad_output = random_tensor(rng, {c.b, c.h_q, c.n_q, c.d_v}, -1.0, 1.0);
    const double scale = 1.0 / std::sqrt(double(c.d));
    std::vector<float> keep;
    if (dropout > 0.0) keep = keep_factors(5, c.b * c.h_q * c.n_q * c.n_k, dropout);
    const std::vector<float>* kp = keep.empty() ? nullptr : &keep;
    const ref::GradOut analytic = ref::sdpa_grad(in.query, in.key, in.value, grad_output, scale, c.causal, &mask, kp);
    auto forward = [&] { return ref::sdpa(in.query, in.key, in.value, scale, c.causal, &mask, kp).output; };
    const std::vector<double> fd_q = ref::finite_differences(in.query, grad_output, forward);
    const std::vector<double> fd_k = ref::finite_differences(in.key, grad_output, forward);
    const std::vector<double> fd_v = ref::finite_differences(in.value, grad_output, forward);
    auto near = [](const std::vector<double>& a, const std::vector<double>& b, const char* what) {
      for (std::size_t e = 0; e < a.size(); ++e)
        EXPECT_NEAR(a[e], b[e], 1e-6 * std::max(1.0, std::fabs(b[e]))) << what << " " << e;
    };
    near(analytic.query, fd_q, "dquery");
    near(analytic.key, fd_k, "dkey");
    near(analytic.value, fd_v, "dvalue");
    EXPECT_GT(max_abs(fd_q), 1e-2);  // the check has something to compare
    EXPECT_GT(max_abs(fd_k), 1e-2);

    AttentionOptions o;
    o.causal = c.causal;
    o.attn_mask = &mask;
    o.dropout = dropout;
    o.train = dropout > 0.0;
    o.seed = 5;
    const AttentionGrad g = attention_backward(in.query, in.key, in.value, grad_output, o,
                                               attention_forward(in.query, in.key, in.value, o).state);
    expect_close(g.query, fd_q, 1e-5, "library dquery vs differences");
    expect_close(g.key, fd_k, 1e-5, "library dkey vs differences");
    expect_close(g.value, fd_v, 1e-5, "library dvalue vs differences");
  }
}

TEST(AttentionGrad, CausalAlignmentsGroupedHeadsAndShapes) {
  for (CausalAlign causal : kAligns)
    for (std::size_t h_kv : {6, 2, 1})
      for (const auto& nd :
           std::vector<std::array<std::size_t, 4>>{{37, 37, 16, 16}, {19, 71, 12, 5}, {70, 23, 9, 20}}) {
        GradCase gc;
        gc.shape.b = 2;
        gc.shape.h_q = 6;
        gc.shape.h_kv = h_kv;
        gc.shape.n_q = nd[0];
        gc.shape.n_k = nd[1];
        gc.shape.d = nd[2];
        gc.shape.d_v = nd[3];
        gc.shape.causal = causal;
        check_grad(gc, "h_kv " + std::to_string(h_kv) + " n_q " + std::to_string(nd[0]) + " n_k " +
                           std::to_string(nd[1]) + " causal " + std::to_string(int(causal)));
      }
}

TEST(AttentionGrad, MasksOfEveryKind) {
  Case c;
  c.b = 2;
  c.h_q = 4;
  c.h_kv = 2;
  c.n_q = 19;
  c.n_k = 83;
  c.d = 10;
  c.d_v = 6;
  Rng rng(11);
  for (MaskKind kind : {MaskKind::boolean, MaskKind::additive})
    for (const Shape& s :
         std::vector<Shape>{{c.n_k}, {c.n_q, c.n_k}, {c.b, 1, 1, c.n_k}, {c.b, c.h_q, c.n_q, c.n_k}, {c.h_q, c.n_q, 1}})
      for (CausalAlign causal : kAligns) {
        GradCase gc;
        gc.shape = c;
        gc.shape.causal = causal;
        const AttentionMask m = random_mask(rng, kind, s, 0.6);
        gc.mask = &m;
        check_grad(gc, "mask " + shape_to_string(s) + (kind == MaskKind::boolean ? " boolean" : " additive"));
      }
}

TEST(AttentionGrad, FullyMaskedRowsHaveZeroGradient) {
  GradCase gc;
  gc.shape.n_q = 9;
  gc.shape.n_k = 70;
  gc.shape.d = 8;
  gc.shape.d_v = 8;
  std::vector<bool> allowed(gc.shape.n_q * gc.shape.n_k, true);
  for (std::size_t j = 0; j < gc.shape.n_k; ++j) allowed[4 * gc.shape.n_k + j] = false;  // query 4 sees nothing
  const AttentionMask m = boolean_mask({gc.shape.n_q, gc.shape.n_k}, allowed);
  gc.mask = &m;
  const AttentionGrad g = check_grad(gc, "fully masked row");
  for (std::size_t p = 0; p < gc.shape.d; ++p) EXPECT_EQ(g.query.data[4 * gc.shape.d + p], 0.0f);
  for (float x : g.query.data) EXPECT_FALSE(std::isnan(x));
  // Lower-right alignment with n_q > n_k: the first n_q − n_k rows see no key.
  GradCase lr;
  lr.shape.n_q = 12;
  lr.shape.n_k = 5;
  lr.shape.causal = CausalAlign::lower_right;
  const AttentionGrad g2 = check_grad(lr, "lower-right empty rows");
  for (std::size_t e = 0; e < 7 * lr.shape.d; ++e) EXPECT_EQ(g2.query.data[e], 0.0f);
}

TEST(AttentionGrad, DropoutUsesTheForwardsMask) {
  for (CausalAlign causal : kAligns) {
    GradCase gc;
    gc.shape.b = 2;
    gc.shape.h_q = 6;
    gc.shape.h_kv = 2;
    gc.shape.n_q = 21;
    gc.shape.n_k = 33;
    gc.shape.d = 8;
    gc.shape.d_v = 12;
    gc.shape.causal = causal;
    gc.dropout = 0.3;
    check_grad(gc, "dropout");
  }
}

TEST(AttentionGrad, SizesAroundTheSimdWidthOfEveryTable) {
  // attention_forward on the dispatched table, then the backward's gemms on each table in turn.
  for (const KernelTable* table : all_tables())
    for (std::size_t n : sizes_for(*table))
      for (CausalAlign causal : {CausalAlign::none, CausalAlign::upper_left}) {
        Case c;
        c.h_q = 2;
        c.h_kv = 1;
        c.n_q = n;
        c.n_k = n + 1;
        c.d = n;
        c.d_v = std::max<std::size_t>(1, n - 1);
        c.causal = causal;
        const Inputs in = make(c);
        Rng rng(4);
        const Tensor grad_output = random_tensor(rng, {c.b, c.h_q, c.n_q, c.d_v}, -1.0, 1.0);
        AttentionOptions o;
        o.causal = causal;
        const AttentionForward f = attention_forward(in.query, in.key, in.value, o);
        const float scale = float(1.0 / std::sqrt(double(c.d)));
        const detail::AttentionProblem p{in.query.ptr(), in.key.ptr(), in.value.ptr(), c.b,   c.h_q,  c.h_kv,  c.n_q,
                                         c.n_k,          c.d,          c.d_v,          scale, causal, nullptr, 1};
        AttentionGrad g{Tensor(in.query.shape), Tensor(in.key.shape), Tensor(in.value.shape)};
        detail::BackwardProblem bp{&p,   f.state.output.ptr(), grad_output.ptr(), f.state.lse.ptr(), nullptr,
                                   1.0f, g.query.ptr(),        g.key.ptr(),       g.value.ptr(),     table};
        detail::attention_backward_tiled(bp);
        const ref::GradOut want =
            ref::sdpa_grad(in.query, in.key, in.value, grad_output, double(scale), causal, nullptr);
        const std::string what = std::string(table->isa) + " n " + std::to_string(n);
        expect_close(g.query, want.query, 1e-4, what + " dquery");
        expect_close(g.key, want.key, 1e-4, what + " dkey");
        expect_close(g.value, want.value, 1e-4, what + " dvalue");
      }
}

TEST(AttentionGrad, SameBitsForAnyThreadCount) {
  Case c;
  c.b = 1;
  c.h_q = 6;
  c.h_kv = 2;
  c.n_q = 203;
  c.n_k = 150;
  c.d = 32;
  c.d_v = 24;
  const Inputs in = make(c);
  Rng rng(8);
  const Tensor grad_output = random_tensor(rng, {c.b, c.h_q, c.n_q, c.d_v}, -1.0, 1.0);
  for (CausalAlign causal : kAligns) {
    std::vector<AttentionGrad> runs;
    for (std::size_t threads : {1, 2, 3}) {
      AttentionOptions o;
      o.causal = causal;
      o.threads = threads;
      runs.push_back(attention_backward(in.query, in.key, in.value, grad_output, o,
                                        attention_forward(in.query, in.key, in.value, o).state));
    }
    for (std::size_t r = 1; r < runs.size(); ++r) {
      EXPECT_EQ(0, std::memcmp(runs[0].query.ptr(), runs[r].query.ptr(), runs[0].query.numel() * sizeof(float))) << r;
      EXPECT_EQ(0, std::memcmp(runs[0].key.ptr(), runs[r].key.ptr(), runs[0].key.numel() * sizeof(float))) << r;
      EXPECT_EQ(0, std::memcmp(runs[0].value.ptr(), runs[r].value.ptr(), runs[0].value.numel() * sizeof(float))) << r;
    }
  }
}

void expect_error(const std::function<void()>& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(AttentionGrad, BadInputIsAnErrorNamingTheExpectedValue) {
  Case c;
  c.n_q = 4;
  c.n_k = 5;
  c.d = 8;
  c.d_v = 6;
  const Inputs in = make(c);
  AttentionOptions o;
  const AttentionForwardState state = attention_forward(in.query, in.key, in.value, o).state;
  const Tensor wrong({1, 1, 4, 8});
  expect_error([&] { attention_backward(in.query, in.key, in.value, wrong, o, state); },
               "grad_output has shape [1, 1, 4, 8]; expected [1, 1, 4, 6]");
  Tensor nan_grad({1, 1, 4, 6});
  nan_grad.data[7] = NAN;
  expect_error([&] { attention_backward(in.query, in.key, in.value, nan_grad, o, state); },
               "grad_output contains NaN at index [0, 0, 1, 1]; expected finite numbers");
  const Tensor ok({1, 1, 4, 6});
  AttentionForwardState short_state = state;
  short_state.lse = Tensor({1, 1, 3});
  expect_error([&] { attention_backward(in.query, in.key, in.value, ok, o, short_state); },
               "state.lse (the forward's log-sum-exp) has shape [1, 1, 3]; expected [1, 1, 4]");
  AttentionOptions dropped = o;
  dropped.dropout = 0.5;
  dropped.train = true;
  expect_error([&] { attention_backward(in.query, in.key, in.value, ok, dropped, state); },
               "state.dropout_generator is empty");
  expect_error([&] { attention_backward(in.query, in.value, in.value, ok, o, state); },
               "key's d is 6 but query's is 8");
}

}  // namespace
}  // namespace attnkit::test
