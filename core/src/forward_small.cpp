// attnkit — Module::forward_small: forward_stacked's fused route (core/src/forward.cpp) for a call small enough to
// run in the per-thread reused buffers with kernels that need no scratch, so it allocates nothing and throws
// nothing; any doubt returns false and the caller runs forward(), which gives the same bits or the error message.
// Not declared noexcept on purpose: under Emscripten's -fexceptions every call from a noexcept function to one
// that is not (the kernel table's pointers) gets a terminate landing pad, i.e. a JS invoke_* trampoline, which
// is what this path exists to avoid (wasm/README.md, "What a small call costs").
#include "attnkit/mechanisms.hpp"
#include "kernels/kernels.hpp"
#include "module_internal.hpp"
#include "ops.hpp"
#include "overflow.hpp"
#include "scratch.hpp"

namespace attnkit {

// forward_stacked's fused route without its other branches (weights, steps, dropout, gradients).
bool Module::small_route(const ForwardOptions& options) const noexcept {
  return stacked_projections() && !options.average_weights && !options.grad && !options.return_weights &&
         !options.intermediates && !(options.train && config_.dropout > 0.0);
}

bool Module::forward_small(const float* x, std::size_t b, std::size_t n, std::size_t d_in,
                           const ForwardOptions& options, float* out) {
  const Config& c = config_;
  if (!small_route(options)) return false;
  if (b == 0 || n == 0 || d_in == 0 || (c.d_in != 0 && d_in != c.d_in) ||
      (c.context_length != 0 && n > c.context_length))
    return false;
  const bool simplified = c.mechanism == Mechanism::simplified, multihead = c.mechanism == Mechanism::multihead;
  const std::size_t H = num_heads_, hd = simplified ? d_in : head_dim_, D = H * hd, rows = b * n;
  // Sizes bounded before any product is formed: the reused buffers hold kReused floats.
  if (n > detail::Scratch::kReused || D > detail::Scratch::kReused || rows > detail::Scratch::kReused / (3 * D) ||
      d_in > detail::Scratch::kReused)
    return false;
  if (detail::first_non_finite(x, rows * d_in) < rows * d_in) return false;  // forward names the element

  // The kernels' direct paths (registers and the stack only) for every product of this call.
  const auto& table = kernels::table();
  const PackedWeights* const packed = packed_.get();  // null for simplified (no parameters)
  const float* qkv_panels = packed && packed->qkv ? packed->qkv->panels() : nullptr;
  if (table.attention_scratch_floats(n, n, hd) != 0) return false;
  if (!simplified && table.gemm_nt_scratch_floats(rows, 3 * D, d_in, qkv_panels != nullptr) != 0) return false;
  if (multihead) {
    const float* out_panels = packed->out_proj ? packed->out_proj->panels() : nullptr;
    if (table.gemm_nt_scratch_floats(rows, c.d_out, D, out_panels != nullptr) != 0) return false;
  }
  float* const qkv = simplified ? nullptr : detail::Scratch::reused_if_ready(rows * 3 * D, 0);  // (b·n, 3·D)
  float* const context = multihead ? detail::Scratch::reused_if_ready(rows * D, 1) : out;       // (b, n, D)
  if ((!simplified && !qkv) || !context) return false;  // a forward on this thread sizes them

  // A backward belongs to the latest forward only.
  tape_.reset();
  detail::HeadsView query{x, d_in, 0}, key = query, value = query;  // simplified: q = k = v = x
  if (!simplified) {
    // A non-finite element: forward screens it and names it (core/src/overflow.hpp).
    if (detail::linear(x, rows, d_in, qkv_weight_.data(), qkv_bias_.empty() ? nullptr : qkv_bias_.data(), 3 * D, qkv, 1,
                       packed->qkv.get()))
      return false;
    query = {qkv, 3 * D, 0};
    key = {qkv, 3 * D, D};
    value = {qkv, 3 * D, 2 * D};
  }
  const detail::Sdpa sdpa{query, key, value, b, n, H, hd, causal_, !simplified, c.causal_route, 1, nullptr};
  if (!detail::sdpa_fast_unflagged(sdpa, context)) return false;
  if (multihead)  // out_proj                                                                    (b, n, d_out)
    return !detail::linear(context, rows, D, params_[out_proj_weight_].second.ptr(),
                           params_[out_proj_bias_].second.ptr(), c.d_out, out, 1, packed->out_proj.get());
  return true;
}

}  // namespace attnkit
