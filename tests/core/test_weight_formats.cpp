// attnkit tests — weights in torch.nn.MultiheadAttention's and GPT-2's formats: PyTorch's golden files loaded in
// their own format reproduce torch's outputs, every format round-trips, and float64 references written in each
// format's own terms (Conv1D x·W + b, in_proj rows) agree at sizes around the SIMD width.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "weight_formats_util.hpp"

namespace attnkit {
namespace {

using namespace formats_test;

Config multihead(std::size_t heads) {
  Config c;
  c.mechanism = Mechanism::multihead;
  c.num_heads = heads;
  return c;
}

ForwardResult run(Module& m, const Tensor& x) {
  ForwardOptions o;
  o.return_weights = true;
  return m.forward(x, o);
}

// Weights averaged over heads: (b, h, n, n) → (b, n, n), as need_weights=True returns them.
std::vector<float> averaged(const Tensor& w) {
  const std::size_t b = w.shape[0], h = w.shape[1], nn = w.shape[2] * w.shape[3];
  std::vector<float> out(b * nn);
  for (std::size_t i = 0; i < b; ++i)
    for (std::size_t j = 0; j < nn; ++j) {
      double sum = 0;
      for (std::size_t k = 0; k < h; ++k) sum += w.data[(i * h + k) * nn + j];
      out[i * nn + j] = float(sum / double(h));
    }
  return out;
}

void expect_agrees(const std::string& what, const std::vector<float>& got, const json& want) {
  const Agreement a = agreement(got, doubles(want));
  std::cout << "[ agreement ] " << what << ": " << describe(a) << "\n";
  EXPECT_EQ(a.outside, 0u) << what << ": " << describe(a);
}

TEST(WeightFormatsGolden, MultiheadAttentionFilesInTheirOwnFormat) {
  for (const char* name : {"mha_self_attention.json", "mha_self_attention_per_head.json", "mha_no_bias.json"}) {
    const json g = load_torch(name);
    const Tensor x = tensor(g.at("inputs").at("query"));  // key and value are the same x
    ASSERT_EQ(g.at("inputs").at("key"), g.at("inputs").at("query"));
    for (WeightsFormat f : {WeightsFormat::torch_mha, WeightsFormat::automatic}) {
      SCOPED_TRACE(std::string(name) + " as " + weights_format_name(f));
      Module m = Module::from_state_dict(multihead(2), state_dict(g.at("state_dict")), f);
      EXPECT_FALSE(m.causal());  // nn.MultiheadAttention has no causal mask
      EXPECT_EQ(m.config().qkv_bias, g.at("state_dict").contains("in_proj_bias"));
      const ForwardResult r = run(m, x);
      const std::string what = std::string(name) + " (" + weights_format_name(f) + ")";
      expect_agrees(what + " output", r.context.data, g.at("outputs").at("output"));
      if (!g.at("outputs").contains("weights")) continue;
      const bool per_head = g.at("call").value("average_attn_weights", true) == false;
      expect_agrees(what + " weights", per_head ? r.weights.data : averaged(r.weights), g.at("outputs").at("weights"));
    }
  }
}

TEST(WeightFormatsGolden, Gpt2BlockWithAndWithoutItsPrefix) {
  const json g = load_torch("gpt2_attention_block.json");
  const Tensor x = tensor(g.at("inputs").at("x"));
  for (const auto& [field, prefix] :
       {std::pair<const char*, const char*>{"state_dict", ""}, {"state_dict_prefixed", "h.0.attn."}}) {
    for (WeightsFormat f : {WeightsFormat::gpt2, WeightsFormat::automatic}) {
      const std::string what = std::string("gpt2_attention_block.json ") + field + " (" + weights_format_name(f) + ")";
      SCOPED_TRACE(what);
      Module m = Module::from_state_dict(multihead(2), state_dict(g.at(field)), f, prefix);
      EXPECT_TRUE(m.causal());
      EXPECT_EQ(m.config().context_length, 8u);  // n_positions, from the bias buffer
      ForwardOptions o;
      o.return_weights = o.intermediates = true;
      const ForwardResult r = m.forward(x, o);
      expect_agrees(what + " output", r.context.data, g.at("outputs").at("output"));
      expect_agrees(what + " weights", r.weights.data, g.at("outputs").at("weights"));
      // GPT-2's present key and value are the projected keys and values per head: the layout's split agrees.
      expect_agrees(what + " keys", r.intermediate("keys")->data, g.at("outputs").at("present_key"));
      expect_agrees(what + " values", r.intermediate("values")->data, g.at("outputs").at("present_value"));
    }
  }
}

void expect_same_dict(const StateDict& got, const StateDict& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first);
    EXPECT_EQ(got[i].second.shape, want[i].second.shape) << want[i].first;
    EXPECT_EQ(got[i].second.data, want[i].second.data) << want[i].first;
  }
}

