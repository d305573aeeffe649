// attnkit — the one table of the six mechanisms (names, the book's classes, defaults, options), and the
// names and shapes of their parameters.
#include "attnkit/traits.hpp"

#include <cstring>
#include <string>
#include <string_view>

#include "attnkit/errors.hpp"
#include "module_internal.hpp"

namespace attnkit {
namespace {

// Causal, dropout and the mask buffer come together: they are what CausalAttention adds to SelfAttention_v2, and
// the wrapper and MultiHeadAttention keep them. context_length, causal and causal_route apply to every mechanism
// (a token limit; the book's §3.5 applies the mask to any scores). A function's static, so code that runs
// before main (another file's static initialiser) finds it built.
const std::vector<MechanismTraits>& table() {
  static const std::vector<MechanismTraits> rows = {
      {Mechanism::simplified,
       "simplified",
       "",
       "scores = x·xᵀ, weights = softmax(scores), context = weights·x",
       false,
       false,
       {"context_length", "causal", "causal_route"}},
      {Mechanism::self_v1,
       "self-v1",
       "SelfAttention_v1",
       "q, k, v = x·W (W is d_in×d_out); softmax(q·kᵀ/√d_k)·v",
       false,
       true,
       {"d_out", "context_length", "causal", "causal_route"}},
      {Mechanism::self,
       "self",
       "SelfAttention_v2",
       "the same with nn.Linear (W is d_out×d_in, x·Wᵀ + b), optional qkv bias",
       false,
       true,
       {"d_out", "k_dim", "v_dim", "context_length", "causal", "qkv_bias", "causal_route"}},
      {Mechanism::causal,
       "causal",
       "CausalAttention",
       "self + mask above the diagonal + dropout on the weights, batched",
       true,
       true,
       {"d_out", "k_dim", "v_dim", "context_length", "causal", "qkv_bias", "dropout", "causal_route"}},
      {Mechanism::multihead_wrapper,
       "multihead-wrapper",
       "MultiHeadAttentionWrapper",
       "h independent causal heads of d_out each, concatenated",
       true,
       true,
       {"d_out", "num_heads", "context_length", "causal", "qkv_bias", "dropout", "causal_route"}},
      {Mechanism::multihead,
       "multihead",
       "MultiHeadAttention",
       "one projection split into h heads of d_out/h, causal or not, dropout, out_proj",
       true,
       true,
       {"d_out", "num_heads", "kv_heads", "k_dim", "v_dim", "context_length", "causal", "qkv_bias", "dropout",
        "causal_route"},
       {WeightsFormat::book, WeightsFormat::torch_mha, WeightsFormat::gpt2}},
  };
  return rows;
}

std::string names_list() {
  std::string s;
  for (const auto& t : table()) s += (s.empty() ? "" : ", ") + std::string(t.name);
  return s;
}

}  // namespace

namespace detail {

bool has_dropout(Mechanism m) { return option_applies(m, "dropout"); }
bool has_heads(Mechanism m) { return option_applies(m, "num_heads"); }
bool has_linear(Mechanism m) { return option_applies(m, "qkv_bias"); }
bool has_mask_buffer(Mechanism m) { return traits(m).default_causal; }

std::string mechanisms_with(const std::string& option) {
  std::vector<const char*> names;
  for (const auto& t : table())
    if (option_applies(t.mechanism, option)) names.push_back(t.name);
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i)
    s += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + std::string(names[i]);
  return s;
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch >= 0x20 && ch != 0x7f) {
      out += static_cast<char>(ch);
      continue;
    }
    static const char hex[] = "0123456789abcdef";
    out += "\\x";
    out += hex[ch >> 4];
    out += hex[ch & 15];
  }
  return out;
}

std::string quoted(const std::string& s) { return "'" + printable(s) + "'"; }

}  // namespace detail

const std::vector<MechanismTraits>& mechanism_traits() { return table(); }

const MechanismTraits& traits(Mechanism m) {
  const auto i = static_cast<std::size_t>(m);
  if (i >= table().size())
    throw Error("unknown mechanism value " + std::to_string(i) + "; expected one of " + names_list());
  return table()[i];
}

bool option_applies(Mechanism m, const std::string& option) {
  for (const char* o : traits(m).options)
    if (option == o) return true;
  return false;
}

const std::vector<Mechanism>& all_mechanisms() {
  static const std::vector<Mechanism> all = [] {
    std::vector<Mechanism> v;
    for (const auto& t : table()) v.push_back(t.mechanism);
    return v;
  }();
  return all;
}

const char* mechanism_name(Mechanism m) { return traits(m).name; }

Mechanism parse_mechanism(std::string_view name) {
  for (const auto& t : table())
    if (name == t.name) return t.mechanism;
  throw Error("unknown mechanism " + detail::quoted(std::string(name)) + "; expected one of " + names_list());
}

std::vector<std::pair<std::string, Shape>> parameter_shapes(const Config& c) {
  detail::check_config(c);
  std::vector<std::pair<std::string, Shape>> shapes;
  auto linear = [&](const std::string& name, std::size_t in, std::size_t out, bool bias) {
    shapes.emplace_back(name + ".weight", Shape{out, in});
    if (bias) shapes.emplace_back(name + ".bias", Shape{out});
  };
  // W_key and W_value read the key and value inputs (k_dim, v_dim: cross-attention) and multihead's have kv_heads
  // heads of head_dim rows (grouped-query projections).
  auto qkv = [&](const std::string& prefix, std::size_t out, std::size_t kv_out) {
    linear(prefix + "W_query", c.d_in, out, c.qkv_bias);
    linear(prefix + "W_key", c.k_dim ? c.k_dim : c.d_in, kv_out, c.qkv_bias);
    linear(prefix + "W_value", c.v_dim ? c.v_dim : c.d_in, kv_out, c.qkv_bias);
  };
  switch (c.mechanism) {
    case Mechanism::simplified: break;
    case Mechanism::self_v1:
      for (const char* n : {"W_query", "W_key", "W_value"}) shapes.emplace_back(n, Shape{c.d_in, c.d_out});
      break;
    case Mechanism::self:
    case Mechanism::causal: qkv("", c.d_out, c.d_out); break;
    case Mechanism::multihead_wrapper:
      for (std::size_t h = 0; h < c.num_heads; ++h) qkv("heads." + std::to_string(h) + ".", c.d_out, c.d_out);
      break;
    case Mechanism::multihead:
      qkv("", c.d_out, (c.kv_heads ? c.kv_heads : c.num_heads) * (c.d_out / c.num_heads));
      linear("out_proj", c.d_out, c.d_out, true);  // out_proj always has a bias, as in the seed
      break;
  }
  return shapes;
}

}  // namespace attnkit
