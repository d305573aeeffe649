// attnkit — one kernel table per instruction set, each defined in its own TU (kernels_<isa>.cpp)
// compiled with that set's flags. Only select.cpp calls these.
#pragma once
#include <xsimd/xsimd.hpp>
#include "kernels.hpp"

namespace attnkit::kernels {
#ifdef __EMSCRIPTEN__
const KernelTable& table_for(xsimd::sse4_1);  // wasm SIMD128 through Emscripten's SSE4.1 headers
#else
const KernelTable& table_for(xsimd::avx512bw);
const KernelTable& table_for(xsimd::fma3<xsimd::avx2>);
const KernelTable& table_for(xsimd::sse2);
#endif
}  // namespace attnkit::kernels
