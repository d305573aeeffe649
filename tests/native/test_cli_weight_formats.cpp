// attnkit run --weights-format auto|book|torch-mha|gpt2 --weights-prefix P: PyTorch's nn.MultiheadAttention and
// GPT-2 golden files (tests/golden/torch/) run through the binary in their own format reproduce torch's outputs,
// and each bad input exits 2 with one line naming the format, the key and the shapes.
#include <cmath>
#include <iostream>

#include <gtest/gtest.h>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

// Every value within 1e-5·|torch| + 1e-6; prints the largest differences for the record.
void expect_agrees(const std::string& what, const Json& got, const Json& want) {
  const std::vector<float> g = flatten(got), w = flatten(want);
  ASSERT_EQ(g.size(), w.size()) << what;
  double max_abs = 0, max_rel = 0;
  std::size_t outside = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double d = std::fabs(double(g[i]) - double(w[i]));
    max_abs = std::max(max_abs, d);
    if (std::fabs(w[i]) >= 1e-3) max_rel = std::max(max_rel, d / std::fabs(double(w[i])));
    if (d > 1e-5 * std::fabs(double(w[i])) + 1e-6) ++outside;
  }
  std::cout << "[ agreement ] CLI " << what << ": " << g.size() << " values, max abs " << max_abs << ", max rel "
            << max_rel << "\n";
  EXPECT_EQ(outside, 0u) << what << ": max abs " << max_abs;
}

// (b, h, n, n) nested lists averaged over heads, as need_weights=True returns them: (b, n, n).
Json averaged(const Json& weights) {
  Json out = Json::array();
  for (const Json& batch : weights) {
    Json rows = batch[0];
    for (std::size_t i = 0; i < rows.size(); ++i)
      for (std::size_t j = 0; j < rows[i].size(); ++j) {
        double sum = 0;
        for (const Json& head : batch) sum += head[i][j].get<double>();
        rows[i][j] = sum / double(batch.size());
      }
    out.push_back(rows);
  }
  return out;
}

Json run_ok(const std::vector<std::string>& args) {
  const CliRun r = run_cli(args);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  return r.code == 0 ? Json::parse(r.out) : Json::object();
}

TEST(CliWeightFormats, MultiheadAttentionFilesAsTorchMha) {
  for (const char* name : {"mha_self_attention.json", "mha_self_attention_per_head.json", "mha_no_bias.json"}) {
    const Json g = golden(std::string("torch/") + name);
    const std::string input = write_temp(std::string("in_") + name, Json{{"x", g.at("inputs").at("query")}}.dump());
    const std::string weights = write_temp(std::string("wt_") + name, g.at("state_dict").dump());
    for (const char* format : {"torch-mha", "auto"}) {
      const std::string what = std::string(name) + " --weights-format " + format;
      SCOPED_TRACE(what);
      const Json out = run_ok({"run", "--mechanism", "multihead", "--heads", "2", "--input", input, "--weights",
                               weights, "--weights-format", format});
      if (out.empty()) continue;
      expect_agrees(what + " context", out.at("context"), g.at("outputs").at("output"));
      if (!g.at("outputs").contains("weights")) continue;
      const bool per_head = g.at("call").value("average_attn_weights", true) == false;
      expect_agrees(what + " weights", per_head ? out.at("attention_weights") : averaged(out.at("attention_weights")),
                    g.at("outputs").at("weights"));
    }
  }
}

TEST(CliWeightFormats, Gpt2BlockWithAndWithoutPrefix) {
  const Json g = golden("torch/gpt2_attention_block.json");
  const std::string input = write_temp("in_gpt2.json", Json{{"x", g.at("inputs").at("x")}}.dump());
  for (const auto& [field, prefix] :
       {std::pair<const char*, const char*>{"state_dict", ""}, {"state_dict_prefixed", "h.0.attn."}}) {
    const std::string weights =
        write_temp(std::string("wt_") + field + ".json", g.at(field).dump());  // bias as true/false
    for (const char* format : {"gpt2", "auto"}) {
      const std::string what = std::string("gpt2_attention_block.json ") + field + " --weights-format " + format;
      SCOPED_TRACE(what);
      const Json out = run_ok({"run", "--mechanism", "multihead", "--heads", "2", "--input", input, "--weights",
                               weights, "--weights-format", format, "--weights-prefix", prefix});
      if (out.empty()) continue;
      expect_agrees(what + " context", out.at("context"), g.at("outputs").at("output"));
      expect_agrees(what + " weights", out.at("attention_weights"), g.at("outputs").at("weights"));
    }
  }
}

struct Bad {
  const char* what;
  std::vector<std::string> args;  // "IN" and "WT" stand for the input and weights files
  std::string says;
  Json weights;
};

