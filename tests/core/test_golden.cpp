// Every golden file (data/book and tests/golden), checked through the public C++ API. Book prints must hold within
// their printed precision (abs_tol + 1e-6, README rule); drawn parameters must be PyTorch's bit for bit;
// the float64 ref_* cases within 1e-5 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "configs.hpp"
#include "attnkit/attnkit.hpp"
#include "golden.hpp"

namespace {

using attnkit_test::make_config;

using attnkit::Config;
using attnkit::ForwardOptions;
using attnkit::ForwardResult;
using attnkit::Generator;
using attnkit::Mechanism;
using attnkit::Module;
using attnkit::Shape;
using attnkit::StateDict;
using attnkit::Tensor;
using golden::Expected;
using golden::json;
using golden::matches_print;
using golden::slice;
using golden::step_tensor;

// The ref_* files are float64; a float32 implementation is held to 1e-5 relative, with a small absolute
// floor for values that are near zero through cancellation.
constexpr double kRefRel = 1e-5;
constexpr double kRefAbs = 1e-6;

ForwardOptions explain() {
  ForwardOptions o;
  o.return_weights = true;
  o.intermediates = true;
  return o;
}

const Tensor& step(const ForwardResult& r, const std::string& name) {
  const Tensor* t = r.intermediate(name);
  if (!t) throw std::runtime_error("forward did not return the intermediate '" + name + "'");
  return *t;
}

std::vector<float> one(float v) { return {v}; }

// ---------------------------------------------------------------------------------------------------------
// hacktricks: the seed's own "Hello shiny sun!" example (simplified attention on three embeddings)

TEST(GoldenHacktricks, ShinyContextWeightsAndScores) {
  const json g = golden::load("hacktricks_hello_shiny_sun.json");
  std::vector<float> xs;
  std::size_t query = 0, i = 0;
  for (const auto& tok : g.at("tokens")) {
    for (const auto& v : g.at("embeddings").at(tok.get<std::string>())) xs.push_back(v.get<float>());
    if (tok == g.at("query")) query = i;
    ++i;
  }
  const std::size_t n = g.at("tokens").size(), d = xs.size() / n;
  Module m(make_config(Mechanism::simplified, 0, 0));
  const ForwardResult r = m.forward(Tensor({n, d}, xs), explain());
  const json& exact = g.at("computed").at("float64");
  // The exact numbers, not the page's rounded ones; float32 is good to a few ulps here.
  const double tol = 2e-6;
  EXPECT_TRUE(golden::near(slice(r.context, query * d, d), {d}, golden::array(exact.at("context_shiny")), tol, 0,
                           "context of shiny"));
  EXPECT_TRUE(golden::near(slice(r.weights, query * n, n), {n}, golden::array(exact.at("weights_vs_shiny")), tol, 0,
                           "weights vs shiny"));
  EXPECT_TRUE(golden::near(slice(step(r, "scores"), query * n, n), {n}, golden::array(exact.at("scores_vs_shiny")), tol,
                           0, "scores vs shiny"));
  EXPECT_TRUE(golden::near(r.context, golden::array(exact.at("all_context")), tol, 0, "all context"));
  EXPECT_TRUE(golden::near(r.weights, golden::array(exact.at("all_weights")), tol, 0, "all weights"));
  EXPECT_TRUE(golden::near(step(r, "scores"), golden::array(exact.at("all_scores")), tol, 0, "all scores"));
  EXPECT_EQ(r.context.shape, (Shape{n, d}));
}

// ---------------------------------------------------------------------------------------------------------
// book_01 / book_02: simplified attention, one query then all

TEST(GoldenBook01, SimplifiedAttentionForQueryJourney) {
  const json g = golden::load("book_01_simplified_attention_query2.json");
  const Tensor x = golden::book_inputs(g);
  const std::size_t n = x.shape[0], d = x.shape[1], q = 1;  // inputs[1] is the query
  Module m(make_config(Mechanism::simplified, 0, 0));
  const ForwardResult r = m.forward(x, explain());
  const Tensor& scores = step(r, "scores");

  const std::vector<float> scores_2 = slice(scores, q * n, n);
  EXPECT_TRUE(matches_print(scores_2, {n}, step_tensor(g, 28)));
  // torch.dot(inputs[0], query), twice (loop and dot): the score of token 0 against the query.
  EXPECT_TRUE(matches_print(one(scores.data[0 * n + q]), {}, step_tensor(g, 30, 0)));
  EXPECT_TRUE(matches_print(one(scores.data[q * n + 0]), {}, step_tensor(g, 30, 1)));

  // The book's naive normalisation and naive softmax, applied to the library's scores.
  double sum = 0, exp_sum = 0;
  for (float s : scores_2) sum += s, exp_sum += std::exp(double(s));
  std::vector<float> naive(n), naive_softmax(n);
  double naive_total = 0, softmax_total = 0;
  for (std::size_t j = 0; j < n; ++j) {
    naive[j] = float(scores_2[j] / sum);
    naive_softmax[j] = float(std::exp(double(scores_2[j])) / exp_sum);
    naive_total += naive[j];
    softmax_total += naive_softmax[j];
  }
  EXPECT_TRUE(matches_print(naive, {n}, step_tensor(g, 33, 0)));
  EXPECT_TRUE(matches_print(one(float(naive_total)), {}, step_tensor(g, 33, 1)));
  EXPECT_TRUE(matches_print(naive_softmax, {n}, step_tensor(g, 35, 0)));
  EXPECT_TRUE(matches_print(one(float(softmax_total)), {}, step_tensor(g, 35, 1)));

  // torch.softmax → the library's weights row; it sums to 1.
  const std::vector<float> w2 = slice(r.weights, q * n, n);
  EXPECT_TRUE(matches_print(w2, {n}, step_tensor(g, 37, 0)));
  double wsum = 0;
  for (float w : w2) wsum += w;
  EXPECT_TRUE(matches_print(one(float(wsum)), {}, step_tensor(g, 37, 1)));

  EXPECT_TRUE(matches_print(slice(r.context, q * d, d), {d}, step_tensor(g, 40)));
}

TEST(GoldenBook02, SimplifiedAttentionAllTokens) {
  const json g = golden::load("book_02_simplified_attention_all.json");
  const Tensor x = golden::book_inputs(g);
  const std::size_t n = x.shape[0], d = x.shape[1];
  for (bool fast : {false, true}) {
    SCOPED_TRACE(fast ? "fast path (no intermediates)" : "explain path");
    Module m(make_config(Mechanism::simplified, 0, 0));
    ForwardOptions o = explain();
    if (fast) o = ForwardOptions{};
    const ForwardResult r = m.forward(x, o);
    EXPECT_TRUE(matches_print(r.context, step_tensor(g, 55)));
    EXPECT_TRUE(matches_print(slice(r.context, 1 * d, d), {d}, step_tensor(g, 57)));
    if (fast) {
      EXPECT_TRUE(r.weights.empty());
      EXPECT_TRUE(r.intermediates.empty());
      continue;
    }
    EXPECT_TRUE(matches_print(step(r, "scores"), step_tensor(g, 47)));  // the double loop
    EXPECT_TRUE(matches_print(step(r, "scores"), step_tensor(g, 49)));  // inputs @ inputs.T
    // Simplified attention is not scaled: scaled_scores are the scores themselves.
    EXPECT_EQ(step(r, "scaled_scores").data, step(r, "scores").data);
    EXPECT_TRUE(matches_print(r.weights, step_tensor(g, 51)));
    EXPECT_TRUE(matches_print(step(r, "weights"), step_tensor(g, 51)));
    std::vector<float> row_sums(n);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) row_sums[i] += r.weights.data[i * n + j];
    EXPECT_TRUE(matches_print(row_sums, {n}, step_tensor(g, 53)));
  }
}

