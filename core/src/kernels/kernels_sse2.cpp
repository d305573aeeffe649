// attnkit — the kernel table built for sse2 (flags set in core/CMakeLists.txt).
#include "kernels_impl.hpp"

namespace attnkit::kernels {
const KernelTable& table_for(xsimd::sse2) { return make_table<xsimd::sse2>("sse2"); }
}  // namespace attnkit::kernels
