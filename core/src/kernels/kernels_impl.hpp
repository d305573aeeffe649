// attnkit — the kernel table for one xsimd Arch. Included by exactly one TU per instruction set
// (kernels_sse2/avx2/avx512/wasm.cpp), each compiled with that set's flags.
#pragma once
#include "attention_backward.hpp"
#include "decode_attention.hpp"
#include "flash_attention.hpp"
#include "fma_peak.hpp"
#include "gemm.hpp"
#include "softmax.hpp"
#include "tables.hpp"

namespace attnkit::kernels {
namespace {

template <class Arch>
const KernelTable& make_table(const char* isa) {
  static const KernelTable t{isa,
                             vf<Arch>::size,
                             GemmTile<Arch>::MR,
                             GemmTile<Arch>::MC,
                             &gemm_nt_f32<Arch>,
                             &gemm_nn_f32<Arch>,
                             &softmax_f32<Arch>,
                             &attention_f32<Arch>,
                             &attention_decode_f32<Arch>,
                             &attention_heads_f32<Arch>,
                             &packed_nt_b_floats<Arch>,
                             &pack_nt_b_f32<Arch>,
                             &gemm_nt_scratch_floats<Arch>,
                             &gemm_nn_scratch_floats<Arch>,
                             &attention_scratch_floats<Arch>,
                             &attention_backward_f32<Arch>,
                             &fma_peak_f32<Arch>};
  return t;
}

}  // namespace
}  // namespace attnkit::kernels