// ---------------------------------------------------------------------------------------------------------
// book_03: trainable weights, step by step (torch.rand weights after manual_seed(123))

TEST(GoldenBook03, GeneratorDrawsTheBooksWeights) {
  const json g = golden::load("book_03_trainable_weights_stepwise_seed123.json");
  const StateDict want = golden::book_parameters(g);
  Generator gen(g.at("seed").get<std::uint64_t>());
  for (const char* name : {"W_query", "W_key", "W_value"}) {  // drawn in this order, (d_in, d_out) each
    const Tensor* w = attnkit::find_parameter(want, name);
    ASSERT_NE(w, nullptr) << name;
    EXPECT_TRUE(golden::bitwise_equal(gen.rand(w->shape), *w, name));
  }
}

// nn.Linear's draw (README recipe 4) through Generator::uniform: weight (out, in) from uniform(−b, b),
// b = sqrt(3)·sqrt(2 / (1 + 5)) / sqrt(in), in construction order. torch's uniform_ takes from/to as float32.
TEST(GoldenBook05, GeneratorUniformDrawsTheBooksLinearWeights) {
  for (const char* file : {"book_05_self_attention_v2_seed789.json", "book_09_causal_attention_seed123.json"}) {
    SCOPED_TRACE(file);
    const json g = golden::load(file);
    Generator gen(g.at("seed").get<std::uint64_t>());
    for (const auto& [name, want] : golden::book_parameters(g)) {
      const double b = std::sqrt(3.0) * std::sqrt(2.0 / (1 + 5)) / std::sqrt(double(want.shape.at(1)));
      EXPECT_TRUE(golden::bitwise_equal(gen.uniform(want.shape, -b, b), want, name));
    }
  }
}

