// attnkit — the core's facts for JS: the mechanisms' traits (and, with the bench configurations and FLOP
// counts, everything the page and bench/compare would otherwise write down a second time).
#pragma once
#include <emscripten/val.h>

#include <string>

namespace attnkit::wasm {

// [{ name, book_class, description, default_causal, has_parameters, options: [snake_case names] }] from
// attnkit::mechanism_traits(); wasm/src/catalog.mjs freezes it as ak.mechanisms (camelCase).
emscripten::val mechanism_traits();

// [{ name, batch, tokens, d_in, d_out, heads, causal, description, flops }] from attnkit::bench_configs(), with
// flops = attnkit::forward_flops of the module each one times (attnkit::bench_module_config).
emscripten::val bench_configs();

// attnkit::forward_flops(config_from(mechanism, options), shape), or { error, status }.
emscripten::val forward_flops(const std::string& mechanism, const emscripten::val& options,
                              const emscripten::val& shape);

}  // namespace attnkit::wasm
