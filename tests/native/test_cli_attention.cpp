// `attnkit attention` through the built binary: PyTorch's sdpa answers (tests/golden/torch/sdpa_*.json) from the
// JSON input; every bad input exits 2 with one line naming the problem; and the overflow rows a hostile caller
// found in `attnkit run` (scores, projections) through the CLI.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

Json torch_golden(const std::string& name) {
  std::ifstream in(std::string(ATTNKIT_GOLDEN_DIR) + "/torch/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

// PyTorch's NaN rows (nothing to attend to) are zeros here.
void expect_near(const std::vector<float>& got, const Json& want_nested, const std::string& what) {
  std::vector<double> want;
  std::function<void(const Json&)> walk = [&](const Json& v) {
    if (v.is_array()) {
      for (const auto& e : v) walk(e);
    } else {
      want.push_back(v.is_string() ? std::nan("") : v.get<double>());
    }
  };
  walk(want_nested);
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) ASSERT_EQ(got[i], 0.0f) << what << " at " << i;
    else ASSERT_NEAR(got[i], want[i], 1e-5 * std::fabs(want[i]) + 1e-6) << what << " at " << i;
  }
}

TEST(CliAttention, PyTorchSdpaCases) {
  for (const char* file :
       {"sdpa_no_mask.json", "sdpa_bool_mask.json", "sdpa_float_mask.json", "sdpa_causal_upper_left.json",
        "sdpa_causal_lower_right.json", "sdpa_causal_lower_right_more_queries.json", "sdpa_grouped_query.json",
        "sdpa_multi_query.json", "sdpa_d_ne_dv_scale.json", "sdpa_fully_masked_row.json"}) {
    SCOPED_TRACE(file);
    const Json g = torch_golden(file);
    const std::string input = write_temp("attention_input.json", g.at("inputs").dump());
    std::vector<std::string> args = {"attention", "--input", input};
    const Json& call = g.at("call");
    if (!call.at("causal").is_null()) args.insert(args.end(), {"--causal", call.at("causal").get<std::string>()});
    if (!call.at("scale").is_null()) args.insert(args.end(), {"--scale", call.at("scale").dump()});
    for (const char* weights : {"", "--average-weights", "--no-weights"}) {
      std::vector<std::string> a = args;
      if (*weights) a.push_back(weights);
      const CliRun r = run_cli(a);
      ASSERT_EQ(r.code, 0) << r.err;
      const Json out = Json::parse(r.out);
      expect_near(flatten(out.at("output")), g.at("outputs").at("output"), std::string(file) + " output");
      EXPECT_EQ(out.at("output_shape"), g.at("shapes").at("outputs.output"));
      if (std::string(weights).empty())
        expect_near(flatten(out.at("attention_weights")), g.at("outputs").at("weights"),
                    std::string(file) + " weights");
      else if (std::string(weights) == "--average-weights")
        expect_near(flatten(out.at("attention_weights")), g.at("outputs").at("weights_averaged_over_heads"),
                    std::string(file) + " averaged");
      else EXPECT_FALSE(out.contains("attention_weights"));
    }
  }
}

