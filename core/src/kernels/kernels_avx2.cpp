// attnkit — the kernel table built for fma3+avx2 (flags set in core/CMakeLists.txt).
#include "kernels_impl.hpp"

namespace attnkit::kernels {
const KernelTable& table_for(xsimd::fma3<xsimd::avx2>) { return make_table<xsimd::fma3<xsimd::avx2>>("fma3+avx2"); }
}  // namespace attnkit::kernels
