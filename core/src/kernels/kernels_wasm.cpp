// attnkit — the kernel table for WebAssembly SIMD128 (xsimd's SSE4.1 path under -msimd128 -msse4.1).
#include "kernels_impl.hpp"

namespace attnkit::kernels {
const KernelTable& table_for(xsimd::sse4_1) { return make_table<xsimd::sse4_1>("wasm-simd128"); }
}  // namespace attnkit::kernels
