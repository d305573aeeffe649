// attnkit — a Module's parameters loaded from a state_dict: every name and shape checked, the classes'
// mask buffer accepted when it is the mask in use, nothing extra or missing.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_map>

#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "attnkit/parameters.hpp"
#include "module_internal.hpp"

namespace attnkit {

const Tensor* find_parameter(const StateDict& sd, const std::string& name) {
  for (const auto& [key, value] : sd)
    if (key == name) return &value;
  return nullptr;
}

namespace detail {

std::unordered_map<std::string_view, const Tensor*> index_by_name(const StateDict& sd) {
  std::unordered_map<std::string_view, const Tensor*> index;
  index.reserve(sd.size());
  for (const auto& [key, value] : sd) index.emplace(key, &value);
  return index;
}

}  // namespace detail

namespace {

// "heads.<h>.mask" with h written as str(h) does (no sign, no leading zero) and h < num_heads.
bool is_head_mask_key(const std::string& key, std::size_t num_heads) {
  if (key.size() <= 11 || key.rfind("heads.", 0) != 0 || key.compare(key.size() - 5, 5, ".mask") != 0) return false;
  const std::string head = key.substr(6, key.size() - 11);
  if (head.size() > 19 || !std::all_of(head.begin(), head.end(), [](unsigned char c) { return std::isdigit(c); }))
    return false;
  const unsigned long long h = std::strtoull(head.c_str(), nullptr, 10);
  return std::to_string(h) == head && h < num_heads;
}

}  // namespace

void Module::load_parameters(const StateDict& sd) {
  const auto shapes = parameter_shapes();
  auto expected_keys = [&] {
    constexpr std::size_t kListed = 12;  // a wrapper with many heads would otherwise print thousands of names
    std::string s;
    for (std::size_t i = 0; i < shapes.size() && i < kListed; ++i) s += (i ? ", " : "") + shapes[i].first;
    if (shapes.size() > kListed) s += ", … (" + std::to_string(shapes.size()) + " keys in all)";
    return s.empty() ? std::string("none") : s;
  };
  std::unordered_map<std::string_view, std::size_t> expected;
  for (std::size_t i = 0; i < shapes.size(); ++i) expected.emplace(shapes[i].first, i);
  for (const auto& [raw_key, value] : sd) {
    if (expected.count(raw_key)) continue;
    const std::string key = detail::printable(raw_key);
    // The classes' causal mask buffer is in a PyTorch state_dict; accept it when it is the mask we use:
    // "mask" (CausalAttention, MultiHeadAttention) or "heads.<h>.mask" for h < num_heads (the wrapper).
    const bool wrapper = config_.mechanism == Mechanism::multihead_wrapper;
    const bool mask_key =
        detail::has_mask_buffer(config_.mechanism) && (wrapper ? is_head_mask_key(key, num_heads_) : key == "mask");
    if (mask_key) {
      if (value.rank() != 2 || value.shape[0] != value.shape[1])
        throw Error("state_dict key " + key + " has shape " + shape_to_string(value.shape) +
                    ", expected a square [context_length, context_length]");
      if (config_.context_length == 0) config_.context_length = value.shape[0];
      if (value.shape[0] != config_.context_length)
        throw Error("state_dict key " + key + " has shape " + shape_to_string(value.shape) + ", expected [" +
                    std::to_string(config_.context_length) + ", " + std::to_string(config_.context_length) +
                    "] (context_length)");
      continue;
    }
    if (!config_.qkv_bias && key.size() > 5 && key.compare(key.size() - 5, 5, ".bias") == 0 &&
        key.find("out_proj") == std::string::npos && detail::has_linear(config_.mechanism))
      throw Error("state_dict has key " + key + " but qkv_bias is off; turn qkv_bias on to load it");
    throw Error("state_dict has unknown key " + key + "; expected keys " + expected_keys());
  }
  const auto given = detail::index_by_name(sd);
  for (const auto& [name, shape] : shapes) {
    const auto it = given.find(name);
    const Tensor* t = it == given.end() ? nullptr : it->second;
    if (!t) throw Error("state_dict is missing key " + name + " (expected shape " + shape_to_string(shape) + ")");
    if (t->shape != shape)
      throw Error("state_dict key " + name + " has shape " + shape_to_string(t->shape) + ", expected " +
                  shape_to_string(shape));
    check_finite(*t, "state_dict key " + name);
    params_.emplace_back(name, *t);
  }
}

void Module::load_state_dict(const StateDict& state_dict) {
  // Checked into fresh members first, so a refused state_dict leaves the module as it was.
  StateDict previous = std::move(params_);
  const Config previous_config = config_;
  params_.clear();
  try {
    load_parameters(state_dict);
  } catch (...) {
    params_ = std::move(previous);
    config_ = previous_config;
    throw;
  }
  qkv_weight_.clear();
  qkv_bias_.clear();
  pack_parameters();
  tape_.reset();  // its projections were made with the previous parameters
}

}  // namespace attnkit
