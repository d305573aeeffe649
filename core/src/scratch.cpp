#include "scratch.hpp"

#include <new>
#include <string>
#include <vector>

#include "attnkit/errors.hpp"
#include "attnkit/tensor.hpp"
#include "page_hint.hpp"

namespace attnkit::detail {
namespace {

std::vector<float>& reused(int slot) noexcept {
  thread_local std::vector<float> buffers[2];
  return buffers[slot];
}

}  // namespace

Scratch::Scratch(std::initializer_list<std::size_t> shape, int slot) {
  const std::size_t n = checked_numel(shape);
  if (n <= kReused) {
    std::vector<float>& buffer = reused(slot);
    if (buffer.size() < kReused) buffer.resize(kReused);
    data_ = buffer.data();
    return;
  }
  owned_.reset(new (std::nothrow) float[n]);
  if (!owned_)
    throw Error("out of memory allocating a tensor of shape " + shape_to_string(Shape(shape)) + " (" +
                    std::to_string(n * sizeof(float)) + " bytes)",
                ErrorKind::range);
  data_ = owned_.get();
  // Large ones on 2 MiB pages, as Tensor's (page_hint.cpp): C4's q|k|v (38 MB) is mapped fresh on every call, and
  // faulting it in 4 KiB pages took ~20 ms of CPU time against ~5 ms in 2 MiB pages (a first-touch loop, this VM).
  advise_large_pages(data_, n * sizeof(float));
}

float* Scratch::reused_if_ready(std::size_t floats, int slot) noexcept {
  std::vector<float>& buffer = reused(slot);
  return floats <= kReused && buffer.size() >= kReused ? buffer.data() : nullptr;
}

}  // namespace attnkit::detail
