// The golden files from PyTorch (tests/golden/torch/, written by scripts/make_torch_golden.py): every file
// has the documented fields with the shapes it states, and attnkit's forward matches torch wherever it
// can compute the case today (nn.MultiheadAttention without masks, the book's classes, dropout draws,
// the first loss of each training run). The rest (masks, the op, GPT-2, gradients) is for the suites
// of those features.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "native_test_util.hpp"

namespace attnkit::test {
namespace {

const std::string kTorchDir = std::string(ATTNKIT_GOLDEN_DIR) + "/torch/";

std::vector<std::string> torch_files() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(kTorchDir)) {
    if (entry.path().extension() == ".json") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Json torch_golden(const std::string& name) { return golden("torch/" + name); }

// The shape of a rectangular nested list (of numbers, booleans or the strings "nan", "inf", "-inf");
// an empty optional for a ragged one.
std::optional<std::vector<std::size_t>> shape_of(const Json& v) {
  if (!v.is_array()) {
    if (v.is_number() || v.is_boolean()) return std::vector<std::size_t>{};
    if (v.is_string() && (v == "nan" || v == "inf" || v == "-inf")) return std::vector<std::size_t>{};
    return std::nullopt;
  }
  std::optional<std::vector<std::size_t>> inner;
  for (const auto& e : v) {
    auto s = shape_of(e);
    if (!s || (inner && *s != *inner)) return std::nullopt;
    inner = s;
  }
  std::vector<std::size_t> shape = {v.size()};
  if (inner) shape.insert(shape.end(), inner->begin(), inner->end());
  return shape;
}

std::vector<double> doubles(const Json& nested) {
  std::vector<double> out;
  for (float f : flatten(nested)) out.push_back(f);  // the files hold float32 values
  return out;
}

Tensor tensor(const Json& nested, const std::string& name) { return cli::tensor_from_json(nested, name); }

// Rows [begin, end) of a matrix, or entries of a vector.
Tensor rows(const Tensor& t, std::size_t begin, std::size_t end) {
  const std::size_t width = t.rank() == 2 ? t.shape[1] : 1;
  Shape shape = t.shape;
  shape[0] = end - begin;
  return Tensor(shape, std::vector<float>(t.data.begin() + begin * width, t.data.begin() + end * width));
}

TEST(TorchGolden, EveryFileParsesWithTheDocumentedFields) {
  const std::vector<std::string> names = torch_files();
  ASSERT_GE(names.size(), 32u);
  const std::set<std::string> kinds = {"nn.MultiheadAttention", "sdpa", "gpt2_attention", "grad", "train", "model"};
  std::set<std::string> seen_kinds;
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    EXPECT_LT(std::filesystem::file_size(kTorchDir + name), 200u * 1024u);
    const Json g = torch_golden(name);
    for (const char* field : {"torch_version", "generator", "kind", "case", "description", "construction", "call",
                              "seed", "computed_in", "inputs", "state_dict", "outputs", "shapes", "notes"}) {
      EXPECT_TRUE(g.contains(field)) << field;
    }
    EXPECT_EQ(g.at("torch_version").get<std::string>().rfind("1.13", 0), 0u);
    EXPECT_EQ(g.at("generator"), "scripts/make_torch_golden.py");
    const std::string kind = g.at("kind");
    EXPECT_TRUE(kinds.count(kind)) << kind;
    seen_kinds.insert(kind);
    EXPECT_TRUE(g.at("computed_in") == "float64" || g.at("computed_in") == "float32");
    EXPECT_TRUE(g.at("seed").is_number_integer());
    EXPECT_FALSE(g.at("inputs").empty());
    EXPECT_FALSE(g.at("outputs").empty());
    // Every stated shape is the shape of the nested list it names, and every tensor has one.
    std::size_t tensors = 0;
    for (const char* section : {"inputs", "state_dict", "outputs"}) {
      for (const auto& [key, value] : g.at(section).items()) {
        const bool group = value.is_object();  // outputs.grads, outputs.state_dict_final
        Json members = Json::object();
        if (group) members = value;
        else members[key] = value;
        for (const auto& [inner, tensor_json] : members.items()) {
          const std::string path = std::string(section) + "." + (group ? key + "." : "") + inner;
          ASSERT_TRUE(g.at("shapes").contains(path)) << path;
          const auto shape = shape_of(tensor_json);
          ASSERT_TRUE(shape.has_value()) << path << " is ragged";
          EXPECT_EQ(*shape, g.at("shapes").at(path).get<std::vector<std::size_t>>()) << path;
          ++tensors;
        }
      }
    }
    EXPECT_EQ(tensors, g.at("shapes").size());
    const Json& in = g.at("inputs");
    const Json& out = g.at("outputs");
    if (kind == "nn.MultiheadAttention" || kind == "sdpa") {
      for (const char* t : {"query", "key", "value"}) EXPECT_TRUE(in.contains(t)) << t;
      EXPECT_TRUE(out.contains("output"));
    }
    if (kind == "sdpa") {
      for (const char* t : {"weights", "weights_averaged_over_heads"}) EXPECT_TRUE(out.contains(t)) << t;
      EXPECT_EQ(g.at("call").at("kv_head_of_query_head").size(), g.at("shapes").at("inputs.query")[1]);
    }
    if (kind == "gpt2_attention") {
      for (const auto& [key, value] : g.at("state_dict").items())
        EXPECT_EQ(g.at("state_dict_prefixed").at("h.0.attn." + key), value);
      for (const char* t : {"c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias", "bias", "masked_bias"})
        EXPECT_TRUE(g.at("state_dict").contains(t)) << t;
    }
    if (kind == "grad") {
      for (const char* t : {"x", "grad_output"}) EXPECT_TRUE(in.contains(t)) << t;
      EXPECT_EQ(g.at("shapes").at("inputs.grad_output"), g.at("shapes").at("outputs.context"));
      EXPECT_EQ(g.at("shapes").at("outputs.grad_input"), g.at("shapes").at("inputs.x"));
      // A gradient for every parameter: every state_dict entry except the mask buffers.
      for (const auto& [key, value] : g.at("state_dict").items()) {
        const bool buffer = key == "mask" || (key.size() > 5 && key.compare(key.size() - 5, 5, ".mask") == 0);
        EXPECT_EQ(out.at("grads").contains(key), !buffer) << key;
        if (!buffer)
          EXPECT_EQ(g.at("shapes").at("outputs.grads." + key), g.at("shapes").at("state_dict." + key)) << key;
      }
    }
    if (kind == "train") {
      EXPECT_EQ(out.at("losses").size(), 51u);
      EXPECT_EQ(out.at("losses_float64").size(), 51u);
      EXPECT_EQ(g.at("call").at("steps"), 50);
      for (const auto& [key, value] : g.at("state_dict").items())
        EXPECT_TRUE(out.at("state_dict_final").contains(key)) << key;
    }
    if (kind == "model") {  // the tiny model (scripts/torch_golden/cases_model.py)
      EXPECT_EQ(out.at("losses").size(), g.at("call").at("steps").get<std::size_t>() + 1);
      EXPECT_EQ(out.at("loss").size(), 1u);
      for (const auto& [key, value] : g.at("state_dict").items())
        EXPECT_EQ(out.at("grads").contains(key), key != "attention.mask") << key;
    }
  }
  EXPECT_EQ(seen_kinds, kinds);
}

// nn.MultiheadAttention's in_proj_weight (3E, E) is W_query; W_key; W_value stacked: attnkit's non-causal
// multihead with qkv_bias computes the same module (bias=False is the same with zero biases).
StateDict multihead_from_torch(const Json& sd, std::size_t e) {
  const Tensor in_proj = tensor(sd.at("in_proj_weight"), "in_proj_weight");
  const bool bias = sd.contains("in_proj_bias");
  const Tensor in_bias = bias ? tensor(sd.at("in_proj_bias"), "in_proj_bias") : Tensor(Shape{3 * e});
  StateDict out;
  const char* names[] = {"W_query", "W_key", "W_value"};
  for (std::size_t i = 0; i < 3; ++i) {
    out.emplace_back(std::string(names[i]) + ".weight", rows(in_proj, i * e, (i + 1) * e));
    out.emplace_back(std::string(names[i]) + ".bias", rows(in_bias, i * e, (i + 1) * e));
  }
  out.emplace_back("out_proj.weight", tensor(sd.at("out_proj.weight"), "out_proj.weight"));
  out.emplace_back("out_proj.bias", bias ? tensor(sd.at("out_proj.bias"), "out_proj.bias") : Tensor(Shape{e}));
  return out;
}

TEST(TorchGolden, MultiheadAttentionWithoutMasksIsAttnkitsMultihead) {
  for (const char* name : {"mha_self_attention.json", "mha_self_attention_per_head.json", "mha_no_bias.json"}) {
    SCOPED_TRACE(name);
    const Json g = torch_golden(name);
    const Tensor x = tensor(g.at("inputs").at("query"), "query");  // (b, n, E); key and value are x too
    ASSERT_EQ(g.at("inputs").at("key"), g.at("inputs").at("query"));
    const std::size_t e = x.shape[2], heads = 2;
    ASSERT_NE(g.at("construction").get<std::string>().find("MultiheadAttention(8, 2,"), std::string::npos);
    Config c;
    c.mechanism = Mechanism::multihead;
    c.d_in = c.d_out = e;
    c.num_heads = heads;
    c.causal = false;
    c.qkv_bias = true;
    Module module(c, multihead_from_torch(g.at("state_dict"), e));
    ForwardOptions options;
    options.return_weights = true;
    const ForwardResult r = module.forward(x, options);
    EXPECT_LE(max_rel_diff(r.context.data, doubles(g.at("outputs").at("output"))), 1e-5);
    if (!g.at("outputs").contains("weights")) continue;
    const auto& weights_shape = g.at("shapes").at("outputs.weights");
    std::vector<float> weights = r.weights.data;  // (b, h, n, n)
    if (weights_shape.size() == 3) {              // averaged over heads: (b, n, n)
      const std::size_t b = x.shape[0], nn = x.shape[1] * x.shape[1];
      std::vector<float> mean(b * nn);
      for (std::size_t i = 0; i < b; ++i)
        for (std::size_t h = 0; h < heads; ++h)
          for (std::size_t j = 0; j < nn; ++j) mean[i * nn + j] += weights[(i * heads + h) * nn + j] / heads;
      weights = mean;
    }
    EXPECT_LE(max_rel_diff(weights, doubles(g.at("outputs").at("weights"))), 1e-5);
  }
}

struct BookCase {
  const char* file;
  const char* construction;  // checked against the file, so the table cannot drift from it
  Mechanism mechanism;
  std::size_t d_in, d_out, heads, context_length;
  bool qkv_bias;
};

// The forward of each gradient file's module: the book's classes in float64 (no dropout), and in
// float32 with dropout, where attnkit draws the parameters and then the dropout mask from the seed.
TEST(TorchGolden, TheBooksClassesForwardAsInTorch) {
  const BookCase cases[] = {
      {"grad_self_attention_v1.json", "SelfAttention_v1(d_in=3, d_out=2)", Mechanism::self_v1, 3, 2, 1, 0, false},
      {"grad_self_attention_v2.json", "SelfAttention_v2(d_in=4, d_out=6, qkv_bias=True)", Mechanism::self, 4, 6, 1, 0,
       true},
      {"grad_causal_attention.json", "CausalAttention(d_in=4, d_out=6, context_length=7, dropout=0.0)",
       Mechanism::causal, 4, 6, 1, 7, false},
      {"grad_multihead_wrapper.json",
       "MultiHeadAttentionWrapper(d_in=4, d_out=2, context_length=5, dropout=0.0, num_heads=3, qkv_bias=True)",
       Mechanism::multihead_wrapper, 4, 2, 3, 5, true},
      {"grad_multihead_attention.json",
       "MultiHeadAttention(d_in=4, d_out=6, context_length=5, dropout=0.0, num_heads=3, qkv_bias=True)",
       Mechanism::multihead, 4, 6, 3, 5, true},
      {"grad_causal_attention_dropout_train.json", "CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.5)",
       Mechanism::causal, 3, 2, 1, 6, false},
      {"grad_multihead_attention_dropout_train.json",
       "MultiHeadAttention(d_in=3, d_out=4, context_length=6, dropout=0.5, num_heads=2)", Mechanism::multihead, 3, 4, 2,
       6, false},
  };
  for (const BookCase& bc : cases) {
    SCOPED_TRACE(bc.file);
    const Json g = torch_golden(bc.file);
    ASSERT_EQ(g.at("construction"), bc.construction);
    Config c;
    c.mechanism = bc.mechanism;
    c.d_in = bc.d_in;
    c.d_out = bc.d_out;
    c.num_heads = bc.heads;
    c.context_length = bc.context_length;
    c.qkv_bias = bc.qkv_bias;
    c.seed = g.at("seed");
    const bool train = g.at("call").at("train");
    if (train) c.dropout = 0.5;
    StateDict sd;
    for (const auto& [key, value] : g.at("state_dict").items()) sd.emplace_back(key, tensor(value, key));
    // With dropout the parameters come from the seed, as in torch: they must be the file's.
    Module module = train ? Module(c) : Module(c, sd);
    if (train) {
      const StateDict drawn = module.state_dict();
      for (const auto& [key, value] : sd) {
        if (key == "mask") continue;
        const Tensor* mine = find_parameter(drawn, key);
        ASSERT_NE(mine, nullptr) << key;
        EXPECT_EQ(mine->data, value.data) << key;
      }
    }
    ForwardOptions options;
    options.train = train;
    options.intermediates = train;
    const ForwardResult r = module.forward(tensor(g.at("inputs").at("x"), "x"), options);
    EXPECT_LE(max_rel_diff(r.context.data, doubles(g.at("outputs").at("context"))), 1e-5);
    if (train) {
      const Tensor* dropped = r.intermediate("weights_after_dropout");
      ASSERT_NE(dropped, nullptr);
      EXPECT_LE(max_rel_diff(dropped->data, doubles(g.at("outputs").at("weights_after_dropout"))), 1e-6);
    }
  }
}

// Each training run starts from the file's state_dict; its first loss is attnkit's forward.
TEST(TorchGolden, TrainingRunsStartFromAttnkitsLoss) {
  for (const std::string& name : torch_files()) {
    if (name.rfind("train_", 0) != 0) continue;
    SCOPED_TRACE(name);
    const Json g = torch_golden(name);
    Config c;
    c.mechanism = Mechanism::multihead;
    c.d_in = 3;
    c.d_out = 4;
    c.num_heads = 2;
    c.context_length = 6;
    ASSERT_NE(g.at("construction")
                  .get<std::string>()
                  .find("MultiHeadAttention(d_in=3, d_out=4, context_length=6, dropout=0.0, num_heads=2)"),
              std::string::npos);
    StateDict sd;
    for (const auto& [key, value] : g.at("state_dict").items()) sd.emplace_back(key, tensor(value, key));
    Module module(c, sd);
    const Tensor context = module.forward(tensor(g.at("inputs").at("x"), "x")).context;
    const std::vector<float> target = flatten(g.at("inputs").at("target"));
    ASSERT_EQ(context.data.size(), target.size());
    double loss = 0;
    for (std::size_t i = 0; i < target.size(); ++i) loss += std::pow(double(context.data[i]) - target[i], 2);
    loss /= double(target.size());
    const double torch_loss = g.at("outputs").at("losses")[0];
    EXPECT_NEAR(loss, torch_loss, 1e-5 * torch_loss);
    // float32's drift over the 50 steps, as torch itself shows it: far inside the 1e-4 the training suite allows.
    for (std::size_t i = 0; i < 51; ++i) {
      const double l32 = g.at("outputs").at("losses")[i], l64 = g.at("outputs").at("losses_float64")[i];
      EXPECT_NEAR(l32, l64, 1e-5 * l64) << i;
    }
  }
}

}  // namespace
}  // namespace attnkit::test
