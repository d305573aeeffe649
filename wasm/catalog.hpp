// attnkit — the core's facts for JS: the mechanisms' traits (and, with the bench configurations and FLOP
// counts, everything the page and bench/compare would otherwise write down a second time).
#pragma once
#include <emscripten/val.h>

namespace attnkit::wasm {

// [{ name, book_class, description, default_causal, has_parameters, options: [snake_case names] }] from
// attnkit::mechanism_traits(); wasm/src/catalog.mjs freezes it as ak.mechanisms (camelCase).
emscripten::val mechanism_traits();

}  // namespace attnkit::wasm
