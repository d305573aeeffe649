// attnkit — benchmarks of the attention op's backward pass against its forward, at the attention shapes of C2
// (b1 h12 n1024, head_dim 64) and C3 (b8 h8 n256, head_dim 64), causal, 1 and 2 threads (issue 12's goal: backward
// ≤ 2.5× the forward's time). Part of attnkit_bench_kernels (registered at start-up; its main runs them).
//   attention_backward/<isa>/<C>/forward|backward: the kernel table's fused forward (kernels::Attention, with the
//     log-sum-exp) and fused backward (kernels::AttentionBackward), one task per head, on every table this CPU runs.
//   attention_op_grad/<C>/forward|backward: attention_forward and attention_backward (attnkit/attention_grad.hpp),
//     the whole op as a caller runs it: checks, D, threads, allocation of the results.
// FLOPS: useful work only, 2 FLOPs per multiply-add over the visible (query, key) pairs: 2 products forward
// (scores, context), 5 backward (scores and dO·vᵀ recomputed, dV, dK, dQ).
//   build/bench/attnkit_bench_kernels --benchmark_filter='attention_(backward|op_grad)' --benchmark_repetitions=5
#include <string>
#include <vector>

#include "attnkit/attention_grad.hpp"
#include "attnkit/parallel.hpp"
#include "bench_common.hpp"
#include "kernels/kernels.hpp"

namespace {

using attnkit_bench::random_floats;
using attnkit_bench::set_rates;

struct Heads {
  const char* name;
  std::size_t batch, heads, tokens, head_dim;
  std::size_t count() const { return batch * heads; }
  double pairs() const { return double(tokens) * double(tokens + 1) / 2; }  // causal: visible (query, key) pairs
  double forward_flops() const { return 4.0 * pairs() * double(head_dim) * double(count()); }
};
const Heads kC2{"C2_b1_h12_n1024_d64_causal", 1, 12, 1024, 64};
const Heads kC3{"C3_b8_h8_n256_d64_causal", 8, 8, 256, 64};

// (heads, n, head_dim) inputs, the forward's output and log-sum-exp, and D = Σ dO·O per row.
struct HeadInputs {
  std::vector<float> query, key, value, grad_output, output, lse, D;
  HeadInputs(const Heads& s, const attnkit::kernels::KernelTable& t)
      : query(random_floats(s.count() * s.tokens * s.head_dim, 5)),
        key(random_floats(query.size(), 6)),
        value(random_floats(query.size(), 7)),
        grad_output(random_floats(query.size(), 8)),
        output(query.size()),
        lse(s.count() * s.tokens),
        D(lse.size()) {
    for (std::size_t h = 0; h < s.count(); ++h) t.attention_f32(forward_of(s, h), 0, s.tokens);
    for (std::size_t row = 0; row < D.size(); ++row) {
      float sum = 0.0f;
      for (std::size_t c = 0; c < s.head_dim; ++c)
        sum += grad_output[row * s.head_dim + c] * output[row * s.head_dim + c];
      D[row] = sum;
    }
  }
  attnkit::kernels::Attention forward_of(const Heads& s, std::size_t h) {
    const std::size_t n = s.tokens, d = s.head_dim, at = h * n * d;
    attnkit::kernels::Attention a{
        query.data() + at, d, key.data() + at, d, value.data() + at, d, output.data() + at, d, n, n, d, 0.125f, true};
    a.lse = lse.data() + h * n;
    return a;
  }
};

void kernel_pass(benchmark::State& state, const attnkit::kernels::KernelTable* t, Heads s, bool backward) {
  const std::size_t threads = static_cast<std::size_t>(state.range(0)), n = s.tokens, d = s.head_dim;
  HeadInputs in(s, *t);
  std::vector<float> out(in.query.size()), grad_query(in.query.size()), grad_key(in.query.size()),
      grad_value(in.query.size()), lse(in.lse.size());
  for (auto _ : state) {
    attnkit::parallel_for(s.count(), threads, [&](std::size_t h, std::size_t) {
      const std::size_t at = h * n * d;
      if (!backward) {
        attnkit::kernels::Attention a = in.forward_of(s, h);
        a.out = out.data() + at;
        a.lse = lse.data() + h * n;
        t->attention_f32(a, 0, n);
        return;
      }
      const attnkit::kernels::AttentionBackward a{in.query.data() + at,
                                                  in.key.data() + at,
                                                  in.value.data() + at,
                                                  in.grad_output.data() + at,
                                                  in.lse.data() + h * n,
                                                  in.D.data() + h * n,
                                                  1,
                                                  n,
                                                  n,
                                                  d,
                                                  d,
                                                  0.125f,
                                                  true,
                                                  0,
                                                  grad_query.data() + at,
                                                  grad_key.data() + at,
                                                  grad_value.data() + at};
      t->attention_backward_f32(a, 0, n);
    });
    benchmark::DoNotOptimize(backward ? grad_query.data() : out.data());
  }
  set_rates(state, (backward ? 2.5 : 1.0) * s.forward_flops(), 4.0 * (backward ? 7 : 4) * in.query.size());
}

void op_pass(benchmark::State& state, Heads s, bool backward) {
  const attnkit::Shape shape{s.batch, s.heads, s.tokens, s.head_dim};
  const std::size_t numel = s.count() * s.tokens * s.head_dim;
  const attnkit::Tensor query(shape, random_floats(numel, 5)), key(shape, random_floats(numel, 6)),
      value(shape, random_floats(numel, 7)), grad_output(shape, random_floats(numel, 8));
  attnkit::AttentionOptions o;
  o.causal = attnkit::CausalAlign::upper_left;
  o.threads = static_cast<std::size_t>(state.range(0));
  const attnkit::AttentionForwardState forward_state = attnkit::attention_forward(query, key, value, o).state;
  for (auto _ : state) {
    if (backward)
      benchmark::DoNotOptimize(
          attnkit::attention_backward(query, key, value, grad_output, o, forward_state).query.ptr());
    else benchmark::DoNotOptimize(attnkit::attention_forward(query, key, value, o).state.output.ptr());
  }
  set_rates(state, (backward ? 2.5 : 1.0) * s.forward_flops(), 4.0 * (backward ? 7 : 4) * numel);
}

const bool registered = [] {
  std::size_t count = 0;
  const attnkit::kernels::KernelTable* const* tables = attnkit::kernels::available_tables(&count);
  for (const Heads& s : {kC2, kC3}) {
    for (std::size_t i = 0; i < count; ++i)
      for (bool backward : {false, true})
        attnkit_bench::add(
            "attention_backward/" + std::string(tables[i]->isa) + "/" + s.name + (backward ? "/backward" : "/forward"),
            kernel_pass, tables[i], s, backward);
    for (bool backward : {false, true})
      attnkit_bench::add(std::string("attention_op_grad/") + s.name + (backward ? "/backward" : "/forward"), op_pass, s,
                         backward);
  }
  return true;
}();

}  // namespace
