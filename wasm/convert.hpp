// attnkit — copies between JS values and the core's types. JS hands over only plain values that
// wasm/src/ has already checked (numbers, Arrays of numbers, strings, Float32Arrays it made or verified), so
// no conversion here can run user code or fail half-way through an allocation.
#pragma once
#include <emscripten/val.h>

#include <string>

#include "attnkit/attnkit.hpp"

namespace attnkit::wasm {

std::size_t size_from(const emscripten::val& v);
attnkit::Shape shape_from(const emscripten::val& array);
emscripten::val shape_to_js(const attnkit::Shape& shape);

// A copy of the tensor in a fresh { shape, data: Float32Array } (never a view on wasm memory).
emscripten::val tensor_to_js(const attnkit::Tensor& t);
attnkit::Tensor tensor_from(const emscripten::val& shape, const emscripten::val& data);

// { kind: 'boolean' | 'additive', shape, data: Float32Array } (wasm/src/masks.mjs) → the core's mask. What a
// boolean 1 means is the caller's: may attend for attention(), may not for Module::forward's masks.
attnkit::AttentionMask mask_from(const emscripten::val& mask);

// `options`: the snake_case object built by wasm/src/options.mjs; a field left undefined keeps
// attnkit::Config's default (the one home of the defaults).
attnkit::Config config_from(const std::string& mechanism, const emscripten::val& options);

// The names config_from() takes for causal_route, in the core's order: ["neg-inf", "renormalise"].
emscripten::val causal_route_names();

}  // namespace attnkit::wasm
