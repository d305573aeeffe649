// `attnkit grad` and `attnkit attention --grad` through the built binary: PyTorch's autograd answers
// (tests/golden/torch/grad_*.json and sdpa_grad_*.json) from the same inputs, weights and grad_output; the default
// grad_output (all ones); the same output for any thread count; every bad input exits 2 with one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

double max_abs(const std::vector<float>& v) {
  double m = 0.0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}

// max |got − want| relative to max |want|; a gradient that is 0 in exact arithmetic (W_key's bias: softmax ignores a
// constant added to a row's scores) relative to `largest`, the largest gradient of the file.
void expect_close(const Json& got, const std::vector<float>& want, double largest, const std::string& what) {
  const std::vector<float> g = flatten(got);
  ASSERT_EQ(g.size(), want.size()) << what;
  const double scale = max_abs(want) < 1e-9 * largest ? largest : max_abs(want);
  double worst = 0.0;
  for (std::size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::fabs(double(g[i]) - double(want[i])));
  EXPECT_LE(worst / scale, 1e-5) << what;
}

std::vector<float> rows(const std::vector<float>& v, std::size_t from, std::size_t count, std::size_t width) {
  return std::vector<float>(v.begin() + from * width, v.begin() + (from + count) * width);
}

struct GoldenCase {
  const char* file;
  std::vector<std::string> args;
  bool weights = true;  // pass the file's state_dict as --weights
};

TEST(CliGrad, MatchesPyTorchAutograd) {
  const std::vector<GoldenCase> cases = {
      {"grad_multihead_attention.json", {"--mechanism", "multihead", "--heads", "3", "--qkv-bias"}},
      {"grad_multihead_wrapper.json", {"--mechanism", "multihead-wrapper", "--heads", "3", "--qkv-bias"}},
      {"grad_self_attention_v1.json", {"--mechanism", "self-v1"}},
      {"grad_self_attention_v2.json", {"--mechanism", "self", "--qkv-bias"}},
      {"grad_causal_attention_dropout_train.json",
       {"--mechanism", "causal", "--d-out", "2", "--context-length", "6", "--dropout", "0.5", "--train", "--seed",
        "123"},
       false},
      {"grad_mha_key_padding_mask.json",
       {"--mechanism", "multihead", "--heads", "2", "--weights-format", "torch-mha", "--no-causal"}},
      {"grad_mha_attn_mask_float.json",
       {"--mechanism", "multihead", "--heads", "2", "--weights-format", "torch-mha", "--no-causal"}},
      {"grad_mha_attn_mask_bool.json",
       {"--mechanism", "multihead", "--heads", "2", "--weights-format", "torch-mha", "--no-causal"}},
      {"grad_mha_cross_attention.json",
       {"--mechanism", "multihead", "--heads", "2", "--weights-format", "torch-mha", "--no-causal"}},
  };
  for (const GoldenCase& c : cases) {
    SCOPED_TRACE(c.file);
    const Json g = golden(std::string("torch/") + c.file);
    const Json& in = g.at("inputs");
    Json input = {{"x", in.at("x")}};
    for (const char* extra : {"kv", "key_padding_mask", "attn_mask"})
      if (in.contains(extra)) input[extra] = in.at(extra);
    std::vector<std::string> args = {"grad", "--input", write_temp("grad_input.json", input.dump()), "--grad-output",
                                     write_temp("grad_output.json", in.at("grad_output").dump())};
    if (c.weights) {
      args.push_back("--weights");
      args.push_back(write_temp("grad_weights.json", g.at("state_dict").dump()));
    }
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CliRun r = run_cli(args);
    ASSERT_EQ(r.code, 0) << r.err;
    const Json got = Json::parse(r.out);
    const Json& out = g.at("outputs");
    double largest = 0.0;
    for (const auto& [name, t] : out.at("grads").items()) largest = std::max(largest, max_abs(flatten(t)));
    expect_close(got.at("context"), flatten(out.at("context")), largest, "context");
    expect_close(got.at("grad_input"), flatten(out.at("grad_input")), largest, "grad_input");
    EXPECT_EQ(got.contains("grad_kv"), out.contains("grad_kv"));
    if (out.contains("grad_kv")) expect_close(got.at("grad_kv"), flatten(out.at("grad_kv")), largest, "grad_kv");
    // nn.MultiheadAttention's in_proj rows are W_query; W_key; W_value in the book's names, which grad prints.
    Json want = out.at("grads");
    if (want.contains("in_proj_weight")) {
      const std::vector<float> w = flatten(want.at("in_proj_weight"));
      const std::size_t E = g.at("shapes").at("state_dict.in_proj_weight")[1];
      const char* names[] = {"W_query", "W_key", "W_value"};
      for (std::size_t which = 0; which < 3; ++which) {
        expect_close(got.at("grads").at(std::string(names[which]) + ".weight"), rows(w, which * E, E, E), largest,
                     names[which]);
        if (want.contains("in_proj_bias"))
          expect_close(got.at("grads").at(std::string(names[which]) + ".bias"),
                       rows(flatten(want.at("in_proj_bias")), which * E, E, 1), largest, names[which]);
      }
      want.erase("in_proj_weight");
      want.erase("in_proj_bias");
    }
    for (const auto& [name, t] : want.items()) {
      ASSERT_TRUE(got.at("grads").contains(name)) << name;
      expect_close(got.at("grads").at(name), flatten(t), largest, name);
    }
  }
}

