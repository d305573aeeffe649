// attnkit — the attention op's binding (see attention.hpp). The core checks every shape and value, with the
// CLI's messages; this file only moves the copies JS made into the core's types and back.
#include "attention.hpp"

#include <cstdint>
#include <string>
#include <utility>

#include "attnkit/attention.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "layer.hpp"

namespace attnkit::wasm {

using emscripten::val;

namespace {

attnkit::CausalAlign causal_from(const std::string& name) {
  if (name == "upper_left") return attnkit::CausalAlign::upper_left;
  if (name == "lower_right") return attnkit::CausalAlign::lower_right;
  return attnkit::CausalAlign::none;  // wasm/src/attention.mjs sends only these three names
}

attnkit::AttentionWeights weights_from(const std::string& name) {
  if (name == "per_head") return attnkit::AttentionWeights::per_head;
  if (name == "averaged") return attnkit::AttentionWeights::averaged;
  return attnkit::AttentionWeights::none;
}

}  // namespace

val attention(const val& query, const val& key, const val& value, const val& mask, const val& options) {
  return guarded([&]() -> val {
    const attnkit::Tensor q = tensor_from(query["shape"], query["data"]);  // (b, h_q, n_q, d)
    const attnkit::Tensor k = tensor_from(key["shape"], key["data"]);      // (b, h_kv, n_k, d)
    const attnkit::Tensor v = tensor_from(value["shape"], value["data"]);  // (b, h_kv, n_k, d_v)
    attnkit::AttentionOptions o;
    attnkit::AttentionMask m;
    if (!mask.isUndefined()) {
      m = mask_from(mask);
      o.attn_mask = &m;
    }
    const val scale = options["scale"];
    if (!scale.isUndefined()) o.scale = scale.as<double>();
    o.causal = causal_from(options["causal"].as<std::string>());
    o.dropout = options["dropout"].as<double>();
    o.train = options["train"].isTrue();
    const val seed_lo = options["seed_lo"];
    if (!seed_lo.isUndefined()) {
      const auto lo = static_cast<std::uint64_t>(seed_lo.as<double>());
      const auto hi = static_cast<std::uint64_t>(options["seed_hi"].as<double>());
      o.seed = (hi << 32) | lo;
    }
    o.weights = weights_from(options["weights"].as<std::string>());
    o.threads = pool_threads(size_from(options["threads"]));
    attnkit::AttentionResult r = attnkit::attention(q, k, v, o);
    val out = val::object();
    out.set("output", tensor_to_js(r.output));
    if (o.weights != attnkit::AttentionWeights::none) out.set("weights", tensor_to_js(r.weights));
    return out;
  });
}

}  // namespace attnkit::wasm
