// Every bad input to the attnkit binary: exit code 2, nothing on stdout, and one line on stderr
// "attnkit: error: ..." that names the problem.
#include <algorithm>

#include <gtest/gtest.h>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

// In args, "IN" stands for a file holding `input` and "WT" for a file holding `weights`.
struct BadCase {
  const char* name;
  std::vector<std::string> args;
  std::string expected_message_part;
  std::string input = R"({"x": [[0.43, 0.15, 0.89], [0.55, 0.87, 0.66], [0.57, 0.85, 0.64]]})";
  std::string weights = "";
};

const std::string kRunSelf[] = {"run", "--mechanism", "self", "--d-out", "2", "--input", "IN"};

std::vector<std::string> run_self(std::vector<std::string> extra = {}) {
  std::vector<std::string> args(std::begin(kRunSelf), std::end(kRunSelf));
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<BadCase> bad_cases() {
  const std::string w2x3 = "[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]";
  const std::string good_weights = R"({"W_query.weight": )" + w2x3 + R"(, "W_key.weight": )" + w2x3 + R"(, "W_value.weight": )" + w2x3;
  std::vector<BadCase> c = {
      {"no command", {}, "a command is required; expected one of run, bench, info"},
      {"unknown command", {"fly"}, "unknown command 'fly'"},
      {"unknown option", run_self({"--bogus"}), "--bogus"},
      {"stray argument", run_self({"extra"}), "extra"},
      {"unknown mechanism", {"run", "--mechanism", "attn", "--input", "IN"}, "unknown mechanism 'attn'; expected one of simplified"},
      {"missing mechanism", {"run", "--input", "IN"}, "--mechanism is required"},
      {"missing input", {"run", "--mechanism", "self", "--d-out", "2"}, "--input is required"},
      {"missing d-out", {"run", "--mechanism", "multihead", "--input", "IN"}, "--d-out is required for mechanism multihead"},
      {"empty input", run_self(), "--input is empty", ""},
      {"truncated JSON", run_self(), "--input is not valid JSON", R"({"x": [[1, 2)"},
      {"deeply nested JSON", run_self(), "nested deeper than 64 levels", std::string(100000, '[')},
      {"missing x", run_self(), "input has no key \"x\"", R"({"y": [[1]]})"},
      {"input not an object", run_self(), "input must be a JSON object", R"([[1, 2, 3]])"},
      {"x not a list", run_self(), "x is a string", R"({"x": "hello"})"},
      {"ragged rows", run_self(), "x is ragged: the list at index [1] has 2 elements, expected 3", R"({"x": [[1, 2, 3], [4, 5]]})"},
      {"non-number", run_self(), "x at index [0, 1] is a string", R"({"x": [[1, "two", 3]]})"},
      {"boolean", run_self(), "x at index [0, 0] is a boolean", R"({"x": [[true, 2, 3]]})"},
      {"1e400 overflows", run_self(), "1e400, which is too large for float32", R"({"x": [[1e400, 2, 3]]})"},
      {"1e39 overflows float32", run_self(), "x at index [0, 2] is too large for float32", R"({"x": [[1, 2, 1e39]]})"},
      {"NaN in input", run_self(), "x contains NaN at index [0, 1]", R"({"x": [[1, NaN, 3]]})"},
      {"Infinity in input", run_self(), "x contains -Infinity at index [1, 0]", R"({"x": [[1, 2, 3], [-Infinity, 2, 3]]})"},
      {"rank 4", run_self(), "x has rank 4", R"({"x": [[[[1, 2, 3]]]]})"},
      {"rank 1", run_self(), "x has rank 1", R"({"x": [1, 2, 3]})"},
      {"zero tokens", run_self(), "x is empty", R"({"x": []})"},
      {"zero d_in", run_self(), "x has shape [1, 0] with a zero size", R"({"x": [[]]})"},
      {"zero tokens in a batch", run_self(), "x has shape [1, 1, 0] with a zero size", R"({"x": [[[]]]})"},
      {"heads zero", {"run", "--mechanism", "multihead", "--d-out", "4", "--heads", "0", "--input", "IN"}, "--heads is 0"},
      {"heads negative", {"run", "--mechanism", "multihead", "--d-out", "4", "--heads", "-2", "--input", "IN"}, "--heads must be an integer, got '-2'"},
      {"heads not dividing d_out", {"run", "--mechanism", "multihead", "--d-out", "5", "--heads", "2", "--input", "IN"},
       "d_out (5) must be divisible by num_heads (2)"},
      {"dropout 1", run_self({"--dropout", "1"}), "--dropout is 1; expected a number in [0, 1)"},
      {"dropout negative", run_self({"--dropout", "-0.1"}), "--dropout is -0.1; expected a number in [0, 1)"},
      {"dropout not a number", run_self({"--dropout", "half"}), "--dropout must be a number in [0, 1), got 'half'"},
      {"more tokens than context_length", {"run", "--mechanism", "causal", "--d-out", "2", "--context-length", "2", "--input", "IN"},
       "context_length"},
      {"context_length zero", run_self({"--context-length", "0"}), "--context-length is 0"},
      {"d-out zero", {"run", "--mechanism", "self", "--d-out", "0", "--input", "IN"}, "--d-out is 0"},
      {"d-out not a number", {"run", "--mechanism", "self", "--d-out", "two", "--input", "IN"}, "--d-out must be an integer, got 'two'"},
      {"threads zero", run_self({"--threads", "0"}), "--threads is 0"},
      {"seed negative", run_self({"--seed", "-5"}), "--seed must be an integer"},
      {"unknown format", run_self({"--format", "xml"}), "unknown --format 'xml'; expected json or text"},
      {"unknown causal route", run_self({"--causal-route", "zero"}), "unknown --causal-route 'zero'"},
      {"causal and no-causal", run_self({"--causal", "--no-causal"}), "--causal excludes --no-causal"},
      {"input file missing", {"run", "--mechanism", "self", "--d-out", "2", "--input", "/no/such/input.json"},
       "cannot open --input file '/no/such/input.json'"},
      {"input is a directory", {"run", "--mechanism", "self", "--d-out", "2", "--input", "/tmp"}, "is a directory"},
      {"both from stdin", {"run", "--mechanism", "self", "--input", "-", "--weights", "-"}, "cannot both read standard input"},
      {"weights file missing", {"run", "--mechanism", "self", "--input", "IN", "--weights", "/no/such/w.json"},
       "cannot open --weights file"},
      {"weights not an object", {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"}, "a PyTorch state_dict",
       BadCase{}.input, "[1, 2]"},
      {"weights missing key", {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"}, "missing key W_value.weight",
       BadCase{}.input, R"({"W_query.weight": )" + w2x3 + R"(, "W_key.weight": )" + w2x3 + "}"},
      {"weights unknown key", {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"}, "unknown key W_extra.weight",
       BadCase{}.input, good_weights + R"(, "W_extra.weight": [[1]]})"},
      {"weights wrong shape", {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"},
       "state_dict key W_key.weight has shape [2, 2], expected [2, 3]", BadCase{}.input,
       R"({"W_query.weight": )" + w2x3 + R"(, "W_key.weight": [[1, 2], [3, 4]], "W_value.weight": )" + w2x3 + "}"},
      {"weights NaN", {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"},
       "state_dict key W_value.weight contains NaN at index [1, 2]", BadCase{}.input,
       R"({"W_query.weight": )" + w2x3 + R"(, "W_key.weight": )" + w2x3 + R"(, "W_value.weight": [[1, 2, 3], [4, 5, NaN]]})"},
      {"weights ragged", {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"},
       "state_dict key W_query.weight is ragged", BadCase{}.input, R"({"W_query.weight": [[1, 2, 3], [4]]})"},
      {"heads for a one-head mechanism", run_self({"--heads", "2"}), "num_heads (2)"},
      {"memory that would not fit", {"run", "--mechanism", "multihead", "--d-out", "2000000", "--input", "IN"},
       "more than this machine's memory"},
      {"bench without config", {"bench"}, "--config is required; expected one of C1, C2, C3, C4"},
      {"bench unknown config", {"bench", "--config", "C9"}, "unknown --config 'C9'"},
      {"bench repeats zero", {"bench", "--config", "C1", "--repeats", "0"}, "--repeats is 0"},
      {"info unknown format", {"info", "--format", "yaml"}, "unknown --format 'yaml'"},
      {"info unknown option", {"info", "--verbose"}, "--verbose"},
  };
  return c;
}

TEST(CliBadInputs, EachIsOneLineExitTwoNamingTheProblem) {
  const std::vector<BadCase> cases = bad_cases();
  ASSERT_GE(cases.size(), 30u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> args = c.args;
    for (auto& a : args) {
      if (a == "IN") a = write_temp("bad_input.json", c.input);
      else if (a == "WT") a = write_temp("bad_weights.json", c.weights);
    }
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("attnkit: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.expected_message_part), std::string::npos) << r.err;
  }
}

TEST(CliBadInputs, DeepNestingOnStandardInput) {
  const CliRun r = run_cli({"run", "--mechanism", "simplified", "--input", "-"}, write_temp("deep.json", std::string(100000, '[')));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nested deeper than 64 levels"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace attnkit::test