TEST(CliGrad, DefaultGradOutputIsOnesAndThreadsDoNotChangeTheOutput) {
  Json x = Json::array();
  for (std::size_t b = 0; b < 2; ++b) {
    Json tokens = Json::array();
    for (std::size_t i = 0; i < 70; ++i) {
      Json row = Json::array();
      for (std::size_t p = 0; p < 17; ++p) row.push_back(std::sin(0.37 * double(b * 131 + i * 17 + p * 3)));
      tokens.push_back(row);
    }
    x.push_back(tokens);
  }
  Json ones = Json::array();
  for (std::size_t b = 0; b < 2; ++b) ones.push_back(Json::array());
  for (auto& tokens : ones)
    for (std::size_t i = 0; i < 70; ++i) tokens.push_back(std::vector<double>(24, 1.0));
  const std::string input = write_temp("grad_threads.json", Json{{"x", x}}.dump());
  const std::vector<std::string> base = {"grad",    "--input", input,       "--mechanism", "multihead",
                                         "--d-out", "24",      "--heads",   "3",           "--kv-heads",
                                         "1",       "--train", "--dropout", "0.2",         "--qkv-bias"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  };
  const std::string one = with({"--threads", "1"});
  EXPECT_EQ(one, with({"--threads", "2"}));
  EXPECT_EQ(one, with({"--threads", "1", "--grad-output", write_temp("grad_ones.json", ones.dump())}));
  const Json parsed = Json::parse(one);
  for (const char* name : {"W_query.weight", "W_key.weight", "W_value.weight", "W_key.bias", "out_proj.bias"})
    EXPECT_TRUE(parsed.at("grads").contains(name)) << name;
  // With ones, out_proj's bias gradient counts the context rows.
  for (float v : flatten(parsed.at("grads").at("out_proj.bias"))) EXPECT_EQ(v, 140.0f);
  EXPECT_EQ(parsed.at("grads").at("W_key.weight").size(), 8u) << "grouped-query: one head of 8 rows";
  const std::string text = with({"--threads", "1", "--format", "text"});
  for (const char* part : {"context:\n", "grad_input:\n", "grad W_query.weight:\n", "grad out_proj.bias.shape:"})
    EXPECT_NE(text.find(part), std::string::npos) << part;
}

