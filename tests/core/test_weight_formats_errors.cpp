// attnkit tests — weights in the wrong format, shape or place: every case is an attnkit::Error naming the format,
// the key, the shape found and the shape expected (or what else to give), never a crash or a silent load.
#include <gtest/gtest.h>

#include <functional>

#include "weight_formats_util.hpp"

namespace attnkit {
namespace {

using namespace formats_test;

StateDict torch_dict() { return state_dict(load_torch("mha_self_attention.json").at("state_dict")); }
StateDict gpt2_dict(const char* field = "state_dict") {
  return state_dict(load_torch("gpt2_attention_block.json").at(field));
}

StateDict with(StateDict sd, const std::string& key, Tensor t) {
  for (auto& entry : sd)
    if (entry.first == key) {
      entry.second = std::move(t);
      return sd;
    }
  sd.emplace_back(key, std::move(t));
  return sd;
}
StateDict without(StateDict sd, const std::string& key) {
  sd.erase(std::remove_if(sd.begin(), sd.end(), [&](const auto& e) { return e.first == key; }), sd.end());
  return sd;
}
StateDict renamed(StateDict sd, const std::string& from, const std::string& to) {
  for (auto& entry : sd)
    if (entry.first == from) entry.first = to;
  return sd;
}

Config multihead(std::size_t heads = 2) {
  Config c;
  c.mechanism = Mechanism::multihead;
  c.num_heads = heads;
  return c;
}

struct Case {
  const char* what;
  std::function<void()> call;
  std::vector<std::string> says;  // every one must appear in the message
};

void load(const StateDict& sd, WeightsFormat f, Config c = multihead(), const std::string& prefix = "") {
  Module::from_state_dict(c, sd, f, prefix);
}

TEST(WeightFormatsErrors, EveryBadInputNamesTheProblem) {
  using F = WeightsFormat;
  const Tensor m8x8(Shape{8, 8});
  Tensor not_causal(Shape{1, 1, 8, 8});
  std::fill(not_causal.data.begin(), not_causal.data.end(), 1.0f);
  Tensor nan_in_proj = torch_dict()[0].second;
  nan_in_proj.data[30] = NAN;
  Config causal_mechanism;
  causal_mechanism.mechanism = Mechanism::causal;
  Config d_in_7 = multihead(), num_heads_0 = multihead(0), heads_3 = multihead(3), not_causal_config = multihead(),
         bias_on = multihead(), context_5 = multihead();
  d_in_7.d_in = 7;
  not_causal_config.causal = false;
  bias_on.qkv_bias = true;
  context_5.context_length = 5;
  Config k_dim_6 = multihead(), kv_heads_1 = multihead();
  k_dim_6.k_dim = 6;
  kv_heads_1.kv_heads = 1;
  const StateDict no_bias = state_dict(load_torch("mha_no_bias.json").at("state_dict"));

  const std::vector<Case> cases = {
      {"wrong key name (torch)",
       [&] { load(renamed(torch_dict(), "in_proj_weight", "in_proj_weights"), F::torch_mha); },
       {"torch-mha state_dict has unknown key in_proj_weights", "expected in_proj_weight, in_proj_bias"}},
      {"wrong key name (gpt2)",
       [&] { load(renamed(gpt2_dict(), "c_proj.bias", "c_proj.b"), F::gpt2); },
       {"gpt2 state_dict has unknown key c_proj.b", "expected c_attn.weight"}},
      {"gpt2 keys read as torch-mha",
       [&] { load(gpt2_dict(), F::torch_mha); },
       {"weights format torch-mha does not match the state_dict keys", "c_attn.weight is gpt2's", "in_proj_weight"}},
      {"torch keys read as gpt2",
       [&] { load(torch_dict(), F::gpt2); },
       {"weights format gpt2 does not match", "in_proj_weight is torch-mha's"}},
      {"torch keys read as book",
       [&] { load(torch_dict(), F::book); },
       {"weights format book does not match", "in_proj_weight is torch-mha's"}},
      {"in_proj_weight one row short",
       [&] {
         load(with(torch_dict(), "in_proj_weight", Tensor(Shape{23, 8})), F::torch_mha);
       },
       {"torch-mha key in_proj_weight has shape [23, 8]; expected [24, 8]"}},
      {"in_proj_bias one too many",
       [&] { load(with(torch_dict(), "in_proj_bias", Tensor(Shape{25})), F::automatic); },
       {"torch-mha key in_proj_bias has shape [25]; expected [24]"}},
      {"out_proj.weight not square",
       [&] {
         load(with(torch_dict(), "out_proj.weight", Tensor(Shape{8, 9})), F::torch_mha);
       },
       {"torch-mha key out_proj.weight has shape [8, 9]; expected [E, E]"}},
      {"out_proj.bias one short",
       [&] { load(with(torch_dict(), "out_proj.bias", Tensor(Shape{7})), F::torch_mha); },
       {"torch-mha key out_proj.bias has shape [7]; expected [8]"}},
      {"c_attn.weight one column too many",
       [&] {
         load(with(gpt2_dict(), "c_attn.weight", Tensor(Shape{8, 25})), F::gpt2);
       },
       {"gpt2 key c_attn.weight has shape [8, 25]; expected [8, 24]", "Conv1D"}},
      {"c_attn.weight as nn.Linear's (3E, E)",
       [&] {
         load(with(gpt2_dict(), "c_attn.weight", Tensor(Shape{24, 8})), F::gpt2);
       },
       {"gpt2 key c_attn.weight has shape [24, 8]; expected [8, 24]"}},
      {"c_attn.bias one short, under a prefix",
       [&] {
         load(with(gpt2_dict("state_dict_prefixed"), "h.0.attn.c_attn.bias", Tensor(Shape{23})), F::gpt2, multihead(),
              "h.0.attn.");
       },
       {"gpt2 key h.0.attn.c_attn.bias has shape [23]; expected [24]"}},
      {"gpt2 bias buffer not square",
       [&] {
         load(with(gpt2_dict(), "bias", Tensor(Shape{1, 1, 8, 7})), F::gpt2);
       },
       {"gpt2 key bias has shape [1, 1, 8, 7]; expected [1, 1, n_positions, n_positions]"}},
      {"gpt2 bias buffer not causal",
       [&] { load(with(gpt2_dict(), "bias", not_causal), F::gpt2); },
       {"gpt2 key bias is not the causal mask", "entry [0, 0, 0, 1] is 1, expected 0"}},
      {"masked_bias not a scalar",
       [&] { load(with(gpt2_dict(), "masked_bias", Tensor(Shape{2})), F::gpt2); },
       {"gpt2 key masked_bias has shape [2]; expected [] (a scalar"}},
      {"bias_k present",
       [&] {
         load(with(torch_dict(), "bias_k", Tensor(Shape{1, 1, 8})), F::automatic);
       },
       {"torch-mha key bias_k is not supported", "add_bias_kv=False"}},
      {"bias_v present",
       [&] {
         load(with(torch_dict(), "bias_v", Tensor(Shape{1, 1, 8})), F::torch_mha);
       },
       {"torch-mha key bias_v is not supported"}},
      {"add_zero_attn present",
       [&] { load(with(torch_dict(), "add_zero_attn", Tensor(Shape{})), F::torch_mha); },
       {"torch-mha key add_zero_attn is not supported", "add_zero_attn=False"}},
      {"prefix not found",
       [&] { load(gpt2_dict("state_dict_prefixed"), F::gpt2, multihead(), "h.1.attn."); },
       {"no state_dict key starts with the prefix 'h.1.attn.'", "h.0.attn.bias"}},
      {"prefixed keys without the prefix",
       [&] { load(gpt2_dict("state_dict_prefixed"), F::automatic); },
       {"cannot tell the weights format from the state_dict keys", "h.0.attn.c_attn.weight",
        "expected the prefix 'h.0.attn.'"}},
      {"no format's keys",
       [&] {
         load({{"weight", m8x8}}, F::automatic);
       },
       {"cannot tell the weights format", "saw weight",
        "in_proj_weight or q_proj_weight (torch-mha), c_attn.weight (gpt2) or W_query.weight (book)"}},
      {"two formats' keys",
       [&] { load(with(torch_dict(), "c_attn.weight", m8x8), F::automatic); },
       {"match more than one weights format", "torch-mha (in_proj_weight) and gpt2 (c_attn.weight)"}},
      {"num_heads missing for gpt2",
       [&] { load(gpt2_dict(), F::gpt2, num_heads_0); },
       {"num_heads is required for gpt2 weights", "n_head is not in its state_dict"}},
      {"num_heads not dividing n_embd",
       [&] { load(gpt2_dict(), F::gpt2, heads_3); },
       {"d_out (8) must be divisible by num_heads (3)"}},
      {"gpt2 not causal", [&] { load(gpt2_dict(), F::gpt2, not_causal_config); }, {"gpt2 attention is causal"}},
      {"context_length against the bias buffer",
       [&] { load(gpt2_dict(), F::gpt2, context_5); },
       {"context_length (5) does not match the gpt2 key bias", "expected context_length 8"}},
      {"a non-multihead mechanism, gpt2",
       [&] { load(gpt2_dict(), F::gpt2, causal_mechanism); },
       {"gpt2 weights apply only to multihead; mechanism 'causal'"}},
      {"a non-multihead mechanism, torch keys detected",
       [&] { load(torch_dict(), F::automatic, causal_mechanism); },
       {"torch-mha weights apply only to multihead; mechanism 'causal'"}},
      {"d_in against embed_dim",
       [&] { load(torch_dict(), F::torch_mha, d_in_7); },
       {"d_in (7) does not match the torch-mha state_dict", "out_proj.weight [8, 8]", "expected d_in 8"}},
      {"qkv_bias on, bias=False dict",
       [&] { load(no_bias, F::torch_mha, bias_on); },
       {"qkv_bias is on but the torch-mha state_dict has no in_proj_bias"}},
      {"in_proj_bias without out_proj.bias",
       [&] { load(without(torch_dict(), "out_proj.bias"), F::torch_mha); },
       {"has in_proj_bias but no out_proj.bias", "both", "neither"}},
      {"both packed and separate",
       [&] { load(with(torch_dict(), "q_proj_weight", m8x8), F::torch_mha); },
       {"has both in_proj_weight and q_proj_weight; expected one"}},
      {"kdim against the configured k_dim",
       [&] {
         load(with(with(with(without(torch_dict(), "in_proj_weight"), "q_proj_weight", m8x8), "k_proj_weight",
                        Tensor(Shape{8, 5})),
                   "v_proj_weight", m8x8),
              F::torch_mha, k_dim_6);
       },
       {"torch-mha key k_proj_weight has shape [8, 5]; expected [8, 6] (embed_dim, kdim 6 as configured)"}},
      {"q_proj_weight not square",
       [&] {
         load(with(with(with(without(torch_dict(), "in_proj_weight"), "q_proj_weight", Tensor(Shape{8, 5})),
                        "k_proj_weight", m8x8),
                   "v_proj_weight", m8x8),
              F::torch_mha);
       },
       {"torch-mha key q_proj_weight has shape [8, 5]; expected [8, 8]"}},
      {"kv_heads for torch-mha",
       [&] { load(torch_dict(), F::torch_mha, kv_heads_1); },
       {"torch-mha weights have as many key and value heads as query heads; expected kv_heads 2 or 0, got 1"}},
      {"v_proj_weight missing",
       [&] {
         load(with(with(without(torch_dict(), "in_proj_weight"), "q_proj_weight", m8x8), "k_proj_weight", m8x8),
              F::torch_mha);
       },
       {"torch-mha state_dict is missing key v_proj_weight"}},
      {"out_proj.weight missing",
       [&] { load(without(torch_dict(), "out_proj.weight"), F::torch_mha); },
       {"torch-mha state_dict is missing key out_proj.weight (expected shape [E, E]"}},
      {"NaN in in_proj_weight",
       [&] { load(with(torch_dict(), "in_proj_weight", nan_in_proj), F::torch_mha); },
       {"torch-mha key in_proj_weight contains NaN at index [3, 6]"}},
      {"unknown format name",
       [&] { parse_weights_format("hf"); },
       {"unknown weights format 'hf'; expected one of auto, book, torch-mha, gpt2"}},
      {"writing auto",
       [&] { Module::from_state_dict(multihead(), torch_dict(), F::torch_mha).state_dict(F::automatic); },
       {"expected book, torch-mha or gpt2, got auto"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::string message;
    try {
      c.call();
    } catch (const Error& e) {
      message = e.what();
    }
    ASSERT_FALSE(message.empty()) << "no error";
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const std::string& part : c.says)
      EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nlacks: " << part;
  }
}

TEST(WeightFormatsErrors, WritingWhatAFormatCannotHold) {
  Config c = multihead();
  c.d_in = 3;
  c.d_out = 4;
  const Module wide(c);
  for (WeightsFormat f : {WeightsFormat::torch_mha, WeightsFormat::gpt2}) {
    SCOPED_TRACE(weights_format_name(f));
    std::string message;
    try {
      wide.state_dict(f);
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("need d_in == d_out"), std::string::npos) << message;
    EXPECT_NE(message.find("d_in 3 and d_out 4"), std::string::npos) << message;
  }
  c.d_in = 4;
  c.causal = false;
  std::string message;
  try {
    Module(c).state_dict(WeightsFormat::gpt2);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("gpt2 weights are a causal block; this module is not causal"), std::string::npos) << message;
  Config other;
  other.mechanism = Mechanism::causal;
  other.d_in = other.d_out = 4;
  message.clear();
  try {
    Module(other).state_dict(WeightsFormat::torch_mha);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("torch-mha weights apply only to multihead; mechanism 'causal'"), std::string::npos)
      << message;
  // Book names for every mechanism, as Module::state_dict() has them.
  EXPECT_EQ(Module(other).state_dict(WeightsFormat::book, "p.").front().first, "p.W_query.weight");
}

}  // namespace
}  // namespace attnkit