TEST(GoldenBook03, StepwiseThroughSelfV1Intermediates) {
  const json g = golden::load("book_03_trainable_weights_stepwise_seed123.json");
  const Tensor x = golden::book_inputs(g);
  const std::size_t n = x.shape[0], d_in = x.shape[1], d_out = 2, q = 1;  // d_out = 2, x_2 = inputs[1]
  Module m(make_config(Mechanism::self_v1, d_in, d_out, 1, 0, g.at("seed").get<std::uint64_t>()));
  const ForwardResult r = m.forward(x, explain());

  // keys.shape / values.shape: (6, 2), one head, batch dimension dropped for unbatched input.
  EXPECT_EQ(step(r, "keys").shape, (Shape{1, n, d_out}));
  EXPECT_EQ(step(r, "values").shape, (Shape{1, n, d_out}));
  EXPECT_EQ(step(r, "queries").shape, (Shape{1, n, d_out}));

  EXPECT_TRUE(matches_print(slice(step(r, "queries"), q * d_out, d_out), {d_out}, step_tensor(g, 70)));
  EXPECT_TRUE(matches_print(one(step(r, "scores").data[q * n + q]), {}, step_tensor(g, 75)));
  EXPECT_TRUE(matches_print(slice(step(r, "scores"), q * n, n), {n}, step_tensor(g, 77)));
  EXPECT_TRUE(matches_print(slice(r.weights, q * n, n), {n}, step_tensor(g, 80)));
  EXPECT_TRUE(matches_print(slice(r.context, q * d_out, d_out), {d_out}, step_tensor(g, 83)));
  // The scaled scores are the scores over sqrt(d_k), d_k = 2.
  for (std::size_t j = 0; j < n * n; ++j)
    EXPECT_NEAR(step(r, "scaled_scores").data[j], step(r, "scores").data[j] / std::sqrt(2.0), 1e-6) << j;
}

// ---------------------------------------------------------------------------------------------------------
// The seeded book classes: output and drawn parameters. One row per golden file.

struct BookCase {
  const char* file;
  int cell;  // the cell that prints the module's output
  Config config;
  bool batched;  // the book's (2, 6, 3) batch, or the 6×3 inputs
};

Config book_config(Mechanism m, std::size_t d_out, std::size_t heads, std::uint64_t seed) {
  return make_config(m, 3, d_out, heads, 6, seed);
}

std::vector<BookCase> book_cases() {
  return {
      {"book_04_self_attention_v1_seed123.json", 86, book_config(Mechanism::self_v1, 2, 1, 123), false},
      {"book_05_self_attention_v2_seed789.json", 89, book_config(Mechanism::self, 2, 1, 789), false},
      {"book_09_causal_attention_seed123.json", 121, book_config(Mechanism::causal, 2, 1, 123), true},
      {"book_10_multihead_wrapper_seed123.json", 127, book_config(Mechanism::multihead_wrapper, 2, 2, 123), true},
      {"book_11_multihead_attention_seed123.json", 131, book_config(Mechanism::multihead, 2, 2, 123), true},
  };
}

void PrintTo(const BookCase& c, std::ostream* os) { *os << c.file; }

class GoldenBookModule : public ::testing::TestWithParam<BookCase> {};

TEST_P(GoldenBookModule, OutputMatchesTheBook) {
  const BookCase& c = GetParam();
  const json g = golden::load(c.file);
  ASSERT_EQ(g.at("seed").get<std::uint64_t>(), c.config.seed);
  const Tensor x = c.batched ? golden::book_batch(g) : golden::book_inputs(g);
  const Expected want = step_tensor(g, c.cell);
  for (int path = 0; path < 3; ++path) {
    SCOPED_TRACE(path == 0 ? "fast path" : path == 1 ? "return_weights" : "intermediates");
    Module m(c.config);
    ForwardOptions o;
    o.return_weights = path >= 1;
    o.intermediates = path == 2;
    const ForwardResult r = m.forward(x, o);
    EXPECT_EQ(r.context.shape, want.value.shape);
    EXPECT_TRUE(matches_print(r.context, want));
  }
}

