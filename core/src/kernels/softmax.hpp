// attnkit — row-wise softmax over xsimd: max subtracted, −inf → 0, a fully −inf row → all 0.
#pragma once
#include "kernels.hpp"
#include "simd_math.hpp"

namespace attnkit::kernels {
namespace {

// One row in place: x (n). Tail lanes are padded with −inf so they get the body's arithmetic.
template <class Arch>
void softmax_row_f32(float* x, std::size_t n) {
  using F = vf<Arch>;
  constexpr std::size_t W = F::size;
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::size_t nv = n - n % W;
  F row_max = max_body<Arch>(x, nv, F(ninf));
  if (nv < n) row_max = vmax<Arch>(row_max, load_partial<Arch>(x + nv, n - nv, ninf));
  const float mx = hmax<Arch>(row_max);
  if (!(mx > ninf)) {  // fully masked (or empty) row attends to nothing
    for (std::size_t j = 0; j < n; ++j) x[j] = 0.0f;
    return;
  }
  F vsum = exp_sub_body<Arch>(x, nv, mx, F(0.0f));
  if (nv < n) {
    const F e = exp_f32<Arch>(load_partial<Arch>(x + nv, n - nv, ninf) - F(mx));
    store_partial<Arch>(x + nv, n - nv, e);
    vsum += e;
  }
  const F s(hsum<Arch>(vsum));
  for (std::size_t j = 0; j < nv; j += W) (F::load_unaligned(x + j) / s).store_unaligned(x + j);
  if (nv < n) store_partial<Arch>(x + nv, n - nv, load_partial<Arch>(x + nv, n - nv, 0.0f) / s);
}

template <class Arch>
void softmax_f32(const Softmax& s, std::size_t row_begin, std::size_t row_end) {
  for (std::size_t i = row_begin; i < row_end; ++i) softmax_row_f32<Arch>(s.x + i * s.ld, s.n);
}

}  // namespace
}  // namespace attnkit::kernels
