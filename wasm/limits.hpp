// attnkit — what fits in the wasm32 address space: a call that cannot fit under the 4 GB limit is refused
// before anything is allocated or computed, instead of failing with bad_alloc after minutes of work.
#pragma once
#include "attnkit/attnkit.hpp"
#include "attnkit/model.hpp"

namespace attnkit::wasm {

// -sMAXIMUM_MEMORY=4GB (wasm/CMakeLists.txt).
constexpr double kWasmMemoryLimit = 4294967296.0;

double heap_in_use_bytes();  // malloc's in-use bytes (dlmalloc's counter)
double heap_arena_bytes();   // bytes malloc has taken from the wasm memory, used or free
double wasm_memory_bytes();  // the linear memory's current size

// Throws Error(range) naming the bytes when a Module with this config cannot hold its parameters
// (attnkit::Module::parameter_bytes): checked before they are drawn or copied (drawing 1.5 GB of parameters
// took 8.7 s before the copies failed). `loading`: the parameters come from a state_dict, whose copy in wasm
// memory is alive while the Module is built.
void check_create_fits(const attnkit::Config& config, bool loading);

// Throws Error(range) naming the bytes when a forward pass of `module` on x of `shape` cannot fit
// (attnkit::Module::forward_bytes, the estimate every interface uses). `copies_input`: the call copies x
// into wasm memory first (the general path; the fast path's input buffer is already allocated).
void check_forward_fits(const attnkit::Module& module, const attnkit::Shape& shape,
                        const attnkit::ForwardOptions& options, bool copies_input);

// The two halves of check_forward_fits, for a caller that keeps the estimate of a shape it sees again (the fast path:
// the estimate depends only on the config, the shape and the options; whether it fits depends on the memory now).
// forward_needed_bytes is 0 for a shape with a zero dimension (forward refuses it with its own message).
double forward_needed_bytes(const attnkit::Module& module, const attnkit::Shape& shape,
                            const attnkit::ForwardOptions& options, bool copies_input);
// check_forward_bytes_fit's answer without its message, for a caller that must not throw.
bool forward_bytes_fit(double needed) noexcept;
void check_forward_bytes_fit(const attnkit::Module& module, const attnkit::Shape& shape,
                             const attnkit::ForwardOptions& options, double needed);

// Throws Error(range) naming the bytes when ak.createModel's model, its optimizer, a training step and the
// evaluation cannot fit (attnkit::Model::memory_bytes), before the model is built.
void check_model_fits(const attnkit::ModelConfig& config);

}  // namespace attnkit::wasm
