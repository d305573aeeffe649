// The attnkit binary on the golden files: the book's printed numbers, the HackTricks example and the
// float64 reference cases (with their weights passed as a PyTorch state_dict).
#include <cmath>
#include <cstdlib>
#include <functional>
#include <regex>

#include <gtest/gtest.h>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

// Runs the binary, expects success, parses its JSON.
Json run_json(const std::vector<std::string>& args) {
  const CliRun r = run_cli(args);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  return Json::parse(r.out);
}

std::string book_batch() { return write_temp("book_batch.json", book_input(true).dump()); }
std::string book_inputs() { return write_temp("book_inputs.json", book_input(false).dump()); }

// The n-th tensor of `shape` a book file prints (0 is the first).
const Json& nth_tensor(const Json& book, const std::vector<std::size_t>& shape, int n) {
  int seen = 0;
  for (const auto& step : book.at("steps")) {
    if (!step.contains("tensors")) continue;
    for (const auto& t : step.at("tensors")) {
      if (t.at("shape").get<std::vector<std::size_t>>() == shape && seen++ == n) return t;
    }
  }
  throw std::runtime_error("tensor not found");
}

// Within the printed precision: abs_tol (half a unit of the last printed decimal) + 1e-6.
void expect_book(const std::vector<float>& got, const Json& t) {
  EXPECT_LE(max_abs_diff(got, flatten(t.at("expected"))), t.at("abs_tol").get<double>() + 1e-6)
      << t.at("printed").get<std::string>();
}

std::vector<double> doubles(const Json& nested) {
  std::vector<double> d;
  std::function<void(const Json&)> walk = [&](const Json& v) {
    if (v.is_array()) {
      for (const auto& e : v) walk(e);
    } else {
      d.push_back(v.get<double>());
    }
  };
  walk(nested);
  return d;
}

TEST(CliGolden, MultiheadOnTheBooksBatchPrintsTheBooksNumbers) {
  const Json out =
      run_json({"run", "--mechanism", "multihead", "--d-out", "2", "--heads", "2", "--input", book_batch()});
  EXPECT_EQ(out.at("context_shape"), Json::parse("[2, 6, 2]"));
  EXPECT_EQ(out.at("weights_shape"), Json::parse("[2, 2, 6, 6]"));
  expect_book(flatten(out.at("context")), book_tensor(golden("book_11_multihead_attention_seed123.json"), {2, 6, 2}));
}

TEST(CliGolden, SelfAttentionV1WithSeed123) {
  const Json out = run_json({"run", "--mechanism", "self-v1", "--d-out", "2", "--input", book_inputs()});
  expect_book(flatten(out.at("context")), book_tensor(golden("book_04_self_attention_v1_seed123.json"), {6, 2}));
}

TEST(CliGolden, SelfAttentionV2WithSeed789) {
  const Json out = run_json({"run", "--mechanism", "self", "--d-out", "2", "--seed", "789", "--input", book_inputs()});
  expect_book(flatten(out.at("context")), book_tensor(golden("book_05_self_attention_v2_seed789.json"), {6, 2}));
}

TEST(CliGolden, CausalAttentionOnTheBatch) {
  const Json out = run_json({"run", "--mechanism", "causal", "--d-out", "2", "--input", book_batch()});
  expect_book(flatten(out.at("context")), book_tensor(golden("book_09_causal_attention_seed123.json"), {2, 6, 2}));
}

TEST(CliGolden, MultiheadWrapperWithTwoHeads) {
  const Json out =
      run_json({"run", "--mechanism", "multihead-wrapper", "--d-out", "2", "--heads", "2", "--input", book_batch()});
  EXPECT_EQ(out.at("context_shape"), Json::parse("[2, 6, 4]"));
  expect_book(flatten(out.at("context")), book_tensor(golden("book_10_multihead_wrapper_seed123.json"), {2, 6, 4}));
}

TEST(CliGolden, SimplifiedAttentionScoresWeightsContext) {
  const Json book = golden("book_02_simplified_attention_all.json");
  const Json out = run_json({"run", "--mechanism", "simplified", "--intermediates", "--input", book_inputs()});
  expect_book(flatten(out.at("intermediates").at("scores")), nth_tensor(book, {6, 6}, 1));
  expect_book(flatten(out.at("attention_weights")), nth_tensor(book, {6, 6}, 2));
  expect_book(flatten(out.at("context")), book_tensor(book, {6, 3}));
}

