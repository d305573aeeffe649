// `attnkit train` through the built binary: the JSON line, the text summary, --save (a state_dict the model loads
// back and that gives the reported accuracy), no progress bar when stderr is not a terminal, and bad options
// (one line, exit 2).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "attnkit/model.hpp"
#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

Json last_line_json(const std::string& out) {
  std::istringstream lines(out);
  std::string line, last;
  while (std::getline(lines, line))
    if (!line.empty()) last = line;
  return Json::parse(last);
}

TEST(CliTrain, JsonLineAndSavedStateDict) {
  const std::string save = write_temp("trained.json", "");
  const CliRun r = run_cli({"train", "--task", "copy-previous", "--steps", "60", "--save", save, "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // stderr is not a terminal here: no progress bar
  const Json j = last_line_json(r.out);
  EXPECT_EQ(j.at("task"), "copy-previous");
  EXPECT_EQ(j.at("steps"), 60);
  EXPECT_GT(j.at("loss_first").get<double>(), 2.0);  // about ln 16 before training
  EXPECT_LT(j.at("loss_last").get<double>(), j.at("loss_first").get<double>() / 4);
  const std::vector<std::string> keys = {"task", "steps", "loss_first", "loss_last", "accuracy"};
  std::vector<std::string> got;
  for (const auto& [k, v] : j.items()) got.push_back(k);
  EXPECT_EQ(got, keys);
  // The saved state_dict loads into the same model and gives the reported accuracy on the evaluation set.
  std::ifstream in(save);
  std::stringstream text;
  text << in.rdbuf();
  const StateDict sd = cli::state_dict_from_json(Json::parse(text.str()));
  Model model(ModelConfig{}, sd);
  EXPECT_NEAR(model.evaluate().accuracy, j.at("accuracy").get<double>(), 1e-6);
  // Same seed, same run: the numbers are reproducible.
  const CliRun again = run_cli({"train", "--task", "copy-previous", "--steps", "60", "--format", "json"});
  EXPECT_EQ(again.out, r.out);
}

TEST(CliTrain, TextSummaryAndOptions) {
  const CliRun r = run_cli({"train", "--task", "reverse", "--steps", "5", "--optimizer", "sgd", "--lr", "0.05",
                            "--batch", "4", "--tokens", "6", "--heads", "2", "--d-model", "8", "--seed", "7"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("reverse: 5 steps of sgd (lr 0.05), training loss "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" % on 256 sequences"), std::string::npos) << r.out;
}

TEST(CliTrain, BadOptionsExit2WithOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"train"}, "--task is required; expected copy-previous, reverse, sort or induction"},
      {{"train", "--task", "copy"}, "unknown task 'copy'; expected copy-previous, reverse, sort or induction"},
      {{"train", "--task", ""}, "--task is empty; expected a value (see attnkit train --help)"},
      {{"train", "--task", "sort", "--steps", "0"}, "--steps is 0; expected an integer from 1 to 10000000"},
      {{"train", "--task", "sort", "--steps", "x"}, "--steps must be an integer, got 'x'"},
      {{"train", "--task", "sort", "--optimizer", "adam"}, "unknown --optimizer 'adam'; expected adamw or sgd"},
      {{"train", "--task", "sort", "--lr", "-1"}, "--lr must be a finite number >= 0, got '-1'"},
      {{"train", "--task", "sort", "--lr", "nan"}, "--lr must be a finite number >= 0, got 'nan'"},
      {{"train", "--task", "sort", "--lr", "1e999"}, "--lr must be a finite number >= 0, got '1e999'"},
      {{"train", "--task", "sort", "--tokens", "7"}, "tokens (7) must be even for the sort task"},
      {{"train", "--task", "sort", "--tokens", "1"}, "--tokens is 1; expected an integer from 2 to 1024"},
      {{"train", "--task", "induction", "--heads", "3"}, "d_model (64) must be divisible by heads (3)"},
      {{"train", "--task", "induction", "--seed", "-1"}, "--seed must be an integer"},
      {{"train", "--task", "induction", "--format", "xml"}, "xml"},
      {{"train", "--task", "induction", "--save", "/nonexistent/dir/x.json"},
       "--save: cannot write '/nonexistent/dir/x.json'; expected a writable file path"},
      {{"train", "--task", "induction", "--bogus"}, "--bogus"},
  };
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args.back());
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("attnkit: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace attnkit::test
