// Module::forward_small (core/src/forward_small.cpp): the small-call route gives forward_stacked's bits, matches the
// float64 reference, and refuses (returns false, so forward() runs) everything it does not take.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <thread>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "configs.hpp"
#include "golden.hpp"
#include "reference.hpp"

namespace {

using attnkit::Config;
using attnkit::ForwardOptions;
using attnkit::Mechanism;
using attnkit::Module;
using attnkit::Shape;
using attnkit::Tensor;

struct Case {
  const char* name;
  Mechanism mechanism;
  std::size_t d_in, d_out, heads;
  Shape x;  // (b, n, d_in) or (n, d_in)
};

// Token counts around the vector widths (4, 8, 16 lanes), head sizes 1 to 16 (the direct kernels' limits).
const Case kCases[] = {
    {"c1", Mechanism::multihead, 3, 2, 2, {2, 6, 3}},
    {"multihead_w16", Mechanism::multihead, 5, 12, 3, {3, 17, 5}},
    {"multihead_unbatched", Mechanism::multihead, 4, 16, 1, {15, 4}},
    {"wrapper", Mechanism::multihead_wrapper, 3, 2, 3, {2, 9, 3}},
    {"causal", Mechanism::causal, 6, 5, 1, {1, 33, 6}},
    {"self", Mechanism::self, 7, 3, 1, {2, 4, 7}},
    {"self_v1", Mechanism::self_v1, 2, 4, 1, {5, 2}},
    {"simplified", Mechanism::simplified, 0, 0, 1, {2, 8, 3}},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Config config_of(const Case& c) { return attnkit_test::make_config(c.mechanism, c.d_in, c.d_out, c.heads); }

Tensor input_of(const Case& c, std::uint64_t seed) {
  ref::Rng rng(seed);
  return ref::random_tensor(rng, c.x, -2.0, 2.0);
}

// (b, n, d_in) → b, n, d_in (b = 1 unbatched)
void dims(const Shape& x, std::size_t& b, std::size_t& n, std::size_t& d_in) {
  b = x.size() == 3 ? x[0] : 1;
  n = x[x.size() - 2];
  d_in = x.back();
}

class ForwardSmall : public ::testing::TestWithParam<Case> {};

// On a thread of its own, so that the first forward there takes forward_stacked (the reused buffers are not sized
// yet, forward_small refuses) and the later ones forward_small.
TEST_P(ForwardSmall, SameBitsAsTheStackedRouteAndCloseToTheReference) {
  const Case& c = GetParam();
  std::thread([&] {
    Module m(config_of(c));
    const Tensor x = input_of(c, 7);
    std::size_t b, n, d_in;
    dims(c.x, b, n, d_in);
    std::vector<float> out(b * n * (c.mechanism == Mechanism::simplified ? d_in : m.d_out_total()), -1.0f);
    if (c.mechanism != Mechanism::simplified)  // which needs no reused buffer: q = k = v = x, the context is out
      EXPECT_FALSE(m.forward_small(x.ptr(), b, n, d_in, ForwardOptions{}, out.data())) << "no forward here yet";
    const Tensor stacked = m.forward(x).context;  // forward_stacked
    ASSERT_TRUE(m.forward_small(x.ptr(), b, n, d_in, ForwardOptions{}, out.data()));
    EXPECT_TRUE(golden::bitwise_equal(Tensor(stacked.shape, out), stacked, "context"));
    EXPECT_TRUE(golden::bitwise_equal(m.forward(x).context, stacked, "context"));  // forward → forward_small
    ForwardOptions train;
    train.train = true;  // no dropout in these configs: the same route
    ASSERT_TRUE(m.forward_small(x.ptr(), b, n, d_in, train, out.data()));
    EXPECT_TRUE(golden::bitwise_equal(Tensor(stacked.shape, out), stacked, "context"));

    const ref::Result expected = ref::forward(ref::spec_from(m.config()), m.state_dict(), x);
    ASSERT_EQ(expected.context.size(), out.size());
    for (std::size_t i = 0; i < out.size(); ++i)
      EXPECT_NEAR(out[i], expected.context[i], 1e-5 * (1.0 + std::abs(expected.context[i]))) << "element " << i;
  }).join();
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, ForwardSmall, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Everything forward_small leaves to forward(): forward then returns its own result or error.
TEST(ForwardSmallRefuses, WhatItDoesNotTake) {
  Config cfg = attnkit_test::make_config(Mechanism::multihead, 3, 2, 2, /*context_length=*/6);
  Module m(cfg);
  Tensor x = input_of(kCases[0], 3);  // (2, 6, 3)
  m.forward(x);                       // sizes this thread's buffers
  std::vector<float> out(2 * 6 * 2);
  ASSERT_TRUE(m.forward_small(x.ptr(), 2, 6, 3, ForwardOptions{}, out.data()));
  for (auto flag : {&ForwardOptions::return_weights, &ForwardOptions::intermediates, &ForwardOptions::average_weights,
                    &ForwardOptions::grad}) {
    ForwardOptions o;
    o.*flag = true;
    EXPECT_FALSE(m.forward_small(x.ptr(), 2, 6, 3, o, out.data()));
  }
  EXPECT_FALSE(m.forward_small(x.ptr(), 2, 6, 2, ForwardOptions{}, out.data())) << "d_in";
  EXPECT_FALSE(m.forward_small(x.ptr(), 1, 7, 3, ForwardOptions{}, out.data())) << "context_length";
  EXPECT_FALSE(m.forward_small(x.ptr(), 0, 6, 3, ForwardOptions{}, out.data())) << "batch 0";
  EXPECT_FALSE(m.forward_small(x.ptr(), 2, 0, 3, ForwardOptions{}, out.data())) << "0 tokens";
  x.data[17] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(m.forward_small(x.ptr(), 2, 6, 3, ForwardOptions{}, out.data())) << "NaN in x";
  EXPECT_THROW(m.forward(x), attnkit::Error);

  // Dropout in training needs the explain path; more keys than the direct kernel takes need kernel scratch.
  Config drop = attnkit_test::make_config(Mechanism::causal, 3, 2);
  drop.dropout = 0.5;
  Module d(drop);
  const Tensor xd = input_of({"", Mechanism::causal, 3, 2, 1, {1, 6, 3}}, 5);
  d.forward(xd);
  ForwardOptions train;
  train.train = true;
  EXPECT_FALSE(d.forward_small(xd.ptr(), 1, 6, 3, train, out.data()));
  Module wide(attnkit_test::make_config(Mechanism::self, 3, 2));
  const Tensor xw = input_of({"", Mechanism::self, 3, 2, 1, {1, 65, 3}}, 6);
  wide.forward(xw);
  std::vector<float> wide_out(65 * 2);
  EXPECT_FALSE(wide.forward_small(xw.ptr(), 1, 65, 3, ForwardOptions{}, wide_out.data())) << "65 keys";
}

using attnkit_test::filled;

// The overflow rule's inputs (tests/core/test_overflow_rule.cpp) once this thread's buffers are sized: forward_small
// refuses them, and forward gives the error or the representable answer it gives on a fresh thread.
TEST(ForwardSmallRefuses, OverflowGoesToForward) {
  Config self;
  self.mechanism = Mechanism::self;
  self.d_in = 3;
  self.d_out = 2;
  attnkit::StateDict ones;
  for (const char* name : {"W_query.weight", "W_key.weight", "W_value.weight"})
    ones.emplace_back(name, filled({2, 3}, 1));
  Module m(self, ones);
  m.forward(filled({2, 3}, 0.5f));
  const Tensor x({2, 3}, {3e38f, 3e38f, 3e38f, -3e38f, 3e38f, -3e38f});
  std::vector<float> out(4);
  EXPECT_FALSE(m.forward_small(x.ptr(), 1, 2, 3, ForwardOptions{}, out.data()));
  try {
    m.forward(x);
    ADD_FAILURE() << "no error";
  } catch (const attnkit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("queries overflow float32 at batch 0, token 0"), std::string::npos)
        << e.what();
  }

  Config mh;
  mh.mechanism = Mechanism::multihead;
  mh.d_in = 1;
  mh.d_out = 1;
  attnkit::StateDict sd;
  for (const char* name : {"W_query.weight", "W_key.weight", "W_value.weight", "out_proj.weight"})
    sd.emplace_back(name, filled({1, 1}, 1));
  sd.emplace_back("out_proj.bias", filled({1}, 0));
  Module scores(mh, sd);
  scores.forward(filled({2, 1}, 0.5f));
  const Tensor big({2, 1}, {1e20f, 2e20f});  // scores 1e40…4e40: the kernel flags them
  std::vector<float> two(2);
  EXPECT_FALSE(scores.forward_small(big.ptr(), 1, 2, 1, ForwardOptions{}, two.data()));
  const Tensor context = scores.forward(big).context;
  EXPECT_EQ(context.data[0], 1e20f);
  EXPECT_EQ(context.data[1], 2e20f);
}

}  // namespace