TEST(CliGrad, AttentionGradMatchesPyTorch) {
  struct Case {
    const char* file;
    std::vector<std::string> args;
  };
  const Case cases[] = {{"sdpa_grad_grouped_query_lower_right.json", {"--causal", "lower-right"}},
                        {"sdpa_grad_multi_query_float_mask.json", {"--scale", "0.3"}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const Json g = golden(std::string("torch/") + c.file);
    const Json& in = g.at("inputs");
    Json input = {{"query", in.at("query")}, {"key", in.at("key")}, {"value", in.at("value")}};
    if (in.contains("attn_mask")) input["attn_mask"] = in.at("attn_mask");
    std::vector<std::string> args = {"attention",     "--grad",
                                     "--input",       write_temp("attention_grad.json", input.dump()),
                                     "--grad-output", write_temp("attention_go.json", in.at("grad_output").dump())};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CliRun r = run_cli(args);
    ASSERT_EQ(r.code, 0) << r.err;
    const Json got = Json::parse(r.out);
    for (const char* name : {"output", "grad_query", "grad_key", "grad_value"}) {
      const std::vector<float> want = flatten(g.at("outputs").at(name));
      expect_close(got.at(name), want, max_abs(want), name);
    }
    EXPECT_TRUE(got.contains("attention_weights"));
  }
}

TEST(CliGrad, BadInputExitsTwoWithOneLine) {
  const std::string input = write_temp("grad_bad_input.json", R"({"x": [[[1, 2], [3, 4], [5, 6]]]})");
  const std::string qkv = write_temp("grad_bad_qkv.json", R"({"query": [[[[1, 0]]]], "key": [[[[1, 2]]]],
    "value": [[[[3, 4]]]]})");
  auto file = [](const std::string& name, const std::string& text) { return write_temp(name, text); };
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<std::string> run = {"grad", "--input", input, "--mechanism", "self", "--d-out", "2"};
  auto grad = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = run;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::vector<Case> cases = {
      {grad({"--grad-output", file("go_shape.json", "[[[1, 1], [1, 1]]]")}),
       "grad_output has shape [1, 2, 2]; expected the context's shape [1, 3, 2]"},
      {grad({"--grad-output", file("go_nan.json", "[[[1, NaN], [1, 1], [1, 1]]]")}), "grad_output contains NaN"},
      {grad({"--grad-output", file("go_bad.json", "[[[1, 1], [1, 1]")}), "--grad-output"},
      {grad({"--grad-output", file("go_object.json", R"({"grad_output": [[[1, 1]]]})")}),
       "--grad-output must hold a nested list of numbers; expected the context's shape [1, 3, 2]"},
      {grad({"--grad-output", file("go_text.json", R"([[[1, "a"], [1, 1], [1, 1]]])")}), "grad_output"},
      {grad({"--grad-output", file("go_big.json", "[[[1, 1e39], [1, 1], [1, 1]]]")}), "too large for float32"},
      {grad({"--grad-output", ""}), "--grad-output is empty"},
      {grad({"--grad-output", "/nonexistent/go.json"}), "cannot open --grad-output file"},
      {grad({"--decode"}), "expected no --decode with grad"},
      {grad({"--dry-run"}), "expected no --dry-run with grad"},
      {{"grad", "--input", "-", "--mechanism", "self", "--d-out", "2", "--grad-output", "-"},
       "cannot both read standard input"},
      {{"attention", "--input", qkv, "--grad-output", file("go_attention.json", "[[[[1, 1]]]]")},
       "--grad-output applies only with --grad"},
      {{"attention", "--input", qkv, "--grad", "--grad-output", file("go_attention_shape.json", "[[[1, 1]]]")},
       "grad_output has shape [1, 1, 2]; expected the output's shape [1, 1, 1, 2]"},
  };
  for (const Case& c : cases) {
    const CliRun r = run_cli(c.args);
    EXPECT_EQ(r.code, 2) << c.message << ": " << r.out;
    EXPECT_EQ(r.err.rfind("attnkit: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << c.message;
  }
}

}  // namespace
}  // namespace attnkit::test
