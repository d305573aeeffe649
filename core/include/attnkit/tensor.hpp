// attnkit — a float32, row-major, contiguous tensor. Nothing more: views and strides are not needed
// by the seed's mechanisms, and a plain vector is what every binding copies in and out of.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

namespace attnkit {

using Shape = std::vector<std::size_t>;

// "[2, 6, 3]"
std::string shape_to_string(const Shape& shape);

// Number of elements; throws Error(range) if the product overflows or the bytes exceed max_tensor_bytes().
std::size_t checked_numel(const Shape& shape);
std::size_t checked_numel(std::initializer_list<std::size_t> shape);  // same, without building a Shape

// The largest tensor the library will allocate, in bytes: by default 2 GiB under wasm32 (one allocation
// must fit a signed 32-bit size) and 2^46 natively. A host that knows its memory lowers it (the CLI sets
// the physical memory), so an input too large to fit is refused with a message instead of an OOM kill.
std::size_t max_tensor_bytes();
void set_max_tensor_bytes(std::size_t bytes);  // 0 restores the default

struct Tensor {
  Shape shape;
  std::vector<float> data;

  Tensor() = default;
  // Zero-filled; refuses shapes whose bytes would not fit (Error naming the bytes needed).
  explicit Tensor(Shape s);
  // Takes the data; throws Error if data.size() != product of shape.
  Tensor(Shape s, std::vector<float> d);

  std::size_t numel() const noexcept { return data.size(); }
  std::size_t rank() const noexcept { return shape.size(); }
  bool empty() const noexcept { return data.empty(); }
  float* ptr() noexcept { return data.data(); }
  const float* ptr() const noexcept { return data.data(); }
};

// Throws Error naming `what` and the first index if any element is NaN or ±Inf:
// "x contains NaN at index [0, 2, 1]; expected finite numbers".
void check_finite(const Tensor& t, const std::string& what);

}  // namespace attnkit
