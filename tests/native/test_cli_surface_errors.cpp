// attnkit CLI — bad input on the surfaces of "Attention for real models" that the per-feature tables
// (test_cli_attention.cpp, test_cli_module_inputs.cpp, test_cli_decode.cpp, test_cli_weight_formats.cpp) leave out:
// each row is the exact input and the one line it must get (exit 2, nothing on stdout); the rows that must be
// accepted (a value on the float32 rule's edge, torch-mha cross-attention weights with kv) are checked against the
// book-format path. Counts per interface: docs/reliability.md §8.
#include <algorithm>

#include <gtest/gtest.h>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

using Row = BadCliRow;
const auto expect_rows = expect_bad_cli_rows;

const std::string kQkv = R"("query": [[[[1, 0]]]], "key": [[[[1, 0], [0, 1]]]], "value": [[[[1], [2]]]])";
const std::string kX = R"("x": [[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [[0.7, 0.8, 0.9], [1.0, 1.1, 1.2]]])";
const std::string kKv = R"("kv": [[[1, 2], [3, 4], [5, 6]], [[1, 2], [3, 4], [5, 6]]])";
const char* const kRange =
    "expected |value| < 3.4028235677973366e+38 (float32's largest finite value is 3.4028234663852886e+38)";

TEST(CliSurfaceErrors, AttentionOp) {
  const std::vector<std::string> a = {"attention", "--input", "IN"};
  expect_rows({
      {"value's keys", a, R"({"query": [[[[1, 0]]]], "key": [[[[1, 0], [0, 1]]]], "value": [[[[1], [2], [3]]]]})",
       "value's tokens is 3 but key's is 2 (shapes [1, 1, 3, 1] and [1, 1, 2, 2]); expected 2"},
      {"value's batch", a,
       R"({"query": [[[[1, 0]]]], "key": [[[[1, 0], [0, 1]]]], "value": [[[[1], [2]]], [[[1], [2]]]]})",
       "value's batch is 2 but key's is 1 (shapes [2, 1, 2, 1] and [1, 1, 2, 2]); expected 1"},
      {"value's heads", a,
       R"({"query": [[[[1, 0]]]], "key": [[[[1, 0], [0, 1]]]], "value": [[[[1], [2]], [[1], [2]]]]})",
       "value's heads is 2 but key's is 1 (shapes [1, 2, 2, 1] and [1, 1, 2, 2]); expected 1"},
      {"key's batch", a,
       R"({"query": [[[[1, 0]]]], "key": [[[[1, 0], [0, 1]]], [[[1, 0], [0, 1]]]], "value": [[[[1], [2]]], [[[1], [2]]]]})",
       "key's batch is 2 but query's is 1 (shapes [2, 1, 2, 2] and [1, 1, 1, 2]); expected 1"},
      {"mask's keys", a, "{" + kQkv + R"(, "attn_mask": [[true, true, true]]})",
       "attn_mask shape [1, 3] is not broadcastable to (b, h_q, n_q, n_k) = [1, 1, 1, 2]: its n_k dimension is 3, "
       "expected 1 or 2"},
      {"mask beyond float32", a, "{" + kQkv + R"(, "attn_mask": [[3.5e38, 0]]})",
       "attn_mask at index [0, 0] is too large for float32 (3.5e+38 rounds to inf); " + std::string(kRange) +
           ", or -inf"},
      {"mask NaN", a, "{" + kQkv + R"(, "attn_mask": [[NaN, 0]]})",
       "attn_mask at index [0, 0] is \"NaN\"; expected true/false (true = may attend) or a number added to the "
       "scores (-inf allowed)"},
      {"mask null", a, "{" + kQkv + R"(, "attn_mask": [[null, 0]]})",
       "attn_mask at index [0, 0] is null; expected true/false (true = may attend) or a number added to the scores "
       "(-inf allowed)"},
      {"key Infinity", a, R"({"query": [[[[1, 0]]]], "key": [[[[Infinity, 0], [0, 1]]]], "value": [[[[1], [2]]]]})",
       "key contains Infinity at index [0, 0, 0, 0]; expected finite numbers"},
      {"query empty", a, R"({"query": [], "key": [[[[1, 0], [0, 1]]]], "value": [[[[1], [2]]]]})",
       "query must have shape (b, h_q, n_q, d); got rank 1 shape [0]"},
      {"no key", a, R"({"query": [[[[1, 0]]]], "value": [[[[1], [2]]]]})",
       "input has no key \"key\"; expected key (b, h_kv, n_k, d) as a nested list"},
      {"value a number", a, R"({"query": [[[[1, 0]]]], "key": [[[[1, 0], [0, 1]]]], "value": 3})",
       "value must have shape (b, h_kv, n_k, d_v); got rank 0 shape []"},
  });
}