TEST(CliWeightFormats, BadInputsExitTwoWithOneLine) {
  const Json g = golden("torch/gpt2_attention_block.json");
  const Json torch_sd = golden("torch/mha_self_attention.json").at("state_dict");
  const std::string input = write_temp("bad_in.json", Json{{"x", g.at("inputs").at("x")}}.dump());
  auto changed = [](Json sd, const std::string& key, Json value) {
    sd[key] = std::move(value);
    return sd;
  };
  auto zeros = [](std::size_t rows, std::size_t cols) {
    return Json(std::vector<std::vector<float>>(rows, std::vector<float>(cols, 0.0f)));
  };
  const std::vector<std::string> run = {"run", "--mechanism", "multihead", "--input", "IN", "--weights", "WT"};
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = run;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::vector<Bad> cases = {
      {"gpt2 without --heads", args({"--weights-format", "gpt2"}),
       "--heads is required with gpt2 weights: GPT-2's n_head is not in its state_dict", g.at("state_dict")},
      {"gpt2 detected without --heads", args({}), "--heads is required with gpt2 weights", g.at("state_dict")},
      {"torch-mha without --heads", args({}),
       "--heads is required with torch-mha weights: nn.MultiheadAttention's num_heads", torch_sd},
      {"unknown format", args({"--weights-format", "hf"}),
       "unknown weights format 'hf'; expected one of auto, book, torch-mha, gpt2", torch_sd},
      {"empty format", args({"--weights-format", ""}),
       "--weights-format is empty; expected auto, book, torch-mha or gpt2", torch_sd},
      {"format without weights",
       {"run", "--mechanism", "multihead", "--heads", "2", "--input", "IN", "--weights-format", "gpt2"},
       "--weights-format applies only with --weights",
       torch_sd},
      {"prefix without weights",
       {"run", "--mechanism", "multihead", "--heads", "2", "--input", "IN", "--weights-prefix", "h.0."},
       "--weights-prefix applies only with --weights",
       torch_sd},
      {"keys of another format", args({"--heads", "2", "--weights-format", "torch-mha"}),
       "weights format torch-mha does not match the state_dict keys: c_attn.weight is gpt2's", g.at("state_dict")},
      {"wrong key name", args({"--heads", "2", "--weights-format", "gpt2"}),
       "gpt2 state_dict has unknown key c_atn.weight", changed(g.at("state_dict"), "c_atn.weight", zeros(8, 24))},
      {"shape off by one", args({"--heads", "2"}), "gpt2 key c_attn.weight has shape [8, 23]; expected [8, 24]",
       changed(g.at("state_dict"), "c_attn.weight", zeros(8, 23))},
      {"torch shape off by one", args({"--heads", "2"}),
       "torch-mha key in_proj_weight has shape [25, 8]; expected [24, 8]",
       changed(torch_sd, "in_proj_weight", zeros(25, 8))},
      {"bias_k", args({"--heads", "2"}), "torch-mha key bias_k is not supported",
       changed(torch_sd, "bias_k", Json{{{0, 0, 0, 0, 0, 0, 0, 0}}})},
      {"prefix not found", args({"--heads", "2", "--weights-prefix", "h.1.attn."}),
       "no state_dict key starts with the prefix 'h.1.attn.'", g.at("state_dict_prefixed")},
      {"prefix missing", args({"--heads", "2"}), "expected the prefix 'h.0.attn.'", g.at("state_dict_prefixed")},
      {"non-multihead mechanism",
       {"run", "--mechanism", "causal", "--input", "IN", "--weights", "WT", "--weights-format", "gpt2"},
       "--weights-format gpt2 applies only to multihead; expected --weights-format book or auto for mechanism causal",
       g.at("state_dict")},
      {"non-multihead mechanism, detected",
       {"run", "--mechanism", "causal", "--input", "IN", "--weights", "WT"},
       "torch-mha weights apply only to multihead; mechanism 'causal'",
       torch_sd},
      {"gpt2 with --no-causal", args({"--heads", "2", "--no-causal"}), "gpt2 attention is causal", g.at("state_dict")},
      {"d_in of x against embed_dim",
       {"run", "--mechanism", "multihead", "--heads", "2", "--input", "SMALL", "--weights", "WT"},
       "d_in (3) does not match the torch-mha state_dict: out_proj.weight [8, 8] gives embed_dim 8; expected d_in 8",
       torch_sd},
  };
  const std::string small = write_temp("bad_small.json", R"({"x": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]})");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Bad& c = cases[i];
    SCOPED_TRACE(c.what);
    const std::string weights = write_temp("bad_wt_" + std::to_string(i) + ".json", c.weights.dump());
    std::vector<std::string> a = c.args;
    for (auto& s : a) s = s == "IN" ? input : s == "WT" ? weights : s == "SMALL" ? small : s;
    const CliRun r = run_cli(a);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("attnkit: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << "stderr: " << r.err << "lacks: " << c.says;
  }
}

}  // namespace
}  // namespace attnkit::test
