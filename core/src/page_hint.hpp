// attnkit — a hint to the operating system for large tensors (core/src/page_hint.cpp).
#pragma once
#include <cstddef>

namespace attnkit::detail {

// Asks for 2 MiB pages over the whole 2 MiB pages inside [p, p + bytes), before the buffer is first written; does
// nothing for small buffers or where the system has no such hint. Never fails: it changes speed only.
void advise_large_pages(void* p, std::size_t bytes) noexcept;

}  // namespace attnkit::detail
