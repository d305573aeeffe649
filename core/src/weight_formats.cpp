// attnkit — the weights formats' names, telling them apart from the key names, the prefix, and Module's entry
// points; the layouts themselves are in weights_conversion.cpp.
#include "attnkit/weight_formats.hpp"

#include <algorithm>

#include "attnkit/errors.hpp"
#include "attnkit/traits.hpp"
#include "module_internal.hpp"
#include "weights_internal.hpp"

namespace attnkit {
namespace {

using detail::PrefixedKeys;
using detail::printable;
using detail::quoted;

std::string names_list() {
  std::string s;
  for (WeightsFormat f : all_weights_formats()) s += (s.empty() ? "" : ", ") + std::string(weights_format_name(f));
  return s;
}

// "a, b, c, … (40 keys in all)": enough to recognise a state_dict without printing a whole model's.
std::string keys_seen(const std::vector<std::string>& keys) {
  constexpr std::size_t kListed = 8;
  std::string s;
  for (std::size_t i = 0; i < keys.size() && i < kListed; ++i) s += (i ? ", " : "") + printable(keys[i]);
  if (keys.size() > kListed) s += ", … (" + std::to_string(keys.size()) + " keys in all)";
  return s.empty() ? std::string("no keys") : s;
}

PrefixedKeys under_prefix(const StateDict& sd, const std::string& prefix) {
  PrefixedKeys keys;
  for (const auto& [key, value] : sd)
    if (key.compare(0, prefix.size(), prefix) == 0) keys.emplace_back(key.substr(prefix.size()), &value);
  if (!prefix.empty() && keys.empty()) {
    std::vector<std::string> all;
    for (const auto& entry : sd) all.push_back(entry.first);
    throw Error("no state_dict key starts with the prefix " + quoted(prefix) + " (saw " + keys_seen(all) +
                "); expected a prefix that some keys start with, e.g. 'h.0.attn.'");
  }
  return keys;
}

// The key by which each format is known (the first one present), or "" when none of its keys is.
std::string marker(WeightsFormat f, const PrefixedKeys& keys) {
  auto is_marker = [f](const std::string& key) {
    switch (f) {
      case WeightsFormat::torch_mha:
        return key == "in_proj_weight" || key == "in_proj_bias" || key == "q_proj_weight" || key == "k_proj_weight" ||
               key == "v_proj_weight" || key == "bias_k" || key == "bias_v";
      case WeightsFormat::gpt2: return key.rfind("c_attn.", 0) == 0 || key.rfind("c_proj.", 0) == 0;
      case WeightsFormat::book:
        return key.rfind("W_query", 0) == 0 || key.rfind("W_key", 0) == 0 || key.rfind("W_value", 0) == 0 ||
               key.rfind("heads.", 0) == 0;
      default: return false;
    }
  };
  for (const auto& entry : keys)
    if (is_marker(entry.first)) return entry.first;
  return "";
}

const char* marker_help(WeightsFormat f) {
  switch (f) {
    case WeightsFormat::torch_mha: return "in_proj_weight or q_proj_weight (torch-mha)";
    case WeightsFormat::gpt2: return "c_attn.weight (gpt2)";
    default: return "W_query.weight (book)";
  }
}

WeightsFormat detect(const PrefixedKeys& keys, const std::string& prefix) {
  if (keys.empty()) return WeightsFormat::book;  // simplified's empty state_dict; Module names what is missing
  std::vector<std::pair<WeightsFormat, std::string>> found;
  for (WeightsFormat f : {WeightsFormat::book, WeightsFormat::torch_mha, WeightsFormat::gpt2}) {
    const std::string key = marker(f, keys);
    if (!key.empty()) found.emplace_back(f, key);
  }
  if (found.size() == 1) return found[0].first;
  std::vector<std::string> names;
  for (const auto& entry : keys) names.push_back(prefix + entry.first);
  if (found.empty()) {
    std::string hint;
    for (const std::string& key : names) {
      for (const char* tail : {"c_attn.weight", "in_proj_weight", "W_query.weight"}) {
        const std::string t = std::string(".") + tail;
        if (hint.empty() && key.size() > t.size() && key.compare(key.size() - t.size(), t.size(), t) == 0)
          hint = "; the keys look prefixed: expected the prefix " + quoted(key.substr(0, key.size() - t.size() + 1));
      }
    }
    throw Error("cannot tell the weights format from the state_dict keys (saw " + keys_seen(names) + "); expected " +
                marker_help(WeightsFormat::torch_mha) + ", " + marker_help(WeightsFormat::gpt2) + " or " +
                marker_help(WeightsFormat::book) + hint);
  }
  std::string both;
  for (std::size_t i = 0; i < found.size(); ++i)
    both += std::string(i ? " and " : "") + weights_format_name(found[i].first) + " (" + prefix + found[i].second + ")";
  throw Error("the state_dict keys match more than one weights format: " + both + "; expected the keys of one");
}

void check_applies(Mechanism m, WeightsFormat f) {
  const auto& formats = traits(m).weights_formats;
  if (std::find(formats.begin(), formats.end(), f) != formats.end()) return;
  std::string with;
  for (Mechanism other : all_mechanisms()) {
    const auto& o = traits(other).weights_formats;
    if (std::find(o.begin(), o.end(), f) != o.end())
      with += (with.empty() ? "" : ", ") + std::string(mechanism_name(other));
  }
  throw Error(std::string(weights_format_name(f)) + " weights apply only to " + with + "; mechanism " +
              quoted(mechanism_name(m)) + " loads the book's state_dict names (weights format book)");
}

}  // namespace

const std::vector<WeightsFormat>& all_weights_formats() {
  static const std::vector<WeightsFormat> all = {WeightsFormat::automatic, WeightsFormat::book,
                                                 WeightsFormat::torch_mha, WeightsFormat::gpt2};
  return all;
}

const char* weights_format_name(WeightsFormat format) {
  switch (format) {
    case WeightsFormat::automatic: return "auto";
    case WeightsFormat::book: return "book";
    case WeightsFormat::torch_mha: return "torch-mha";
    case WeightsFormat::gpt2: return "gpt2";
  }
  throw Error("unknown weights format value " + std::to_string(static_cast<int>(format)) + "; expected one of " +
              names_list());
}

WeightsFormat parse_weights_format(std::string_view name) {
  for (WeightsFormat f : all_weights_formats())
    if (name == weights_format_name(f)) return f;
  throw Error("unknown weights format " + quoted(std::string(name)) + "; expected one of " + names_list());
}

WeightsFormat detect_weights_format(const StateDict& state_dict, const std::string& prefix) {
  return detect(under_prefix(state_dict, prefix), prefix);
}

BookWeights weights_to_book(const Config& config, const StateDict& state_dict, WeightsFormat format,
                            const std::string& prefix) {
  const PrefixedKeys keys = under_prefix(state_dict, prefix);
  WeightsFormat f = format;
  if (f == WeightsFormat::automatic) {
    try {
      f = detect(keys, prefix);
    } catch (const Error&) {
      // A mechanism that loads only the book's names: Module's own message names the unknown keys.
      if (traits(config.mechanism).weights_formats.size() > 1) throw;
      f = WeightsFormat::book;
    }
  } else if (!keys.empty()) {
    // A format given explicitly whose keys are plainly another's: say so, rather than "unknown key".
    const char* name = weights_format_name(f);
    for (WeightsFormat other : {WeightsFormat::book, WeightsFormat::torch_mha, WeightsFormat::gpt2}) {
      const std::string key = other == f ? "" : marker(other, keys);
      if (!key.empty() && marker(f, keys).empty())
        throw Error(std::string("weights format ") + name + " does not match the state_dict keys: " + prefix + key +
                    " is " + weights_format_name(other) + "'s; expected " + marker_help(f) + ", or weights format " +
                    weights_format_name(other) + " or auto");
    }
  }
  check_applies(config.mechanism, f);
  switch (f) {
    case WeightsFormat::torch_mha: return detail::torch_mha_to_book(config, keys, prefix);
    case WeightsFormat::gpt2: return detail::gpt2_to_book(config, keys, prefix);
    default: break;
  }
  BookWeights book;
  book.config = config;
  for (const auto& [key, tensor] : keys) book.state_dict.emplace_back(key, *tensor);
  if (config.mechanism == Mechanism::multihead) {
    // What the book's names say, where the config leaves it open (Module checks the rest against it).
    const Tensor* query = find_parameter(book.state_dict, "W_query.weight");
    if (query && query->rank() == 2) {
      if (book.config.d_out == 0) book.config.d_out = query->shape[0];
      if (book.config.d_in == 0) book.config.d_in = query->shape[1];
    }
    const Tensor* key = find_parameter(book.state_dict, "W_key.weight");
    const Tensor* value = find_parameter(book.state_dict, "W_value.weight");
    const std::size_t d_in = book.config.d_in, d_out = book.config.d_out, heads = book.config.num_heads;
    if (key && key->rank() == 2 && book.config.k_dim == 0 && key->shape[1] != d_in) book.config.k_dim = key->shape[1];
    if (value && value->rank() == 2 && book.config.v_dim == 0 && value->shape[1] != d_in)
      book.config.v_dim = value->shape[1];
    // Grouped-query projections: W_key of kv_heads·head_dim rows.
    if (key && key->rank() == 2 && book.config.kv_heads == 0 && heads && d_out % heads == 0 && d_out / heads &&
        key->shape[0] != d_out && key->shape[0] % (d_out / heads) == 0)
      book.config.kv_heads = key->shape[0] / (d_out / heads);
    if (find_parameter(book.state_dict, "W_query.bias")) book.config.qkv_bias = true;
    const Tensor* mask = find_parameter(book.state_dict, "mask");
    if (mask && mask->rank() == 2 && book.config.context_length == 0) book.config.context_length = mask->shape[0];
  }
  return book;
}

StateDict weights_from_book(const Config& config, const StateDict& book, WeightsFormat format,
                            const std::string& prefix) {
  if (format == WeightsFormat::automatic)
    throw Error("a state_dict is written in one format; expected book, torch-mha or gpt2, got auto");
  check_applies(config.mechanism, format);
  switch (format) {
    case WeightsFormat::torch_mha: return detail::book_to_torch_mha(config, book, prefix);
    case WeightsFormat::gpt2: return detail::book_to_gpt2(config, book, prefix);
    default: break;
  }
  StateDict out;
  for (const auto& [key, tensor] : book) out.emplace_back(prefix + key, tensor);
  return out;
}

Module Module::from_state_dict(const Config& config, const StateDict& state_dict, WeightsFormat format,
                               const std::string& prefix) {
  const BookWeights book = weights_to_book(config, state_dict, format, prefix);
  return Module(book.config, book.state_dict);
}

StateDict Module::state_dict(WeightsFormat format, const std::string& prefix) const {
  Config c = config_;
  c.causal = causal_;
  return weights_from_book(c, params_, format, prefix);
}

}  // namespace attnkit