TEST(WeightFormatsRoundTrip, TorchFilesWriteBackAsRead) {
  for (const char* name : {"mha_self_attention.json", "mha_no_bias.json", "mha_attn_mask_float.json",
                           "mha_cross_attention_kdim_vdim.json"}) {
    SCOPED_TRACE(name);
    const StateDict sd = state_dict(load_torch(name).at("state_dict"));
    const Module m = Module::from_state_dict(multihead(2), sd, WeightsFormat::torch_mha);
    expect_same_dict(m.state_dict(WeightsFormat::torch_mha), sd);
    if (find_parameter(sd, "k_proj_weight")) {  // kdim 5, vdim 6: the key and value inputs' widths
      EXPECT_EQ(m.config().k_dim, 5u);
      EXPECT_EQ(m.config().v_dim, 6u);
    }
    expect_same_dict(
        Module::from_state_dict(multihead(2), m.state_dict(WeightsFormat::book), WeightsFormat::book).state_dict(),
        m.state_dict());
  }
  const json g = load_torch("gpt2_attention_block.json");
  for (const auto& [field, prefix] :
       {std::pair<const char*, const char*>{"state_dict", ""}, {"state_dict_prefixed", "h.0.attn."}}) {
    SCOPED_TRACE(field);
    const StateDict sd = state_dict(g.at(field));
    const Module m = Module::from_state_dict(multihead(2), sd, WeightsFormat::gpt2, prefix);
    expect_same_dict(m.state_dict(WeightsFormat::gpt2, prefix), sd);  // the bool mask as 1 and 0, masked_bias -1e4
  }
}

// Sizes around the SIMD width (W = 8 floats in 256-bit registers): 1, 3, 7, W−1, W, W+1, 3W, 8W+2.
const std::size_t kSizes[] = {1, 3, 7, 8, 9, 24, 66};
std::size_t heads_for(std::size_t e) { return e % 3 == 0 ? 3 : e % 2 == 0 ? 2 : 1; }

TEST(WeightFormatsRoundTrip, BookModulesThroughEachFormatAndBack) {
  for (std::size_t e : kSizes) {
    for (bool bias : {true, false}) {
      SCOPED_TRACE("E " + std::to_string(e) + (bias ? " with" : " without") + " qkv bias");
      Config c = multihead(heads_for(e));
      c.d_in = c.d_out = e;
      c.qkv_bias = bias;
      c.context_length = e + 2;
      c.seed = 7 + e;
      const Module book(c);
      for (WeightsFormat f : {WeightsFormat::book, WeightsFormat::torch_mha, WeightsFormat::gpt2}) {
        SCOPED_TRACE(weights_format_name(f));
        Config back = multihead(c.num_heads);
        back.causal = true;
        const Module m = Module::from_state_dict(back, book.state_dict(f, "blk."), WeightsFormat::automatic, "blk.");
        // Every number comes back; a format with biases gives zero ones where the book had none.
        const StateDict got = m.state_dict(WeightsFormat::book);
        for (const auto& [name, t] : book.state_dict()) {
          const Tensor* same = find_parameter(got, name);
          ASSERT_NE(same, nullptr) << name;
          EXPECT_EQ(same->data, t.data) << name;
        }
        for (const auto& [name, t] : got)
          if (!find_parameter(book.state_dict(), name))
            EXPECT_TRUE(std::all_of(t.data.begin(), t.data.end(), [](float v) { return v == 0; })) << name;
        expect_same_dict(m.state_dict(f), book.state_dict(f));
      }
    }
  }
}

