// attnkit — a Module's configuration, checked once against the traits table (traits.cpp).
// Every mechanism is one pipeline: project x into queries, keys and values (stacked per head), scaled
// dot-product attention per head, then out_proj for multihead. The mechanisms differ only in how
// their parameters map onto that pipeline (draw_parameters.cpp, state_dict.cpp, pack_parameters.cpp, forward.cpp).
#include <string>
#include <utility>

#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "attnkit/traits.hpp"
#include "module_internal.hpp"

namespace attnkit {

using detail::has_dropout;
using detail::has_heads;
using detail::has_linear;
using detail::quoted;

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

namespace detail {

ModuleGeometry check_config(const Config& c) {
  const MechanismTraits& t = traits(c.mechanism);
  const auto mech = [&t] { return quoted(t.name); };  // built only for a message: forward_bytes runs this per call
  if (t.has_parameters) {
    if (c.d_in == 0) throw Error("d_in must be at least 1 (got 0)", ErrorKind::range);
    if (c.d_out == 0) throw Error("d_out must be at least 1 (got 0)", ErrorKind::range);
  }
  if (c.num_heads == 0) throw Error("num_heads must be at least 1 (got 0)", ErrorKind::range);
  if (!has_heads(c.mechanism) && c.num_heads != 1)
    throw Error("num_heads (" + std::to_string(c.num_heads) + ") applies only to " + mechanisms_with("num_heads") +
                    "; expected 1 for mechanism " + mech(),
                ErrorKind::range);
  if (c.mechanism == Mechanism::multihead && c.d_out % c.num_heads != 0)
    throw Error(
        "d_out (" + std::to_string(c.d_out) + ") must be divisible by num_heads (" + std::to_string(c.num_heads) + ")",
        ErrorKind::range);
  for (const auto& [name, value] :
       {std::pair<const char*, std::size_t>{"kv_heads", c.kv_heads}, {"k_dim", c.k_dim}, {"v_dim", c.v_dim}})
    if (value != 0 && !option_applies(c.mechanism, name))
      throw Error(std::string(name) + " (" + std::to_string(value) + ") applies only to " + mechanisms_with(name) +
                      "; expected 0 for mechanism " + mech(),
                  ErrorKind::range);
  if (c.kv_heads != 0 && c.num_heads % c.kv_heads != 0)
    throw Error("kv_heads (" + std::to_string(c.kv_heads) + ") must divide num_heads (" + std::to_string(c.num_heads) +
                    "); expected a divisor of " + std::to_string(c.num_heads),
                ErrorKind::range);
  if (!(c.dropout >= 0.0 && c.dropout < 1.0))
    throw Error("dropout (" + format_number(c.dropout) + ") must be in [0, 1)", ErrorKind::range);
  if (c.dropout > 0.0 && !has_dropout(c.mechanism))
    throw Error("dropout applies only to " + mechanisms_with("dropout") + "; expected 0 for mechanism " + mech(),
                ErrorKind::range);
  if (c.qkv_bias && !has_linear(c.mechanism))
    throw Error("qkv_bias applies only to " + mechanisms_with("qkv_bias") + "; mechanism " + mech() + " has no bias");

  ModuleGeometry g;
  g.causal = c.causal.value_or(t.default_causal);
  g.num_heads = c.num_heads;
  switch (c.mechanism) {
    case Mechanism::simplified: g.head_dim = c.d_in; break;  // 0 until the input says
    case Mechanism::multihead: g.head_dim = c.d_out / c.num_heads; break;
    default: g.head_dim = c.d_out; break;
  }
  // Refuse parameter sizes that cannot be allocated before drawing or loading anything.
  checked_numel({3, g.num_heads, g.head_dim, c.d_in});  // as separate sizes: 3·num_heads·head_dim must not wrap
  return g;
}

}  // namespace detail

void Module::validate_config() {
  const detail::ModuleGeometry g = detail::check_config(config_);
  causal_ = g.causal;
  num_heads_ = g.num_heads;
  head_dim_ = g.head_dim;
}

std::vector<std::pair<std::string, Shape>> Module::parameter_shapes() const {
  return attnkit::parameter_shapes(config_);
}

}  // namespace attnkit
