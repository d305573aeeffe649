// Option values and the run configuration, and the command line run in-process.
#include <sstream>

#include <gtest/gtest.h>

#include "cli.hpp"
#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

struct InProcess {
  int code;
  std::string out, err;
};
InProcess cli_main(std::vector<std::string> args, const std::string& stdin_text = "") {
  args.insert(args.begin(), "attnkit");
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  const int code = cli::main(args, in, out, err);
  return {code, out.str(), err.str()};
}

TEST(CliOptions, CountsAcceptOnlyDigitsInRange) {
  EXPECT_EQ(cli::parse_count("--heads", "12", 1, 100), 12u);
  EXPECT_EQ(error_of([] { cli::parse_count("--heads", "0", 1, 100); }),
            "--heads is 0; expected an integer from 1 to 100");
  EXPECT_EQ(error_of([] { cli::parse_count("--heads", "-2", 1, 100); }),
            "--heads must be an integer, got '-2'; expected an integer from 1 to 100");
  EXPECT_NE(error_of([] { cli::parse_count("--d-out", "99999999999999999999999", 1, 100); }).find("--d-out is 9999"),
            std::string::npos);
  EXPECT_NE(error_of([] { cli::parse_count("--d-out", "2.5", 1, 100); }).find("got '2.5'"), std::string::npos);
}

TEST(CliOptions, DropoutSeedFormatRoute) {
  EXPECT_EQ(cli::parse_dropout("0.5"), 0.5);
  EXPECT_EQ(cli::parse_dropout("0"), 0.0);
  // Kept as a double, as PyTorch keeps p: below 1 though float32 would round it to 1 (issue 15, row 7).
  EXPECT_EQ(cli::parse_dropout("0.99999999"), 0.99999999);
  EXPECT_EQ(static_cast<float>(0.99999999), 1.0f);
  EXPECT_EQ(error_of([] { cli::parse_dropout(""); }), "--dropout is empty; expected a number in [0, 1)");
  EXPECT_EQ(error_of([] { cli::parse_dropout("1"); }), "--dropout is 1; expected a number in [0, 1)");
  EXPECT_EQ(error_of([] { cli::parse_dropout("-0.1"); }), "--dropout is -0.1; expected a number in [0, 1)");
  EXPECT_NE(error_of([] { cli::parse_dropout("nan"); }).find("expected a number in [0, 1)"), std::string::npos);
  EXPECT_NE(error_of([] { cli::parse_dropout("half"); }).find("got 'half'"), std::string::npos);
  EXPECT_EQ(cli::parse_seed("789"), 789u);
  EXPECT_NE(error_of([] { cli::parse_seed("-1"); }).find("--seed must be an integer"), std::string::npos);
  EXPECT_EQ(cli::parse_format("text"), cli::Format::text);
  EXPECT_EQ(error_of([] { cli::parse_format("yaml"); }), "unknown --format 'yaml'; expected json or text");
  EXPECT_EQ(cli::parse_causal_route("renormalise"), CausalRoute::renormalise);
  EXPECT_EQ(error_of([] { cli::parse_causal_route("renormalize"); }),
            "unknown --causal-route 'renormalize'; expected neg-inf or renormalise");
  for (const char* option : {"--heads", "--threads", "--repeats"}) {
    EXPECT_EQ(error_of([&] { cli::parse_count(option, "", 1, 9); }),
              std::string(option) + " is empty; expected an integer from 1 to 9");
  }
  EXPECT_EQ(error_of([] { cli::parse_seed(""); }),
            "--seed is empty; expected an integer from 0 to 18446744073709551615");
  EXPECT_NE(error_of([] { cli::parse_causal_route("zero"); }).find("expected neg-inf or renormalise"),
            std::string::npos);
}

