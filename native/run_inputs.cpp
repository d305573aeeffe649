// attnkit CLI — `attnkit run`'s input document: x, and for cross-attention and padded batches kv, value
// (W_value's input when it differs from kv), key_padding_mask and attn_mask (nn.MultiheadAttention's conventions; the
// core checks every shape against x's).
#include "json_io.hpp"

namespace attnkit::cli {

RunInputs run_inputs_from_json(const Json& document) {
  RunInputs r;
  r.x = input_from_json(document);
  if (const auto it = document.find("kv"); it != document.end()) {
    if (!it->is_array())
      throw Error("kv is " + it->dump().substr(0, 40) + "; expected a nested list (b, n_k, k_dim) like x");
    r.kv = tensor_from_json(*it, "kv");
    if (r.kv->rank() != r.x.rank())
      throw Error("kv has rank " + std::to_string(r.kv->rank()) + " (shape " + shape_to_string(r.kv->shape) +
                  "); expected rank " + std::to_string(r.x.rank()) + " like x, " +
                  (r.x.rank() == 3 ? "(b, n_k, k_dim)" : "(n_k, k_dim)"));
  }
  if (const auto it = document.find("value"); it != document.end()) {
    if (!r.kv) throw Error("value is given without kv; expected \"kv\" (b, n_k, k_dim) for the keys beside it");
    if (!it->is_array())
      throw Error("value is " + it->dump().substr(0, 40) + "; expected a nested list (b, n_k, v_dim) like kv");
    r.value = tensor_from_json(*it, "value");
    if (r.value->rank() != r.x.rank())
      throw Error("value has rank " + std::to_string(r.value->rank()) + " (shape " + shape_to_string(r.value->shape) +
                  "); expected rank " + std::to_string(r.x.rank()) + " like x, " +
                  (r.x.rank() == 3 ? "(b, n_k, v_dim)" : "(n_k, v_dim)"));
  }
  if (const auto it = document.find("key_padding_mask"); it != document.end())
    r.key_padding_mask = mask_from_json(*it, "key_padding_mask", "true = padding, ignored");
  if (const auto it = document.find("attn_mask"); it != document.end())
    r.attn_mask = mask_from_json(*it, "attn_mask", "true = may not attend");
  return r;
}

}  // namespace attnkit::cli
