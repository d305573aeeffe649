// JSON ⇄ Tensor / StateDict: shapes, the errors' wording, and float32 round trips.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <filesystem>
#include <streambuf>
#include <cstring>
#include <sstream>

#include <gtest/gtest.h>

#include "json_io.hpp"
#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

using cli::Json;

Tensor input(const std::string& text) { return cli::input_from_json(cli::parse_json(text, "--input")); }

TEST(JsonIo, ReadsUnbatchedAndBatchedInput) {
  const Tensor x = input(R"({"x": [[0.43, 0.15, 0.89], [0.55, 0.87, 0.66]]})");
  EXPECT_EQ(x.shape, (Shape{2, 3}));
  EXPECT_EQ(x.data[5], 0.66f);
  const Tensor b = input(R"({"x": [[[1, 2]], [[3, 4]]], "tokens": ["a"]})");
  EXPECT_EQ(b.shape, (Shape{2, 1, 2}));
  EXPECT_EQ(b.data, (std::vector<float>{1, 2, 3, 4}));
}

TEST(JsonIo, NamesTheProblemAndTheIndex) {
  EXPECT_EQ(error_of([] { input(R"({"x": [[1, 2], [3]]})"); }),
            "x is ragged: the list at index [1] has 1 element, expected 2 (as at index [0])");
  EXPECT_EQ(error_of([] { input(R"({"x": [[1, [2]]]})"); }),
            "x is ragged: the element at index [0, 1] is a list, expected a number (as at index [0, 0])");
  EXPECT_EQ(error_of([] { input(R"({"x": [[1, 2], 3]})"); }),
            "x is ragged: the element at index [1] is a number, expected a list of 2 (as at index [0])");
  EXPECT_EQ(error_of([] { input(R"({"x": [[1, true]]})"); }), "x at index [0, 1] is a boolean; expected a number");
  EXPECT_EQ(error_of([] { input(R"({"x": [[1, null]]})"); }), "x at index [0, 1] is null; expected a number");
  EXPECT_EQ(error_of([] { input(R"({"x": [[1, NaN]]})"); }), "x contains NaN at index [0, 1]; expected finite numbers");
  EXPECT_EQ(error_of([] { input(R"({"x": [[-Infinity]]})"); }),
            "x contains -Infinity at index [0, 0]; expected finite numbers");
  EXPECT_EQ(
      error_of([] { input(R"({"x": [[1e39]]})"); }),
      "x at index [0, 0] is too large for float32 (1e+39 rounds to inf); expected |value| < 3.4028235677973366e+38 "
      "(float32's largest finite value is 3.4028234663852886e+38)");
  EXPECT_NE(error_of([] { input(R"({"x": [[1e400]]})"); }).find("1e400, which is too large for float32"),
            std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"y": 1})"); }).find("input has no key \"x\""), std::string::npos);
  EXPECT_NE(error_of([] { input(R"([[1]])"); }).find("input must be a JSON object with key \"x\", got a list"),
            std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"x": [1, 2]})"); }).find("x has rank 1 (shape [2])"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"x": []})"); }).find("x is empty"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"x": [[[]]]})"); }).find("x has shape [1, 1, 0] with a zero size"),
            std::string::npos);
  EXPECT_NE(error_of([] { input("  \n"); }).find("--input is empty"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"x": [[1, 2]})"); }).find("--input is not valid JSON: parse error at line 1"),
            std::string::npos);
}

TEST(JsonIo, RefusesDeepNestingBeforeParsing) {
  const std::string deep(100000, '[');
  EXPECT_NE(error_of([&] { input(deep); }).find("nested deeper than 64 levels"), std::string::npos);
  // Brackets inside strings do not count.
  EXPECT_EQ(
      input(R"({"note": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "x": [[1]]})").shape,
      (Shape{1, 1}));
}

TEST(JsonIo, PythonNonFiniteWordsInsideStringsStayStrings) {
  EXPECT_EQ(input(R"({"label": "NaN Infinity", "x": [[2]]})").data[0], 2.0f);
}

