// attnkit — state_dicts in and out of the bindings (see weights.hpp).
#include "weights.hpp"

#include <utility>

#include "convert.hpp"
#include "limits.hpp"

namespace attnkit::wasm {

using emscripten::val;

std::unique_ptr<attnkit::Module> module_from_entries(const attnkit::Config& config, const val& options,
                                                     const val& entries) {
  attnkit::StateDict sd;
  const std::size_t n = entries["length"].as<std::size_t>();
  sd.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const val e = entries[i];
    sd.emplace_back(e["name"].as<std::string>(), tensor_from(e["shape"], e["data"]));
  }
  const val format = options["weights_format"], prefix = options["weights_prefix"];
  attnkit::BookWeights book =
      attnkit::weights_to_book(config, sd,
                               format.isUndefined() ? attnkit::WeightsFormat::automatic
                                                    : attnkit::parse_weights_format(format.as<std::string>()),
                               prefix.isUndefined() ? std::string() : prefix.as<std::string>());
  // qkvBias: false said "no bias"; the state_dict's biases would turn it back on without a word
  const val qkv_bias = options["qkv_bias"];
  if (!qkv_bias.isUndefined() && !qkv_bias.isTrue() && book.config.qkv_bias) {
    const char* key = book.format == attnkit::WeightsFormat::gpt2        ? "c_attn.bias"
                      : book.format == attnkit::WeightsFormat::torch_mha ? "in_proj_bias"
                                                                         : "W_query.bias";
    throw attnkit::Error("option qkvBias is false but the " + std::string(attnkit::weights_format_name(book.format)) +
                         " state_dict has key " + (prefix.isUndefined() ? "" : prefix.as<std::string>()) + key +
                         "; expected qkvBias true or unset to load its biases, or a state_dict without them");
  }
  if (book.format != attnkit::WeightsFormat::book && options["num_heads"].isUndefined()) {
    const bool gpt2 = book.format == attnkit::WeightsFormat::gpt2;
    throw attnkit::Error(std::string("option numHeads is required with ") + attnkit::weights_format_name(book.format) +
                         " weights: " +
                         (gpt2 ? "GPT-2's n_head is not in its state_dict (GPT-2 small has 12)"
                               : "nn.MultiheadAttention's num_heads is not in its state_dict") +
                         "; expected numHeads N dividing " + std::to_string(book.config.d_out));
  }
  sd = attnkit::StateDict();  // the caller's copy, before the module makes its own
  check_create_fits(book.config, true);
  return std::make_unique<attnkit::Module>(book.config, book.state_dict);
}

val state_dict_entries(const attnkit::Module& module, const std::string& format, const std::string& prefix) {
  const attnkit::StateDict sd = module.state_dict(attnkit::parse_weights_format(format), prefix);
  val list = val::array();
  for (std::size_t i = 0; i < sd.size(); ++i) {
    val item = tensor_to_js(sd[i].second);
    item.set("name", val(sd[i].first));
    list.set(i, item);
  }
  return list;
}

}  // namespace attnkit::wasm
