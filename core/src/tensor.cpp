#include "attnkit/tensor.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "attnkit/errors.hpp"
#include "page_hint.hpp"

namespace attnkit {

std::string format_number(double value) {
  // A value that came from a float (a JS Float32 option, a C++ 0.1f) is shown as that float's shortest form.
  const bool is_float = static_cast<double>(static_cast<float>(value)) == value;
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    const double back = std::strtod(buf, nullptr);
    if (back == value || (is_float && static_cast<float>(back) == static_cast<float>(value))) break;
  }
  return buf;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

static std::atomic<std::size_t> g_max_tensor_bytes{0};  // 0: the default below

std::size_t max_tensor_bytes() {
  const std::size_t set = g_max_tensor_bytes.load(std::memory_order_relaxed);
  if (set != 0) return set;
  if (sizeof(void*) == 4) return (std::size_t(1) << 31) - 1;
  return std::size_t(1) << 46;
}

void set_max_tensor_bytes(std::size_t bytes) { g_max_tensor_bytes.store(bytes, std::memory_order_relaxed); }

// Exact for any shape a person types; long double keeps 64 bits of mantissa past size_t overflow.
static std::string bytes_needed(const Shape& shape) {
  long double bytes = sizeof(float);
  for (std::size_t d : shape) bytes *= static_cast<long double>(d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0Lf", bytes);
  return buf;
}

std::size_t checked_numel(const Shape& shape) {
  std::size_t n = 1;
  bool overflow = false;
  for (std::size_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d) overflow = true;
    else n *= d;
  }
  const std::size_t limit = max_tensor_bytes() / sizeof(float);
  if (overflow || n > limit) {
    throw Error("tensor of shape " + shape_to_string(shape) + " needs " + bytes_needed(shape) +
                    " bytes; expected at most " + std::to_string(max_tensor_bytes()) + " bytes",
                ErrorKind::range);
  }
  return n;
}

std::size_t checked_numel(std::initializer_list<std::size_t> shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d) return checked_numel(Shape(shape));  // throws
    n *= d;
  }
  return n > max_tensor_bytes() / sizeof(float) ? checked_numel(Shape(shape)) : n;
}

Tensor::Tensor(Shape s) : shape(std::move(s)) {
  const std::size_t n = checked_numel(shape);
  try {
    data.reserve(n);                                             // allocated, not yet written:
    detail::advise_large_pages(data.data(), n * sizeof(float));  // large ones on 2 MiB pages (page_hint.cpp)
    data.assign(n, 0.0f);
  } catch (const std::bad_alloc&) {
    throw Error("out of memory allocating a tensor of shape " + shape_to_string(shape) + " (" +
                    std::to_string(n * sizeof(float)) + " bytes)",
                ErrorKind::range);
  }
}

Tensor::Tensor(Shape s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {
  const std::size_t n = checked_numel(shape);
  if (n != data.size())
    throw Error("tensor of shape " + shape_to_string(shape) + " needs " + std::to_string(n) + " values, got " +
                std::to_string(data.size()));
}

static std::string index_string(const Shape& shape, std::size_t flat) {
  Shape idx(shape.size());
  for (std::size_t i = shape.size(); i-- > 0;) {
    const std::size_t d = shape[i] ? shape[i] : 1;
    idx[i] = flat % d;
    flat /= d;
  }
  return shape_to_string(idx);
}

namespace {
// Index of the first NaN or ±Inf in p[0, n), or n. Chunks are screened with an integer test on the exponent bits
// (all ones), which the compiler vectorises; only a chunk that fails is searched element by element.
std::size_t first_non_finite(const float* p, std::size_t n) {
  constexpr std::size_t kChunk = 1024;
  for (std::size_t i0 = 0; i0 < n; i0 += kChunk) {
    const std::size_t i1 = std::min(n, i0 + kChunk);
    std::uint32_t bad = 0;
    for (std::size_t i = i0; i < i1; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, p + i, sizeof bits);
      bad |= (bits & 0x7f800000u) == 0x7f800000u;
    }
    if (bad)
      for (std::size_t i = i0; i < i1; ++i)
        if (!std::isfinite(p[i])) return i;
  }
  return n;
}
}  // namespace

void check_finite(const Tensor& t, const std::string& what) {
  if (const std::size_t i = first_non_finite(t.ptr(), t.data.size()); i < t.data.size()) {
    const float v = t.data[i];
    const char* kind = std::isnan(v) ? "NaN" : (v > 0 ? "Inf" : "-Inf");
    throw Error(what + " contains " + kind + " at index " + index_string(t.shape, i) + "; expected finite numbers");
  }
}

}  // namespace attnkit
