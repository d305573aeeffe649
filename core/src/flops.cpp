// attnkit — the useful FLOPs of a forward pass (the count every benchmark divides by).
#include <string>

#include "attnkit/bench_configs.hpp"
#include "attnkit/errors.hpp"
#include "attnkit/traits.hpp"
#include "module_internal.hpp"

namespace attnkit {

double forward_flops(const Config& config, const Shape& x) {
  if (x.size() != 2 && x.size() != 3)
    throw Error("x must have shape (batch, tokens, d_in) or (tokens, d_in); got " + shape_to_string(x));
  const detail::ModuleGeometry g = detail::check_config(config);
  const bool batched = x.size() == 3;
  const double b = batched ? double(x[0]) : 1.0, n = double(x[batched ? 1 : 0]);
  const std::size_t d_in = x.back();
  if (config.d_in != 0 && d_in != config.d_in)
    throw Error("x has d_in " + std::to_string(d_in) + " (shape " + shape_to_string(x) + "); expected d_in " +
                std::to_string(config.d_in));
  const double heads = double(g.num_heads);
  const double head_dim = config.mechanism == Mechanism::simplified ? double(d_in) : double(g.head_dim);
  const double width = heads * head_dim;  // the context's columns before out_proj
  double flops = 0;
  if (traits(config.mechanism).has_parameters) flops += 3 * 2 * b * n * double(d_in) * width;       // q, k, v = x·Wᵀ
  if (config.mechanism == Mechanism::multihead) flops += 2 * b * n * width * double(config.d_out);  // out_proj
  const double pairs = g.causal ? n * (n + 1) / 2 : n * n;  // visible (query, key) pairs per head
  flops += 2 * 2 * b * heads * pairs * head_dim;            // q·kᵀ and weights·v
  return flops;
}

}  // namespace attnkit