TEST(JsonIo, StateDictKeepsFileOrderAndEveryKeyIncludingTheMaskBuffer) {
  std::size_t mask_size = 0;
  const StateDict sd = cli::state_dict_from_json(
      cli::parse_json(
          R"({"W_query.weight": [[1, 2]], "mask": [[0, 1], [0, 0]], "out_proj.bias": [3], "bogus.mask": [[1]]})",
          "--weights"),
      &mask_size);
  ASSERT_EQ(sd.size(), 4u);  // the Module decides which mask is the mechanism's buffer (and refuses bogus.mask)
  EXPECT_EQ(sd[0].first, "W_query.weight");
  EXPECT_EQ(sd[0].second.shape, (Shape{1, 2}));
  EXPECT_EQ(sd[1].first, "mask");
  EXPECT_EQ(sd[2].first, "out_proj.bias");
  EXPECT_EQ(sd[2].second.shape, (Shape{1}));
  EXPECT_EQ(sd[3].first, "bogus.mask");
  EXPECT_EQ(mask_size, 2u);  // from "mask" only, not from bogus.mask
  for (const char* key : {"heads.0.mask", "heads.17.mask"}) {
    cli::state_dict_from_json(
        cli::parse_json(std::string(R"({")") + key + R"(": [[0, 1, 1], [0, 0, 1], [0, 0, 0]]})", "--weights"),
        &mask_size);
    EXPECT_EQ(mask_size, 3u) << key;
  }
  for (const char* key : {"W_query.mask", "heads.x.mask", "heads..mask", "xmask"}) {
    cli::state_dict_from_json(cli::parse_json(std::string(R"({")") + key + R"(": [[0, 1], [0, 0]]})", "--weights"),
                              &mask_size);
    EXPECT_EQ(mask_size, 0u) << key;
  }
  EXPECT_EQ(
      error_of([] { cli::state_dict_from_json(cli::parse_json(R"({"W_key.weight": [[1, NaN]]})", "--weights")); }),
      "state_dict key W_key.weight contains NaN at index [0, 1]; expected finite numbers");
  EXPECT_NE(
      error_of([] { cli::state_dict_from_json(cli::parse_json(R"([1])", "--weights")); }).find("a PyTorch state_dict"),
      std::string::npos);
}

// One rule with the JS package: refused exactly when the float32 conversion (round to nearest) is ±inf.
TEST(JsonIo, Float32RangeIsWhatFloat32RoundsToFinite) {
  EXPECT_EQ(input(R"({"x": [[3.4028235e38, -3.4028235e38]]})").data, (std::vector<float>{FLT_MAX, -FLT_MAX}));
  // The largest double below 2^128 - 2^103 (the midpoint between FLT_MAX and 2^128) still rounds to FLT_MAX.
  EXPECT_EQ(input(R"({"x": [[3.4028235677973362e38]]})").data[0], FLT_MAX);
  EXPECT_EQ(static_cast<float>(3.4028235677973362e38), FLT_MAX);
  EXPECT_TRUE(std::isinf(static_cast<float>(3.4028235677973366e38)));
  for (const char* big : {"3.4028235677973366e38", "-3.4028235677973366e38", "3.5e38", "1.7976931348623157e308"}) {
    EXPECT_NE(error_of([&] { input(std::string(R"({"x": [[)") + big + "]]}"); }).find("is too large for float32"),
              std::string::npos)
        << big;
  }
  EXPECT_EQ(input(R"({"x": [[1e-46]]})").data[0], 0.0f);  // underflow to zero is float32's answer, not an error
}

TEST(JsonIo, NulBytesAndNonFiniteWordsAsKeysAreNotJson) {
  const std::string nul(1, '\0');
  EXPECT_EQ(error_of([&] { input(R"({"x": [[1]]})" + nul + "tail"); }),
            "--input holds a NUL byte at byte 12; expected JSON text (no NUL bytes)");
  EXPECT_NE(error_of([&] { input(nul); }).find("NUL byte at byte 0"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({NaN: 1, "x": [[1]]})"); }).find("not valid JSON: parse error at line 1, column 2"),
            std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"x": [[1]],  -Infinity: 1})"); }).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"a": {Infinity: 2}, "x": [[1]]})"); }).find("not valid JSON"), std::string::npos);
  // As values they are still read, and named where they stand.
  EXPECT_EQ(error_of([] { input(R"({"a": NaN, "x": [[1, Infinity]]})"); }),
            "x contains Infinity at index [0, 1]; expected finite numbers");
  EXPECT_EQ(input(R"({"a": [NaN, {"b": -Infinity}], "x": [[1]]})").data[0], 1.0f);
}

