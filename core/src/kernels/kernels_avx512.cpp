// attnkit — the kernel table built for avx512bw (flags set in core/CMakeLists.txt).
// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized and -Wuninitialized (_mm512_undefined_ps) inside
// xsimd::max, min and shifts.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include "kernels_impl.hpp"

namespace attnkit::kernels {
const KernelTable& table_for(xsimd::avx512bw) { return make_table<xsimd::avx512bw>("avx512bw"); }
}  // namespace attnkit::kernels