TEST(CliSurfaceErrors, ModuleInputsAndDecode) {
  const std::vector<std::string> r = {"run",     "--mechanism", "multihead",   "--d-out", "4",
                                      "--heads", "2",           "--no-causal", "--input", "IN"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> out = r;
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
  };
  const std::vector<std::string> decode = {"run",     "--mechanism", "multihead", "--d-out", "4",
                                           "--heads", "2",           "--decode",  "--input", "IN"};
  expect_rows({
      {"kv NaN", r, "{" + kX + R"(, "kv": [[[1, NaN], [3, 4], [5, 6]], [[1, 2], [3, 4], [5, 6]]]})",
       "kv contains NaN at index [0, 0, 1]; expected finite numbers"},
      {"kv ragged", r, "{" + kX + R"(, "kv": [[[1, 2], [3], [5, 6]], [[1, 2], [3, 4], [5, 6]]]})",
       "kv is ragged: the list at index [0, 1] has 1 element, expected 2 (as at index [0, 0])"},
      {"kv empty", r, "{" + kX + R"(, "kv": []})",
       "kv has rank 1 (shape [0]); expected rank 3 like x, (b, n_k, k_dim)"},
      {"kv beyond float32", r, "{" + kX + R"(, "kv": [[[1e39, 2], [3, 4], [5, 6]], [[1, 2], [3, 4], [5, 6]]]})",
       "kv at index [0, 0, 0] is too large for float32 (1e+39 rounds to inf); " + std::string(kRange)},
      {"attn_mask of another b·h", r,
       "{" + kX +
           R"(, "attn_mask": [[[true, false], [false, false]], [[true, false], [false, false]], [[true, false], [false, false]]]})",
       "attn_mask has shape [3, 2, 2]; expected [2, 2] (n_q, n_k) or [4, 2, 2] (b·h, n_q, n_k)"},
      {"attn_mask beyond float32", r, "{" + kX + R"(, "attn_mask": [[3.5e38, 0], [0, 0]]})",
       "attn_mask at index [0, 0] is too large for float32 (3.5e+38 rounds to inf); " + std::string(kRange) +
           ", or -inf"},
      {"key_padding_mask NaN", r, "{" + kX + R"(, "key_padding_mask": [[NaN, false], [false, false]]})",
       "key_padding_mask at index [0, 0] is \"NaN\"; expected true/false (true = padding, ignored) or a number added "
       "to the scores (-inf allowed)"},
      {"key_padding_mask's keys", r,
       "{" + kX + R"(, "key_padding_mask": [[true, false, true], [false, false, false]]})",
       "key_padding_mask has shape [2, 3]; expected [2, 2] (b, n_k)"},
      {"key_padding_mask rank 3", r, "{" + kX + R"(, "key_padding_mask": [[[true, false]], [[false, false]]]})",
       "key_padding_mask has shape [2, 1, 2]; expected [2, 2] (b, n_k)"},
      {"key_padding_mask batched on unbatched x",
       {"run", "--mechanism", "multihead", "--d-out", "2", "--heads", "1", "--input", "IN"},
       R"({"x": [[0.1, 0.2], [0.3, 0.4]], "key_padding_mask": [[true, false]]})",
       "key_padding_mask has shape [1, 2]; expected [2] (n_k)"},
      {"--k-dim without kv", with({"--k-dim", "5"}), "{" + kX + "}",
       "W_key reads k_dim 5 features but no kv was given; expected kv (b, n_k, 5)"},
      // Was accepted: the value projection read x's 3 features through W_value's first 3 columns of 5.
      {"--v-dim without kv", with({"--v-dim", "5"}), "{" + kX + "}",
       "W_value reads v_dim 5 features but no kv was given; expected kv (b, n_k, 5)"},
      {"--kv-heads 0", with({"--kv-heads", "0"}), "{" + kX + "}",
       "--kv-heads is 0; expected an integer from 1 to 2147483648"},
      {"--decode with attn_mask", decode, "{" + kX + R"(, "attn_mask": [[false, true], [false, false]]})",
       "--decode takes kv, value and key_padding_mask (cross-attention); expected no attn_mask with --decode"},
      {"--decode with key_padding_mask but no kv", decode,
       "{" + kX + R"(, "key_padding_mask": [[true, false], [false, false]]})",
       "--decode of self-attention attends every earlier token; expected no key_padding_mask without kv (it pads the "
       "memory of cross-attention)"},
      {"--decode, not causal", with({"--decode"}), "{" + kX + "}",
       "decoding needs a causal module; this 'multihead' module is not causal (expected Config::causal = true)"},
      {"--decode of self-attention with --v-dim",
       {"run", "--mechanism", "multihead", "--d-out", "4", "--heads", "2", "--v-dim", "5", "--decode", "--input", "IN"},
       "{" + kX + "}",
       "self-attention decoding projects keys and values from x_new, but this module reads k_dim 3 and v_dim 5 "
       "features; expected k_dim, v_dim 0 or 3, or a DecodeMemory (cross-attention)"},
  });
}

