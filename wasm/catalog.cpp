// attnkit — the core's facts for JS (see catalog.hpp).
#include "catalog.hpp"

#include <string>

#include "attnkit/attnkit.hpp"
#include "convert.hpp"
#include "errors.hpp"

namespace attnkit::wasm {

using emscripten::val;

val mechanism_traits() {
  val list = val::array();
  const auto& all = attnkit::mechanism_traits();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const attnkit::MechanismTraits& t = all[i];
    val item = val::object();
    item.set("name", val(std::string(t.name)));
    item.set("book_class", val(std::string(t.book_class)));
    item.set("description", val(std::string(t.description)));
    item.set("default_causal", val(t.default_causal));
    item.set("has_parameters", val(t.has_parameters));
    val options = val::array();
    for (std::size_t j = 0; j < t.options.size(); ++j) options.set(j, val(std::string(t.options[j])));
    item.set("options", options);
    val formats = val::array();
    for (std::size_t j = 0; j < t.weights_formats.size(); ++j)
      formats.set(j, val(std::string(attnkit::weights_format_name(t.weights_formats[j]))));
    item.set("weights_formats", formats);
    list.set(i, item);
  }
  return list;
}

val bench_configs() {
  val list = val::array();
  const auto& all = attnkit::bench_configs();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const attnkit::BenchConfig& c = all[i];
    // The package times plain forward passes only: D1, D2 (decoding) and P1 (padding) are bench/compare's cells.
    if (c.kind != attnkit::BenchKind::forward || c.padding != 0) continue;
    val item = val::object();
    item.set("name", val(std::string(c.name)));
    item.set("batch", val(static_cast<double>(c.batch)));
    item.set("tokens", val(static_cast<double>(c.tokens)));
    item.set("d_in", val(static_cast<double>(c.d_in)));
    item.set("d_out", val(static_cast<double>(c.d_out)));
    item.set("heads", val(static_cast<double>(c.heads)));
    item.set("causal", val(c.causal));
    item.set("description", val(std::string(c.description)));
    item.set("flops", val(attnkit::forward_flops(attnkit::bench_module_config(c), {c.batch, c.tokens, c.d_in})));
    list.call<void>("push", item);
  }
  return list;
}

val forward_flops(const std::string& mechanism, const val& options, const val& shape) {
  return guarded(
      [&]() -> val { return val(attnkit::forward_flops(config_from(mechanism, options), shape_from(shape))); });
}

}  // namespace attnkit::wasm
