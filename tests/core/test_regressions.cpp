// Inputs that once gave wrong answers (found by tests/fuzz), checked against values computed here in double.
#include <gtest/gtest.h>

#include <cmath>

#include "attnkit/attnkit.hpp"

namespace {

using namespace attnkit;

// Causal, d = 1, every weight 1, x = [1.5, 1, 88.5]: row 1's visible scores lie ~87 below the future score,
// so after the full-row softmax its visible weights are one normal and one denormal float. The renormalise
// route must still give softmax([1.5, 1]) for that row, as the −inf route does.
TEST(Regressions, RenormaliseRouteWithPartlyUnderflowingVisibleWeights) {
  const StateDict sd{{"W_query.weight", Tensor({1, 1}, {1.0f})},
                     {"W_key.weight", Tensor({1, 1}, {1.0f})},
                     {"W_value.weight", Tensor({1, 1}, {1.0f})}};
  const Tensor x({3, 1}, {1.5f, 1.0f, 88.5f});
  const double w0 = std::exp(1.5) / (std::exp(1.5) + std::exp(1.0));
  for (auto route : {CausalRoute::renormalise, CausalRoute::neg_inf}) {
    Config c;
    c.mechanism = Mechanism::causal;
    c.d_in = c.d_out = 1;
    c.causal_route = route;
    Module m(c, sd);
    ForwardOptions o;
    o.return_weights = true;
    const ForwardResult r = m.forward(x, o);  // weights (1, 3, 3)
    EXPECT_NEAR(r.weights.data[3], w0, 1e-6) << "route " << static_cast<int>(route);
    EXPECT_NEAR(r.weights.data[4], 1.0 - w0, 1e-6) << "route " << static_cast<int>(route);
    EXPECT_EQ(r.weights.data[5], 0.0f);
  }
}

// A multihead-wrapper with many heads loads and packs in time linear in the heads (it was quadratic).
TEST(Regressions, WrapperWithManyHeadsBuildsAndRuns) {
  Config c;
  c.mechanism = Mechanism::multihead_wrapper;
  c.d_in = 2;
  c.d_out = 1;
  c.num_heads = 20000;
  Module drawn(c);
  Module loaded(c, drawn.state_dict());
  const Tensor x({1, 2}, {0.25f, -0.5f});
  const ForwardResult a = drawn.forward(x), b = loaded.forward(x);
  ASSERT_EQ(a.context.shape, (Shape{1, 20000}));
  EXPECT_EQ(a.context.data, b.context.data);
  // One token attends only to itself: each head's context is its value, x·W_valueᵀ.
  const StateDict sd = drawn.state_dict();
  const Tensor* wv = find_parameter(sd, "heads.19999.W_value.weight");
  ASSERT_NE(wv, nullptr);
  EXPECT_NEAR(a.context.data[19999], 0.25 * wv->data[0] - 0.5 * wv->data[1], 1e-6);
}

// Messages stay on one line even when the user's text has a newline in it.
TEST(Regressions, MessagesEscapeControlCharacters) {
  try {
    parse_mechanism("self\nv1");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("self\\x0av1"), std::string::npos) << e.what();
  }
}

// A multihead module with v_dim ≠ d_in and no kv projected x's d_in features through W_value's first d_in columns
// (a silent wrong answer); it is refused like k_dim ≠ d_in, and with kv it runs.
TEST(Regressions, ValueDimWithoutKvIsRefused) {
  Config c;
  c.mechanism = Mechanism::multihead;
  c.d_in = 3;
  c.d_out = 4;
  c.num_heads = 2;
  c.v_dim = 5;
  Module m(c);
  const Tensor x({2, 3}, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f});
  try {
    m.forward(x);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "W_value reads v_dim 5 features but no kv was given; expected kv (b, n_k, 5)");
  }
  const Tensor kv({4, 3}, std::vector<float>(12, 0.25f)), value({4, 5}, std::vector<float>(20, 0.5f));
  ForwardInputs in;
  in.kv = &kv;
  in.value_input = &value;
  EXPECT_EQ(m.forward(x, in, ForwardOptions{}).context.shape, (Shape{2, 4}));
}

}  // namespace
