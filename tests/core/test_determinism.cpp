// Determinism: each output element is computed by one thread in a fixed order, so results are bitwise
// identical for any thread count and across runs; dropout is a pure function of the seed and the
// number of draws before it (PyTorch's generator), applied only in training mode.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "configs.hpp"
#include "attnkit/attnkit.hpp"
#include "golden.hpp"
#include "reference.hpp"

namespace {

using attnkit::CausalRoute;
using attnkit::Config;
using attnkit::ForwardOptions;
using attnkit::ForwardResult;
using attnkit::Generator;
using attnkit::Mechanism;
using attnkit::Module;
using attnkit::Shape;
using attnkit::Tensor;

// Simplified takes d_in from the input.
Config make(Mechanism m, std::size_t d_in, std::size_t d_out, std::size_t heads, std::uint64_t seed = 123) {
  return attnkit_test::make_config(m, m == Mechanism::simplified ? 0 : d_in, d_out, heads, 0, seed);
}

ForwardOptions options(std::size_t threads, bool explain, bool train = false) {
  ForwardOptions o;
  o.threads = threads;
  o.return_weights = explain;
  o.intermediates = explain;
  o.train = train;
  return o;
}

// Bitwise equality of everything a forward returns.
::testing::AssertionResult identical(const ForwardResult& a, const ForwardResult& b) {
  if (auto r = golden::bitwise_equal(a.context, b.context, "context"); !r) return r;
  if (auto r = golden::bitwise_equal(a.weights, b.weights, "weights"); !r) return r;
  if (a.intermediates.size() != b.intermediates.size())
    return ::testing::AssertionFailure() << "different numbers of intermediates";
  for (std::size_t i = 0; i < a.intermediates.size(); ++i) {
    if (a.intermediates[i].first != b.intermediates[i].first)
      return ::testing::AssertionFailure() << "intermediate " << i << " named differently";
    if (auto r = golden::bitwise_equal(a.intermediates[i].second, b.intermediates[i].second, a.intermediates[i].first);
        !r)
      return r;
  }
  return ::testing::AssertionSuccess();
}

struct Problem {
  const char* name;
  Config config;
  Shape x_shape;
};

void PrintTo(const Problem& p, std::ostream* os) { *os << p.name; }

// Big enough that every thread gets rows (b·h·n rows of work), odd sizes so the splits are uneven.
std::vector<Problem> problems() {
  std::vector<Problem> out = {
      {"simplified", make(Mechanism::simplified, 0, 0, 1), {3, 67, 17}},
      {"self_v1", make(Mechanism::self_v1, 48, 17, 1), {3, 67, 48}},
      {"self", make(Mechanism::self, 48, 33, 1), {67, 48}},
      {"causal", make(Mechanism::causal, 48, 33, 1), {3, 67, 48}},
      {"wrapper", make(Mechanism::multihead_wrapper, 48, 16, 3), {3, 67, 48}},
      {"multihead", make(Mechanism::multihead, 48, 35, 5), {3, 67, 48}},
      {"multihead_long", make(Mechanism::multihead, 64, 64, 4), {1, 301, 64}},
      // Two heads of 777 rows: each head cut into causal equal-cost row ranges (core/src/ops.cpp head_row_tasks), and
      // the projections' guided row tasks down to their last, partial one.
      {"multihead_heads_cut", make(Mechanism::multihead, 32, 32, 2), {1, 777, 32}},
  };
  Problem renorm = out[3];
  renorm.name = "causal_renormalise";
  renorm.config.causal_route = CausalRoute::renormalise;
  out.push_back(renorm);
  Problem bias = out[5];
  bias.name = "multihead_bias_noncausal";
  bias.config.qkv_bias = true;
  bias.config.causal = false;
  out.push_back(bias);
  return out;
}

class Determinism : public ::testing::TestWithParam<Problem> {};

TEST_P(Determinism, BitwiseIdenticalForAnyThreadCount) {
  const Problem& p = GetParam();
  ref::Rng rng(99);
  const Tensor x = ref::random_tensor(rng, p.x_shape, -1.0, 1.0);
  for (bool explain : {false, true}) {
    SCOPED_TRACE(explain ? "explain path" : "fast path");
    Module m(p.config);
    const ForwardResult one = m.forward(x, options(1, explain));
    for (std::size_t threads : {2, 3, 8}) {
      SCOPED_TRACE(threads);
      EXPECT_TRUE(identical(m.forward(x, options(threads, explain)), one));
    }
  }
}

TEST_P(Determinism, BitwiseIdenticalAcrossRunsAndModules) {
  const Problem& p = GetParam();
  ref::Rng rng(100);
  const Tensor x = ref::random_tensor(rng, p.x_shape, -1.0, 1.0);
  Module a(p.config), b(p.config);
  const ForwardResult first = a.forward(x, options(3, true));
  for (int run = 0; run < 3; ++run) EXPECT_TRUE(identical(a.forward(x, options(3, true)), first)) << run;
  EXPECT_TRUE(identical(b.forward(x, options(2, true)), first));
  // The explain and the fast path give the same context (to float32 rounding; they are different algorithms).
  const ForwardResult fast = a.forward(x, options(2, false));
  golden::Array want{first.context.shape, std::vector<double>(first.context.data.begin(), first.context.data.end())};
  EXPECT_TRUE(golden::near(fast.context, want, 1e-6, 1e-5, "fast vs explain context"));
}

// threads = 0 means default_num_threads(), which the API lets a caller set.
TEST_P(Determinism, DefaultThreadCountGivesTheSameBits) {
  const Problem& p = GetParam();
  ref::Rng rng(101);
  const Tensor x = ref::random_tensor(rng, p.x_shape, -1.0, 1.0);
  Module m(p.config);
  const ForwardResult one = m.forward(x, options(1, true));
  for (std::size_t d : {std::size_t(3), std::size_t(1), std::size_t(0)}) {
    attnkit::set_default_num_threads(d);
    EXPECT_TRUE(identical(m.forward(x, options(0, true)), one)) << "default threads " << attnkit::default_num_threads();
  }
  attnkit::set_default_num_threads(0);
  EXPECT_GE(attnkit::default_num_threads(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, Determinism, ::testing::ValuesIn(problems()),
                         [](const ::testing::TestParamInfo<Problem>& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------------------
// Dropout

struct DropoutCase {
  const char* name;
  Mechanism mechanism;
  std::size_t d_out, heads;
};
void PrintTo(const DropoutCase& c, std::ostream* os) { *os << c.name; }

class Dropout : public ::testing::TestWithParam<DropoutCase> {
 protected:
  Config config(std::uint64_t seed, float p) const {
    Config c = make(GetParam().mechanism, 7, GetParam().d_out, GetParam().heads, seed);
    c.dropout = p;
    return c;
  }
  Tensor x() const {
    ref::Rng rng(5);
    return ref::random_tensor(rng, {3, 19, 7}, -1.0, 1.0);
  }
};

TEST_P(Dropout, TrainingModeIsDeterministicPerSeed) {
  const Tensor in = x();
  Module a(config(42, 0.3f)), b(config(42, 0.3f)), other(config(43, 0.3f));
  const ForwardResult ra = a.forward(in, options(1, true, true));
  EXPECT_TRUE(identical(b.forward(in, options(8, true, true)), ra)) << "same seed, 1 vs 8 threads";
  // Another seed draws other parameters and another mask.
  const ForwardResult ro = other.forward(in, options(1, true, true));
  EXPECT_FALSE(golden::bitwise_equal(ro.context, ra.context, "context"));
  // Dropout actually dropped something and scaled the rest by 1/(1 − p).
  const Tensor* before = ra.intermediate("weights");
  const Tensor* after = ra.intermediate("weights_after_dropout");
  ASSERT_NE(before, nullptr);
  ASSERT_NE(after, nullptr);
  std::size_t zeroed = 0, kept = 0;
  const float scale = float(1.0f / float(1.0 - double(0.3f)));
  for (std::size_t i = 0; i < before->numel(); ++i) {
    if (before->data[i] == 0.0f) continue;  // masked positions say nothing
    if (after->data[i] == 0.0f) ++zeroed;
    else {
      ++kept;
      EXPECT_EQ(after->data[i], before->data[i] * scale) << i;
    }
  }
  EXPECT_GT(zeroed, 0u);
  EXPECT_GT(kept, zeroed) << "p = 0.3 keeps most weights";
}

TEST_P(Dropout, InferenceModeIgnoresDropout) {
  const Tensor in = x();
  Module with(config(42, 0.5f)), without(config(42, 0.0f));
  const ForwardResult r = with.forward(in, options(2, true, false));
  EXPECT_EQ(r.intermediate("weights_after_dropout"), nullptr);
  EXPECT_TRUE(identical(r, without.forward(in, options(2, true, false))));
  // Training with p = 0 draws nothing and changes nothing either.
  EXPECT_TRUE(identical(without.forward(in, options(2, true, true)), r));
}

TEST_P(Dropout, WeightsReturnedAreBeforeDropout) {
  const Tensor in = x();
  Module train(config(42, 0.5f)), infer(config(42, 0.5f));
  const ForwardResult rt = train.forward(in, options(1, true, true));
  const ForwardResult ri = infer.forward(in, options(1, true, false));
  EXPECT_TRUE(golden::bitwise_equal(rt.weights, ri.weights, "weights"));
  EXPECT_FALSE(golden::bitwise_equal(rt.context, ri.context, "context"))
      << "training with p = 0.5 must change the output";
}

// PyTorch's draw order: after the parameters, one random64() per weight in memory order of each
// nn.Dropout call. CausalAttention and MultiHeadAttention call dropout once on (b, [h,] n, n); the
// wrapper's heads are separate CausalAttention modules, so head 0 draws for the whole batch, then head 1.
TEST_P(Dropout, DrawsInPyTorchsOrderAfterTheParameters) {
  const Tensor in = x();
  const Config c = config(7, 0.4f);
  Module m(c);
  Generator gen(c.seed);
  std::size_t drawn = 0;
  for (const auto& kv : m.state_dict()) drawn += kv.second.numel();
  for (std::size_t i = 0; i < drawn; ++i) gen.random();

  const ForwardResult r = m.forward(in, options(3, true, true));
  Tensor want = *r.intermediate("weights");
  const std::size_t b = want.shape[0], h = want.shape[1], nn = want.shape[2] * want.shape[3];
  if (GetParam().mechanism == Mechanism::multihead_wrapper) {
    for (std::size_t hh = 0; hh < h; ++hh) {
      std::vector<float> head(b * nn);  // (b, n, n) of head hh, as that head's module sees it
      for (std::size_t bi = 0; bi < b; ++bi)
        std::memcpy(&head[bi * nn], &want.data[(bi * h + hh) * nn], nn * sizeof(float));
      Tensor t({b, nn}, head);
      gen.dropout_(t, c.dropout);
      for (std::size_t bi = 0; bi < b; ++bi)
        std::memcpy(&want.data[(bi * h + hh) * nn], &t.data[bi * nn], nn * sizeof(float));
    }
  } else {
    gen.dropout_(want, c.dropout);
  }
  EXPECT_TRUE(golden::bitwise_equal(*r.intermediate("weights_after_dropout"), want, "weights_after_dropout"));
}

// Without intermediates or weights requested, training still applies the same dropout.
TEST_P(Dropout, FastRequestInTrainingModeStillDropsOut) {
  const Tensor in = x();
  Module a(config(11, 0.5f)), b(config(11, 0.5f));
  const ForwardResult plain = a.forward(in, options(2, false, true));
  const ForwardResult explained = b.forward(in, options(2, true, true));
  EXPECT_TRUE(golden::bitwise_equal(plain.context, explained.context, "context"));
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, Dropout,
                         ::testing::Values(DropoutCase{"causal", Mechanism::causal, 5, 1},
                                           DropoutCase{"wrapper", Mechanism::multihead_wrapper, 3, 3},
                                           DropoutCase{"multihead", Mechanism::multihead, 10, 5}),
                         [](const ::testing::TestParamInfo<DropoutCase>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
