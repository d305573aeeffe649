// attnkit — the Embind layer and its fast path (see layer.hpp).
#include "layer.hpp"

#include <cstddef>
#include <utility>

#include "convert.hpp"
#include "limits.hpp"
#include "weights.hpp"

#ifndef ATTNKIT_THREAD_POOL_SIZE
#define ATTNKIT_THREAD_POOL_SIZE 1  // the single-thread build
#endif

namespace attnkit::wasm {

using emscripten::val;

val fast_header_layout() {
  constexpr std::size_t word = sizeof(std::uint32_t);
  static_assert(sizeof(FastHeader) % word == 0, "FastHeader is read as 32-bit words");
  val o = val::object();
  o.set("words", val(static_cast<int>(sizeof(FastHeader) / word)));
  o.set("contextAddress", val(static_cast<int>(offsetof(FastHeader, context_address) / word)));
  o.set("inputAddress", val(static_cast<int>(offsetof(FastHeader, input_address) / word)));
  o.set("contextRank", val(static_cast<int>(offsetof(FastHeader, context_rank) / word)));
  o.set("contextDims", val(static_cast<int>(offsetof(FastHeader, context_dims) / word)));
  o.set("maxRank", val(static_cast<int>(FastHeader::kMaxRank)));
  return o;
}

std::size_t thread_pool_size() { return ATTNKIT_THREAD_POOL_SIZE; }
std::size_t pool_threads(std::size_t requested) {
  return requested > thread_pool_size() ? thread_pool_size() : requested;
}

const attnkit::Module& Layer::module() const {
  if (!module_) throw attnkit::Error("layer was disposed");
  return *module_;
}

val Layer::init(const std::string& mechanism, const val& options, const val& entries) {
  return guarded([&]() -> val {
    const attnkit::Config cfg = config_from(mechanism, options);
    if (entries.isUndefined() || entries.isNull()) {
      check_create_fits(cfg, false);
      module_ = std::make_unique<attnkit::Module>(cfg);
      return info();
    }
    module_ = module_from_entries(cfg, options, entries);
    return info();
  });
}

val Layer::forward(const val& x, const val& shape, const val& options) {
  return forward_with(x, shape, options, val::undefined());
}

val Layer::forward_with(const val& x, const val& shape, const val& options, const val& inputs) {
  return guarded([&]() -> val {
    module();  // throws if disposed
    attnkit::ForwardOptions fo;
    fo.return_weights = options["return_weights"].isTrue();
    fo.average_weights = options["average_weights"].isTrue();
    fo.train = options["train"].isTrue();
    fo.intermediates = options["intermediates"].isTrue();
    fo.grad = options["grad"].isTrue();
    fo.threads = pool_threads(size_from(options["threads"]));
    check_forward_fits(*module_, shape_from(shape), fo, true);
    attnkit::ForwardResult r;
    if (inputs.isUndefined()) {
      const attnkit::Tensor input = tensor_from(shape, x);
      r = module_->forward(input, fo);
    } else {
      attnkit::ForwardInputs fi;
      attnkit::Tensor kv, value;
      attnkit::AttentionMask key_padding_mask, attn_mask;
      const val kv_given = inputs["kv"], value_given = inputs["value"];
      const val padding_given = inputs["key_padding_mask"], mask_given = inputs["attn_mask"];
      if (!kv_given.isUndefined()) {
        kv = tensor_from(kv_given["shape"], kv_given["data"]);  // (b, n_k, k_dim) or (n_k, k_dim)
        fi.kv = &kv;
      }
      if (!value_given.isUndefined()) {
        value = tensor_from(value_given["shape"], value_given["data"]);  // (b, n_k, v_dim) or (n_k, v_dim)
        fi.value_input = &value;
      }
      if (!padding_given.isUndefined()) {
        key_padding_mask = mask_from(padding_given);  // (b, n_k) or (n_k)
        fi.key_padding_mask = &key_padding_mask;
      }
      if (!mask_given.isUndefined()) {
        attn_mask = mask_from(mask_given);  // (n_q, n_k) or (b·h, n_q, n_k)
        fi.attn_mask = &attn_mask;
      }
      const attnkit::Tensor input = tensor_from(shape, x);
      r = module_->forward(input, fi, fo);
    }
    val out = val::object();
    out.set("context", tensor_to_js(r.context));
    if (fo.return_weights) out.set("weights", tensor_to_js(r.weights));
    if (fo.intermediates) {
      val list = val::array();
      for (std::size_t i = 0; i < r.intermediates.size(); ++i) {
        val item = tensor_to_js(r.intermediates[i].second);
        item.set("name", val(r.intermediates[i].first));
        list.set(i, item);
      }
      out.set("intermediates", list);
    }
    return out;
  });
}

int Layer::input_buffer(std::uint32_t numel) {
  try {
    input_.data.resize(numel);
  } catch (...) {
    return status_range;  // JS falls back to the general path, which reports the error
  }
  header_.input_address = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(input_.data.data()));
  return status_ok;
}

