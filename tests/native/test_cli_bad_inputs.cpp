// Every bad input to the attnkit binary: exit code 2, nothing on stdout, and one line on stderr
// "attnkit: error: ..." that names the problem.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

// In args, "IN" stands for a file holding `input`, "WT" for a file holding `weights`, and "BIG" for a
// sparse file of 600 MB (no disk used: it is refused from its size before any byte is read).
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

std::vector<std::string> run_with(const char* mechanism, std::vector<std::string> extra) {
  std::vector<std::string> args = {"run", "--mechanism", mechanism, "--input", "IN", "--weights", "WT"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A state_dict of `mechanism`'s three projections (d_in 3, d_out 2; under "heads.<h>." for each of
// `heads` heads) plus `extra` (JSON members, e.g. R"("mask": [[0, 1], [0, 0]])").
std::string projections(int heads, const std::string& extra) {
  const std::string w2x3 = "[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]";
  std::string s = "{";
  for (int h = 0; h < heads; ++h) {
    const std::string prefix = heads > 1 ? "heads." + std::to_string(h) + "." : "";
    for (const char* w : {"W_query", "W_key", "W_value"}) s += "\"" + prefix + w + ".weight\": " + w2x3 + ", ";
  }
  return s + extra + "}";
}

// Issue 15 §1, CLI rows 3, 4, 8, 9 and 10 and the float32 / spelling rule: each exact input found.
std::vector<BadCase> issue15_cases() {
  const std::string mask3 = "[[0, 1, 1], [0, 0, 1], [0, 0, 0]]";
  std::vector<BadCase> c = {
      // Row 3: an empty value is an error naming the option and the expected value, never the default.
      {"empty --seed", run_self({"--seed", ""}), "--seed is empty; expected an integer from 0 to 18446744073709551615"},
      {"empty --threads", run_self({"--threads", ""}), "--threads is empty; expected an integer from 1 to 1024"},
      {"empty --dropout", run_self({"--dropout", ""}), "--dropout is empty; expected a number in [0, 1)"},
      {"empty --heads", run_self({"--heads", ""}), "--heads is empty; expected an integer from 1 to 2147483648"},
      {"empty --context-length", run_self({"--context-length", ""}),
       "--context-length is empty; expected an integer from 1 to"},
      {"empty --d-out",
       {"run", "--mechanism", "self", "--d-out", "", "--input", "IN"},
       "--d-out is empty; expected an integer from 1 to"},
      {"empty --format", run_self({"--format", ""}), "--format is empty; expected json or text"},
      {"empty --causal-route", run_self({"--causal-route", ""}),
       "--causal-route is empty; expected neg-inf or renormalise"},
      {"empty --mechanism",
       {"run", "--mechanism", "", "--input", "IN"},
       "--mechanism is empty; expected one of simplified"},
      {"empty --input",
       {"run", "--mechanism", "self", "--d-out", "2", "--input", ""},
       "--input is empty; expected a JSON file or -"},
      {"empty --weights",
       {"run", "--mechanism", "self", "--input", "IN", "--weights", ""},
       "--weights is empty; expected a state_dict"},
      {"bench empty --threads",
       {"bench", "--config", "C1", "--threads", ""},
       "--threads is empty; expected an integer from 1 to 1024"},
      {"bench empty --repeats",
       {"bench", "--config", "C1", "--repeats", ""},
       "--repeats is empty; expected an integer from 1 to 1000000"},
      {"bench empty --config", {"bench", "--config", ""}, "--config is empty; expected one of C1, C2, C3, C4"},
      {"bench empty --format", {"bench", "--config", "C1", "--format", ""}, "--format is empty; expected json or text"},
      {"info empty --format", {"info", "--format", ""}, "--format is empty; expected json or text"},
      {"--seed= with nothing after", run_self({"--seed="}), "--seed: 1 required S missing"},
      {"--threads as the last word", run_self({"--threads"}), "--threads: 1 required N missing"},
      // Row 4: only the mechanism's own mask buffer, of size context_length; anything else ending in .mask is unknown.
      {"bogus.mask", run_with("causal", {}), "state_dict has unknown key bogus.mask; expected keys W_query.weight",
       BadCase{}.input, projections(1, R"("bogus.mask": [[0, 1], [0, 0]])")},
      {"W_query.mask", run_with("causal", {}), "state_dict has unknown key W_query.mask; expected keys W_query.weight",
       BadCase{}.input, projections(1, R"("W_query.mask": [[0]])")},
      {"mask on a mechanism without one", run_with("self", {}), "state_dict has unknown key mask", BadCase{}.input,
       projections(1, R"("mask": )" + mask3)},
      {"a head's mask on multihead", run_with("causal", {}), "state_dict has unknown key heads.0.mask", BadCase{}.input,
       projections(1, R"("heads.0.mask": )" + mask3)},
      {"mask of the wrong size", run_with("causal", {"--context-length", "4"}),
       "state_dict key mask has shape [3, 3], expected [4, 4] (context_length)", BadCase{}.input,
       projections(1, R"("mask": )" + mask3)},
      {"mask not square", run_with("causal", {}), "state_dict key mask has shape [1, 3], expected a square",
       BadCase{}.input, projections(1, R"("mask": [[0, 1, 1]])")},
      {"wrapper: bare mask", run_with("multihead-wrapper", {}),
       "state_dict has unknown key mask; expected keys heads.0.W_query.weight", BadCase{}.input,
       projections(2, R"("heads.0.mask": )" + mask3 + R"(, "mask": )" + mask3)},
      {"wrapper: mask of a head it does not have", run_with("multihead-wrapper", {"--heads", "2"}),
       "state_dict has unknown key heads.2.mask", BadCase{}.input, projections(2, R"("heads.2.mask": )" + mask3)},
      {"wrapper: heads counted from parameters, not masks", run_with("multihead-wrapper", {}),
       "state_dict has unknown key heads.2.mask", BadCase{}.input, projections(2, R"("heads.2.mask": )" + mask3)},
      {"wrapper: head written with a leading zero", run_with("multihead-wrapper", {}),
       "state_dict has unknown key heads.01.mask", BadCase{}.input, projections(2, R"("heads.01.mask": )" + mask3)},
      {"wrapper: heads of two sizes", run_with("multihead-wrapper", {}),
       "state_dict key heads.1.mask has shape [2, 2], expected [3, 3]", BadCase{}.input,
       projections(2, R"("heads.0.mask": )" + mask3 + R"(, "heads.1.mask": [[0, 1], [0, 0]])")},
      // Row 8: what nlohmann would take (a NUL ends its input) or what the NaN rewriting would have made valid.
      {"NaN as a key", run_self(),
       "--input is not valid JSON: parse error at line 1, column 2: syntax error while parsing object key",
       R"({NaN: 1, "x": [[1, 2, 3]]})"},
      {"Infinity as a later key", run_self(), "--input is not valid JSON: parse error at line 1, column 20",
       R"({"x": [[1, 2, 3]], Infinity: 1})"},
      {"NUL then text", run_self(), "holds a NUL byte at byte 18; expected JSON text (no NUL bytes)",
       std::string(R"({"x": [[1, 2, 3]]})") + std::string(1, '\0') + "trailing text"},
      {"NUL in a string", run_self(), "holds a NUL byte at byte 10",
       std::string(R"({"note": ")") + std::string(1, '\0') + R"(", "x": [[1]]})"},
      {"NUL in the weights", run_with("self", {}), "--weights file", BadCase{}.input,
       std::string("{}") + std::string(1, '\0') + "{"},
      // Row 9: a W_query that is not a matrix is named with its shape, not as a missing --d-out.
      {"W_query.weight scalar", run_with("self", {}),
       "state_dict key W_query.weight has shape []; expected [d_out, 3] (d_in = 3 from x", BadCase{}.input,
       R"({"W_query.weight": 5})"},
      {"W_query.weight rank 3", run_with("multihead", {}),
       "state_dict key W_query.weight has shape [1, 2, 3]; expected [d_out, 3]", BadCase{}.input,
       R"({"W_query.weight": [[[1, 2, 3], [4, 5, 6]]]})"},
      {"W_query.weight empty", run_with("causal", {}),
       "state_dict key W_query.weight has shape [0]; expected [d_out, 3]", BadCase{}.input,
       R"({"W_query.weight": []})"},
      {"W_query.weight of another d_in", run_with("self", {}),
       "state_dict key W_query.weight has shape [2, 2]; expected [d_out, 3]", BadCase{}.input,
       R"({"W_query.weight": [[1, 2], [3, 4]]})"},
      {"wrapper W_query.weight rank 1", run_with("multihead-wrapper", {}),
       "state_dict key heads.0.W_query.weight has shape [3]", BadCase{}.input,
       R"({"heads.0.W_query.weight": [1, 2, 3]})"},
      {"self-v1 W_query rank 1", run_with("self-v1", {}), "state_dict key W_query has shape [3]; expected [3, d_out]",
       BadCase{}.input, R"({"W_query": [1, 2, 3]})"},
      {"no W_query to take d_out from", run_with("self", {}),
       "--d-out is required for mechanism self when the state_dict has no W_query.weight", BadCase{}.input,
       R"({"W_key.weight": [[1, 2, 3]]})"},
      // Row 10: refused from the size (a regular file) or once past the limit (a device), before reading it all.
      {"600 MB input",
       {"run", "--mechanism", "self", "--d-out", "2", "--input", "BIG"},
       "is 600000000 bytes; expected at most 536870912 bytes (512 MiB, the largest JSON document attnkit reads)"},
      {"600 MB weights", {"run", "--mechanism", "self", "--input", "IN", "--weights", "BIG"}, "--weights file"},
      {"/dev/zero input",
       {"run", "--mechanism", "self", "--d-out", "2", "--input", "/dev/zero"},
       "--input file '/dev/zero' holds a NUL byte at byte 0"},
      {"/dev/zero weights",
       {"run", "--mechanism", "self", "--input", "IN", "--weights", "/dev/zero"},
       "--weights file '/dev/zero' holds a NUL byte at byte 0"},
      // Also: one spelling of the route, and one float32 rule (refused exactly when float32 rounds it to inf).
      {"renormalize", run_self({"--causal-route", "renormalize"}),
       "unknown --causal-route 'renormalize'; expected neg-inf or renormalise"},
      {"rounds to float32 inf", run_self(),
       "x at index [0, 1] is too large for float32 (3.4028235677973366e+38 rounds to inf); expected "
       "|value| < 3.4028235677973366e+38",
       R"({"x": [[1, 3.4028235677973366e38, 3]]})"},
      {"weights round to float32 inf", run_with("self", {}),
       "state_dict key W_query.weight at index [0, 0] is too large for float32", BadCase{}.input,
       R"({"W_query.weight": [[-3.5e38, 1, 1]]})"},
  };
  return c;
}

std::vector<BadCase> bad_cases() {
  const std::string w2x3 = "[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]";
  const std::string good_weights =
      R"({"W_query.weight": )" + w2x3 + R"(, "W_key.weight": )" + w2x3 + R"(, "W_value.weight": )" + w2x3;
  std::vector<BadCase> c = {
      {"no command", {}, "a command is required; expected one of run, bench, info"},
      {"unknown command", {"fly"}, "unknown command 'fly'"},
      {"unknown option", run_self({"--bogus"}), "--bogus"},
      {"stray argument", run_self({"extra"}), "extra"},
      {"unknown mechanism",
       {"run", "--mechanism", "attn", "--input", "IN"},
       "unknown mechanism 'attn'; expected one of simplified"},
      {"missing mechanism", {"run", "--input", "IN"}, "--mechanism is required"},
      {"missing input", {"run", "--mechanism", "self", "--d-out", "2"}, "--input is required"},
      {"missing d-out",
       {"run", "--mechanism", "multihead", "--input", "IN"},
       "--d-out is required for mechanism multihead"},
      {"empty input", run_self(), "--input is empty", ""},
      {"truncated JSON", run_self(), "--input is not valid JSON", R"({"x": [[1, 2)"},
      {"deeply nested JSON", run_self(), "nested deeper than 64 levels", std::string(100000, '[')},
      {"missing x", run_self(), "input has no key \"x\"", R"({"y": [[1]]})"},
      {"input not an object", run_self(), "input must be a JSON object", R"([[1, 2, 3]])"},
      {"x not a list", run_self(), "x is a string", R"({"x": "hello"})"},
      {"ragged rows", run_self(), "x is ragged: the list at index [1] has 2 elements, expected 3",
       R"({"x": [[1, 2, 3], [4, 5]]})"},
      {"non-number", run_self(), "x at index [0, 1] is a string", R"({"x": [[1, "two", 3]]})"},
      {"boolean", run_self(), "x at index [0, 0] is a boolean", R"({"x": [[true, 2, 3]]})"},
      {"1e400 overflows", run_self(), "1e400, which is too large for float32", R"({"x": [[1e400, 2, 3]]})"},
      {"1e39 overflows float32", run_self(), "x at index [0, 2] is too large for float32", R"({"x": [[1, 2, 1e39]]})"},
      {"NaN in input", run_self(), "x contains NaN at index [0, 1]", R"({"x": [[1, NaN, 3]]})"},
      {"Infinity in input", run_self(), "x contains -Infinity at index [1, 0]",
       R"({"x": [[1, 2, 3], [-Infinity, 2, 3]]})"},
      {"rank 4", run_self(), "x has rank 4", R"({"x": [[[[1, 2, 3]]]]})"},
      {"rank 1", run_self(), "x has rank 1", R"({"x": [1, 2, 3]})"},
      {"zero tokens", run_self(), "x is empty", R"({"x": []})"},
      {"zero d_in", run_self(), "x has shape [1, 0] with a zero size", R"({"x": [[]]})"},
      {"zero tokens in a batch", run_self(), "x has shape [1, 1, 0] with a zero size", R"({"x": [[[]]]})"},
      {"heads zero",
       {"run", "--mechanism", "multihead", "--d-out", "4", "--heads", "0", "--input", "IN"},
       "--heads is 0"},
      {"heads negative",
       {"run", "--mechanism", "multihead", "--d-out", "4", "--heads", "-2", "--input", "IN"},
       "--heads must be an integer, got '-2'"},
      {"heads not dividing d_out",
       {"run", "--mechanism", "multihead", "--d-out", "5", "--heads", "2", "--input", "IN"},
       "d_out (5) must be divisible by num_heads (2)"},
      {"dropout 1", run_self({"--dropout", "1"}), "--dropout is 1; expected a number in [0, 1)"},
      {"dropout negative", run_self({"--dropout", "-0.1"}), "--dropout is -0.1; expected a number in [0, 1)"},
      {"dropout not a number", run_self({"--dropout", "half"}), "--dropout must be a number in [0, 1), got 'half'"},
      {"more tokens than context_length",
       {"run", "--mechanism", "causal", "--d-out", "2", "--context-length", "2", "--input", "IN"},
       "context_length"},
      {"context_length zero", run_self({"--context-length", "0"}), "--context-length is 0"},
      {"d-out zero", {"run", "--mechanism", "self", "--d-out", "0", "--input", "IN"}, "--d-out is 0"},
      {"d-out not a number",
       {"run", "--mechanism", "self", "--d-out", "two", "--input", "IN"},
       "--d-out must be an integer, got 'two'"},
      {"threads zero", run_self({"--threads", "0"}), "--threads is 0"},
      {"seed negative", run_self({"--seed", "-5"}), "--seed must be an integer"},
      {"unknown format", run_self({"--format", "xml"}), "unknown --format 'xml'; expected json or text"},
      {"unknown causal route", run_self({"--causal-route", "zero"}), "unknown --causal-route 'zero'"},
      {"causal and no-causal", run_self({"--causal", "--no-causal"}), "--causal excludes --no-causal"},
      {"input file missing",
       {"run", "--mechanism", "self", "--d-out", "2", "--input", "/no/such/input.json"},
       "cannot open --input file '/no/such/input.json'"},
      {"input is a directory", {"run", "--mechanism", "self", "--d-out", "2", "--input", "/tmp"}, "is a directory"},
      {"both from stdin",
       {"run", "--mechanism", "self", "--input", "-", "--weights", "-"},
       "cannot both read standard input"},
      {"weights file missing",
       {"run", "--mechanism", "self", "--input", "IN", "--weights", "/no/such/w.json"},
       "cannot open --weights file"},
      {"weights not an object",
       {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"},
       "a PyTorch state_dict",
       BadCase{}.input,
       "[1, 2]"},
      {"weights missing key",
       {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"},
       "missing key W_value.weight",
       BadCase{}.input,
       R"({"W_query.weight": )" + w2x3 + R"(, "W_key.weight": )" + w2x3 + "}"},
      {"weights unknown key",
       {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"},
       "unknown key W_extra.weight",
       BadCase{}.input,
       good_weights + R"(, "W_extra.weight": [[1]]})"},
      {"weights wrong shape",
       {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"},
       "state_dict key W_key.weight has shape [2, 2], expected [2, 3]",
       BadCase{}.input,
       R"({"W_query.weight": )" + w2x3 + R"(, "W_key.weight": [[1, 2], [3, 4]], "W_value.weight": )" + w2x3 + "}"},
      {"weights NaN",
       {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"},
       "state_dict key W_value.weight contains NaN at index [1, 2]",
       BadCase{}.input,
       R"({"W_query.weight": )" + w2x3 + R"(, "W_key.weight": )" + w2x3 +
           R"(, "W_value.weight": [[1, 2, 3], [4, 5, NaN]]})"},
      {"weights ragged",
       {"run", "--mechanism", "self", "--input", "IN", "--weights", "WT"},
       "state_dict key W_query.weight is ragged",
       BadCase{}.input,
       R"({"W_query.weight": [[1, 2, 3], [4]]})"},
      {"heads for a one-head mechanism", run_self({"--heads", "2"}), "num_heads (2)"},
      {"memory that would not fit",
       {"run", "--mechanism", "multihead", "--d-out", "2000000", "--input", "IN"},
       "more than this machine's memory"},
      {"bench without config", {"bench"}, "--config is required; expected one of C1, C2, C3, C4"},
      {"bench unknown config", {"bench", "--config", "C9"}, "unknown --config 'C9'"},
      {"bench repeats zero", {"bench", "--config", "C1", "--repeats", "0"}, "--repeats is 0"},
      {"info unknown format", {"info", "--format", "yaml"}, "unknown --format 'yaml'"},
      {"info unknown option", {"info", "--verbose"}, "--verbose"},
  };
  for (auto& more : issue15_cases()) c.push_back(std::move(more));
  return c;
}

TEST(CliBadInputs, EachIsOneLineExitTwoNamingTheProblem) {
  const std::vector<BadCase> cases = bad_cases();
  ASSERT_GE(cases.size(), 100u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> args = c.args;
    for (auto& a : args) {
      if (a == "IN") a = write_temp("bad_input.json", c.input);
      else if (a == "WT") a = write_temp("bad_weights.json", c.weights);
      else if (a == "BIG") std::filesystem::resize_file(a = write_temp("big.json", "{"), 600000000);
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
  const CliRun r =
      run_cli({"run", "--mechanism", "simplified", "--input", "-"}, write_temp("deep.json", std::string(100000, '[')));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nested deeper than 64 levels"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace attnkit::test
