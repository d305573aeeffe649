// attnkit — the kernel table built for avx512bw (flags set in core/CMakeLists.txt).
// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized (_mm512_undefined_ps) inside xsimd::max.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels_impl.hpp"

namespace attnkit::kernels {
const KernelTable& table_for(xsimd::avx512bw) { return make_table<xsimd::avx512bw>("avx512bw"); }
}  // namespace attnkit::kernels
