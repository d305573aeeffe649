// attnkit — the per-thread scratch allocator of forward. Internal to core.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <memory>

namespace attnkit::detail {

// A buffer that forward writes in full before reading (the q|k|v projection, multihead's context before
// out_proj): unlike Tensor it is not zero-filled first. Same size checks and messages as Tensor. Small ones
// reuse a per-thread buffer (slot 0 or 1; forward never nests), so a tiny forward makes no allocation for them.
class Scratch {
 public:
  Scratch(std::initializer_list<std::size_t> shape, int slot);
  float* get() const noexcept { return data_; }

  // The calling thread's reused buffer of `slot` if it holds `floats` and a Scratch has already sized it on this
  // thread, else nullptr: for a caller that must neither allocate nor throw (Module::forward_small).
  static float* reused_if_ready(std::size_t floats, int slot) noexcept;

  static constexpr std::size_t kReused = 4096;  // floats (16 KB per slot and thread)

 private:
  std::unique_ptr<float[]> owned_;
  float* data_ = nullptr;
};

}  // namespace attnkit::detail