TEST(CliGolden, BothCausalRoutesGiveTheBooksMaskedWeights) {
  const Json masked = nth_tensor(golden("book_07_causal_mask_neg_inf_softmax.json"), {6, 6}, 1);
  const Json renormalised = nth_tensor(golden("book_06_causal_mask_renormalise.json"), {6, 6}, 3);
  for (const char* route : {"neg-inf", "renormalise"}) {
    const Json out = run_json({"run", "--mechanism", "self", "--causal", "--d-out", "2", "--seed", "789",
                               "--causal-route", route, "--input", book_inputs()});
    expect_book(flatten(out.at("attention_weights")), masked);
    expect_book(flatten(out.at("attention_weights")), renormalised);
  }
}

TEST(CliGolden, IntermediatesFollowTheBooksStepByStep) {
  // book_03: the second token's query, scores, weights and context with SelfAttention_v1's weights (seed 123).
  const Json book = golden("book_03_trainable_weights_stepwise_seed123.json");
  const Json out =
      run_json({"run", "--mechanism", "self-v1", "--d-out", "2", "--intermediates", "--input", book_inputs()});
  const Json& steps = out.at("intermediates");
  for (const char* name : {"queries", "keys", "values", "scores", "scaled_scores", "weights", "context"}) {
    EXPECT_TRUE(steps.contains(name)) << name;
  }
  const auto row = [](const std::vector<float>& v, std::size_t width) {
    return std::vector<float>(v.begin() + long(width), v.begin() + long(2 * width));
  };
  expect_book(row(flatten(steps.at("queries")), 2), nth_tensor(book, {2}, 0));
  expect_book(row(flatten(steps.at("scores")), 6), nth_tensor(book, {6}, 0));
  expect_book(row(flatten(steps.at("weights")), 6), nth_tensor(book, {6}, 1));
  expect_book(row(flatten(steps.at("context")), 2), nth_tensor(book, {2}, 1));
}

TEST(CliGolden, HelloShinySunSimplified) {
  const Json hello = golden("hacktricks_hello_shiny_sun.json");
  Json x = Json::array();
  for (const auto& token : hello.at("tokens")) x.push_back(hello.at("embeddings").at(token.get<std::string>()));
  const Json out =
      run_json({"run", "--mechanism", "simplified", "--input", write_temp("hello.json", Json{{"x", x}}.dump())});
  const Json& computed = hello.at("computed").at("float32");
  EXPECT_LE(max_abs_diff(flatten(out.at("context")), flatten(computed.at("all_context"))), 1e-6);
  EXPECT_LE(max_abs_diff(flatten(out.at("attention_weights")), flatten(computed.at("all_weights"))), 1e-6);
  const std::vector<float> context = flatten(out.at("context"));
  EXPECT_LE(max_abs_diff({context[3], context[4], context[5]}, flatten(computed.at("context_shiny"))), 1e-6);
}

// ref_*.json hold float64 weights in nn.Linear layout under short names; a state_dict uses PyTorch's.
struct RefCase {
  const char* file;
  const char* mechanism;
  std::vector<std::string> extra_args;
  std::string output_key, weights_key;
  bool heads_first = false;  // the wrapper's reference lists weights per head: (h, b, n, n)
};

// (h, b, ...) → (b, h, ...), the CLI's layout.
Json swap_first_two(const Json& a) {
  Json out = Json::array();
  for (std::size_t b = 0; b < a.at(0).size(); ++b) {
    out.push_back(Json::array());
    for (std::size_t h = 0; h < a.size(); ++h) out.back().push_back(a[h][b]);
  }
  return out;
}

Json ref_state_dict(const Json& ref, const std::string& mechanism) {
  Json sd = Json::object();
  if (mechanism == "self-v1") {
    for (const auto& [name, w] : ref.at("weights_in_out").items()) sd[name] = w;
    return sd;
  }
  for (const auto& [name, w] : ref.at("weights").items()) {
    if (name.find("_in_out") != std::string::npos) continue;
    if (name == "out_proj_bias") sd["out_proj.bias"] = w;
    else sd[name + ".weight"] = w;
  }
  return sd;
}

