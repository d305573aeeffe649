// attnkit — state_dicts in and out of the bindings, in any format of attnkit/weight_formats.hpp. Runs once per
// layer and mostly builds error messages, so it is compiled for size (wasm/CMakeLists.txt).
#pragma once
#include <emscripten/val.h>

#include <memory>
#include <string>

#include "attnkit/attnkit.hpp"

namespace attnkit::wasm {

// A module loaded from `entries` ([{ name, shape, data }], wasm/src/state-dict.mjs) in the format
// options.weights_format names ("auto" when undefined), the keys under options.weights_prefix:
// Module::from_state_dict's two steps, checking in between that numHeads was given where the format does not store it,
// and that the parameters fit in wasm memory. `config` is config_from(options).
std::unique_ptr<attnkit::Module> module_from_entries(const attnkit::Config& config, const emscripten::val& options,
                                                     const emscripten::val& entries);

// [{ name, shape, data }] in PyTorch's order, written in `format` ("book", "torch-mha", "gpt2"), each key prefixed.
emscripten::val state_dict_entries(const attnkit::Module& module, const std::string& format, const std::string& prefix);

}  // namespace attnkit::wasm
