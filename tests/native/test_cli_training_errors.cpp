// attnkit CLI — bad input to the training surfaces that the per-command tables (test_cli_grad.cpp,
// test_cli_train.cpp) leave out: `attnkit grad --grad-output`, `attnkit attention --grad` and `attnkit train`'s
// options and output. Each row is the exact input and the whole line it must get (exit 2, nothing on stdout).
// Counts per interface: docs/reliability.md §8.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

const std::string kX = R"({"x": [[[1, 2], [3, 4], [5, 6]]]})";
const std::string kQkv = R"({"query": [[[[1, 0]]]], "key": [[[[1, 2]]]], "value": [[[[3, 4]]]]})";

TEST(CliTrainingErrors, GradOutputAndAttentionGrad) {
  const auto file = [](const std::string& name, const std::string& text) { return write_temp(name, text); };
  const std::vector<std::string> g = {"grad", "--input", "IN", "--mechanism", "self", "--d-out", "2", "--grad-output"};
  const auto grad = [&](const std::string& go) {
    std::vector<std::string> a = g;
    a.push_back(go);
    return a;
  };
  const auto attention = [&](const std::string& go) {
    return std::vector<std::string>{"attention", "--input", "IN", "--grad", "--grad-output", go};
  };
  const std::string wanted = "expected the context's shape [1, 3, 2]";
  const std::string binary = file("go_binary.json", std::string("\0\1\2", 3));
  const std::string ones = file("go_ones.json", "[[[1, 1], [1, 1], [1, 1]]]");
  const std::string dir = ::testing::TempDir();
  expect_bad_cli_rows({
      {"Infinity", grad(file("go_inf.json", "[[[1, Infinity], [1, 1], [1, 1]]]")), kX,
       "grad_output contains Infinity at index [0, 0, 1]; expected finite numbers"},
      {"-Infinity", grad(file("go_ninf.json", "[[[1, 1], [1, 1], [-Infinity, 1]]]")), kX,
       "grad_output contains -Infinity at index [0, 2, 0]; expected finite numbers"},
      {"an empty list", grad(file("go_list.json", "[]")), kX, "grad_output has shape [0]; " + wanted},
      {"rank 2 (unbatched) for a batched context", grad(file("go_rank2.json", "[[1, 1], [1, 1], [1, 1]]")), kX,
       "grad_output has shape [3, 2]; " + wanted},
      {"rank 4", grad(file("go_rank4.json", "[[[[1, 1], [1, 1], [1, 1]]]]")), kX,
       "grad_output has shape [1, 1, 3, 2]; " + wanted},
      {"ragged", grad(file("go_ragged.json", "[[[1, 1], [1], [1, 1]]]")), kX,
       "grad_output is ragged: the list at index [0, 1] has 1 element, expected 2 (as at index [0, 0])"},
      {"a boolean", grad(file("go_bool.json", "[[[1, true], [1, 1], [1, 1]]]")), kX,
       "grad_output at index [0, 0, 1] is a boolean; expected a number"},
      {"null", grad(file("go_null.json", "[[[1, 1], [null, 1], [1, 1]]]")), kX,
       "grad_output at index [0, 1, 0] is null; expected a number"},
      {"a bare number", grad(file("go_scalar.json", "5")), kX,
       "--grad-output must hold a nested list of numbers; " + wanted},
      {"an empty file", grad(file("go_empty.json", "")), kX, "--grad-output is empty; expected a JSON document"},
      {"a binary file", grad(binary), kX,
       "--grad-output file '" + binary + "' holds a NUL byte at byte 0; expected JSON text (no NUL bytes)"},
      {"text after the document", grad(file("go_trailing.json", "[[[1, 1], [1, 1], [1, 1]]] x")), kX,
       "--grad-output is not valid JSON: parse error at line 1, column 28: syntax error while parsing value - invalid "
       "literal; last read: '1]]] x'; expected end of input"},
      {"a directory", grad(dir), kX, "--grad-output '" + dir + "' is a directory; expected a JSON file"},
      {"given twice",
       {"grad", "--input", "IN", "--mechanism", "self", "--d-out", "2", "--grad-output", ones, "--grad-output", ones},
       kX,
       "--grad-output: At Most 1 required but received 2 (see attnkit --help)"},
      {"grad --intermediates",
       {"grad", "--input", "IN", "--mechanism", "self", "--d-out", "2", "--intermediates"},
       kX,
       "grad prints the context and the gradients; expected no --intermediates with grad"},
      {"attention --grad: Infinity", attention(file("ago_inf.json", "[[[[1, Infinity]]]]")), kQkv,
       "grad_output contains Infinity at index [0, 0, 0, 1]; expected finite numbers"},
      {"attention --grad: NaN", attention(file("ago_nan.json", "[[[[NaN, 1]]]]")), kQkv,
       "grad_output contains NaN at index [0, 0, 0, 0]; expected finite numbers"},
      {"attention --grad: rank 5", attention(file("ago_rank5.json", "[[[[[1, 1]]]]]")), kQkv,
       "grad_output has shape [1, 1, 1, 1, 2]; expected the output's shape [1, 1, 1, 2]"},
      {"attention --grad: an empty file", attention(file("ago_empty.json", "")), kQkv,
       "--grad-output is empty; expected a JSON document"},
      {"attention --grad: a missing file", attention("/nonexistent/go.json"), kQkv,
       "cannot open --grad-output file '/nonexistent/go.json': No such file or directory; expected a JSON file or - "
       "for standard input"},
      {"attention --grad-output empty", attention(""), kQkv,
       "--grad-output is empty; expected a value (see attnkit attention --help)"},
  });
}

