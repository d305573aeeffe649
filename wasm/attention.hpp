// attnkit — ak.attention(): the binding of attnkit::attention on the caller's own query, key and value.
#pragma once
#include <emscripten/val.h>

namespace attnkit::wasm {

// query, key, value: { shape, data: Float32Array } as wasm/src/attention.mjs copied them; mask: undefined or
// { kind: 'boolean' | 'additive', shape, data: Float32Array }; options: { scale?, causal: 'none' | 'upper_left' |
// 'lower_right', dropout, train, seed_lo?, seed_hi?, weights: 'none' | 'per_head' | 'averaged', threads }.
// → { output: { shape, data }, weights?: { shape, data } } or { error, status } (errors.hpp).
emscripten::val attention(const emscripten::val& query, const emscripten::val& key, const emscripten::val& value,
                          const emscripten::val& mask, const emscripten::val& options);

}  // namespace attnkit::wasm
