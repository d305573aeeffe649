// The book's multi-head example (3.6.2) through an installed attnkit: MultiHeadAttention(d_in=3, d_out=2,
// context_length=6, dropout=0, num_heads=2) after torch.manual_seed(123), on two copies of "Your journey
// starts with one step". Inputs and expected numbers come from the book's file given on the command line.
//   consumer data/book/book_11_multihead_attention_seed123.json   → exit 0 when every value matches
#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

#include <attnkit/attnkit.hpp>
#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer BOOK_11_JSON\n");
    return 2;
  }
  std::ifstream file(argv[1]);
  if (!file) {
    std::fprintf(stderr, "consumer: cannot open %s\n", argv[1]);
    return 2;
  }
  const nlohmann::json book = nlohmann::json::parse(file);

  // (6, 3) tokens, stacked twice: (2, 6, 3)
  const auto tokens = book.at("inputs").at("inputs_6x3").get<std::vector<std::vector<float>>>();
  std::vector<float> batch;
  for (int copy = 0; copy < 2; ++copy)
    for (const auto& row : tokens) batch.insert(batch.end(), row.begin(), row.end());
  const attnkit::Tensor x({2, tokens.size(), tokens.at(0).size()}, batch);

  attnkit::Config config;
  config.mechanism = attnkit::Mechanism::multihead;
  config.d_in = 3;
  config.d_out = 2;
  config.context_length = 6;
  config.num_heads = 2;
  config.dropout = 0.0;
  config.seed = 123;
  attnkit::Module mha(config);
  const attnkit::Tensor context = mha.forward(x).context;  // (2, 6, 2)

  // The printed context_vecs: the book file's tensor of shape (2, 6, 2), within its printed precision.
  const nlohmann::json* expected = nullptr;
  for (const auto& step : book.at("steps")) {
    if (!step.contains("tensors")) continue;
    for (const auto& t : step.at("tensors"))
      if (t.at("shape") == nlohmann::json::array({2, 6, 2})) expected = &t;
  }
  if (expected == nullptr) {
    std::fprintf(stderr, "consumer: no (2, 6, 2) tensor in %s\n", argv[1]);
    return 2;
  }
  std::vector<double> want;
  for (const auto& item : expected->at("expected"))
    for (const auto& row : item)
      for (const auto& v : row) want.push_back(v.get<double>());
  const double tolerance = expected->at("abs_tol").get<double>() + 1e-6;  // the book file's rule

  if (context.shape != attnkit::Shape{2, 6, 2} || context.numel() != want.size()) {
    std::fprintf(stderr, "consumer: context has shape %s; expected [2, 6, 2]\n",
                 attnkit::shape_to_string(context.shape).c_str());
    return 1;
  }
  int wrong = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!(std::fabs(context.data[i] - want[i]) <= tolerance)) {
      std::fprintf(stderr, "consumer: context[%zu] = %.6f; the book prints %.4f\n", i, context.data[i], want[i]);
      ++wrong;
    }
  }
  if (wrong > 0) return 1;
  std::printf("attnkit %s (%s): %zu values of the book's context_vecs match within %g\n", attnkit::version(),
              attnkit::simd_instruction_set(), want.size(), tolerance);
  return 0;
}
