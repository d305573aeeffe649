// Every heap allocation of this test binary counted: malloc and its family are replaced by wrappers around glibc's
// own (__libc_malloc, …) that track the bytes in use (malloc_usable_size) and their peak. operator new, std::vector
// and the kernels' aligned buffers (posix_memalign) all come through here. Not built under a sanitizer, which
// replaces malloc itself.
#include "counting_malloc.hpp"

#include <malloc.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {

std::atomic<std::size_t> g_in_use{0}, g_peak{0};
// Threads that allocated since reset_peak(): each thread remembers the epoch it last counted itself in.
std::atomic<unsigned> g_epoch{1}, g_threads{0};
std::atomic<std::size_t> g_unsplit{0};  // attnkit_memory::unsplit_bytes()
thread_local unsigned t_epoch = 0;

// What a fresh heap gives a request of `size` bytes (glibc, 64-bit): chunks in 16-byte steps with 8 bytes of header,
// 24 usable at least. A request glibc maps on its own (whole pages) is past this by more than kUnsplitBytes: not
// counted as unsplit.
std::size_t fresh_usable(std::size_t size) {
  const std::size_t chunk = (size + 8 + 15) / 16 * 16 - 8;
  return chunk < 24 ? 24 : chunk;
}

void note_alloc(void* p, std::size_t size) {
  if (!p) return;
  const std::size_t usable = malloc_usable_size(p), fresh = fresh_usable(size);
  if (usable > fresh && usable - fresh <= attnkit_memory::kUnsplitBytes)
    g_unsplit.fetch_add(usable - fresh, std::memory_order_relaxed);
  const unsigned epoch = g_epoch.load(std::memory_order_relaxed);
  if (t_epoch != epoch) {
    t_epoch = epoch;
    g_threads.fetch_add(1, std::memory_order_relaxed);
  }
  const std::size_t now = g_in_use.fetch_add(usable, std::memory_order_relaxed) + usable;
  std::size_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void note_free(void* p) {
  if (p) g_in_use.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
}

}  // namespace

extern "C" {

void* malloc(std::size_t size) {
  void* p = __libc_malloc(size);
  note_alloc(p, size);
  return p;
}

void free(void* p) {
  note_free(p);
  __libc_free(p);
}

void* calloc(std::size_t n, std::size_t size) {
  void* p = __libc_calloc(n, size);
  note_alloc(p, n * size);
  return p;
}

void* realloc(void* old, std::size_t size) {
  const std::size_t before = old ? malloc_usable_size(old) : 0;
  void* p = __libc_realloc(old, size);
  if (p || size == 0) {
    g_in_use.fetch_sub(before, std::memory_order_relaxed);
    note_alloc(p, size);
  }
  return p;
}

void* memalign(std::size_t alignment, std::size_t size) {
  void* p = __libc_memalign(alignment, size);
  note_alloc(p, size);
  return p;
}

void* aligned_alloc(std::size_t alignment, std::size_t size) { return memalign(alignment, size); }

int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = memalign(alignment, size);
  if (!p && size != 0) return ENOMEM;
  *out = p;
  return 0;
}

void* valloc(std::size_t size) { return memalign(4096, size); }
void* pvalloc(std::size_t size) { return memalign(4096, (size + 4095) / 4096 * 4096); }

}  // extern "C"

namespace attnkit_memory {

std::size_t bytes_in_use() { return g_in_use.load(std::memory_order_relaxed); }

void reset_peak() {
  g_peak.store(g_in_use.load(std::memory_order_relaxed), std::memory_order_relaxed);
  g_threads.store(0, std::memory_order_relaxed);
  g_unsplit.store(0, std::memory_order_relaxed);
  g_epoch.fetch_add(1, std::memory_order_relaxed);
}

std::size_t allocating_threads() { return g_threads.load(std::memory_order_relaxed); }

std::size_t unsplit_bytes() { return g_unsplit.load(std::memory_order_relaxed); }

std::size_t peak_bytes() { return g_peak.load(std::memory_order_relaxed); }

}  // namespace attnkit_memory