// A float32 rule's edge (3.4028235e38 rounds to FLT_MAX) is accepted in a mask as in x.
TEST(CliSurfaceErrors, MasksFollowTheFloat32RuleOfX) {
  const std::string in = write_temp("mask_edge.json", "{" + kQkv + R"(, "attn_mask": [[3.4028235e38, 0]]})");
  const CliRun r = run_cli({"attention", "--input", in});
  ASSERT_EQ(r.code, 0) << r.err;
  const Json out = Json::parse(r.out);
  EXPECT_EQ(out.at("attention_weights"), Json::parse("[[[[1, 0]]]]"));  // FLT_MAX added: all weight on key 0
  EXPECT_EQ(out.at("output"), Json::parse("[[[[1]]]]"));
  const std::string run_in =
      write_temp("mask_edge_run.json", "{" + kX + R"(, "attn_mask": [[-3.4028235e38, 0], [0, 0]]})");
  const CliRun m =
      run_cli({"run", "--mechanism", "multihead", "--d-out", "4", "--heads", "2", "--no-causal", "--input", run_in});
  ASSERT_EQ(m.code, 0) << m.err;
  const Json w = Json::parse(m.out).at("attention_weights");  // (b, h, n, n): key 0 is out of reach for query 0
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t h = 0; h < 2; ++h) EXPECT_EQ(w[b][h][0][0].get<double>(), 0.0) << b << " " << h;
}

TEST(CliSurfaceErrors, WeightFormats) {
  const Json g = golden("torch/gpt2_attention_block.json");
  const Json t = golden("torch/mha_self_attention.json").at("state_dict");
  const std::string x = Json{{"x", g.at("inputs").at("x")}}.dump();
  auto changed = [](Json sd, const std::string& key, Json value) {
    if (value.is_null()) sd.erase(key);
    else sd[key] = std::move(value);
    return sd;
  };
  const Json zeros8 = Json(std::vector<std::vector<float>>(8, std::vector<float>(8, 0.0f)));
  const std::vector<std::string> a = {"run",     "--mechanism", "multihead", "--heads", "2",
                                      "--input", "IN",          "--weights", "WT"};
  Json ones = Json::array({Json::array({Json(std::vector<std::vector<int>>(8, std::vector<int>(8, 1)))})});
  Json nan_row = zeros8;
  nan_row[0][0] = "NaN";  // as parse_json reads Python's NaN word
  expect_rows({
      {"gpt2 bias not the causal mask", a, x,
       "gpt2 key bias is not the causal mask: entry [0, 0, 0, 1] is 1, expected 0 (lower-triangular ones; attnkit "
       "computes GPT-2's causal attention only)",
       changed(g.at("state_dict"), "bias", ones)},
      {"torch-mha in_proj_weight and q_proj_weight", a, x,
       "torch-mha state_dict has both in_proj_weight and q_proj_weight; expected one (nn.MultiheadAttention writes "
       "q_proj_weight, k_proj_weight, v_proj_weight only when kdim or vdim differ from embed_dim)",
       changed(t, "q_proj_weight", zeros8)},
      {"gpt2 c_attn.bias", a, x, "gpt2 key c_attn.bias has shape [23]; expected [24] (3·n_embd) (n_embd 8)",
       changed(g.at("state_dict"), "c_attn.bias", Json(std::vector<float>(23, 0.0f)))},
      {"torch-mha bias_v", a, x,
       "torch-mha key bias_v is not supported: nn.MultiheadAttention(add_bias_kv=True) appends a learned key and "
       "value to every sequence, which attnkit does not compute; expected a module built with add_bias_kv=False",
       changed(t, "bias_v", Json::array({Json::array({Json(std::vector<float>(8, 0.0f))})}))},
      {"torch-mha in_proj_bias", a, x,
       "torch-mha key in_proj_bias has shape [23]; expected [24] (3·embed_dim) (embed_dim 8)",
       changed(t, "in_proj_bias", Json(std::vector<float>(23, 0.0f)))},
      {"gpt2 NaN", a, x, "state_dict key c_proj.weight contains NaN at index [0, 0]; expected finite numbers",
       changed(g.at("state_dict"), "c_proj.weight", nan_row)},
      {"gpt2 masked_bias not a scalar", a, x, "gpt2 key masked_bias has shape [2]; expected [] (a scalar, ignored)",
       changed(g.at("state_dict"), "masked_bias", Json::array({1, 2}))},
      {"gpt2 missing c_proj.weight", a, x,
       "gpt2 state_dict is missing key c_proj.weight (expected shape [E, E] (n_embd, n_embd), Conv1D)",
       changed(g.at("state_dict"), "c_proj.weight", nullptr)},
      {"torch-mha missing in_proj_weight", a, x,
       "torch-mha state_dict is missing key in_proj_weight (expected shape [24, 8] (3·embed_dim, embed_dim))",
       changed(t, "in_proj_weight", nullptr)},
      {"torch-mha cross-attention weights without kv", a, x,
       "torch-mha k_proj_weight / v_proj_weight have kdim 5 and vdim 6: cross-attention weights, which read their keys "
       "and values from \"kv\" (and \"value\"); expected \"kv\" in the input, or kdim = vdim = 8",
       golden("torch/mha_cross_attention_kdim_vdim.json").at("state_dict")},
  });
}