// GPT-2's block in float64, in its own terms: y = x·W + b (Conv1D), query | key | value, heads from the last axis;
// causal as GPT-2, or every key as nn.MultiheadAttention without masks.
std::vector<double> gpt2_reference(const Tensor& x, const Tensor& attn_w, const Tensor& attn_b, const Tensor& proj_w,
                                   const Tensor& proj_b, std::size_t heads, bool causal = true) {
  const std::size_t b = x.shape[0], n = x.shape[1], e = x.shape[2], hd = e / heads;
  std::vector<double> qkv(b * n * 3 * e), merged(b * n * e), out(b * n * e);
  for (std::size_t t = 0; t < b * n; ++t)
    for (std::size_t o = 0; o < 3 * e; ++o) {
      double s = attn_b.data[o];
      for (std::size_t i = 0; i < e; ++i) s += double(x.data[t * e + i]) * attn_w.data[i * 3 * e + o];
      qkv[t * 3 * e + o] = s;
    }
  for (std::size_t bi = 0; bi < b; ++bi)
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t keys = causal ? i + 1 : n;
        std::vector<double> w(keys);
        double top = -INFINITY, sum = 0;
        for (std::size_t j = 0; j < keys; ++j) {
          double s = 0;
          for (std::size_t d = 0; d < hd; ++d)
            s += qkv[(bi * n + i) * 3 * e + h * hd + d] * qkv[(bi * n + j) * 3 * e + e + h * hd + d];
          w[j] = s / std::sqrt(double(hd));
          top = std::max(top, w[j]);
        }
        for (double& v : w) sum += (v = std::exp(v - top));
        for (std::size_t d = 0; d < hd; ++d) {
          double s = 0;
          for (std::size_t j = 0; j < keys; ++j) s += w[j] / sum * qkv[(bi * n + j) * 3 * e + 2 * e + h * hd + d];
          merged[(bi * n + i) * e + h * hd + d] = s;
        }
      }
  for (std::size_t t = 0; t < b * n; ++t)
    for (std::size_t o = 0; o < e; ++o) {
      double s = proj_b.data[o];
      for (std::size_t i = 0; i < e; ++i) s += merged[t * e + i] * proj_w.data[i * e + o];
      out[t * e + o] = s;
    }
  return out;
}

TEST(WeightFormatsReference, Gpt2LayoutAgainstFloat64AtSimdSizes) {
  std::uint64_t state = 99;
  for (std::size_t e : kSizes) {
    const std::size_t heads = heads_for(e), n = 5;
    SCOPED_TRACE("n_embd " + std::to_string(e) + ", " + std::to_string(heads) + " heads");
    const double bound = 1.0 / std::sqrt(double(e));  // nn.Linear's: activations stay near 1 at every size
    StateDict sd = {{"c_attn.weight", random_tensor({e, 3 * e}, state, bound)},
                    {"c_attn.bias", random_tensor({3 * e}, state, bound)},
                    {"c_proj.weight", random_tensor({e, e}, state, bound)},
                    {"c_proj.bias", random_tensor({e}, state, bound)}};
    const Tensor x = random_tensor({2, n, e}, state);
    Module m = Module::from_state_dict(multihead(heads), sd, WeightsFormat::gpt2);
    const auto want = gpt2_reference(x, sd[0].second, sd[1].second, sd[2].second, sd[3].second, heads);
    const Agreement a = agreement(run(m, x).context.data, want);
    std::cout << "[ agreement ] gpt2 n_embd " << e << ": " << describe(a) << "\n";
    EXPECT_EQ(a.outside, 0u) << describe(a);
  }
}

TEST(WeightFormatsReference, TorchMhaLayoutAgainstFloat64AtSimdSizes) {
  // in_proj_weight (3E, E) and out_proj.weight are nn.Linear's layout (y = x·Wᵀ + b): the reference above, given their
  // transposes, computes nn.MultiheadAttention without masks.
  std::uint64_t state = 5;
  for (std::size_t e : kSizes) {
    const std::size_t heads = heads_for(e);
    SCOPED_TRACE("embed_dim " + std::to_string(e));
    const double bound = 1.0 / std::sqrt(double(e));
    const Tensor in_w = random_tensor({3 * e, e}, state, bound), in_b = random_tensor({3 * e}, state, bound);
    const Tensor out_w = random_tensor({e, e}, state, bound), out_b = random_tensor({e}, state, bound);
    Tensor attn_w(Shape{e, 3 * e}), proj_w(Shape{e, e});
    for (std::size_t o = 0; o < 3 * e; ++o)
      for (std::size_t i = 0; i < e; ++i) attn_w.data[i * 3 * e + o] = in_w.data[o * e + i];
    for (std::size_t o = 0; o < e; ++o)
      for (std::size_t i = 0; i < e; ++i) proj_w.data[i * e + o] = out_w.data[o * e + i];
    const Tensor x = random_tensor({3, 6, e}, state);
    Module m = Module::from_state_dict(
        multihead(heads),
        {{"in_proj_weight", in_w}, {"in_proj_bias", in_b}, {"out_proj.weight", out_w}, {"out_proj.bias", out_b}},
        WeightsFormat::automatic);
    const Agreement a = agreement(run(m, x).context.data, gpt2_reference(x, attn_w, in_b, proj_w, out_b, heads, false));
    std::cout << "[ agreement ] torch-mha embed_dim " << e << ": " << describe(a) << "\n";
    EXPECT_EQ(a.outside, 0u) << describe(a);
  }
}

}  // namespace
}  // namespace attnkit