TEST_P(GoldenBookModule, ParametersAreTorchsBitForBit) {
  const BookCase& c = GetParam();
  const json g = golden::load(c.file);
  const StateDict want = golden::book_parameters(g);
  const StateDict got = Module(c.config).state_dict();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first) << "state_dict order is PyTorch's";
    EXPECT_TRUE(golden::bitwise_equal(got[i].second, want[i].second, want[i].first));
  }
}

// Loading the book's parameters back gives the same module (state_dict round trip).
TEST_P(GoldenBookModule, LoadingTheBooksParametersGivesTheSameOutput) {
  const BookCase& c = GetParam();
  const json g = golden::load(c.file);
  const Tensor x = c.batched ? golden::book_batch(g) : golden::book_inputs(g);
  Module drawn(c.config);
  Module loaded(c.config, golden::book_parameters(g));
  EXPECT_EQ(loaded.forward(x).context.data, drawn.forward(x).context.data);
  EXPECT_TRUE(matches_print(loaded.forward(x).context, step_tensor(g, c.cell)));
}

INSTANTIATE_TEST_SUITE_P(Book, GoldenBookModule, ::testing::ValuesIn(book_cases()),
                         [](const ::testing::TestParamInfo<BookCase>& info) {
                           std::string s = std::string(info.param.file).substr(0, 7);  // "book_04"
                           return s;
                         });

// ---------------------------------------------------------------------------------------------------------
// book_06 / book_07: the two causal routes on SelfAttention_v2's weights (seed 789)

TEST(GoldenBook06, RenormaliseRoute) {
  const json g = golden::load("book_06_causal_mask_renormalise.json");
  const Tensor x = golden::book_inputs(g);
  const std::size_t n = x.shape[0];
  const std::uint64_t seed = g.at("seed").get<std::uint64_t>();

  // Cell 98 reuses sa_v2: the non-causal `self` module drawn from seed 789.
  Module sa_v2(make_config(Mechanism::self, 3, 2, 1, 0, seed));
  ForwardOptions w;
  w.return_weights = true;
  EXPECT_TRUE(matches_print(sa_v2.forward(x, w).weights, step_tensor(g, 98)));

  Config c = make_config(Mechanism::causal, 3, 2, 1, n, seed);
  c.causal_route = attnkit::CausalRoute::renormalise;
  Module m(c);
  const StateDict want = golden::book_parameters(g);
  const StateDict got = m.state_dict();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_TRUE(golden::bitwise_equal(got[i].second, want[i].second, want[i].first));

  const ForwardResult r = m.forward(x, explain());
  const Tensor& unmasked = step(r, "unmasked_weights");
  EXPECT_TRUE(matches_print(unmasked, step_tensor(g, 98)));

  // tril(ones): the mask keeps j ≤ i; the final weights are zero exactly where it is zero.
  const Expected mask = step_tensor(g, 100);
  for (std::size_t i = 0; i < n * n; ++i)
    EXPECT_EQ(r.weights.data[i] == 0.0f, mask.value.data[i] == 0.0) << golden::index_string({n, n}, i);

  std::vector<float> masked_simple(n * n);
  for (std::size_t i = 0; i < n * n; ++i) masked_simple[i] = unmasked.data[i] * float(mask.value.data[i]);
  EXPECT_TRUE(matches_print(masked_simple, {n, n}, step_tensor(g, 102)));

  EXPECT_TRUE(matches_print(r.weights, step_tensor(g, 105)));
  EXPECT_TRUE(matches_print(step(r, "weights"), step_tensor(g, 105)));
}

TEST(GoldenBook07, NegInfRoute) {
  const json g = golden::load("book_07_causal_mask_neg_inf_softmax.json");
  const Tensor x = golden::book_inputs(g);
  const std::size_t n = x.shape[0];
  Module m(make_config(Mechanism::causal, 3, 2, 1, n, g.at("seed").get<std::uint64_t>()));
  const ForwardResult r = m.forward(x, explain());

  // Cell 108 prints masked raw scores; the module keeps raw scores, then scaled, then masked scaled scores.
  const Tensor& scores = step(r, "scores");
  const Tensor& scaled = step(r, "scaled_scores");
  const Tensor& masked = step(r, "masked_scores");
  std::vector<float> masked_raw(n * n);
  for (std::size_t i = 0; i < n * n; ++i) {
    masked_raw[i] = std::isinf(masked.data[i]) ? masked.data[i] : scores.data[i];
    if (!std::isinf(masked.data[i])) EXPECT_EQ(masked.data[i], scaled.data[i]) << i;
  }
  EXPECT_TRUE(matches_print(masked_raw, {n, n}, step_tensor(g, 108)));
  EXPECT_TRUE(matches_print(r.weights, step_tensor(g, 110)));
  EXPECT_EQ(r.intermediate("unmasked_weights"), nullptr) << "unmasked_weights belongs to the renormalise route";

  const json g6 = golden::load("book_06_causal_mask_renormalise.json");
  EXPECT_TRUE(matches_print(r.weights, step_tensor(g6, 105))) << "both routes print the same weights";
}

