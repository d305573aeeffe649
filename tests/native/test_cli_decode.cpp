// `attnkit run … --decode`: the same input token by token (self-attention through the KV cache, grouped-query heads,
// cross-attention over "kv" with "value" and "key_padding_mask") prints the plain run's JSON, context and weights,
// within 1e-6 of their largest values; --dry-run counts kv and the masks; bad combinations exit 2.
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

// Another (b, n, d) tensor of the same kind, shifted by `phase`.
Json tensor3(std::size_t b, std::size_t n, std::size_t d, double phase) {
  Json x = input(b, n, d)["x"];
  for (auto& rows : x)
    for (auto& row : rows)
      for (auto& v : row) v = v.get<double>() * 0.5 + std::cos(phase);
  return x;
}

void expect_close(const Json& want_json, const Json& got_json, const std::string& what) {
  const std::vector<float> want = flatten(want_json), got = flatten(got_json);
  ASSERT_EQ(want.size(), got.size()) << what;
  float top = 0.0f;
  for (float v : want) top = std::max(top, std::fabs(v));
  EXPECT_LE(max_abs_diff(got, want), 1e-6 * top) << what;
}

TEST(CliDecode, DecodeMatchesThePlainRunWithWeights) {
  struct Case {
    std::vector<std::string> args;
    Json input;
  };
  Json cross = input(2, 5, 8);
  cross["kv"] = tensor3(2, 300, 6, 1.0);  // crosses the split-KV chunk
  Json padding = Json::array();
  for (std::size_t b = 0; b < 2; ++b) {
    Json row = Json::array();
    for (std::size_t j = 0; j < 300; ++j) row.push_back(b == 1 && j >= 120);
    padding.push_back(row);
  }
  cross["key_padding_mask"] = padding;
  Json values = input(1, 4, 8);
  values["kv"] = tensor3(1, 7, 3, 2.0);
  values["value"] = tensor3(1, 7, 5, 3.0);  // k_dim 3, v_dim 5
  const std::vector<Case> cases = {
      {{"--mechanism", "multihead", "--d-out", "2", "--heads", "2"}, book_input(true)},
      {{"--mechanism", "multihead", "--d-out", "24", "--heads", "3"}, input(2, 300, 10)},
      {{"--mechanism", "multihead", "--d-out", "24", "--heads", "6", "--kv-heads", "2"}, input(2, 40, 10)},
      {{"--mechanism", "multihead", "--d-out", "8", "--heads", "4", "--kv-heads", "1"}, input(1, 9, 8)},
      {{"--mechanism", "causal", "--d-out", "3"}, book_input(false)},
      {{"--mechanism", "multihead-wrapper", "--d-out", "5", "--heads", "2"}, input(1, 40, 7)},
      {{"--mechanism", "self", "--causal", "--d-out", "4"}, input(1, 9, 3)},
      {{"--mechanism", "multihead", "--d-out", "8", "--heads", "4", "--kv-heads", "2", "--no-causal"}, cross},
      {{"--mechanism", "multihead", "--d-out", "8", "--heads", "2", "--no-causal"}, values},
      {{"--mechanism", "self", "--d-out", "4", "--v-dim", "5"}, values},
  };
  for (const Case& c : cases) {
    const std::string what = c.args[1] + " " + (c.args.size() > 6 ? c.args[6] : "");
    const std::string file = write_temp("decode_input.json", c.input.dump());
    std::vector<std::string> args = {"run", "--input", file};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CliRun plain = run_cli(args);
    ASSERT_EQ(plain.code, 0) << plain.err;
    args.push_back("--decode");
    const CliRun decoded = run_cli(args);
    ASSERT_EQ(decoded.code, 0) << decoded.err;
    const Json a = Json::parse(plain.out), b = Json::parse(decoded.out);
    std::vector<std::string> keys_a, keys_b;
    for (auto it = a.begin(); it != a.end(); ++it) keys_a.push_back(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys_b.push_back(it.key());
    EXPECT_EQ(keys_a, keys_b) << what << ": the same JSON fields";
    EXPECT_EQ(a["weights_shape"], b["weights_shape"]) << what;
    expect_close(a["context"], b["context"], what + " context");
    expect_close(a["attention_weights"], b["attention_weights"], what + " weights");
    args.push_back("--no-weights");
    const CliRun bare = run_cli(args);
    ASSERT_EQ(bare.code, 0) << bare.err;
    EXPECT_FALSE(Json::parse(bare.out).contains("attention_weights")) << what;
  }
}

TEST(CliDecode, DryRunCountsKvAndTheWeightsItPrints) {
  // 3 queries against 2000 keys: the (1, 2, 3, 2000) weights and kv's 2000 tokens, not (1, 2, 3, 3).
  Json big = input(1, 3, 4);
  big["kv"] = tensor3(1, 2000, 4, 0.5);
  Json small = input(1, 3, 4);
  small["kv"] = tensor3(1, 2, 4, 0.5);
  std::size_t peaks[2];
  for (int k = 0; k < 2; ++k) {
    const std::string file = write_temp("decode_dry.json", (k ? big : small).dump());
    const CliRun r = run_cli({"run", "--mechanism", "multihead", "--d-out", "4", "--heads", "2", "--no-causal",
                              "--input", file, "--dry-run"});
    ASSERT_EQ(r.code, 0) << r.err;
    const Json j = Json::parse(r.out);
    peaks[k] = j["forward_bytes"].get<std::size_t>();
    if (k) EXPECT_GE(j["output_bytes"].get<std::size_t>(), std::size_t(2 * 3 * 2000 * 2));  // every weight printed
  }
  EXPECT_GE(peaks[1], peaks[0] + 2000 * 4 * 4 * 2) << "kv's keys and values (2000 × 4 floats each)";
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
  Json cross = book_input(false);
  cross["kv"] = cross["x"];
  const std::string kv_file = write_temp("decode_cross.json", cross.dump());
  const CliRun causal_cross =
      run_cli({"run", "--mechanism", "multihead", "--d-out", "2", "--heads", "2", "--input", kv_file, "--decode"});
  EXPECT_EQ(causal_cross.code, 2);
  EXPECT_EQ(causal_cross.err,
            "attnkit: error: cross-attention decoding attends every memory key from every token (not causal); this "
            "'multihead' module is causal (expected Config::causal = false)\n");
  Json none = Json::array();
  for (int i = 0; i < 6; ++i) none.push_back(Json::array({false, false, false, false, false, false}));
  cross["attn_mask"] = none;
  const std::string masked = write_temp("decode_masked.json", cross.dump());
  const CliRun with_mask = run_cli({"run", "--mechanism", "multihead", "--d-out", "2", "--heads", "2", "--no-causal",
                                    "--input", masked, "--decode"});
  EXPECT_EQ(with_mask.code, 2);
  EXPECT_EQ(with_mask.err,
            "attnkit: error: --decode takes kv, value and key_padding_mask (cross-attention); expected no attn_mask "
            "with --decode\n");
  Json padded = book_input(false);
  padded["key_padding_mask"] = Json::array({false, false, false, false, false, true});
  const std::string padded_file = write_temp("decode_padded.json", padded.dump());
  const CliRun self_padding =
      run_cli({"run", "--mechanism", "causal", "--d-out", "2", "--input", padded_file, "--decode"});
  EXPECT_EQ(self_padding.code, 2);
  EXPECT_NE(self_padding.err.find("expected no key_padding_mask without kv"), std::string::npos) << self_padding.err;
  Json lone = book_input(false);
  lone["value"] = lone["x"];
  const std::string lone_file = write_temp("decode_lone.json", lone.dump());
  const CliRun value_alone = run_cli({"run", "--mechanism", "causal", "--d-out", "2", "--input", lone_file});
  EXPECT_EQ(value_alone.code, 2);
  EXPECT_EQ(value_alone.err,
            "attnkit: error: value is given without kv; expected \"kv\" (b, n_k, k_dim) for the keys beside it\n");
}

}  // namespace
}  // namespace attnkit::test
