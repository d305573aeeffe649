// attnkit tests — Module::backward against PyTorch's autograd (tests/golden/torch/grad_*.json, written by
// scripts/make_torch_golden.py): the book's classes (float64 without dropout; float32 in training mode with dropout,
// where attnkit draws the parameters and then the dropout mask from the seed as torch does), and
// nn.MultiheadAttention with key_padding_mask, bool and float attn_mask, kdim/vdim and key = value cross-attention,
// its parameters' gradients written back in its own names (weights_from_book); and the op's backward against
// sdpa_grad_*.json (grouped-query heads, lower-right causal, bool and float masks). Every gradient within 1e-5 of
// the tensor's largest value.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <regex>
#include <string>

#include "attnkit/attnkit.hpp"
#include "golden.hpp"
#include "torch_golden.hpp"

namespace attnkit {
namespace {

using golden::json;

double max_abs(const golden::Array& a) {
  double m = 0.0;
  for (double v : a.data) m = std::max(m, std::fabs(v));
  return m;
}

// max |got − want| / scale, scale = max |want|. A gradient that is 0 in exact arithmetic (W_key's bias: softmax
// ignores a constant added to a row's scores) is float32 rounding here and ~1e-17 in torch's float64: it is held to
// the same bound relative to the largest gradient of the module (`largest`).
double error_of(const Tensor& got, const golden::Array& want, double largest) {
  EXPECT_EQ(got.shape, want.shape);
  if (got.numel() != want.numel()) return INFINITY;
  double worst = 0.0;
  for (std::size_t i = 0; i < got.numel(); ++i) worst = std::max(worst, std::fabs(got.data[i] - want.data[i]));
  const double scale = max_abs(want);
  return worst / (scale < 1e-9 * largest ? largest : scale);
}

struct File {
  const char* name;
  Config config;  // mechanism, sizes; torch-mha files: num_heads only, the rest from the state_dict
  bool torch_mha = false;
};

Config book(Mechanism m, std::size_t d_in, std::size_t d_out, std::size_t heads, std::size_t context_length,
            bool qkv_bias, double dropout = 0.0) {
  Config c;
  c.mechanism = m;
  c.d_in = d_in;
  c.d_out = d_out;
  c.num_heads = heads;
  c.context_length = context_length;
  c.qkv_bias = qkv_bias;
  c.dropout = dropout;
  return c;
}

TEST(ModuleGradTorchGolden, EveryGradientFile) {
  Config mha;
  mha.mechanism = Mechanism::multihead;
  mha.num_heads = 2;
  mha.causal = false;
  const File files[] = {
      {"grad_self_attention_v1.json", book(Mechanism::self_v1, 3, 2, 1, 0, false)},
      {"grad_self_attention_v2.json", book(Mechanism::self, 4, 6, 1, 0, true)},
      {"grad_causal_attention.json", book(Mechanism::causal, 4, 6, 1, 7, false)},
      {"grad_multihead_wrapper.json", book(Mechanism::multihead_wrapper, 4, 2, 3, 5, true)},
      {"grad_multihead_attention.json", book(Mechanism::multihead, 4, 6, 3, 5, true)},
      {"grad_causal_attention_dropout_train.json", book(Mechanism::causal, 3, 2, 1, 6, false, 0.5)},
      {"grad_multihead_attention_dropout_train.json", book(Mechanism::multihead, 3, 4, 2, 6, false, 0.5)},
      {"grad_torch_mha.json", mha, true},
      {"grad_mha_key_padding_mask.json", mha, true},
      {"grad_mha_attn_mask_bool.json", mha, true},
      {"grad_mha_attn_mask_bool_3d.json", mha, true},
      {"grad_mha_attn_mask_float.json", mha, true},
      {"grad_mha_kdim_vdim.json", mha, true},
      {"grad_mha_cross_attention.json", mha, true},
      {"grad_mha_no_bias.json", mha, true},
  };
  for (const File& f : files) {
    SCOPED_TRACE(f.name);
    const json g = torch_golden::load(f.name);
    const json& in = g.at("inputs");
    const json& out = g.at("outputs");
    StateDict sd;
    for (const auto& [key, value] : g.at("state_dict").items()) sd.emplace_back(key, golden::tensor(value));
    Config c = f.config;
    c.seed = g.at("seed");
    const bool train = g.at("call").at("train");
    // With dropout the parameters come from the seed, as in torch (the forward test checks they are the file's).
    Module module = f.torch_mha ? Module::from_state_dict(c, sd, WeightsFormat::torch_mha)
                    : train     ? Module(c)
                                : Module(c, sd);
    const Tensor x = golden::tensor(in.at("x"));
    std::optional<Tensor> kv, value;
    std::optional<AttentionMask> padding, attn;
    if (in.contains("kv")) kv = golden::tensor(in.at("kv"));
    if (in.contains("value")) value = golden::tensor(in.at("value"));
    if (in.contains("key_padding_mask")) padding = torch_golden::mask(in.at("key_padding_mask"));
    if (in.contains("attn_mask")) attn = torch_golden::mask(in.at("attn_mask"));
    ForwardInputs inputs;
    inputs.kv = kv ? &*kv : nullptr;
    inputs.value_input = value ? &*value : nullptr;
    inputs.key_padding_mask = padding ? &*padding : nullptr;
    inputs.attn_mask = attn ? &*attn : nullptr;
    ForwardOptions o;
    o.grad = true;
    o.train = train;
    const ForwardResult r = module.forward(x, inputs, o);
    const ModuleGrad grad = module.backward(golden::tensor(in.at("grad_output")));

    // The parameters' gradients in the file's names: nn.MultiheadAttention's in_proj_* or q/k/v_proj_weight.
    Config written = module.config();
    written.causal = module.causal();
    const StateDict params =
        f.torch_mha ? weights_from_book(written, grad.params, WeightsFormat::torch_mha) : grad.params;
    double largest = 0.0;
    for (const auto& [name, want] : out.at("grads").items()) largest = std::max(largest, max_abs(golden::array(want)));
    double worst = error_of(r.context, golden::array(out.at("context")), largest);
    EXPECT_LE(worst, 1e-5) << "context";
    const std::pair<const char*, const Tensor*> inputs_grads[] = {
        {"grad_input", &grad.input}, {"grad_kv", &grad.kv}, {"grad_value", &grad.value_input}};
    for (const auto& [name, got] : inputs_grads) {
      EXPECT_EQ(out.contains(name), !got->empty()) << name;
      if (!out.contains(name)) continue;
      const double e = error_of(*got, golden::array(out.at(name)), largest);
      EXPECT_LE(e, 1e-5) << name;
      worst = std::max(worst, e);
    }
    std::size_t compared = 0;
    for (const auto& [name, want] : out.at("grads").items()) {
      const Tensor* got = find_parameter(params, name);
      ASSERT_NE(got, nullptr) << name;
      const double e = error_of(*got, golden::array(want), largest);
      EXPECT_LE(e, 1e-5) << name;
      worst = std::max(worst, e);
      ++compared;
    }
    EXPECT_GE(compared, 2u);
    std::printf("  %-46s worst relative error %.2e over context, inputs and %zu parameters\n", f.name, worst, compared);
  }
}

TEST(AttentionGradTorchGolden, TheOpsGradients) {
  for (const char* file : {"sdpa_grad_grouped_query_lower_right.json", "sdpa_grad_multi_query_float_mask.json"}) {
    SCOPED_TRACE(file);
    const json g = torch_golden::load(file);
    const json& in = g.at("inputs");
    const json& call = g.at("call");
    const Tensor query = golden::tensor(in.at("query")), key = golden::tensor(in.at("key")),
                 value = golden::tensor(in.at("value"));
    std::optional<AttentionMask> mask;
    if (in.contains("attn_mask")) mask = torch_golden::mask(in.at("attn_mask"));  // the op's sense: true = may attend
    AttentionOptions o;
    if (!call.at("scale").is_null()) o.scale = call.at("scale").get<double>();
    if (!call.at("causal").is_null())
      o.causal = call.at("causal") == "lower-right" ? CausalAlign::lower_right : CausalAlign::upper_left;
    o.attn_mask = mask ? &*mask : nullptr;
    const AttentionForward f = attention_forward(query, key, value, o);
    const AttentionGrad grad = attention_backward(query, key, value, golden::tensor(in.at("grad_output")), o, f.state);
    const json& out = g.at("outputs");
    const std::pair<const char*, const Tensor*> results[] = {
        {"output", &f.state.output}, {"grad_query", &grad.query}, {"grad_key", &grad.key}, {"grad_value", &grad.value}};
    for (const auto& [name, got] : results) {
      const golden::Array want = golden::array(out.at(name));
      const double e = error_of(*got, want, max_abs(want));
      EXPECT_LE(e, 1e-5) << name;
      std::printf("  %-42s %-10s relative error %.2e\n", file, name, e);
    }
  }
}

}  // namespace
}  // namespace attnkit
