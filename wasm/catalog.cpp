// attnkit — the core's facts for JS (see catalog.hpp).
#include "catalog.hpp"

#include <string>

#include "attnkit/attnkit.hpp"

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
    list.set(i, item);
  }
  return list;
}

}  // namespace attnkit::wasm
