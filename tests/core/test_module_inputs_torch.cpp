// attnkit tests — Module::forward's extra inputs (ForwardInputs) against PyTorch's nn.MultiheadAttention
// (tests/golden/torch/mha_*.json, written by scripts/make_torch_golden.py in float64 from float32 inputs):
// key_padding_mask, bool attn_mask (n_q, n_k) and (b·h, n_q, n_k), float attn_mask with −inf, kdim/vdim
// cross-attention, weights per head and averaged, no bias. The state_dict's in_proj rows map onto
// W_query/W_key/W_value here. Both paths (weights or not) must agree with PyTorch to 1e-5 relative.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "golden.hpp"
#include "torch_golden.hpp"

namespace attnkit {
namespace {

using golden::json;

Tensor rows(const Tensor& t, std::size_t from, std::size_t count) {
  const std::size_t width = t.rank() == 2 ? t.shape[1] : 1;
  Shape s = t.shape;
  s[0] = count;
  return Tensor(s, std::vector<float>(t.data.begin() + from * width, t.data.begin() + (from + count) * width));
}

// max |got − want| / max |want|: the error relative to the tensor's magnitude (an element near zero cannot have
// a float32 error relative to itself once it is a sum of terms of the tensor's size).
double max_rel_error(const std::vector<float>& got, const golden::Array& want) {
  EXPECT_EQ(got.size(), want.numel());
  double scale = 0, worst = 0;
  for (double w : want.data) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < std::min(got.size(), want.numel()); ++i)
    worst = std::max(worst, std::fabs(got[i] - want.data[i]));
  return worst / scale;
}

// The largest |got − want| / |want| over elements with |want| ≥ 1e-3·max |want| (reported, and held to 1e-4).
double max_elementwise_rel_error(const std::vector<float>& got, const golden::Array& want) {
  double scale = 0, worst = 0;
  for (double w : want.data) scale = std::max(scale, std::fabs(w));
  for (std::size_t i = 0; i < std::min(got.size(), want.numel()); ++i)
    if (std::fabs(want.data[i]) >= 1e-3 * scale)
      worst = std::max(worst, std::fabs(got[i] - want.data[i]) / std::fabs(want.data[i]));
  return worst;
}

TEST(ModuleInputsTorchGolden, EveryMultiheadAttentionCase) {
  const char* const files[] = {"mha_self_attention.json",
                               "mha_self_attention_per_head.json",
                               "mha_key_padding_mask.json",
                               "mha_attn_mask_bool_2d.json",
                               "mha_attn_mask_bool_3d.json",
                               "mha_attn_mask_float.json",
                               "mha_cross_attention_kdim_vdim.json",
                               "mha_no_bias.json"};
  for (const char* file : files) {
    SCOPED_TRACE(file);
    const json g = torch_golden::load(file);
    const json& in = g.at("inputs");
    const json& sd_json = g.at("state_dict");
    std::smatch m;
    const std::string construction = g.at("construction").get<std::string>();
    ASSERT_TRUE(std::regex_search(construction, m, std::regex(R"(MultiheadAttention\((\d+), (\d+))")));
    const std::size_t E = std::stoul(m[1]), heads = std::stoul(m[2]);
    const Tensor x = golden::tensor(in.at("query")), key = golden::tensor(in.at("key")),
                 value = golden::tensor(in.at("value"));

    // in_proj_weight (3E, E) is W_query; W_key; W_value row blocks; q/k/v_proj_weight when kdim/vdim differ.
    StateDict sd;
    const bool bias = sd_json.contains("in_proj_bias");
    const Tensor in_bias = bias ? golden::tensor(sd_json.at("in_proj_bias")) : Tensor();
    const char *const names[] = {"W_query", "W_key", "W_value"}, *const separate[] = {"q_proj_weight", "k_proj_weight",
                                                                                      "v_proj_weight"};
    for (std::size_t which = 0; which < 3; ++which) {
      if (sd_json.contains("in_proj_weight"))
        sd.emplace_back(std::string(names[which]) + ".weight",
                        rows(golden::tensor(sd_json.at("in_proj_weight")), which * E, E));
      else sd.emplace_back(std::string(names[which]) + ".weight", golden::tensor(sd_json.at(separate[which])));
      if (bias) sd.emplace_back(std::string(names[which]) + ".bias", rows(in_bias, which * E, E));
    }
    sd.emplace_back("out_proj.weight", golden::tensor(sd_json.at("out_proj.weight")));
    // bias=False drops out_proj's bias too; attnkit's out_proj always has one: zeros are the same function.
    sd.emplace_back("out_proj.bias",
                    sd_json.contains("out_proj.bias") ? golden::tensor(sd_json.at("out_proj.bias")) : Tensor({E}));

    Config c;
    c.mechanism = Mechanism::multihead;
    c.d_in = c.d_out = E;
    c.num_heads = heads;
    c.causal = false;
    c.qkv_bias = bias;
    c.k_dim = key.shape[2];
    c.v_dim = value.shape[2];
    Module module(c, sd);
    std::optional<AttentionMask> padding, attn;
    if (in.contains("key_padding_mask")) padding = torch_golden::mask(in.at("key_padding_mask"));
    if (in.contains("attn_mask")) attn = torch_golden::mask(in.at("attn_mask"));
    ForwardInputs inputs;
    inputs.kv = &key;
    inputs.value_input = &value;
    inputs.key_padding_mask = padding ? &*padding : nullptr;
    inputs.attn_mask = attn ? &*attn : nullptr;

    const json& call = g.at("call");
    const bool need_weights = call.at("need_weights").get<bool>();
    const bool averaged = !call.contains("average_attn_weights") || call.at("average_attn_weights").get<bool>();
    const json& out = g.at("outputs");
    const golden::Array want_output = golden::array(out.at("output"));
    for (int path = 0; path < 2; ++path) {  // 0: fused, no weights; 1: explain, weights
      ForwardOptions o;
      o.return_weights = path == 1;
      o.average_weights = averaged;
      const ForwardResult r = module.forward(x, inputs, o);
      EXPECT_EQ(r.context.shape, want_output.shape);
      const double output_error = max_rel_error(r.context.data, want_output);
      EXPECT_LE(output_error, 1e-5) << "output, path " << path;
      const double elementwise = max_elementwise_rel_error(r.context.data, want_output);
      EXPECT_LE(elementwise, 1e-4) << "output, path " << path;
      double weights_error = 0;
      if (path == 1 && need_weights) {
        const golden::Array want = golden::array(out.at("weights"));
        EXPECT_EQ(r.weights.shape, want.shape);
        weights_error = max_rel_error(r.weights.data, want);
        EXPECT_LE(weights_error, 1e-5) << "weights";
      }
      std::printf("  %-36s %-7s output %.2e (elementwise %.2e)  weights %.2e\n", file, path ? "explain" : "fused",
                  output_error, elementwise, weights_error);
    }
  }
}

}  // namespace
}  // namespace attnkit