TEST(GoldenBook06And07, BothRoutesGiveTheSameWeights) {
  const json g = golden::load("book_07_causal_mask_neg_inf_softmax.json");
  const Tensor x = golden::book_inputs(g);
  Config c = make_config(Mechanism::causal, 3, 2, 1, 6, g.at("seed").get<std::uint64_t>());
  ForwardOptions o;
  o.return_weights = true;
  const Tensor neg_inf = Module(c).forward(x, o).weights;
  c.causal_route = attnkit::CausalRoute::renormalise;
  const ForwardResult renorm = Module(c).forward(x, o);
  golden::Array a{neg_inf.shape, std::vector<double>(neg_inf.data.begin(), neg_inf.data.end())};
  // Different arithmetic (exp of masked scores vs division by a partial sum): equal to float32 rounding.
  EXPECT_TRUE(golden::near(renorm.weights, a, 1e-6, 1e-6, "renormalise vs -inf route"));
}

// ---------------------------------------------------------------------------------------------------------
// book_08: dropout after manual_seed(123)

TEST(GoldenBook08, GeneratorDropoutOnOnes) {
  const json g = golden::load("book_08_dropout_seed123.json");
  const Expected want = step_tensor(g, 115);
  Tensor ones(want.value.shape);
  for (auto& v : ones.data) v = 1.0f;
  Generator gen(g.at("seed").get<std::uint64_t>());
  gen.dropout_(ones, 0.5f);
  EXPECT_TRUE(matches_print(ones, want));
}

TEST(GoldenBook08, GeneratorDropoutOnCausalWeights) {
  const json g = golden::load("book_08_dropout_seed123.json");
  const json g7 = golden::load("book_07_causal_mask_neg_inf_softmax.json");
  const Tensor x = golden::book_inputs(g7);
  ForwardOptions o;
  o.return_weights = true;
  Tensor w =
      Module(make_config(Mechanism::causal, 3, 2, 1, 6, g7.at("seed").get<std::uint64_t>())).forward(x, o).weights;
  Generator gen(g.at("seed").get<std::uint64_t>());  // the cell re-seeds before dropout
  gen.dropout_(w, 0.5f);
  EXPECT_TRUE(matches_print(w, step_tensor(g, 116)));
}

// The book's cell 116 through a module: sa_v2's weights (book_07 parameters) loaded, seed 123, dropout 0.5,
// training mode. A module built from a state_dict starts its generator at the seed.
TEST(GoldenBook08, ModuleInTrainingModeReproducesTheBooksDroppedWeights) {
  const json g = golden::load("book_08_dropout_seed123.json");
  const json g7 = golden::load("book_07_causal_mask_neg_inf_softmax.json");
  const Tensor x = golden::book_inputs(g7);
  Config c = make_config(Mechanism::causal, 3, 2, 1, 6, g.at("seed").get<std::uint64_t>());
  c.dropout = 0.5f;
  Module m(c, golden::book_parameters(g7));
  ForwardOptions o = explain();
  o.train = true;
  const ForwardResult r = m.forward(x, o);
  EXPECT_TRUE(matches_print(step(r, "weights_after_dropout"), step_tensor(g, 116)));
  // ForwardResult::weights are before dropout: the book's cell 110.
  EXPECT_TRUE(matches_print(r.weights, step_tensor(g7, 110)));
  EXPECT_TRUE(matches_print(step(r, "weights"), step_tensor(g7, 110)));

  // context = dropped weights · values, recomputed in float64 from the module's own intermediates.
  const Tensor& wd = step(r, "weights_after_dropout");
  const Tensor& v = step(r, "values");
  const std::size_t n = 6, d = 2;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < d; ++k) {
      double acc = 0;
      for (std::size_t j = 0; j < n; ++j) acc += double(wd.data[i * n + j]) * v.data[j * d + k];
      EXPECT_NEAR(r.context.data[i * d + k], acc, 1e-6) << i << "," << k;
    }

  // Inference mode ignores dropout: the plain causal output.
  Module inference(c, golden::book_parameters(g7));
  const ForwardResult ri = inference.forward(x, explain());
  EXPECT_EQ(ri.intermediate("weights_after_dropout"), nullptr);
  Config no_dropout = c;
  no_dropout.dropout = 0.0f;
  EXPECT_EQ(ri.context.data, Module(no_dropout, golden::book_parameters(g7)).forward(x, explain()).context.data);
}