TEST(CliTrainingErrors, TrainOptions) {
  const auto train = [](std::vector<std::string> extra) {  // a short run, unless the row sets --steps or --batch
    std::vector<std::string> a = {"train", "--task", "copy-previous"};
    for (const char* option : {"--steps", "--batch"})
      if (std::find(extra.begin(), extra.end(), option) == extra.end()) a.insert(a.end(), {option, "2"});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::string expected_int = "; expected an integer from 1 to ";
  expect_bad_cli_rows({
      {"--task Copy-Previous",
       {"train", "--task", "Copy-Previous"},
       "",
       "unknown task 'Copy-Previous'; expected copy-previous, reverse, sort or induction"},
      {"--task given twice", train({"--task", "reverse"}), "",
       "--task: At Most 1 required but received 2 (see attnkit --help)"},
      {"--steps empty", train({"--steps", ""}), "", "--steps is empty; expected a value (see attnkit train --help)"},
      {"--steps -1",
       {"train", "--task", "sort", "--steps", "-1"},
       "",
       "--steps must be an integer, got '-1'" + expected_int + "10000000"},
      {"--steps 1e3",
       {"train", "--task", "sort", "--steps", "1e3"},
       "",
       "--steps must be an integer, got '1e3'" + expected_int + "10000000"},
      {"--steps huge",
       {"train", "--task", "sort", "--steps", "99999999999999999999999"},
       "",
       "--steps is 99999999999999999999999" + expected_int + "10000000"},
      {"--steps 10000001",
       {"train", "--task", "sort", "--steps", "10000001"},
       "",
       "--steps is 10000001" + expected_int + "10000000"},
      {"--batch empty", train({"--batch", ""}), "", "--batch is empty; expected a value (see attnkit train --help)"},
      {"--batch 0", train({"--batch", "0"}), "", "--batch is 0" + expected_int + "4096"},
      {"--batch -3", train({"--batch", "-3"}), "", "--batch must be an integer, got '-3'" + expected_int + "4096"},
      {"--batch 2.5", train({"--batch", "2.5"}), "", "--batch must be an integer, got '2.5'" + expected_int + "4096"},
      {"--batch huge", train({"--batch", "1000000000"}), "", "--batch is 1000000000" + expected_int + "4096"},
      {"--lr empty", train({"--lr", ""}), "", "--lr is empty; expected a value (see attnkit train --help)"},
      {"--lr abc", train({"--lr", "abc"}), "", "--lr must be a finite number >= 0, got 'abc'"},
      {"--lr 0.1x", train({"--lr", "0.1x"}), "", "--lr must be a finite number >= 0, got '0.1x'"},
      {"--lr inf", train({"--lr", "inf"}), "", "--lr must be a finite number >= 0, got 'inf'"},
      // was: "state_dict key 'token_embedding.weight' contains NaN at index [0, 0]", from the next step's load
      {"--lr 1e300 (the first step leaves float32)", train({"--lr", "1e300", "--optimizer", "sgd"}), "",
       "sgd: this step would make parameter 'token_embedding.weight' non-finite (-Inf at index [0, 0]) with lr "
       "1e+300; expected a step that keeps every parameter a finite float32 (a smaller lr); nothing was updated"},
      {"--seed empty", train({"--seed", ""}), "", "--seed is empty; expected a value (see attnkit train --help)"},
      {"--seed 2^64", train({"--seed", "18446744073709551616"}), "",
       "--seed must be an integer from 0 to 18446744073709551615, got '18446744073709551616'"},
      {"--seed 1.5", train({"--seed", "1.5"}), "",
       "--seed must be an integer from 0 to 18446744073709551615, got '1.5'"},
      {"--tokens 0", train({"--tokens", "0"}), "", "--tokens is 0; expected an integer from 2 to 1024"},
      {"--tokens huge", train({"--tokens", "100000"}), "", "--tokens is 100000; expected an integer from 2 to 1024"},
      {"--heads 0", train({"--heads", "0"}), "", "--heads is 0; expected an integer from 1 to 1024"},
      {"--d-model 0", train({"--d-model", "0"}), "", "--d-model is 0; expected an integer from 1 to 4096"},
      {"--d-model huge", train({"--d-model", "100000000"}), "",
       "--d-model is 100000000; expected an integer from 1 to 4096"},
      {"--optimizer empty", train({"--optimizer", ""}), "",
       "--optimizer is empty; expected a value (see attnkit train --help)"},
      {"--format empty", train({"--format", ""}), "", "--format is empty; expected a value (see attnkit train --help)"},
      {"an option of run", train({"--mechanism", "self"}), "",
       "The following arguments were not expected: self --mechanism (see attnkit --help)"},
      {"a stray word", train({"extra"}), "", "The following argument was not expected: extra (see attnkit --help)"},
      {"--save empty", train({"--save", ""}), "", "--save is empty; expected a value (see attnkit train --help)"},
      // was: wrote the state_dict to a file named "-"
      {"--save -", train({"--save", "-"}), "",
       "--save - would mix the state_dict into the result on standard output; expected a file path"},
      {"--save a directory", train({"--save", "/tmp"}), "",
       "--save: cannot write '/tmp'; expected a writable file path"},
      {"--save /dev/full", train({"--save", "/dev/full"}), "",
       "--save: cannot write '/dev/full'; expected a writable file path"},
  });
}

// A run that fails after --save was checked leaves no file behind (it used to leave an empty one), and an existing
// file keeps its contents.
TEST(CliTrainingErrors, AFailedTrainLeavesNoSaveFile) {
  const std::string fresh = ::testing::TempDir() + "attnkit_train_fresh_" + std::to_string(::getpid()) + ".json";
  std::remove(fresh.c_str());
  const CliRun r = run_cli({"train", "--task", "copy-previous", "--steps", "2", "--batch", "2", "--optimizer", "sgd",
                            "--lr", "1e300", "--save", fresh});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(access(fresh.c_str(), F_OK), 0) << fresh << " was left behind";
  const std::string kept = write_temp("train_kept.json", "{\"keep\": 1}");
  const CliRun k = run_cli({"train", "--task", "copy-previous", "--steps", "2", "--batch", "2", "--optimizer", "sgd",
                            "--lr", "1e300", "--save", kept});
  EXPECT_EQ(k.code, 2) << k.err;
  std::ifstream in(kept);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"keep\": 1}");
}

// Standard output that cannot be written (a full device) is exit code 1 with one line, after training or a
// backward pass ran: the output error of docs/reliability.md §1, not a usage error.
TEST(CliTrainingErrors, OutputThatCannotBeWrittenIsExitOne) {
  const std::string err = write_temp("full_stderr.txt", "");
  const std::string in = write_temp("full_in.json", kX);
  for (const std::string args : {std::string("train --task copy-previous --steps 2 --batch 2"),
                                 "grad --mechanism self --d-out 2 --input " + in}) {
    SCOPED_TRACE(args);
    const int status = std::system((std::string(ATTNKIT_CLI) + " " + args + " >/dev/full 2>" + err).c_str());
    EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1);
    std::ifstream e(err);
    const std::string text((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "attnkit: error: cannot write the output (standard output closed or full)\n");
  }
}

}  // namespace
}  // namespace attnkit::test
