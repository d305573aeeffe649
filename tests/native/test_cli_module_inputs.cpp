// `attnkit run` with "kv", "key_padding_mask" and "attn_mask" in the input and --kv-heads: PyTorch's
// nn.MultiheadAttention answers (tests/golden/torch/mha_*.json, state_dicts mapped onto W_query/W_key/W_value
// here), --weights of grouped-query and cross-attention shapes, text output with n_q ≠ n_k, and the bad-input
// table (one line naming the problem and the expected value, exit 2).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

Json torch_golden(const std::string& name) {
  std::ifstream in(std::string(ATTNKIT_GOLDEN_DIR) + "/torch/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

// in_proj_weight (3E, E) / in_proj_bias (3E) → W_query, W_key, W_value row blocks.
Json book_state_dict(const Json& sd, std::size_t E) {
  Json out = Json::object();
  const char* const names[] = {"W_query", "W_key", "W_value"};
  for (std::size_t which = 0; which < 3; ++which) {
    out[std::string(names[which]) + ".weight"] = Json(std::vector<Json>(
        sd.at("in_proj_weight").begin() + which * E, sd.at("in_proj_weight").begin() + (which + 1) * E));
    out[std::string(names[which]) + ".bias"] = Json(
        std::vector<Json>(sd.at("in_proj_bias").begin() + which * E, sd.at("in_proj_bias").begin() + (which + 1) * E));
  }
  out["out_proj.weight"] = sd.at("out_proj.weight");
  out["out_proj.bias"] = sd.at("out_proj.bias");
  return out;
}

TEST(CliModuleInputs, PyTorchMultiheadAttentionMasks) {
  for (const char* file : {"mha_key_padding_mask.json", "mha_attn_mask_bool_2d.json", "mha_attn_mask_bool_3d.json",
                           "mha_attn_mask_float.json", "mha_self_attention_per_head.json"}) {
    SCOPED_TRACE(file);
    const Json g = torch_golden(file);
    const Json& in = g.at("inputs");
    Json input = {{"x", in.at("query")}};
    for (const char* mask : {"key_padding_mask", "attn_mask"})
      if (in.contains(mask)) input[mask] = in.at(mask);
    const std::string input_file = write_temp("mha_input.json", input.dump());
    const std::string weights_file = write_temp("mha_weights.json", book_state_dict(g.at("state_dict"), 8).dump());
    for (const char* weights : {"", "--no-weights"}) {
      std::vector<std::string> args = {"run",      "--mechanism", "multihead",  "--heads",
                                       "2",        "--no-causal", "--qkv-bias", "--input",
                                       input_file, "--weights",   weights_file};
      if (*weights) args.push_back(weights);
      const CliRun r = run_cli(args);
      ASSERT_EQ(r.code, 0) << r.err;
      const Json out = Json::parse(r.out);
      const std::vector<float> want = flatten(g.at("outputs").at("output"));
      const std::vector<double> want64(want.begin(), want.end());
      EXPECT_LE(max_rel_diff(flatten(out.at("context")), want64), 1e-5);
      if (!*weights && g.at("outputs").at("weights").at(0).at(0).at(0).is_array()) {  // per head (b, h, n_q, n_k)
        const std::vector<float> w = flatten(g.at("outputs").at("weights"));
        EXPECT_LE(max_rel_diff(flatten(out.at("attention_weights")), std::vector<double>(w.begin(), w.end())), 1e-5);
      }
    }
  }
}

TEST(CliModuleInputs, CrossAttentionAndGroupedQueryWeightsLoadAndMatchTheLibrary) {
  Config c;
  c.d_in = 4;
  c.d_out = 4;
  c.num_heads = 2;
  c.kv_heads = 1;
  c.k_dim = c.v_dim = 3;
  c.causal = false;
  c.qkv_bias = true;
  Module m(c);
  Json sd = Json::object();
  for (const auto& [name, t] : m.state_dict()) {
    std::string text;
    cli::append_tensor(text, t);
    sd[name] = Json::parse(text);
  }
  const Tensor x({1, 2, 4}, {0.43f, 0.15f, 0.89f, 0.55f, 0.57f, 0.85f, 0.64f, 0.22f});
  const Tensor kv({1, 3, 3}, {0.77f, 0.25f, 0.10f, 0.05f, 0.80f, 0.55f, 0.33f, 0.41f, 0.92f});
  const AttentionMask padding{MaskKind::boolean, {1, 3}, {0, 0, 1}};
  ForwardInputs inputs;
  inputs.kv = &kv;
  inputs.key_padding_mask = &padding;
  ForwardOptions o;
  o.return_weights = true;
  const ForwardResult want = m.forward(x, inputs, o);
  EXPECT_EQ(want.weights.data[2], 0.0f);  // the padded key

  const std::string input = write_temp("cross.json", R"({"x": [[[0.43, 0.15, 0.89, 0.55], [0.57, 0.85, 0.64, 0.22]]],
    "kv": [[[0.77, 0.25, 0.10], [0.05, 0.80, 0.55], [0.33, 0.41, 0.92]]], "key_padding_mask": [[false, false, true]]})");
  const std::string weights = write_temp("cross_weights.json", sd.dump());
  // kv_heads, k_dim and v_dim are read from W_key / W_value; d_out from W_query.
  const CliRun r = run_cli(
      {"run", "--mechanism", "multihead", "--heads", "2", "--no-causal", "--input", input, "--weights", weights});
  ASSERT_EQ(r.code, 0) << r.err;
  const Json out = Json::parse(r.out);
  EXPECT_EQ(flatten(out.at("context")), want.context.data);
  EXPECT_EQ(flatten(out.at("attention_weights")), want.weights.data);
  EXPECT_EQ(out.at("weights_shape"), Json::parse("[1, 2, 2, 3]"));
  // Drawn from the seed with --kv-heads: the same parameters as the library draws.
  const CliRun drawn = run_cli({"run", "--mechanism", "multihead", "--d-out", "4", "--heads", "2", "--kv-heads", "1",
                                "--no-causal", "--qkv-bias", "--input", input});
  ASSERT_EQ(drawn.code, 0) << drawn.err;
  EXPECT_EQ(flatten(Json::parse(drawn.out).at("context")), want.context.data);
  // Text output and intermediates with n_q = 2 queries and n_k = 3 keys.
  const CliRun text = run_cli({"run", "--mechanism", "multihead", "--heads", "2", "--no-causal", "--input", input,
                               "--weights", weights, "--intermediates", "--format", "text"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("keys.shape: torch.Size([1, 1, 3, 2])"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("weights.shape: torch.Size([1, 2, 2, 3])"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("context.shape: torch.Size([1, 2, 4])"), std::string::npos) << text.out;
}

TEST(CliModuleInputs, BadInputsExit2NamingTheProblem) {
  const std::string x = R"("x": [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]])";
  const std::string kv = R"("kv": [[[1, 2], [3, 4], [5, 6]], [[1, 2], [3, 4], [5, 6]]])";
  struct Row {
    const char* name;
    std::string input;
    std::vector<std::string> extra;
    const char* message;
  };
  const std::vector<Row> rows = {
      {"kv rank",
       "{" + x + R"(, "kv": [[1, 2], [3, 4]]})",
       {},
       "kv has rank 2 (shape [2, 2]); expected rank 3 like x, (b, n_k, k_dim)"},
      {"kv batch", "{" + x + R"(, "kv": [[[1, 2]]]})", {}, "kv has batch 1 (shape [1, 1, 2]); expected x's batch 2"},
      {"kv not a list", "{" + x + R"(, "kv": 3})", {}, "kv is 3; expected a nested list (b, n_k, k_dim) like x"},
      {"kv width vs --k-dim",
       "{" + x + ", " + kv + "}",
       {"--k-dim", "5", "--v-dim", "5"},
       "kv has 2 features (shape [2, 3, 2]); expected k_dim 5"},
      {"padding shape",
       "{" + x + ", " + kv + R"(, "key_padding_mask": [[true, false], [false, false]]})",
       {},
       "key_padding_mask has shape [2, 2]; expected [2, 3] (b, n_k)"},
      {"padding mixed",
       "{" + x + ", " + kv + R"(, "key_padding_mask": [[true, 0, false], [false, false, false]]})",
       {},
       "key_padding_mask mixes booleans and numbers"},
      {"padding string",
       "{" + x + R"(, "key_padding_mask": [["yes", false], [false, false]]})",
       {},
       "expected true/false (true = padding, ignored) or a number"},
      {"attn_mask shape",
       "{" + x + ", " + kv + R"(, "attn_mask": [[true, false], [false, false]]})",
       {},
       "attn_mask has shape [2, 2]; expected [2, 3] (n_q, n_k) or [4, 2, 3]"},
      {"attn_mask rank",
       "{" + x + R"(, "attn_mask": [true, false]})",
       {},
       "attn_mask has shape [2]; expected [2, 2] (n_q, n_k) or [4, 2, 2]"},
      {"attn_mask ragged", "{" + x + R"(, "attn_mask": [[true, false], [false]]})", {}, "attn_mask is ragged"},
      {"kv_heads divides",
       "{" + x + "}",
       {"--kv-heads", "3", "--heads", "2"},
       "kv_heads (3) must divide num_heads (2)"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const std::string input = write_temp("bad_module_input.json", row.input);
    std::vector<std::string> args = {"run",     "--mechanism", "multihead",   "--d-out", "4",
                                     "--heads", "2",           "--no-causal", "--input", input};
    for (std::size_t i = 0; i + 1 < row.extra.size(); i += 2) {
      const auto at = std::find(args.begin(), args.end(), row.extra[i]);
      if (at != args.end()) *(at + 1) = row.extra[i + 1];
      else args.insert(args.end(), {row.extra[i], row.extra[i + 1]});
    }
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_EQ(r.err.rfind("attnkit: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(row.message), std::string::npos) << r.err;
  }
  const std::string input = write_temp("bad_module_input.json", "{" + x + "}");
  const CliRun self = run_cli({"run", "--mechanism", "self", "--d-out", "2", "--kv-heads", "1", "--input", input});
  EXPECT_EQ(self.code, 2);
  EXPECT_NE(
      self.err.find("--kv-heads: kv_heads (1) applies only to multihead; expected no --kv-heads for mechanism self"),
      std::string::npos)
      << self.err;
  const CliRun empty = run_cli({"run", "--mechanism", "multihead", "--d-out", "4", "--kv-heads", "", "--input", input});
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.err.find("--kv-heads is empty"), std::string::npos) << empty.err;
}

}  // namespace
}  // namespace attnkit::test