// Seeded construction then training: dropout continues the generator that drew the parameters, as
// PyTorch does after torch.manual_seed(seed); a second forward continues further.
TEST(GoldenBook08, DropoutContinuesTheGeneratorAfterTheParameters) {
  const json g = golden::load("book_09_causal_attention_seed123.json");
  const Tensor x = golden::book_batch(g);
  Config c = make_config(Mechanism::causal, 3, 2, 1, 6, 123);
  c.dropout = 0.5f;
  Module m(c);
  ForwardOptions o = explain();
  o.train = true;

  Generator gen(c.seed);
  std::size_t drawn = 0;  // one 32-bit draw per parameter element (uniform_)
  for (const auto& [name, t] : m.state_dict()) drawn += t.numel();
  for (std::size_t i = 0; i < drawn; ++i) gen.random();
  for (int call = 0; call < 2; ++call) {
    SCOPED_TRACE(call);
    const ForwardResult r = m.forward(x, o);
    Tensor expected = step(r, "weights");
    gen.dropout_(expected, c.dropout);
    EXPECT_TRUE(golden::bitwise_equal(step(r, "weights_after_dropout"), expected, "weights_after_dropout"));
  }
}

// ---------------------------------------------------------------------------------------------------------
// book_12: a @ a.transpose(2, 3) over (b=1, heads=2, tokens=3, head_dim=4), through a multihead module
// whose projections are identities, so its per-head scores are exactly a·aᵀ.

TEST(GoldenBook12, BatchedHeadMatmulAsMultiheadScores) {
  const json g = golden::load("book_12_batched_matmul_heads.json");
  // The tensor `a` is only in the cell's code: torch.tensor(<nested list>), which is valid JSON.
  const std::string code = g.at("steps").at(0).at("code").get<std::string>();
  const std::size_t open = code.find("torch.tensor(") + std::string("torch.tensor(").size();
  const std::size_t close = code.find("])", open) + 1;
  const golden::Array a = golden::array(json::parse(code.substr(open, close - open)));
  ASSERT_EQ(a.shape, (Shape{1, 2, 3, 4}));
  const std::size_t heads = a.shape[1], n = a.shape[2], hd = a.shape[3], d = heads * hd;

  // x[t] = [a[0,0,t,:], a[0,1,t,:]]: the view(b, n, heads, head_dim) split gives back a's heads.
  Tensor x({1, n, d});
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t t = 0; t < n; ++t)
      for (std::size_t k = 0; k < hd; ++k) x.data[t * d + h * hd + k] = float(a.data[(h * n + t) * hd + k]);
  Tensor eye({d, d});
  for (std::size_t i = 0; i < d; ++i) eye.data[i * d + i] = 1.0f;
  const StateDict sd = {{"W_query.weight", eye},
                        {"W_key.weight", eye},
                        {"W_value.weight", eye},
                        {"out_proj.weight", eye},
                        {"out_proj.bias", Tensor({d})}};
  Config c = make_config(Mechanism::multihead, d, d, heads, 0);
  c.causal = false;
  Module m(c, sd);
  const ForwardResult r = m.forward(x, explain());
  const Tensor& scores = step(r, "scores");
  EXPECT_EQ(scores.shape, (Shape{1, heads, n, n}));
  EXPECT_TRUE(matches_print(scores, step_tensor(g, 138)));
  EXPECT_TRUE(matches_print(slice(scores, 0, n * n), {n, n}, step_tensor(g, 140, 0)));      // first head
  EXPECT_TRUE(matches_print(slice(scores, n * n, n * n), {n, n}, step_tensor(g, 140, 1)));  // second head
}

// ---------------------------------------------------------------------------------------------------------
// ref_*: float64 cases with short decimal weights, loaded as state_dicts

StateDict linear_weights(const json& weights, const std::vector<std::string>& prefixes) {
  StateDict sd;
  for (const auto& p : prefixes)
    for (const char* n : {"W_query", "W_key", "W_value"})
      sd.emplace_back(p + n + ".weight", golden::tensor(weights.at(p + n)));
  return sd;
}

// (b, h, n, n) out of the wrapper file's (h, b, n, n)
golden::Array heads_first_to_batch_first(const golden::Array& a) {
  const std::size_t h = a.shape[0], b = a.shape[1], rest = a.shape[2] * a.shape[3];
  golden::Array out{{b, h, a.shape[2], a.shape[3]}, std::vector<double>(a.numel())};
  for (std::size_t i = 0; i < h; ++i)
    for (std::size_t j = 0; j < b; ++j)
      for (std::size_t k = 0; k < rest; ++k) out.data[(j * h + i) * rest + k] = a.data[(i * b + j) * rest + k];
  return out;
}