int Layer::forward_fast(std::uint32_t rank, std::uint32_t b, std::uint32_t n, std::uint32_t d_in, bool train,
                        std::uint32_t threads) {
  if (forward_small(rank, b, n, d_in, train, threads)) return status_ok;
  return forward_checked(rank, b, n, d_in, train, threads);
}

bool Layer::forward_small(std::uint32_t rank, std::uint32_t b, std::uint32_t n, std::uint32_t d_in, bool train,
                          std::uint32_t threads) {
  if (!module_ || fit_bytes_ < 0.0) return false;
  const FitKey key{rank, rank == 3 ? b : 0, n, d_in, pool_threads(threads), train};
  if (!(key == fit_key_) || !forward_bytes_fit(fit_bytes_)) return false;  // as forward_checked would decide
  // output_ holds the last context: (b, n, D) or (n, D) of this very call's shape, unless a failure dropped it.
  const attnkit::Shape& shape = output_.shape;
  if (shape.size() != rank || (rank == 3 && shape[0] != b) || shape[rank - 2] != n) return false;
  const std::size_t batch = rank == 3 ? b : 1;
  if (input_.data.size() != batch * n * d_in || output_.data.size() != batch * n * shape[rank - 1]) return false;
  attnkit::ForwardOptions fo;
  fo.train = train;
  fo.threads = key.threads;
  if (!module_->forward_small(input_.data.data(), batch, n, d_in, fo, output_.data.data())) return false;
  header_.context_address = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(output_.data.data()));
  header_.context_rank = rank;
  for (std::size_t i = 0; i < rank; ++i) header_.context_dims[i] = static_cast<std::uint32_t>(shape[i]);
  return true;
}

int Layer::forward_checked(std::uint32_t rank, std::uint32_t b, std::uint32_t n, std::uint32_t d_in, bool train,
                           std::uint32_t threads) {
  Failure failure;
  try {
    module();  // throws if disposed
    attnkit::ForwardOptions fo;
    fo.train = train;
    fo.threads = pool_threads(threads);
    attnkit::Shape& shape = input_.shape;
    if (shape.size() != rank) shape.resize(rank);  // only when the rank changes (resize is a call that may throw)
    std::size_t* dims = shape.data();
    if (rank == 3) *dims++ = b;
    dims[0] = n;
    dims[1] = d_in;
    const FitKey key{rank, rank == 3 ? b : 0, n, d_in, fo.threads, train};
    if (fit_bytes_ < 0.0 || !(key == fit_key_)) {
      const double needed = forward_needed_bytes(*module_, shape, fo, false);  // may throw: keep nothing then
      fit_key_ = key;
      fit_bytes_ = needed;
    }
    check_forward_bytes_fit(*module_, shape, fo, fit_bytes_);
    output_ = std::move(module_->forward(input_, fo).context);
    const std::size_t out_rank = output_.shape.size();
    if (out_rank > FastHeader::kMaxRank) {
      throw attnkit::Error("context of rank " + std::to_string(out_rank) + "; expected at most " +
                           std::to_string(FastHeader::kMaxRank));
    }
    header_.context_address = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(output_.ptr()));
    header_.context_rank = static_cast<std::uint32_t>(out_rank);
    for (std::size_t i = 0; i < out_rank; ++i) header_.context_dims[i] = static_cast<std::uint32_t>(output_.shape[i]);
    return status_ok;
  } catch (...) {
    failure = current_failure();
  }
  output_ = attnkit::Tensor();
  last_error_ = std::move(failure.message);
  return failure.status;
}

void Layer::drop_buffers() {
  input_ = attnkit::Tensor();
  output_ = attnkit::Tensor();
  last_error_ = std::string();
  header_.input_address = 0;
  header_.context_address = 0;
}

val Layer::state_dict(const std::string& format, const std::string& prefix) const {
  return guarded([&]() -> val { return state_dict_entries(module(), format, prefix); });
}

val Layer::parameter_shapes() const {
  return guarded([&]() -> val {
    const auto shapes = module().parameter_shapes();
    val list = val::array();
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      val item = val::object();
      item.set("name", val(shapes[i].first));
      item.set("shape", shape_to_js(shapes[i].second));
      list.set(i, item);
    }
    return list;
  });
}

val Layer::info() const {
  val o = val::object();
  if (!module_) return o;
  o.set("mechanism", val(std::string(attnkit::mechanism_name(module_->config().mechanism))));
  o.set("causal", val(module_->causal()));
  o.set("num_heads", val(static_cast<double>(module_->num_heads())));
  o.set("head_dim", val(static_cast<double>(module_->head_dim())));
  o.set("d_out_total", val(static_cast<double>(module_->d_out_total())));
  o.set("d_in", val(static_cast<double>(module_->config().d_in)));
  return o;
}

void Layer::release() {
  decoders_.clear();  // before the module they read
  module_.reset();
  grads_ = attnkit::StateDict();
  drop_buffers();
  fit_bytes_ = -1.0;
}

}  // namespace attnkit::wasm