// torch-mha's q_proj_weight / k_proj_weight / v_proj_weight (kdim = vdim ≠ embed_dim) with kv in the input: the same
// numbers as the book's names for the same matrices (W_query = q_proj_weight, …; in_proj_bias split in three), which
// the torch golden tests check against PyTorch.
TEST(CliSurfaceErrors, TorchMhaCrossAttentionWeightsRunWithKv) {
  const Json c = golden("torch/mha_cross_attention_kdim_vdim.json");
  const Json& sd = c.at("state_dict");
  Json torch_sd = sd;
  Json value5 = Json::array();
  for (const Json& row : sd.at("v_proj_weight")) {  // vdim 6 → 5: kv serves as key and value input alike
    Json r = row;
    r.erase(r.size() - 1);
    value5.push_back(r);
  }
  torch_sd["v_proj_weight"] = value5;
  std::vector<float> bias = flatten(sd.at("in_proj_bias"));
  Json book = {{"W_query.weight", sd.at("q_proj_weight")},
               {"W_key.weight", sd.at("k_proj_weight")},
               {"W_value.weight", value5},
               {"W_query.bias", std::vector<float>(bias.begin(), bias.begin() + 8)},
               {"W_key.bias", std::vector<float>(bias.begin() + 8, bias.begin() + 16)},
               {"W_value.bias", std::vector<float>(bias.begin() + 16, bias.end())},
               {"out_proj.weight", sd.at("out_proj.weight")},
               {"out_proj.bias", sd.at("out_proj.bias")}};
  const std::string in =
      write_temp("cross_in.json", Json{{"x", c.at("inputs").at("query")}, {"kv", c.at("inputs").at("key")}}.dump());
  auto run = [&](const Json& weights, std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "run",         "--mechanism", "multihead", "--heads",   "2",
        "--no-causal", "--input",     in,          "--weights", write_temp("cross_wt.json", weights.dump())};
    args.insert(args.end(), extra.begin(), extra.end());
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? Json::parse(r.out) : Json::object();
  };
  const Json from_torch = run(torch_sd, {});
  const Json from_book = run(book, {"--qkv-bias"});
  ASSERT_TRUE(from_torch.contains("context"));
  EXPECT_EQ(from_torch.at("context_shape"), Json::parse("[2, 4, 8]"));
  EXPECT_LE(max_abs_diff(flatten(from_torch.at("context")), flatten(from_book.at("context"))), 1e-6);
  EXPECT_LE(max_abs_diff(flatten(from_torch.at("attention_weights")), flatten(from_book.at("attention_weights"))),
            1e-6);
}

}  // namespace
}  // namespace attnkit::test