TEST(GoldenRef, SelfAttentionV1) {
  const json g = golden::load("ref_self_attention_v1_t5_din4_dout6.json");
  const json& cfg = g.at("config");
  StateDict sd;
  for (const char* n : {"W_query", "W_key", "W_value"})
    sd.emplace_back(n, golden::tensor(g.at("weights_in_out").at(n)));
  Module m(make_config(Mechanism::self_v1, cfg.at("d_in"), cfg.at("d_out")), sd);
  const Tensor x = golden::tensor(g.at("inputs"));
  const ForwardResult r = m.forward(x, explain());
  EXPECT_TRUE(golden::near(r.weights, golden::array(g.at("attn_weights")), kRefAbs, kRefRel, "weights"));
  EXPECT_TRUE(golden::near(r.context, golden::array(g.at("output")), kRefAbs, kRefRel, "context"));
  EXPECT_EQ(r.context.shape, golden::array(g.at("output")).shape);
  EXPECT_TRUE(golden::near(m.forward(x).context, golden::array(g.at("output")), kRefAbs, kRefRel, "fast context"));
}

TEST(GoldenRef, CausalAttentionBothRoutes) {
  const json g = golden::load("ref_causal_attention_b2_t5_din4_dout6_noqkvbias.json");
  const json& cfg = g.at("config");
  const StateDict sd = linear_weights(g.at("weights"), {""});
  const Tensor x = golden::tensor(g.at("inputs"));
  for (auto route : {attnkit::CausalRoute::neg_inf, attnkit::CausalRoute::renormalise}) {
    SCOPED_TRACE(route == attnkit::CausalRoute::neg_inf ? "neg_inf" : "renormalise");
    Config c = make_config(Mechanism::causal, cfg.at("d_in"), cfg.at("d_out"), 1, cfg.at("context_length"));
    c.causal_route = route;
    Module m(c, sd);
    const ForwardResult r = m.forward(x, explain());
    EXPECT_EQ(r.weights.shape, (Shape{2, 1, 5, 5}));
    EXPECT_TRUE(golden::near(r.weights, golden::array(g.at("attn_weights")), kRefAbs, kRefRel, "weights"));
    EXPECT_TRUE(golden::near(r.context, golden::array(g.at("output")), kRefAbs, kRefRel, "context"));
    EXPECT_TRUE(golden::near(m.forward(x).context, golden::array(g.at("output")), kRefAbs, kRefRel, "fast context"));
  }
}

TEST(GoldenRef, MultiHeadAttentionEveryIntermediate) {
  const json g = golden::load("ref_mha_b2_t5_din4_dout6_h3_causal_noqkvbias.json");
  const json& cfg = g.at("config");
  const json& w = g.at("weights");
  StateDict sd = linear_weights(w, {""});
  sd.emplace_back("out_proj.weight", golden::tensor(w.at("out_proj")));
  sd.emplace_back("out_proj.bias", golden::tensor(w.at("out_proj_bias")));
  const Tensor x = golden::tensor(g.at("inputs"));
  for (auto route : {attnkit::CausalRoute::neg_inf, attnkit::CausalRoute::renormalise}) {
    SCOPED_TRACE(route == attnkit::CausalRoute::neg_inf ? "neg_inf" : "renormalise");
    Config c = make_config(Mechanism::multihead, cfg.at("d_in"), cfg.at("d_out"), cfg.at("num_heads"),
                           cfg.at("context_length"));
    c.causal_route = route;
    Module m(c, sd);
    EXPECT_EQ(m.head_dim(), cfg.at("head_dim").get<std::size_t>());
    const ForwardResult r = m.forward(x, explain());
    EXPECT_TRUE(golden::near(step(r, "queries"), golden::array(g.at("queries_per_head")), kRefAbs, kRefRel, "queries"));
    EXPECT_TRUE(golden::near(step(r, "keys"), golden::array(g.at("keys_per_head")), kRefAbs, kRefRel, "keys"));
    EXPECT_TRUE(golden::near(step(r, "values"), golden::array(g.at("values_per_head")), kRefAbs, kRefRel, "values"));
    if (route == attnkit::CausalRoute::neg_inf)  // the file's scaled scores carry the mask's −inf
      EXPECT_TRUE(golden::near(step(r, "masked_scores"), golden::array(g.at("scaled_scores_per_head")), kRefAbs,
                               kRefRel, "masked scaled scores"));
    EXPECT_TRUE(golden::near(r.weights, golden::array(g.at("attn_weights_per_head")), kRefAbs, kRefRel, "weights"));
    EXPECT_TRUE(golden::near(step(r, "context_before_out_proj"), golden::array(g.at("context_before_out_proj")),
                             kRefAbs, kRefRel, "context before out_proj"));
    EXPECT_TRUE(golden::near(r.context, golden::array(g.at("output")), kRefAbs, kRefRel, "context"));
    EXPECT_TRUE(golden::near(m.forward(x).context, golden::array(g.at("output")), kRefAbs, kRefRel, "fast context"));
  }
}

