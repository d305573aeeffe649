// A small deterministic fuzz run in-process: valid inputs and state_dicts with random bytes changed,
// dropped or repeated must give exit code 0 or 2 (one error line), never 1 and never a crash.
#include <algorithm>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "cli.hpp"
#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

std::string mutate(std::string s, std::mt19937& rng) {
  static const std::string alphabet = "[]{},:\"-+.eE0123456789 NaInfityx\\tru";
  const int edits = 1 + int(rng() % 4);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const std::size_t at = rng() % s.size();
    switch (rng() % 4) {
      case 0: s[at] = alphabet[rng() % alphabet.size()]; break;
      case 1: s.erase(at, 1 + rng() % 8); break;
      case 2: s.insert(at, s.substr(at, 1 + rng() % 16)); break;
      default: s.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
    }
  }
  return s;
}

// Runs the CLI in-process with stdin = text; checks the exit code and the shape of the output.
void expect_clean(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  const int code = cli::main(args, in, out, err);
  ASSERT_TRUE(code == 0 || code == 2) << "exit " << code << " on " << stdin_text << "\n" << err.str();
  const std::string message = err.str();
  if (code == 2) {
    EXPECT_EQ(out.str(), "");
    EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 1) << message;
  } else {
    EXPECT_NO_THROW(Json::parse(out.str())) << stdin_text;
  }
}

TEST(CliMutations, MutatedInputsAreAnsweredOrRefusedCleanly) {
  std::mt19937 rng(20240601);
  const std::string batch = book_input(true).dump();
  for (int i = 0; i < 3000; ++i) {
    const char* mechanism = i % 3 == 0 ? "simplified" : i % 3 == 1 ? "causal" : "multihead";
    expect_clean({"attnkit", "run", "--mechanism", mechanism, "--d-out", "2", "--heads", "2", "--input", "-"},
                 mutate(batch, rng));
  }
}

TEST(CliMutations, MutatedStateDictsAreAnsweredOrRefusedCleanly) {
  std::mt19937 rng(7);
  const Json ref = golden("ref_mha_b2_t5_din4_dout6_h3_causal_noqkvbias.json");
  const Json& w = ref.at("weights");
  const Json sd = {{"W_query.weight", w.at("W_query")},
                   {"W_key.weight", w.at("W_key")},
                   {"W_value.weight", w.at("W_value")},
                   {"out_proj.weight", w.at("out_proj")},
                   {"out_proj.bias", w.at("out_proj_bias")}};
  const std::string input = write_temp("mutation_input.json", Json{{"x", ref.at("inputs")}}.dump());
  const std::string text = sd.dump();
  for (int i = 0; i < 2000; ++i) {
    expect_clean({"attnkit", "run", "--mechanism", "multihead", "--heads", "3", "--input", input, "--weights", "-"},
                 mutate(text, rng));
  }
}

}  // namespace
}  // namespace attnkit::test
