// attnkit — large tensors on 2 MiB pages. A large allocation (the explain path's (b, h, n, n) weights: 48 MiB at C2)
// is mapped fresh by the C library on every call, and each 4 KiB page faults on its first write: ~12 000 faults,
// about 35 ms of the 78 ms fused C2 forward on a VM (bench/README.md, "weights at nearly no cost"). Linux backs a
// region advised MADV_HUGEPAGE with 2 MiB pages when transparent huge pages are "madvise" (a common default; with
// "always" the hint changes nothing), which takes the same zeroing in ~24 faults. Elsewhere this is a no-op.
#include "page_hint.hpp"

#include <cstdint>

#if defined(__linux__) && !defined(__EMSCRIPTEN__)
#include <sys/mman.h>
#endif

namespace attnkit::detail {

void advise_large_pages(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && !defined(__EMSCRIPTEN__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kPage = std::uintptr_t(1) << 21;
  if (p == nullptr || bytes < 2 * kPage) return;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + kPage - 1) & ~(kPage - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kPage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a refusal only costs speed
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace attnkit::detail
