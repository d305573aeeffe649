// --format text prints tensors as PyTorch does: checked against every tensor the book prints.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "native_test_util.hpp"
#include "text_format.hpp"

namespace attnkit::test {
namespace {

Tensor tensor(Shape shape, std::vector<float> data) { return Tensor(std::move(shape), std::move(data)); }

// The book's prints carry autograd suffixes the CLI has no use for.
std::string without_grad_fn(const std::string& printed) {
  return std::regex_replace(printed, std::regex(R"(,\s*grad_fn=<\w+>\)$)"), ")");
}

TEST(TextFormat, EveryBookPrintIsReproducedFromItsFloat32Values) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ATTNKIT_BOOK_DIR)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("book_", 0) != 0 || name.find("summary") != std::string::npos) continue;
    const Json book = golden(name);
    for (const auto& step : book.at("steps")) {
      if (!step.contains("tensors")) continue;
      for (const auto& t : step.at("tensors")) {
        const Tensor values = tensor(t.at("shape").get<Shape>(), flatten(t.at("debian_full_precision_float32")));
        EXPECT_EQ(cli::format_tensor(values), without_grad_fn(t.at("printed").get<std::string>())) << name;
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 35);
}

TEST(TextFormat, IntegerValuedTensorsPrintWithATrailingPoint) {
  EXPECT_EQ(cli::format_tensor(tensor({2, 2}, {1, 0, 2, 0})), "tensor([[1., 0.],\n        [2., 0.]])");
  EXPECT_EQ(cli::format_tensor(tensor({3}, {0, 0, 0})), "tensor([0., 0., 0.])");
  EXPECT_EQ(cli::format_tensor(tensor({}, {1})), "tensor(1.)");
}

TEST(TextFormat, WideRangesSwitchToScientificNotation) {
  EXPECT_EQ(cli::format_tensor(tensor({2}, {1e-5f, 1.0f})), "tensor([1.0000e-05, 1.0000e+00])");
  EXPECT_EQ(cli::format_tensor(tensor({2}, {0.5f, 2000.0f})), "tensor([5.0000e-01, 2.0000e+03])");
}

TEST(TextFormat, NonFiniteValuesAreRightAligned) {
  EXPECT_EQ(cli::format_tensor(tensor({3}, {-1.5f, -INFINITY, NAN})), "tensor([-1.5000,    -inf,     nan])");
}

TEST(TextFormat, LongRowsWrapAtEightyColumns) {
  std::vector<float> v(12, 0.25f);
  // "0.2500" is 6 wide: (80 - 7) / 8 = 9 per line at indent 7.
  EXPECT_EQ(cli::format_tensor(tensor({12}, v)),
            "tensor([0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500,\n"
            "        0.2500, 0.2500, 0.2500])");
}

TEST(TextFormat, MoreThanAThousandElementsAreSummarised) {
  std::vector<float> v(40 * 40);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i % 7) + 0.5f;
  const std::string s = cli::format_tensor(tensor({40, 40}, v));
  EXPECT_EQ(s.substr(0, 50), "tensor([[0.5000, 1.5000, 2.5000,  ..., 2.5000, 3.5");
  EXPECT_NE(s.find("        ...,\n"), std::string::npos) << s;
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 6) << s;
}

TEST(TextFormat, EmptyTensorsAndSizes) {
  EXPECT_EQ(cli::format_tensor(tensor({0}, {})), "tensor([])");
  EXPECT_EQ(cli::format_tensor(tensor({0, 3}, {})), "tensor([], size=(0, 3))");
  EXPECT_EQ(cli::format_size({2, 6, 2}), "torch.Size([2, 6, 2])");
}

}  // namespace
}  // namespace attnkit::test
