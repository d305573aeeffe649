// `attnkit run … --decode`: the same input token by token through the KV cache prints the plain run's JSON
// (context only: --decode implies --no-weights), within 1e-6 of its largest value; bad combinations exit 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

// A deterministic (b, n, d) input as JSON: 300 tokens cross the split-KV chunk.
Json input(std::size_t b, std::size_t n, std::size_t d) {
  Json x = Json::array();
  for (std::size_t bi = 0; bi < b; ++bi) {
    Json rows = Json::array();
    for (std::size_t i = 0; i < n; ++i) {
      Json row = Json::array();
      for (std::size_t p = 0; p < d; ++p) row.push_back(std::sin(0.37 * double(bi * 131 + i * 17 + p * 3)));
      rows.push_back(row);
    }
    x.push_back(rows);
  }
  return Json{{"x", x}};
}

TEST(CliDecode, DecodeMatchesThePlainRun) {
  struct Case {
    std::vector<std::string> args;
    Json x;
  };
  const std::vector<Case> cases = {
      {{"--mechanism", "multihead", "--d-out", "2", "--heads", "2"}, book_input(true)},
      {{"--mechanism", "multihead", "--d-out", "24", "--heads", "3"}, input(2, 300, 10)},
      {{"--mechanism", "causal", "--d-out", "3"}, book_input(false)},
      {{"--mechanism", "multihead-wrapper", "--d-out", "5", "--heads", "2"}, input(1, 40, 7)},
      {{"--mechanism", "self", "--causal", "--d-out", "4"}, input(1, 9, 3)},
  };
  for (const Case& c : cases) {
    const std::string file = write_temp("decode_input.json", c.x.dump());
    std::vector<std::string> args = {"run", "--input", file, "--no-weights"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CliRun plain = run_cli(args);
    ASSERT_EQ(plain.code, 0) << plain.err;
    args[3] = "--decode";
    const CliRun decoded = run_cli(args);
    ASSERT_EQ(decoded.code, 0) << decoded.err;
    const Json a = Json::parse(plain.out), b = Json::parse(decoded.out);
    ASSERT_FALSE(b.contains("attention_weights"));
    std::vector<std::string> keys_a, keys_b;
    for (auto it = a.begin(); it != a.end(); ++it) keys_a.push_back(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys_b.push_back(it.key());
    EXPECT_EQ(keys_a, keys_b) << "the same JSON fields";
    const std::vector<float> want = flatten(a["context"]), got = flatten(b["context"]);
    ASSERT_EQ(want.size(), got.size());
    float top = 0.0f;
    for (float v : want) top = std::max(top, std::fabs(v));
    EXPECT_LE(max_abs_diff(got, want), 1e-6 * top) << c.args[1];
  }
}

TEST(CliDecode, RefusesWhatDecodingCannotDo) {
  const std::string file = write_temp("decode_book.json", book_input(false).dump());
  const CliRun not_causal = run_cli({"run", "--mechanism", "self", "--d-out", "2", "--input", file, "--decode"});
  EXPECT_EQ(not_causal.code, 2);
  EXPECT_EQ(not_causal.err,
            "attnkit: error: decoding needs a causal module; this 'self' module is not causal (expected Config::causal "
            "= true)\n");
  const CliRun train =
      run_cli({"run", "--mechanism", "causal", "--d-out", "2", "--input", file, "--decode", "--train"});
  EXPECT_EQ(train.code, 2);
  EXPECT_EQ(train.err,
            "attnkit: error: --decode runs in evaluation mode (no dropout); expected no --train with --decode\n");
  const CliRun steps =
      run_cli({"run", "--mechanism", "causal", "--d-out", "2", "--input", file, "--decode", "--intermediates"});
  EXPECT_EQ(steps.code, 2);
  const CliRun simplified = run_cli({"run", "--mechanism", "simplified", "--input", file, "--decode"});
  EXPECT_EQ(simplified.code, 2);
  EXPECT_NE(simplified.err.find("decoding needs key and value projections"), std::string::npos) << simplified.err;
}

}  // namespace
}  // namespace attnkit::test
