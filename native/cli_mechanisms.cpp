// attnkit CLI — what the command line says about the mechanisms, all read from the core's traits table
// (attnkit/traits.hpp): the --mechanism help and its list of names, which options apply, and the errors
// for an option given to a mechanism it does not apply to.
#include <algorithm>
#include <string>
#include <vector>

#include "cli.hpp"

namespace attnkit::cli {
namespace {

// "a, b or c" (last = " or ") or "a, b and c".
std::string join(const std::vector<std::string>& items, const char* last) {
  std::string s;
  for (std::size_t i = 0; i < items.size(); ++i) s += (i == 0 ? "" : i + 1 == items.size() ? last : ", ") + items[i];
  return s;
}

}  // namespace

std::string mechanism_names(const char* last) {
  std::vector<std::string> names;
  for (const auto& t : mechanism_traits()) names.emplace_back(t.name);
  return join(names, last);
}

std::string mechanisms_with(const std::string& option) {
  std::vector<std::string> names;
  for (const auto& t : mechanism_traits())
    if (option_applies(t.mechanism, option)) names.emplace_back(t.name);
  return join(names, " and ");
}

std::string mechanisms_with_default_causal() {
  std::vector<std::string> names;
  for (const auto& t : mechanism_traits())
    if (t.default_causal) names.emplace_back(t.name);
  return join(names, " and ");
}

std::string mechanisms_help() {
  std::size_t width = 0;
  for (const auto& t : mechanism_traits()) width = std::max(width, std::string(t.name).size());
  std::string s = "Mechanisms (--mechanism):";
  for (const auto& t : mechanism_traits()) {
    const std::string name = t.name;
    s += "\n  " + name + std::string(width + 2 - name.size(), ' ') + t.description;
    if (*t.book_class) s += " (" + std::string(t.book_class) + ")";
  }
  return s;
}

void check_options_apply(Mechanism m, const RunOptions& o) {
  const MechanismTraits& t = traits(m);
  // Each option the command line was given: its flag, the Config option, and the value as shown.
  struct Given {
    const char* flag;
    const char* option;
    std::string value;  // empty for flags
  };
  std::vector<Given> given;
  if (o.d_out) given.push_back({"--d-out", "d_out", std::to_string(*o.d_out)});
  if (o.heads) given.push_back({"--heads", "num_heads", std::to_string(*o.heads)});
  if (o.kv_heads) given.push_back({"--kv-heads", "kv_heads", std::to_string(*o.kv_heads)});
  if (o.k_dim) given.push_back({"--k-dim", "k_dim", std::to_string(*o.k_dim)});
  if (o.v_dim) given.push_back({"--v-dim", "v_dim", std::to_string(*o.v_dim)});
  if (o.context_length) given.push_back({"--context-length", "context_length", std::to_string(*o.context_length)});
  if (o.causal) given.push_back({*o.causal ? "--causal" : "--no-causal", "causal", ""});
  if (o.qkv_bias) given.push_back({"--qkv-bias", "qkv_bias", ""});
  if (o.dropout > 0) given.push_back({"--dropout", "dropout", format_number(o.dropout)});
  const auto& formats = t.weights_formats;
  if (o.weights_format != WeightsFormat::automatic &&
      std::find(formats.begin(), formats.end(), o.weights_format) == formats.end()) {
    std::vector<std::string> names;
    for (const auto& other : mechanism_traits())
      if (std::find(other.weights_formats.begin(), other.weights_formats.end(), o.weights_format) !=
          other.weights_formats.end())
        names.emplace_back(other.name);
    throw Error(std::string("--weights-format ") + weights_format_name(o.weights_format) + " applies only to " +
                join(names, " and ") + "; expected --weights-format book or auto for mechanism " + t.name);
  }
  for (const Given& g : given) {
    if (option_applies(m, g.option)) continue;
    const std::string shown = std::string(g.option) + (g.value.empty() ? "" : " (" + g.value + ")");
    throw Error(std::string(g.flag) + ": " + shown + " applies only to " + mechanisms_with(g.option) +
                "; expected no " + g.flag + " for mechanism " + t.name);
  }
}

}  // namespace attnkit::cli