// A stream that never ends: standard input piped from `yes`, or a device.
class Endless : public std::streambuf {
 public:
  explicit Endless(char fill) { std::fill(std::begin(buffer_), std::end(buffer_), fill); }

 protected:
  int_type underflow() override {
    setg(buffer_, buffer_, buffer_ + sizeof buffer_);
    return traits_type::to_int_type(buffer_[0]);
  }

 private:
  char buffer_[1 << 16];
};

TEST(JsonIo, SourcesAreBoundedBeforeOrWhileReading) {
  // A regular file: from its size, before reading (a sparse file: no disk used).
  const std::string big = write_temp("big_sparse.json", "{");
  std::filesystem::resize_file(big, cli::kMaxJsonBytes + 1);
  std::istringstream none;
  EXPECT_EQ(
      error_of([&] { cli::read_source(big, none, "--input"); }),
      "--input file '" + big +
          "' is 536870913 bytes; expected at most 536870912 bytes (512 MiB, the largest JSON document attnkit reads)");
  // A stream: NUL bytes stop it at once; white space stops at the limit.
  Endless zeros('\0'), spaces(' ');
  std::istream zero_stream(&zeros), space_stream(&spaces);
  EXPECT_EQ(error_of([&] { cli::read_source("-", zero_stream, "--input"); }),
            "--input (standard input) holds a NUL byte at byte 0; expected JSON text (no NUL bytes)");
  EXPECT_NE(error_of([&] {
              cli::read_source("-", space_stream, "--input");
            }).find("(standard input) is longer than 536870912 bytes"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              cli::read_source("/dev/zero", none, "--weights");
            }).find("--weights file '/dev/zero' holds a NUL byte at byte 0"),
            std::string::npos);
}

TEST(JsonIo, WritesTheShortestTextThatReadsBackToTheSameFloat) {
  const std::vector<float> values = {0.1f, 1.0f / 3.0f, -2.5e-8f, 3.4028235e38f, 0.0f, 123456789.0f, 1e-45f};
  std::string s;
  cli::append_tensor(s, Tensor({values.size()}, values));
  const Tensor back = cli::tensor_from_json(Json::parse(s), "back");
  ASSERT_EQ(back.data.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(std::memcmp(&back.data[i], &values[i], 4), 0) << s;
  EXPECT_EQ(s.substr(0, 5), "[0.1,");
}

TEST(JsonIo, WritesNestedListsAndNonFiniteAsStrings) {
  std::string s;
  cli::append_tensor(s, Tensor({2, 2}, {1, -INFINITY, NAN, 0.5f}));
  EXPECT_EQ(s, R"([[1, "-inf"], ["nan", 0.5]])");
  s.clear();
  cli::append_shape(s, {2, 6, 2});
  EXPECT_EQ(s, "[2, 6, 2]");
}

TEST(JsonIo, ReadsStandardInputAndNamesMissingFiles) {
  std::istringstream in(R"({"x": [[1]]})");
  EXPECT_EQ(cli::read_source("-", in, "--input"), R"({"x": [[1]]})");
  std::istringstream none;
  EXPECT_NE(error_of([&] {
              cli::read_source("/no/such/file.json", none, "--weights");
            }).find("cannot open --weights file '/no/such/file.json': No such file or directory"),
            std::string::npos);
}

}  // namespace
}  // namespace attnkit::test