TEST(CliGolden, ReferenceCasesWithTheirWeightsAsAStateDict) {
  const std::vector<RefCase> cases = {
      {"ref_causal_attention_b2_t5_din4_dout6_noqkvbias.json", "causal", {}, "output", "attn_weights"},
      {"ref_mha_b2_t5_din4_dout6_h3_causal_noqkvbias.json",
       "multihead",
       {"--heads", "3"},
       "output",
       "attn_weights_per_head"},
      {"ref_mha_wrapper_b2_t5_din4_dout2_h3.json", "multihead-wrapper", {}, "output", "attn_weights_per_head", true},
      {"ref_self_attention_v1_t5_din4_dout6.json", "self-v1", {}, "output", "attn_weights"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const Json ref = golden(c.file);
    // d_out (and the wrapper's head count) come from the weights' shapes.
    std::vector<std::string> args = {"run",
                                     "--mechanism",
                                     c.mechanism,
                                     "--input",
                                     write_temp("ref_input.json", Json{{"x", ref.at("inputs")}}.dump()),
                                     "--weights",
                                     write_temp("ref_weights.json", ref_state_dict(ref, c.mechanism).dump())};
    args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
    const Json out = run_json(args);
    EXPECT_LE(max_rel_diff(flatten(out.at("context")), doubles(ref.at(c.output_key))), 1e-5);
    const Json& weights = ref.at(c.weights_key);
    EXPECT_LE(
        max_rel_diff(flatten(out.at("attention_weights")), doubles(c.heads_first ? swap_first_two(weights) : weights)),
        1e-5);
  }
}

TEST(CliGolden, AStateDictWithPyTorchsMaskBufferLoadsUnchanged) {
  const Json ref = golden("ref_causal_attention_b2_t5_din4_dout6_noqkvbias.json");
  Json sd = ref_state_dict(ref, "causal");
  Json mask = Json::array();
  for (int i = 0; i < 5; ++i) {
    mask.push_back(Json::array());
    for (int j = 0; j < 5; ++j) mask.back().push_back(j > i ? 1.0 : 0.0);
  }
  sd["mask"] = mask;  // what model.state_dict() holds next to the parameters
  const Json out =
      run_json({"run", "--mechanism", "causal", "--input", write_temp("in.json", Json{{"x", ref.at("inputs")}}.dump()),
                "--weights", write_temp("sd.json", sd.dump())});
  EXPECT_LE(max_rel_diff(flatten(out.at("context")), doubles(ref.at("output"))), 1e-5);
}

TEST(CliGolden, StandardInputGivesTheSameBytesAsAFile) {
  const std::string batch = book_batch();
  const CliRun from_file =
      run_cli({"run", "--mechanism", "multihead", "--d-out", "2", "--heads", "2", "--input", batch});
  const CliRun from_stdin =
      run_cli({"run", "--mechanism", "multihead", "--d-out", "2", "--heads", "2", "--input", "-"}, batch);
  EXPECT_EQ(from_stdin.code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, from_file.out);
}

TEST(CliGolden, TextFormatPrintsLikeTheBook) {
  const CliRun r = run_cli(
      {"run", "--mechanism", "multihead", "--d-out", "2", "--heads", "2", "--input", book_batch(), "--format", "text"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string printed = book_tensor(golden("book_11_multihead_attention_seed123.json"), {2, 6, 2}).at("printed");
  const std::string expected = std::regex_replace(printed, std::regex(R"(,\s*grad_fn=<\w+>\)$)"), ")");
  EXPECT_EQ(r.out.rfind("context:\n" + expected + "\ncontext.shape: torch.Size([2, 6, 2])\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("attention_weights.shape: torch.Size([2, 2, 6, 6])"), std::string::npos);
}

TEST(CliGolden, ThreadCountDoesNotChangeTheOutput) {
  const std::string batch = book_batch();
  const std::vector<std::string> args = {"run",     "--mechanism", "multihead", "--d-out", "4",
                                         "--heads", "2",           "--input",   batch,     "--threads"};
  std::vector<std::string> one = args, three = args;
  one.push_back("1");
  three.push_back("3");
  EXPECT_EQ(run_cli(one).out, run_cli(three).out);
}

TEST(CliGolden, DropoutChangesTheContextButNotTheReportedWeights) {
  const std::string batch = book_batch();
  const Json eval = run_json({"run", "--mechanism", "causal", "--d-out", "2", "--dropout", "0.5", "--input", batch});
  const Json train =
      run_json({"run", "--mechanism", "causal", "--d-out", "2", "--dropout", "0.5", "--train", "--input", batch});
  // Weights before dropout. Without dropout they come from the fused kernel's tiles, with it from the explain path's
  // passes: the same numbers to rounding (≤ 1e-6 relative, the two paths' contract).
  const std::vector<float> eval_weights = flatten(eval.at("attention_weights")),
                           train_weights = flatten(train.at("attention_weights"));
  ASSERT_EQ(eval_weights.size(), train_weights.size());
  EXPECT_LE(max_rel_diff(eval_weights, std::vector<double>(train_weights.begin(), train_weights.end())), 1e-6);
  EXPECT_NE(eval.at("context"), train.at("context"));
  expect_book(flatten(eval.at("context")), book_tensor(golden("book_09_causal_attention_seed123.json"), {2, 6, 2}));
}

TEST(CliBinary, BenchC1ReportsTheContractKeys) {
  const Json out = run_json({"bench", "--config", "C1", "--format", "json", "--repeats", "20"});
  for (const char* key : {"config", "threads", "median_ms", "gflops", "min_ms", "repeats", "shape"}) {
    EXPECT_TRUE(out.contains(key)) << key;
  }
  EXPECT_EQ(out.at("config"), "C1");
  EXPECT_EQ(out.at("repeats"), 20);
  EXPECT_GT(out.at("gflops").get<double>(), 0.0);
  EXPECT_EQ(out.at("shape").at("tokens"), 6);
}

// C5's shape at 1024 and 4096 tokens, each in its own process: the fused path's peak memory grows with n (the
// activations, ~19 KB per token) and not with n² (the (12, n, n) scores an unfused path holds: 805 MB at 4096).
// One thread's CPU time per call is at most its wall time, so its efficiency over CPU time is at least the wall one
// (each against its own reading of the peak).
TEST(CliBinary, BenchReportsPeakMemoryLinearInTokens) {
  const auto rss = [](const char* tokens) {
    const Json out = run_json(
        {"bench", "--config", "C5", "--tokens", tokens, "--threads", "1", "--repeats", "1", "--format", "json"});
    EXPECT_EQ(out.at("shape").at("tokens"), std::atoi(tokens));
    const double wall = out.at("median_ms").get<double>(), cpu = out.at("cpu_median_ms").get<double>();
    EXPECT_GT(cpu, 0.0);
    EXPECT_LE(cpu, 1.02 * wall + 0.1) << "CPU " << cpu << " ms, wall " << wall << " ms";
    const Json& m = out.at("machine");
    const double wall_gflops = out.at("efficiency").get<double>() * m.at("peak_gflops_per_core").get<double>();
    const double cpu_gflops = out.at("efficiency_cpu").get<double>() * m.at("peak_gflops_per_core_cpu").get<double>();
    EXPECT_GE(cpu_gflops, 0.98 * wall_gflops);
    return out.at("max_rss_mb").get<double>();
  };
  const double short_mb = rss("1024"), long_mb = rss("4096");
  const double activations_mb = 3072.0 * 768 * 4 * (1 + 3 + 1 + 1) / 1048576.0;  // x, q|k|v, context, output: 54 MB
  EXPECT_GT(long_mb - short_mb, 0.5 * activations_mb) << short_mb << " → " << long_mb;
  EXPECT_LT(long_mb - short_mb, 3.0 * activations_mb) << short_mb << " → " << long_mb;
  EXPECT_GT(short_mb, 1.0);
}

TEST(CliBinary, InfoNamesTheInstructionSet) {
  const Json out = run_json({"info", "--format", "json"});
  EXPECT_EQ(out.at("simd"), simd_instruction_set());
  EXPECT_EQ(out.at("version"), version());
  const CliRun text = run_cli({"info"});
  EXPECT_NE(text.out.find(std::string("SIMD instruction set: ") + simd_instruction_set()), std::string::npos)
      << text.out;
}

}  // namespace
}  // namespace attnkit::test
