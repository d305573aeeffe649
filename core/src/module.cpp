// attnkit — a Module's configuration: checked once, and the parameter names and shapes it implies.
// Every mechanism is one pipeline: project x into queries, keys and values (stacked per head), scaled
// dot-product attention per head, then out_proj for multihead. The mechanisms differ only in how
// their parameters map onto that pipeline (draw_parameters.cpp, state_dict.cpp, pack_parameters.cpp, forward.cpp).
#include <string>

#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "module_internal.hpp"

namespace attnkit {

using detail::has_dropout;
using detail::has_heads;
using detail::has_linear;

Module::Module(const Config& config) : config_(config), generator_(config.seed) {
  validate_config();
  draw_parameters();
  pack_parameters();
}

Module::Module(const Config& config, const StateDict& state_dict) : config_(config), generator_(config.seed) {
  validate_config();
  load_parameters(state_dict);
  pack_parameters();
}

void Module::validate_config() {
  const Config& c = config_;
  const std::string mech = detail::quoted(mechanism_name(c.mechanism));
  if (c.mechanism != Mechanism::simplified) {
    if (c.d_in == 0) throw Error("d_in must be at least 1 (got 0)", ErrorKind::range);
    if (c.d_out == 0) throw Error("d_out must be at least 1 (got 0)", ErrorKind::range);
  }
  if (c.num_heads == 0) throw Error("num_heads must be at least 1 (got 0)", ErrorKind::range);
  if (!has_heads(c.mechanism) && c.num_heads != 1)
    throw Error("num_heads (" + std::to_string(c.num_heads) + ") applies only to multihead and multihead-wrapper; expected 1 for mechanism " + mech,
                ErrorKind::range);
  if (c.mechanism == Mechanism::multihead && c.d_out % c.num_heads != 0)
    throw Error("d_out (" + std::to_string(c.d_out) + ") must be divisible by num_heads (" + std::to_string(c.num_heads) + ")",
                ErrorKind::range);
  if (!(c.dropout >= 0.0 && c.dropout < 1.0))
    throw Error("dropout (" + format_number(c.dropout) + ") must be in [0, 1)", ErrorKind::range);
  if (c.dropout > 0.0 && !has_dropout(c.mechanism))
    throw Error("dropout applies only to causal, multihead-wrapper and multihead; expected 0 for mechanism " + mech, ErrorKind::range);
  if (c.qkv_bias && !has_linear(c.mechanism))
    throw Error("qkv_bias applies only to self, causal, multihead-wrapper and multihead; mechanism " + mech + " has no bias");

  causal_ = c.causal.value_or(has_dropout(c.mechanism));
  num_heads_ = c.num_heads;
  switch (c.mechanism) {
    case Mechanism::simplified: head_dim_ = c.d_in; break;
    case Mechanism::multihead: head_dim_ = c.d_out / c.num_heads; break;
    default: head_dim_ = c.d_out; break;
  }
  // Refuse parameter sizes that cannot be allocated before drawing or loading anything.
  checked_numel({3, num_heads_, head_dim_, c.d_in});  // as separate sizes: 3·num_heads·head_dim must not wrap
}

std::vector<std::pair<std::string, Shape>> Module::parameter_shapes() const {
  const Config& c = config_;
  std::vector<std::pair<std::string, Shape>> shapes;
  auto linear = [&](const std::string& name, std::size_t in, std::size_t out, bool bias) {
    shapes.emplace_back(name + ".weight", Shape{out, in});
    if (bias) shapes.emplace_back(name + ".bias", Shape{out});
  };
  auto qkv = [&](const std::string& prefix, std::size_t out) {
    for (const char* n : {"W_query", "W_key", "W_value"}) linear(prefix + n, c.d_in, out, c.qkv_bias);
  };
  switch (c.mechanism) {
    case Mechanism::simplified: break;
    case Mechanism::self_v1:
      for (const char* n : {"W_query", "W_key", "W_value"}) shapes.emplace_back(n, Shape{c.d_in, c.d_out});
      break;
    case Mechanism::self:
    case Mechanism::causal: qkv("", c.d_out); break;
    case Mechanism::multihead_wrapper:
      for (std::size_t h = 0; h < c.num_heads; ++h) qkv("heads." + std::to_string(h) + ".", c.d_out);
      break;
    case Mechanism::multihead:
      qkv("", c.d_out);
      linear("out_proj", c.d_out, c.d_out, true);  // out_proj always has a bias, as in the seed
      break;
  }
  return shapes;
}

}  // namespace attnkit
