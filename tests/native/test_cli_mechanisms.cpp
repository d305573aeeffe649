// The CLI's mechanism names, help and per-option errors against the core's traits table.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

std::string run_help() {
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(cli::main({"attnkit", "run", "--help"}, in, out, err), 0);
  return out.str();
}

TEST(CliMechanisms, HelpListsExactlyTheTraitsNames) {
  const std::string help = run_help();
  // The Mechanisms section: one line per mechanism, "  <name>  <description>".
  const auto start = help.find("Mechanisms (--mechanism):\n");
  ASSERT_NE(start, std::string::npos) << help;
  std::istringstream lines(help.substr(start));
  std::string line;
  std::getline(lines, line);
  std::vector<std::string> names;
  while (std::getline(lines, line) && line.rfind("  ", 0) == 0) names.push_back(line.substr(2, line.find(' ', 2) - 2));
  std::vector<std::string> want;
  for (const auto& t : mechanism_traits()) want.emplace_back(t.name);
  EXPECT_EQ(names, want);
  for (const auto& t : mechanism_traits()) EXPECT_NE(help.find(t.description), std::string::npos) << t.name;
  // The --mechanism option's own text names them all, in order, and nothing else.
  const auto option = help.find("--mechanism M");
  ASSERT_NE(option, std::string::npos);
  const std::string text = help.substr(option, help.find('\n', option) - option);
  EXPECT_NE(text.find("simplified, self-v1, self, causal, multihead-wrapper or multihead"), std::string::npos) << text;
}

TEST(CliMechanisms, MissingMechanismListsTheNames) {
  const CliRun r = run_cli({"run", "--input", "x.json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("expected one of simplified, self-v1, self, causal, multihead-wrapper, multihead"),
            std::string::npos)
      << r.err;
}

TEST(CliMechanisms, AnOptionThatDoesNotApplyIsRefusedBeforeReadingInput) {
  // The input file does not exist: the option error must come first.
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--mechanism", "simplified", "--d-out", "2"},
       "--d-out: d_out (2) applies only to self-v1, self, causal, multihead-wrapper and multihead; expected no --d-out "
       "for mechanism simplified"},
      {{"--mechanism", "self", "--d-out", "2", "--heads", "2"},
       "--heads: num_heads (2) applies only to multihead-wrapper and multihead; expected no --heads for mechanism "
       "self"},
      {{"--mechanism", "self-v1", "--d-out", "2", "--qkv-bias"},
       "--qkv-bias: qkv_bias applies only to self, causal, multihead-wrapper and multihead; expected no --qkv-bias for "
       "mechanism self-v1"},
      {{"--mechanism", "self", "--d-out", "2", "--dropout", "0.5"},
       "--dropout: dropout (0.5) applies only to causal, multihead-wrapper and multihead; expected no --dropout for "
       "mechanism self"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"run", "--input", "/no/such/file.json"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << c.message;
    EXPECT_EQ(r.err, "attnkit: error: " + c.message + "\n");
  }
  // Options that apply to every mechanism are accepted for each.
  for (const auto& t : mechanism_traits()) {
    cli::RunOptions o;
    o.causal = true;
    o.context_length = 4;
    EXPECT_NO_THROW(cli::check_options_apply(t.mechanism, o)) << t.name;
  }
}

}  // namespace
}  // namespace attnkit::test