TEST(GoldenRef, MultiHeadAttentionWrapper) {
  const json g = golden::load("ref_mha_wrapper_b2_t5_din4_dout2_h3.json");
  const json& cfg = g.at("config");
  const std::size_t heads = cfg.at("num_heads");
  std::vector<std::string> prefixes;
  for (std::size_t h = 0; h < heads; ++h) prefixes.push_back("heads." + std::to_string(h) + ".");
  const StateDict sd = linear_weights(g.at("weights"), prefixes);
  Module m(make_config(Mechanism::multihead_wrapper, cfg.at("d_in"), cfg.at("d_out_per_head"), heads,
                       cfg.at("context_length")),
           sd);
  const Tensor x = golden::tensor(g.at("inputs"));
  const ForwardResult r = m.forward(x, explain());
  EXPECT_TRUE(golden::near(r.weights, heads_first_to_batch_first(golden::array(g.at("attn_weights_per_head"))), kRefAbs,
                           kRefRel, "weights"));
  EXPECT_TRUE(golden::near(r.context, golden::array(g.at("output")), kRefAbs, kRefRel, "context"));
  EXPECT_EQ(r.context.shape, golden::array(g.at("output")).shape);
  EXPECT_TRUE(golden::near(m.forward(x).context, golden::array(g.at("output")), kRefAbs, kRefRel, "fast context"));
}

// A PyTorch state_dict of the seed's classes also lists the registered `mask` buffer (triu of ones);
// the loader (core/src/state_dict.cpp) takes such a dump unchanged.
TEST(GoldenRef, StateDictWithTheMaskBufferLoads) {
  const json g = golden::load("ref_causal_attention_b2_t5_din4_dout6_noqkvbias.json");
  const json& cfg = g.at("config");
  const std::size_t ctx = cfg.at("context_length");
  StateDict sd = linear_weights(g.at("weights"), {""});
  Tensor mask({ctx, ctx});
  for (std::size_t i = 0; i < ctx; ++i)
    for (std::size_t j = i + 1; j < ctx; ++j) mask.data[i * ctx + j] = 1.0f;
  sd.insert(sd.begin(), {"mask", mask});  // a module's own buffers come before its children's parameters
  Module m(make_config(Mechanism::causal, cfg.at("d_in"), cfg.at("d_out"), 1, ctx), sd);
  EXPECT_TRUE(golden::near(m.forward(golden::tensor(g.at("inputs"))).context, golden::array(g.at("output")), kRefAbs,
                           kRefRel, "context"));
}

// The wrapper's dump has one mask per head module: heads.0.mask, heads.0.W_query.weight, ...
TEST(GoldenRef, WrapperStateDictWithPerHeadMaskBuffersLoads) {
  const json g = golden::load("ref_mha_wrapper_b2_t5_din4_dout2_h3.json");
  const json& cfg = g.at("config");
  const std::size_t heads = cfg.at("num_heads"), ctx = cfg.at("context_length");
  Tensor mask({ctx, ctx});
  for (std::size_t i = 0; i < ctx; ++i)
    for (std::size_t j = i + 1; j < ctx; ++j) mask.data[i * ctx + j] = 1.0f;
  StateDict sd;
  for (std::size_t h = 0; h < heads; ++h) {
    const std::string p = "heads." + std::to_string(h) + ".";
    sd.emplace_back(p + "mask", mask);
    for (const char* n : {"W_query", "W_key", "W_value"})
      sd.emplace_back(p + n + ".weight", golden::tensor(g.at("weights").at(p + n)));
  }
  Module m(make_config(Mechanism::multihead_wrapper, cfg.at("d_in"), cfg.at("d_out_per_head"), heads, ctx), sd);
  EXPECT_TRUE(golden::near(m.forward(golden::tensor(g.at("inputs"))).context, golden::array(g.at("output")), kRefAbs,
                           kRefRel, "context"));
}

}  // namespace