TEST(CliAttention, DropoutIsSeededAndTextFormatPrints) {
  const std::string input = write_temp("attention_dropout.json", torch_golden("sdpa_no_mask.json").at("inputs").dump());
  const CliRun a =
      run_cli({"attention", "--input", input, "--dropout", "0.5", "--train", "--seed", "7", "--no-weights"});
  const CliRun b = run_cli(
      {"attention", "--input", input, "--dropout", "0.5", "--train", "--seed", "7", "--no-weights", "--threads", "1"});
  const CliRun c =
      run_cli({"attention", "--input", input, "--dropout", "0.5", "--train", "--seed", "8", "--no-weights"});
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
  const CliRun t = run_cli({"attention", "--input", input, "--format", "text"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("output:\ntensor([[[["), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("attention_weights.shape: torch.Size(["), std::string::npos) << t.out;
}

struct BadCase {
  const char* name;
  std::vector<std::string> extra;
  std::string part;
  std::string input = R"({"query": [[[[1, 0]]]], "key": [[[[1, 0], [0, 1]]]], "value": [[[[1], [2]]]]})";
};

TEST(CliAttention, EveryBadInputIsOneLineExitTwo) {
  const std::string qkv = R"("query": [[[[1, 0]]]], "key": [[[[1, 0], [0, 1]]]], "value": [[[[1], [2]]]])";
  const std::vector<BadCase> cases = {
      {"no input", {"--drop-input"}, "--input is required"},
      {"unknown key",
       {},
       "input has unknown key \"mask\"; expected query, key, value and attn_mask",
       "{" + qkv + R"(, "mask": [true, true]})"},
      {"missing value", {}, "input has no key \"value\"", R"({"query": [[[[1, 0]]]], "key": [[[[1, 0]]]]})"},
      {"not an object", {}, "input must be a JSON object", "[1, 2]"},
      {"query rank",
       {},
       "query must have shape (b, h_q, n_q, d); got rank 2",
       R"({"query": [[1, 0]], "key": [[[[1, 0]]]], "value": [[[[1]]]]})"},
      {"key d",
       {},
       "key's d is 3 but query's is 2",
       R"({"query": [[[[1, 0]]]], "key": [[[[1, 0, 0]]]], "value": [[[[1]]]]})"},
      {"heads",
       {},
       "query has 3 heads, not a multiple of key's 2",
       R"({"query": [[[[1, 0]], [[1, 0]], [[1, 0]]]], "key": [[[[1, 0]], [[1, 0]]]], "value": [[[[1]], [[1]]]]})"},
      {"NaN query", {}, "query contains NaN", R"({"query": [[[[NaN, 0]]]], "key": [[[[1, 0]]]], "value": [[[[1]]]]})"},
      {"ragged mask", {}, "attn_mask is ragged", "{" + qkv + R"(, "attn_mask": [[true, true], [true]]})"},
      {"mixed mask", {}, "attn_mask mixes booleans and numbers", "{" + qkv + R"(, "attn_mask": [true, 0.5]})"},
      {"mask +inf", {}, "attn_mask at index [1] is \"inf\"", "{" + qkv + R"(, "attn_mask": [0, "inf"]})"},
      {"mask string", {}, "attn_mask at index [0] is \"yes\"", "{" + qkv + R"(, "attn_mask": ["yes", true]})"},
      {"mask shape",
       {},
       "attn_mask shape [3] is not broadcastable",
       "{" + qkv + R"(, "attn_mask": [true, true, false]})"},
      {"mask rank 5", {}, "attn_mask has rank 5", "{" + qkv + R"(, "attn_mask": [[[[[true, true]]]]]})"},
      {"mask empty", {}, "attn_mask is empty", "{" + qkv + R"(, "attn_mask": []})"},
      {"causal unknown", {"--causal", "future"}, "unknown --causal 'future'; expected upper-left or lower-right"},
      {"scale text", {"--scale", "big"}, "--scale must be a number, got 'big'"},
      {"scale huge", {"--scale", "1e39"}, "--scale is 1e39; expected a finite float32 number"},
      {"scale empty", {"--scale", ""}, "--scale is empty"},
      {"seed empty", {"--seed", ""}, "--seed is empty"},
      {"threads 0", {"--threads", "0"}, "--threads is 0; expected an integer from 1 to 1024"},
      {"dropout 1", {"--dropout", "1", "--train"}, "--dropout is 1; expected a number in [0, 1)"},
      {"weights contradict",
       {"--no-weights", "--average-weights"},
       "--no-weights and --average-weights contradict each other"},
      {"format", {"--format", "xml"}, "unknown --format 'xml'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> args = {"attention"};
    if (c.extra.empty() || c.extra[0] != "--drop-input")
      args.insert(args.end(), {"--input", write_temp("attention_bad.json", c.input)});
    for (const auto& e : c.extra)
      if (e != "--drop-input") args.push_back(e);
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("attnkit: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.part), std::string::npos) << r.err;
  }
}

// Issue rows 1 and 2 through `attnkit run`: a projection that overflows float32 is refused by name; scores that
// overflow while the answer fits give the answer.
TEST(CliOverflowRule, ProjectionOverflowIsRefused) {
  const std::string ones = "[[1, 1, 1], [1, 1, 1]]";
  const std::string weights = write_temp("ones.json", R"({"W_query.weight": )" + ones + R"(, "W_key.weight": )" + ones +
                                                          R"(, "W_value.weight": )" + ones + "}");
  const std::string input = write_temp("big.json", R"({"x": [[3e38, 3e38, 3e38], [-3e38, 3e38, -3e38]]})");
  for (const char* no_weights : {"", "--no-weights"}) {
    std::vector<std::string> args = {"run", "--mechanism", "self", "--weights", weights, "--input", input};
    if (*no_weights) args.push_back(no_weights);
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("attnkit: error: queries overflow float32 at batch 0, token 0"), std::string::npos) << r.err;
  }
}

TEST(CliOverflowRule, ScoresOverflowGiveTheRepresentableAnswer) {
  const std::string weights =
      write_temp("ones1.json", R"({"W_query.weight": [[1]], "W_key.weight": [[1]], "W_value.weight": [[1]], )"
                               R"("out_proj.weight": [[1]], "out_proj.bias": [0]})");
  const std::string input = write_temp("big1.json", R"({"x": [[1e20], [2e20]]})");
  const CliRun r = run_cli({"run", "--mechanism", "multihead", "--weights", weights, "--input", input});
  ASSERT_EQ(r.code, 0) << r.err;
  const Json out = Json::parse(r.out);
  EXPECT_EQ(flatten(out.at("context")), (std::vector<float>{1e20f, 2e20f}));
  EXPECT_EQ(flatten(out.at("attention_weights")), (std::vector<float>{1, 0, 0, 1}));
  const CliRun fast =
      run_cli({"run", "--mechanism", "multihead", "--weights", weights, "--input", input, "--no-weights"});
  ASSERT_EQ(fast.code, 0) << fast.err;
  EXPECT_EQ(flatten(Json::parse(fast.out).at("context")), (std::vector<float>{1e20f, 2e20f}));
}

}  // namespace
}  // namespace attnkit::test