TEST(CliOptions, ConfigTakesSizesFromTheInputAndTheWeights) {
  const Tensor x(Shape{2, 5, 4});
  cli::RunOptions o;
  o.mechanism = "multihead-wrapper";
  StateDict sd;
  for (const char* head : {"heads.0.", "heads.1.", "heads.2."}) {
    for (const char* w : {"W_query", "W_key", "W_value"}) {
      sd.emplace_back(std::string(head) + w + ".weight", Tensor(Shape{2, 4}));
      sd.emplace_back(std::string(head) + w + ".bias", Tensor(Shape{2}));
    }
  }
  const Config c = cli::make_config(o, x, &sd, 8);
  EXPECT_EQ(c.mechanism, Mechanism::multihead_wrapper);
  EXPECT_EQ(c.d_in, 4u);
  EXPECT_EQ(c.d_out, 2u);
  EXPECT_EQ(c.num_heads, 3u);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_EQ(c.context_length, 8u);  // from the mask buffer
  EXPECT_EQ(c.seed, 123u);

  o.mechanism = "self-v1";
  StateDict v1 = {{"W_query", Tensor(Shape{4, 6})}};
  EXPECT_EQ(cli::make_config(o, x, &v1, 0).d_out, 6u);
  EXPECT_EQ(cli::make_config(o, x, &v1, 0).context_length, 5u);  // the token count
}

TEST(CliOptions, DOutIsRequiredWithoutWeightsExceptForSimplified) {
  cli::RunOptions o;
  o.mechanism = "self";
  EXPECT_EQ(
      error_of([&] {
        cli::make_config(o, Tensor(Shape{6, 3}), nullptr, 0);
      }),
      "--d-out is required for mechanism self; expected a positive integer (the book uses --d-out 2), or --weights to "
      "take it from W_query");
  o.mechanism = "simplified";
  EXPECT_EQ(cli::make_config(o, Tensor(Shape{6, 3}), nullptr, 0).d_in, 3u);
}

// The core agrees with the CLI on dropout's range: 0.99999999 trains (nearly everything dropped).
TEST(CliOptions, DropoutJustBelowOneIsAccepted) {
  for (const char* mechanism : {"causal", "multihead"}) {
    const InProcess r = cli_main(
        {"run", "--mechanism", mechanism, "--d-out", "2", "--input", "-", "--train", "--dropout", "0.99999999"},
        R"({"x": [[1, 0], [0, 1]]})");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("\"context\""), std::string::npos);
  }
  // The attention op's command keeps p a double too, and its --scale follows the float32 rule.
  const std::string qkv = R"({"query": [[[[1, 0]]]], "key": [[[[1, 0]]]], "value": [[[[1, 0]]]]})";
  const InProcess op = cli_main({"attention", "--input", "-", "--train", "--dropout", "0.99999999"}, qkv);
  EXPECT_EQ(op.code, 0) << op.err;
  const InProcess flt_max = cli_main({"attention", "--input", "-", "--scale", "3.4028235e38"}, qkv);
  EXPECT_EQ(flt_max.code, 0) << flt_max.err;
  const InProcess beyond = cli_main({"attention", "--input", "-", "--scale", "3.4028235677973366e38"}, qkv);
  EXPECT_EQ(beyond.code, 2);
  EXPECT_NE(beyond.err.find("expected a finite float32 number, |value| < 3.4028235677973366e+38"), std::string::npos)
      << beyond.err;
  const InProcess one =
      cli_main({"run", "--mechanism", "causal", "--d-out", "2", "--input", "-", "--train", "--dropout", "1"},
               R"({"x": [[1, 0]]})");
  EXPECT_EQ(one.code, 2);
  EXPECT_EQ(one.err, "attnkit: error: --dropout is 1; expected a number in [0, 1)\n");
}

TEST(CliMain, HelpAndVersionExitZero) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"run", "--help"}, {"bench", "--help"}, {"info", "--help"}}) {
    const InProcess r = cli_main(args);
    EXPECT_EQ(r.code, 0) << args[0];
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
  EXPECT_NE(cli_main({"run", "--help"}).out.find("--causal-route"), std::string::npos);
  EXPECT_EQ(cli_main({"--version"}).out, std::string(version()) + "\n");
}

TEST(CliMain, RunsFromStandardInputInProcess) {
  const InProcess r = cli_main({"run", "--mechanism", "simplified", "--input", "-"}, R"({"x": [[1, 0], [0, 1]]})");
  EXPECT_EQ(r.code, 0) << r.err;
  const Json out = Json::parse(r.out);
  EXPECT_EQ(out.at("context_shape"), Json::parse("[2, 2]"));
  EXPECT_EQ(out.at("weights_shape"), Json::parse("[1, 2, 2]"));
}

TEST(CliMain, ErrorsAreOneLineWithExitCodeTwo) {
  const InProcess r = cli_main({"run", "--mechanism", "self", "--input", "-"}, R"({"x": [[1, 2]]})");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("attnkit: error: --d-out is required", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

}  // namespace
}  // namespace attnkit::test
