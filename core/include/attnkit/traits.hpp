// attnkit — what each mechanism is and has, in one table: every name, default and option list elsewhere
// (mechanism_name, parse_mechanism, Module's defaults, the CLI's help and errors, the JS package) is read from it.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "attnkit/mechanisms.hpp"
#include "attnkit/tensor.hpp"
#include "attnkit/weight_formats.hpp"

namespace attnkit {

struct MechanismTraits {
  Mechanism mechanism;
  const char* name;         // "multihead-wrapper"
  const char* book_class;   // "MultiHeadAttentionWrapper"; "" for simplified
  const char* description;  // one line, the README table's words
  bool default_causal;      // causal when Config::causal is not set (the classes that register_buffer('mask'))
  bool has_parameters;      // false for simplified only
  // The Config options that apply, snake_case, from this fixed set:
  //   "d_out", "num_heads", "kv_heads", "k_dim", "v_dim", "context_length", "causal", "qkv_bias", "dropout",
  //   "causal_route".
  // Module refuses num_heads ≠ 1, dropout > 0, qkv_bias, kv_heads, k_dim and v_dim where they do not apply; d_out is
  // ignored by simplified.
  std::vector<const char*> options;
  // The state_dict formats its parameters load from and write to (attnkit/weight_formats.hpp); never automatic.
  std::vector<WeightsFormat> weights_formats = {WeightsFormat::book};
};

// In all_mechanisms() order.
const std::vector<MechanismTraits>& mechanism_traits();
const MechanismTraits& traits(Mechanism m);
// Whether `option` (one of the names above) applies to m.
bool option_applies(Mechanism m, const std::string& option);

// The state_dict names and shapes a Module with this config has, in PyTorch's order (Module::parameter_shapes
// uses it). Throws Error for a config Module would refuse (d_in 0, heads not dividing d_out, ...).
std::vector<std::pair<std::string, Shape>> parameter_shapes(const Config& config);

}  // namespace attnkit
