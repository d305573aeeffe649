// attnkit — what a Module and one forward call allocate, from the shapes alone, so a caller can refuse a call
// that would not fit before anything is allocated. Mirrors forward.cpp, ops.cpp and the kernels' per-thread
// scratch step by step; tests/memory checks it against measured allocation (estimate ≥ peak, ≤ 1.5× it).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "attnkit/traits.hpp"
#include "kernels/kernels.hpp"
#include "module_internal.hpp"
#include "ops.hpp"
#include "saturating.hpp"
#include "scratch.hpp"

namespace attnkit {
namespace {

using namespace detail::saturating;  // add, mul: a count past SIZE_MAX stays SIZE_MAX

std::size_t floats(std::size_t n) { return mul(n, sizeof(float)); }

// What malloc gives for one allocation (glibc, 64-bit: malloc_usable_size): chunks of 16-byte steps with 8 bytes of
// header, 24 usable at least; from 128 KiB (the mmap threshold, which glibc may raise) whole pages.
std::size_t heap(std::size_t bytes) {
  if (bytes == 0) return 0;
  if (bytes >= (std::size_t(128) << 10)) return add(bytes, 16 + 4095) / 4096 * 4096 - 16;
  return std::max<std::size_t>(24, (bytes + 8 + 15) / 16 * 16 - 8);
}
// A thread_local buffer's first use also registers its destructor (a small allocation).
constexpr std::size_t kThreadLocal = 64;
// A Tensor of n floats and rank r: its data and its shape.
std::size_t tensor(std::size_t n, std::size_t rank) { return add(heap(floats(n)), heap(rank * sizeof(std::size_t))); }
// forward's Scratch: a per-thread reused buffer when small (allocated on the thread's first call), else its own.
std::size_t scratch(std::size_t n) {
  return n > detail::Scratch::kReused ? heap(floats(n)) : heap(floats(detail::Scratch::kReused)) + kThreadLocal;
}
// A kernel's per-thread buffers: `buffers` allocations, 64-byte aligned, holding `n` floats in all.
std::size_t kernel_buffers(std::size_t n, std::size_t buffers) {
  if (n == 0) return 0;
  return add(heap(floats(n)),
             buffers * (floats(n) >= (std::size_t(128) << 10) ? 4096 + kThreadLocal : 128 + kThreadLocal));
}

// The explain path's (b, h, n, n) shape, and per pool thread started on a first call (its std::thread state,
// its thread_local destructors' registrations, the task's std::function).
constexpr std::size_t kExplainOverhead = 64, kThreadOverhead = 2048;

// ForwardResult::intermediates: `entries` (name, Tensor) pairs in a vector grown by doubling (the old and the new
// array both live while it grows), and the names longer than std::string keeps inline.
std::size_t intermediates_list(std::size_t entries, std::size_t long_names) {
  std::size_t capacity = 1;
  while (capacity < entries) capacity *= 2;
  const std::size_t slot = sizeof(std::pair<std::string, Tensor>);
  return add(heap(capacity * slot) + heap(capacity / 2 * slot), long_names * 48);
}

}  // namespace

std::size_t Module::forward_bytes(const Shape& x, const ForwardOptions& options) const {
  return forward_bytes(config_, x, options);
}

std::size_t Module::forward_bytes(const Shape& x, const ForwardInputs& inputs, const ForwardOptions& options) const {
  return forward_bytes(config_, x, inputs, options);
}

std::size_t Module::forward_bytes(const Config& c, const Shape& x, const ForwardOptions& options) {
  if (x.size() != 2 && x.size() != 3)
    throw Error("x must have shape (batch, tokens, d_in) or (tokens, d_in); got " + shape_to_string(x));
  const detail::ModuleGeometry g = detail::check_config(c);
  // Separate projections (grouped-query, cross widths) and averaged weights take forward_general's route.
  const bool stacked = (c.kv_heads == 0 || c.kv_heads == g.num_heads) && (c.k_dim == 0 || c.k_dim == c.d_in) &&
                       (c.v_dim == 0 || c.v_dim == c.d_in);
  if (!stacked || options.average_weights) return forward_bytes(c, x, ForwardInputs{}, options);
  const bool batched = x.size() == 3;
  const std::size_t b = batched ? x[0] : 1, n = x[batched ? 1 : 0], d_in = x.back();
  if (c.d_in != 0 && d_in != c.d_in)
    throw Error("x has d_in " + std::to_string(d_in) + " (shape " + shape_to_string(x) + "); expected d_in " +
                std::to_string(c.d_in));
  const bool simplified = c.mechanism == Mechanism::simplified, multihead = c.mechanism == Mechanism::multihead;
  const std::size_t H = g.num_heads, hd = simplified ? d_in : g.head_dim, D = mul(H, hd), rows = mul(b, n);
  const std::size_t rank = batched ? 4 : 3;
  const bool dropout_on = options.train && c.dropout > 0.0, keep = options.intermediates;
  const bool explain = keep || dropout_on;  // as Module::forward: weights alone come from the fused kernel
  const bool renormalise = g.causal && c.causal_route == CausalRoute::renormalise;

  // Step 1 — the q|k|v projection (b·n, 3·D), and the intermediates queries, keys, values.
  std::size_t held = 0;
  if (!simplified) held = add(held, scratch(mul(rows, 3 * D)));
  if (keep) held = add(held, mul(3, tensor(mul(rows, D), rank)));
  // Step 2 — the context (b, n, D): multihead's is scratch (slot 1), the others' is the result.
  held = add(held, multihead ? scratch(mul(rows, D)) : tensor(mul(rows, D), rank - 1));

  // The explain path's (b, h, n, n) tensors: `during` at most while it runs, `kept` in the result afterwards.
  const std::size_t S = tensor(mul({b, H, n, n}), rank);
  std::size_t during = 0, kept = 0;
  if (explain) {
    const std::size_t steps =
        keep ? 3 + (g.causal ? 1 : 0) : 1 + (renormalise ? 1 : 0);  // + scores, scaled, masked or unmasked
    // + one byte per (batch, head, query) row: the rows whose scores left float32 (the overflow rule, ops.cpp).
    during = add(mul(S, steps + (dropout_on ? 1 : 0)), heap(mul({b, H, n})));
    kept = keep ? mul(S, 3 + (g.causal ? 1 : 0) + (dropout_on ? 1 : 0) + (options.return_weights ? 1 : 0))
                : (options.return_weights ? S : 0);
  } else if (options.return_weights) {
    kept = tensor(mul({b, H, n, n}), 4);  // the fused kernel writes them into the result, built (b, h, n, n)
  }
  // Step 3 — multihead's out_proj (b, n, d_out), and the contexts the intermediates copy.
  std::size_t tail = 0;
  if (multihead) {
    tail = tensor(mul(rows, c.d_out), rank - 1);
    if (keep) tail = add(tail, add(tensor(mul(rows, D), rank - 1), tensor(mul(rows, c.d_out), rank - 1)));
  } else if (keep) {
    tail = tensor(mul(rows, D), rank - 1);
  }

  // The kernels' per-thread scratch, on every thread that runs a task of that step (the caller is one of them).
  const kernels::KernelTable& table = kernels::table();
  std::size_t kernel_scratch = 0, threads = 1;
  if (!simplified) {
    // The projection and multihead's out_proj share gemm_nt's b_packed buffer (packed A): the larger of the two.
    std::size_t packed_a = table.gemm_nt_scratch_floats(rows, 3 * D, d_in, true);
    std::size_t linear = detail::linear_threads(rows, d_in, 3 * D, options.threads);
    if (multihead) {
      packed_a = std::max(packed_a, table.gemm_nt_scratch_floats(rows, c.d_out, D, true));
      linear = std::max(linear, detail::linear_threads(rows, D, c.d_out, options.threads));
    }
    kernel_scratch = mul(kernel_buffers(packed_a, 1), linear);
    threads = std::max(threads, linear);
  }
  if (n > 0 && hd > 0) {
    std::size_t per_thread = 0;
    if (explain) {
      per_thread = add(kernel_buffers(table.gemm_nt_scratch_floats(n, n, hd, false), 2),  // scores q·kᵀ
                       kernel_buffers(table.gemm_nn_scratch_floats(n, hd, n), 2));        // weights·v
    } else {
      per_thread = kernel_buffers(table.attention_scratch_floats(n, n, hd), 5);
    }
    const std::size_t sdpa = detail::sdpa_threads(b, n, H, hd, options.threads);
    kernel_scratch = add(kernel_scratch, mul(per_thread, sdpa));
    threads = std::max(threads, sdpa);
  }

  std::size_t overhead =
      (explain ? kExplainOverhead : 0) + (dropout_on ? kExplainOverhead : 0) + (threads - 1) * kThreadOverhead;
  if (keep) {
    // queries, keys, values, scores, scaled_scores, masked_scores or unmasked_weights, weights,
    // weights_after_dropout, context_before_out_proj, context; the last three and unmasked_weights have long names.
    const std::size_t entries = 3 + 2 + (g.causal ? 1 : 0) + 1 + (dropout_on ? 1 : 0) + (multihead ? 1 : 0) + 1;
    const std::size_t long_names = (renormalise ? 1 : 0) + (dropout_on ? 1 : 0) + (multihead ? 1 : 0);
    overhead = add(overhead, intermediates_list(entries, long_names));
  }
  const std::size_t common = add(add(held, kernel_scratch), overhead);
  return add(common, std::max(during, add(kept, tail)));
}

// forward_general (core/src/forward_inputs.cpp) step by step: the three projections, the op's mask, the split heads,
// the attention op (its prepared mask, output, weights, flags), the context and the result.
std::size_t Module::forward_bytes(const Config& c, const Shape& x, const ForwardInputs& in,
                                  const ForwardOptions& options) {
  if (x.size() != 2 && x.size() != 3)
    throw Error("x must have shape (batch, tokens, d_in) or (tokens, d_in); got " + shape_to_string(x));
  const detail::ModuleGeometry g = detail::check_config(c);
  const bool simplified = c.mechanism == Mechanism::simplified, multihead = c.mechanism == Mechanism::multihead;
  const bool stacked = (c.kv_heads == 0 || c.kv_heads == g.num_heads) && (c.k_dim == 0 || c.k_dim == c.d_in) &&
                       (c.v_dim == 0 || c.v_dim == c.d_in);
  if (!in.kv && !in.value_input && !in.key_padding_mask && !in.attn_mask && stacked && !options.average_weights)
    return forward_bytes(c, x, options);
  // A right-padded batch on the fused path takes the one-GEMM route (core/src/forward.cpp), with its lengths.
  const bool fused =
      !options.return_weights && !options.intermediates && !options.grad && !(options.train && c.dropout > 0.0);
  if (!in.kv && !in.value_input && !in.attn_mask && stacked && !options.average_weights && fused &&
      detail::padding_lengths(*in.key_padding_mask, x))
    return add(forward_bytes(c, x, options), heap(mul(x.size() == 3 ? x[0] : 1, 2 * sizeof(std::size_t))));
  const bool batched = x.size() == 3;
  const std::size_t b = batched ? x[0] : 1, n_q = x[batched ? 1 : 0], d_in = x.back();
  if (c.d_in != 0 && d_in != c.d_in)
    throw Error("x has d_in " + std::to_string(d_in) + " (shape " + shape_to_string(x) + "); expected d_in " +
                std::to_string(c.d_in));
  const Shape* kv = in.kv ? &in.kv->shape : nullptr;
  const Shape* value = in.value_input ? &in.value_input->shape : kv;
  const std::size_t n_k = kv && kv->size() >= 2 ? (*kv)[kv->size() - 2] : n_q;
  const std::size_t key_f = kv ? kv->back() : d_in, value_f = value ? value->back() : key_f;
  const std::size_t H = g.num_heads, hd = simplified ? d_in : g.head_dim, D = mul(H, hd);
  const std::size_t H_kv = simplified ? 1 : (c.kv_heads ? c.kv_heads : H), D_kv = mul(H_kv, hd);
  const std::size_t value_hd = simplified ? value_f : hd;
  const bool wrapper = c.mechanism == Mechanism::multihead_wrapper;
  const std::size_t Hp = wrapper ? 1 : H, Hkv_p = wrapper ? 1 : H_kv;  // heads per pass of the op
  const bool dropout_on = options.train && c.dropout > 0.0, keep = options.intermediates;
  const bool explain = options.return_weights || keep || dropout_on;
  const std::size_t rank = batched ? 4 : 3;

  // Step 1 — queries (b·n_q, D), keys and values (b·n_k, D_kv), and the op's mask (B, H', Q, n_k).
  std::size_t held = 0;
  if (!simplified) held = add(heap(floats(mul({b, n_q, D}))), mul(2, heap(floats(mul({b, n_k, D_kv})))));
  std::size_t mask = 0, prepared = 0;
  if (in.key_padding_mask || in.attn_mask) {
    const Shape* am = in.attn_mask ? &in.attn_mask->shape : nullptr;
    const bool per_head = am && am->size() == 3;  // (b·h, n_q, n_k), or (h, n_q, n_k) unbatched
    const std::size_t B = in.key_padding_mask || per_head ? b : 1, Hm = per_head ? H : 1, Q = am ? n_q : 1;
    mask = tensor(mul({B, Hm, Q, n_k}), 4);
    prepared = heap(floats(mul({B, wrapper ? 1 : Hm, Q, n_k})));  // the kernels' additive copy, per op call
  }
  held = add(held, mask);
  // Step 2 — the heads' context (b, n_q, H·value_hd), the weights (b, H, n_q, n_k), the split heads of a pass.
  const std::size_t S = explain ? tensor(mul({b, H, n_q, n_k}), 4) : 0;
  held = add(add(held, tensor(mul({b, n_q, H, value_hd}), 3)), S);
  const std::size_t split = add(add(tensor(mul({b, Hp, n_q, hd}), 4), tensor(mul({b, Hkv_p, n_k, hd}), 4)),
                                tensor(mul({b, Hkv_p, n_k, value_hd}), 4));
  held = add(held, wrapper ? mul(2, split) : split);  // the wrapper's next pass is built before the last is freed
  // attention(): the pass's mask copy and prepared mask, its output, weights, dropout copy and overflow flags.
  const std::size_t pass_plane = tensor(mul({b, Hp, n_q, n_k}), 4), flags = heap(mul({b, Hp, n_q}));
  const std::size_t op_weights = wrapper ? pass_plane : 0;  // all heads in one pass: moved into S, not copied
  std::size_t during = add(add(mask ? mask : 0, prepared), tensor(mul({b, Hp, n_q, value_hd}), 4));
  // The op's explain path (dropout) holds two flag vectors; its fused path (weights from the tiles) one.
  during =
      add(during, explain ? add(add(op_weights, dropout_on ? pass_plane : 0), mul(dropout_on ? 2 : 1, flags)) : flags);
  // Step 3 — out_proj's result, the averaged weights (and their float64 sums), the intermediates' copies.
  std::size_t after = multihead ? tensor(mul({b, n_q, c.d_out}), rank - 1) : 0;
  if (options.return_weights && options.average_weights)
    after = add(after, add(tensor(mul({b, n_q, n_k}), rank - 1), heap(mul({n_q, n_k, sizeof(double)}))));
  if (keep) {
    after = add(after, add(add(tensor(mul({b, n_q, D}), rank), mul(2, tensor(mul({b, n_k, D_kv}), rank))), S));
    after = add(after, mul(multihead ? 2 : 1, tensor(mul({b, n_q, multihead ? c.d_out : D}), rank - 1)));
    after = add(after, intermediates_list(4 + (multihead ? 1 : 0) + 1, multihead ? 1 : 0));
  }

  // The kernels' per-thread scratch: three unpacked projections (B packed per call), out_proj (packed), the op.
  const kernels::KernelTable& table = kernels::table();
  std::size_t kernel_scratch = 0, threads = 1;
  if (!simplified) {
    const std::size_t rows_k = mul(b, n_k);
    const std::size_t unpacked = std::max({table.gemm_nt_scratch_floats(mul(b, n_q), D, d_in, false),
                                           table.gemm_nt_scratch_floats(rows_k, D_kv, key_f, false),
                                           table.gemm_nt_scratch_floats(rows_k, D_kv, value_f, false)});
    std::size_t linear = std::max({detail::linear_threads(mul(b, n_q), d_in, D, options.threads),
                                   detail::linear_threads(rows_k, key_f, D_kv, options.threads),
                                   detail::linear_threads(rows_k, value_f, D_kv, options.threads)});
    std::size_t packed = 0;
    if (multihead) {
      packed = table.gemm_nt_scratch_floats(mul(b, n_q), c.d_out, D, true);
      linear = std::max(linear, detail::linear_threads(mul(b, n_q), D, c.d_out, options.threads));
    }
    kernel_scratch = mul(add(kernel_buffers(unpacked, 2), kernel_buffers(packed, 1)), linear);
    threads = linear;
  }
  if (n_q > 0 && hd > 0) {
    const std::size_t per_thread = dropout_on
                                       ? add(kernel_buffers(table.gemm_nt_scratch_floats(n_q, n_k, hd, false), 2),
                                             kernel_buffers(table.gemm_nn_scratch_floats(n_q, value_hd, n_k), 2))
                                       : kernel_buffers(table.attention_scratch_floats(n_q, n_k, hd), 5);
    const std::size_t sdpa = detail::sdpa_threads(b, std::max(n_q, n_k), H, hd, options.threads);
    kernel_scratch = add(kernel_scratch, mul(per_thread, sdpa));
    threads = std::max(threads, sdpa);
  }
  const std::size_t overhead =
      (explain ? kExplainOverhead : 0) + (dropout_on ? kExplainOverhead : 0) + (threads - 1) * kThreadOverhead;
  const std::size_t total = add(add(add(held, kernel_scratch), overhead), std::max(during, after));
  // The allocator's rounding over the op's many small vectors and shapes, not modelled one by one: 1/256 more.
  return add(total, total / 256);
}

std::size_t Module::parameter_bytes(const Config& c, std::size_t* kept) {
  const detail::ModuleGeometry g = detail::check_config(c);
  const auto shapes = attnkit::parameter_shapes(c);
  std::size_t data = 0, names = 0;
  for (const auto& [name, shape] : shapes) {
    std::size_t numel = 1;
    for (std::size_t d : shape) numel = mul(numel, d);
    data = add(data, tensor(numel, shape.size()));
    names = add(names, name.size() < 16 ? 0 : heap(name.size() + 1));
  }
  // params_: per entry a vector slot (a pair of string and Tensor; grown by doubling, so up to twice its size),
  // its name and tensor. While drawing or packing, also parameter_shapes() (names and shapes) and a name index.
  const std::size_t slot = sizeof(std::pair<std::string, Tensor>);
  std::size_t held = add(add(data, names), mul(shapes.size(), 2 * slot));
  const std::size_t transient = add(mul(names, 2), mul(shapes.size(), sizeof(std::string) + sizeof(Shape) + 32 + 64));
  if (c.mechanism != Mechanism::simplified) {
    const std::size_t D = mul(g.num_heads, g.head_dim), d_in = c.d_in;
    const std::size_t D_kv = mul(c.kv_heads ? c.kv_heads : g.num_heads, g.head_dim);
    const std::size_t k_dim = c.k_dim ? c.k_dim : d_in, v_dim = c.v_dim ? c.v_dim : d_in;
    const kernels::KernelTable& table = kernels::table();
    held = add(held, heap(floats(add(mul(D, d_in), mul(D_kv, add(k_dim, v_dim))))));  // the stacked q|k|v weight
    if (c.qkv_bias) held = add(held, heap(floats(add(D, 2 * D_kv))));                 // and bias
    if (k_dim == d_in && v_dim == d_in)                                               // its packed panels
      held = add(held, heap(floats(add(table.packed_nt_b_floats(add(D, 2 * D_kv), d_in), 16))));
    if (c.mechanism == Mechanism::multihead)
      held = add(held, heap(floats(add(table.packed_nt_b_floats(c.d_out, D), 16))));
  }
  if (kept) *kept = held;
  return add(held, transient);
}

}  // namespace attnkit
