// JSON ⇄ Tensor / StateDict: shapes, the errors' wording, and float32 round trips.
#include <cmath>
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
  EXPECT_EQ(error_of([] { input(R"({"x": [[-Infinity]]})"); }), "x contains -Infinity at index [0, 0]; expected finite numbers");
  EXPECT_EQ(error_of([] { input(R"({"x": [[1e39]]})"); }),
            "x at index [0, 0] is too large for float32; expected |value| <= 3.4028235e+38");
  EXPECT_NE(error_of([] { input(R"({"x": [[1e400]]})"); }).find("1e400, which is too large for float32"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"y": 1})"); }).find("input has no key \"x\""), std::string::npos);
  EXPECT_NE(error_of([] { input(R"([[1]])"); }).find("input must be a JSON object with key \"x\", got a list"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"x": [1, 2]})"); }).find("x has rank 1 (shape [2])"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"x": []})"); }).find("x is empty"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"x": [[[]]]})"); }).find("x has shape [1, 1, 0] with a zero size"), std::string::npos);
  EXPECT_NE(error_of([] { input("  \n"); }).find("--input is empty"), std::string::npos);
  EXPECT_NE(error_of([] { input(R"({"x": [[1, 2]})"); }).find("--input is not valid JSON: parse error at line 1"), std::string::npos);
}

TEST(JsonIo, RefusesDeepNestingBeforeParsing) {
  const std::string deep(100000, '[');
  EXPECT_NE(error_of([&] { input(deep); }).find("nested deeper than 64 levels"), std::string::npos);
  // Brackets inside strings do not count.
  EXPECT_EQ(input(R"({"note": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "x": [[1]]})").shape,
            (Shape{1, 1}));
}

TEST(JsonIo, PythonNonFiniteWordsInsideStringsStayStrings) {
  EXPECT_EQ(input(R"({"label": "NaN Infinity", "x": [[2]]})").data[0], 2.0f);
}

TEST(JsonIo, StateDictKeepsFileOrderAndSetsTheMaskBufferAside) {
  std::size_t mask_size = 0;
  const StateDict sd = cli::state_dict_from_json(
      cli::parse_json(R"({"W_query.weight": [[1, 2]], "mask": [[0, 1], [0, 0]], "out_proj.bias": [3]})", "--weights"), &mask_size);
  ASSERT_EQ(sd.size(), 2u);
  EXPECT_EQ(sd[0].first, "W_query.weight");
  EXPECT_EQ(sd[0].second.shape, (Shape{1, 2}));
  EXPECT_EQ(sd[1].first, "out_proj.bias");
  EXPECT_EQ(sd[1].second.shape, (Shape{1}));
  EXPECT_EQ(mask_size, 2u);
  EXPECT_EQ(error_of([] { cli::state_dict_from_json(cli::parse_json(R"({"W_key.weight": [[1, NaN]]})", "--weights")); }),
            "state_dict key W_key.weight contains NaN at index [0, 1]; expected finite numbers");
  EXPECT_NE(error_of([] { cli::state_dict_from_json(cli::parse_json(R"({"heads.0.mask": [[0, 1]]})", "--weights")); }).find(
                "expected a square"),
            std::string::npos);
  EXPECT_NE(error_of([] { cli::state_dict_from_json(cli::parse_json(R"([1])", "--weights")); }).find("a PyTorch state_dict"),
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
  EXPECT_NE(error_of([&] { cli::read_source("/no/such/file.json", none, "--weights"); })
                .find("cannot open --weights file '/no/such/file.json': No such file or directory"),
            std::string::npos);
}

}  // namespace
}  // namespace attnkit::test
