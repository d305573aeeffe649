// attnkit — the one place that picks the instruction set. Built at the x86-64 baseline: it only calls
// into the per-ISA TUs, after xsimd::dispatch has checked the CPU (cpuid) once.
#include <xsimd/xsimd.hpp>
#include "kernels.hpp"
#include "tables.hpp"

namespace attnkit::kernels {

#ifdef __EMSCRIPTEN__
// No cpuid in wasm: available_architectures().best is 0 and dispatch() would fall to sse2 (docs/architecture.md, "SIMD
// in wasm").
const KernelTable& table() { return table_for(xsimd::sse4_1{}); }

const KernelTable* const* available_tables(std::size_t* count) {
  static const KernelTable* const tables[] = {&table_for(xsimd::sse4_1{})};
  *count = 1;
  return tables;
}
#else
namespace {
struct PickTable {
  template <class Arch>
  const KernelTable* operator()(Arch) const {
    return &table_for(Arch{});
  }
};
}  // namespace

const KernelTable& table() {
  static const KernelTable* const best =
      xsimd::dispatch<xsimd::arch_list<xsimd::avx512bw, xsimd::fma3<xsimd::avx2>, xsimd::sse2> >(PickTable{})();
  return *best;
}

const KernelTable* const* available_tables(std::size_t* count) {
  struct List {
    const KernelTable* items[3];
    std::size_t n = 0;
  };
  static const List list = [] {
    List l{};
    const auto cpu = xsimd::available_architectures();
    if (cpu.avx512bw && cpu.avx512dq && cpu.avx512cd && cpu.avx512f) l.items[l.n++] = &table_for(xsimd::avx512bw{});
    if (cpu.fma3_avx2) l.items[l.n++] = &table_for(xsimd::fma3<xsimd::avx2>{});
    if (cpu.sse2) l.items[l.n++] = &table_for(xsimd::sse2{});
    return l;
  }();
  *count = list.n;
  return list.items;
}
#endif

}  // namespace attnkit::kernels
