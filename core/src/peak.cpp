// attnkit — fma_peak_work: the peak loop of a kernel table (core/src/kernels/fma_peak.hpp), by the table's name.
#include "attnkit/peak.hpp"

#include "attnkit/errors.hpp"
#include "kernels/kernels.hpp"

namespace attnkit {

std::vector<std::string> simd_tables() {
  std::vector<std::string> names{kernels::table().isa};
  std::size_t count = 0;
  const kernels::KernelTable* const* tables = kernels::available_tables(&count);
  for (std::size_t i = 0; i < count; ++i)
    if (names.front() != tables[i]->isa) names.emplace_back(tables[i]->isa);
  return names;
}

double fma_peak_work(const std::string& isa, std::size_t steps) {
  const kernels::KernelTable* chosen = isa.empty() ? &kernels::table() : nullptr;
  std::size_t count = 0;
  const kernels::KernelTable* const* tables = kernels::available_tables(&count);
  std::string names;
  for (std::size_t i = 0; i < count && !chosen; ++i) {
    if (isa == tables[i]->isa) chosen = tables[i];
    names += (names.empty() ? "" : ", ") + std::string(tables[i]->isa);
  }
  if (!chosen) throw Error("unknown kernel table '" + isa + "'; expected one of " + names);
  volatile float sink = 0.0f;
  float out = 0.0f;
  const double flops = chosen->fma_peak_f32(steps, &out);
  sink = out;
  (void)sink;
  return flops;
}

}  // namespace attnkit
