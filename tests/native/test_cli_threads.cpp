// The CLI's threaded paths give the same output for --threads 1, 2 and 3: `run --decode` through the split-KV decode
// (600 keys: three 256-key chunks at the end), `attention` (grouped-query heads, a mask, the backward with --grad).
// Run under ThreadSanitizer by scripts/sanitize.sh's threaded set (the binary is the sanitized one there).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

// (b, n, d) values of a fixed pattern, as nested JSON lists.
Json pattern(std::size_t b, std::size_t n, std::size_t d, double phase) {
  Json x = Json::array();
  for (std::size_t bi = 0; bi < b; ++bi) {
    Json rows = Json::array();
    for (std::size_t i = 0; i < n; ++i) {
      Json row = Json::array();
      for (std::size_t p = 0; p < d; ++p) row.push_back(std::sin(phase + 0.37 * double(bi * 131 + i * 17 + p * 3)));
      rows.push_back(row);
    }
    x.push_back(rows);
  }
  return x;
}

void expect_same_for_one_two_three_threads(const std::vector<std::string>& base, const std::string& what) {
  std::string one;
  for (const char* threads : {"1", "2", "3"}) {
    std::vector<std::string> args = base;
    args.insert(args.end(), {"--threads", threads});
    const CliRun r = run_cli(args);
    ASSERT_EQ(r.code, 0) << what << " --threads " << threads << ": " << r.err;
    ASSERT_FALSE(r.out.empty()) << what;
    if (one.empty()) one = r.out;
    else EXPECT_EQ(r.out, one) << what << " --threads " << threads;
  }
}

TEST(CliThreads, DecodeIsBitwiseIdenticalForOneTwoAndThreeThreads) {
  const std::string input = write_temp("threads_decode.json", Json{{"x", pattern(2, 600, 8, 0.0)}}.dump());
  expect_same_for_one_two_three_threads({"run", "--mechanism", "multihead", "--d-out", "8", "--heads", "4",
                                         "--kv-heads", "2", "--input", input, "--decode", "--no-weights"},
                                        "run --decode");
}

TEST(CliThreads, AttentionAndItsGradAreBitwiseIdenticalForOneTwoAndThreeThreads) {
  // query (2, 6, 40, 8) over key/value (2, 2, 50, 8): grouped-query heads, a boolean mask of (40, 50).
  Json query = Json::array(), key = Json::array(), value = Json::array();
  for (std::size_t b = 0; b < 2; ++b) {
    query.push_back(pattern(6, 40, 8, 0.1 * double(b)));
    key.push_back(pattern(2, 50, 8, 1.0 + 0.1 * double(b)));
    value.push_back(pattern(2, 50, 8, 2.0 + 0.1 * double(b)));
  }
  Json mask = Json::array();
  for (std::size_t i = 0; i < 40; ++i) {
    Json row = Json::array();
    for (std::size_t j = 0; j < 50; ++j) row.push_back((i * 7 + j * 3) % 5 != 0);
    mask.push_back(row);
  }
  const std::string input = write_temp(
      "threads_attention.json", Json{{"query", query}, {"key", key}, {"value", value}, {"attn_mask", mask}}.dump());
  expect_same_for_one_two_three_threads({"attention", "--input", input, "--no-weights"}, "attention");
  expect_same_for_one_two_three_threads({"attention", "--input", input, "--grad"}, "attention --grad");
}

}  // namespace
}  // namespace attnkit::test
