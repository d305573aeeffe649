// attnkit — layer.decoder(): decoding sessions (attnkit::Decoder, a KV cache) on a Layer's module. The Layer owns
// its sessions, so release() frees them together with the module they read (layer.hpp).
#include <cstddef>
#include <memory>
#include <string>

#include "attnkit/decoder.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "layer.hpp"

namespace attnkit::wasm {

using emscripten::val;

attnkit::Decoder& Layer::decoder(int id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= decoders_.size() || !decoders_[id])
    throw attnkit::Error("decoder was disposed; start a new one with layer.decoder()");
  return *decoders_[id];
}

namespace {

// { kv: { shape, data }, value?, key_padding_mask? } (wasm/src/options.mjs snapshotMemory) → the core's DecodeMemory,
// pointing into `held`, which the core reads once (it keeps only the projections).
struct HeldMemory {
  attnkit::Tensor kv, value;
  attnkit::AttentionMask key_padding_mask;
  attnkit::DecodeMemory memory;
};

void read_memory(const val& given, HeldMemory& held) {
  const val kv = given["kv"], value = given["value"], padding = given["key_padding_mask"];
  held.kv = tensor_from(kv["shape"], kv["data"]);
  held.memory.kv = &held.kv;
  if (!value.isUndefined()) {
    held.value = tensor_from(value["shape"], value["data"]);
    held.memory.value_input = &held.value;
  }
  if (!padding.isUndefined()) {
    held.key_padding_mask = mask_from(padding);
    held.memory.key_padding_mask = &held.key_padding_mask;
  }
}

}  // namespace

val Layer::begin_decode(double max_tokens, double batch, const val& memory) {
  return guarded([&]() -> val {
    std::unique_ptr<attnkit::Decoder> session;
    if (memory.isUndefined()) {
      session = std::make_unique<attnkit::Decoder>(
          module().begin_decode(static_cast<std::size_t>(max_tokens), static_cast<std::size_t>(batch)));
    } else {
      HeldMemory held;
      read_memory(memory, held);
      session =
          std::make_unique<attnkit::Decoder>(module().begin_decode(static_cast<std::size_t>(max_tokens), held.memory));
    }
    std::size_t id = 0;
    while (id < decoders_.size() && decoders_[id]) ++id;  // reuse ended ids: a soak of sessions stays flat
    if (id == decoders_.size()) decoders_.emplace_back();
    decoders_[id] = std::move(session);
    val out = val::object();
    out.set("id", val(static_cast<int>(id)));
    return out;
  });
}

val Layer::decode_step(int id, const val& x, const val& shape, double threads, bool return_weights) {
  return guarded([&]() -> val {
    attnkit::Decoder& session = decoder(id);
    session.set_threads(pool_threads(static_cast<std::size_t>(threads)));
    const attnkit::Tensor input = tensor_from(shape, x);  // (batch, t, d_in) or (t, d_in)
    attnkit::Tensor weights;
    val out = val::object();
    out.set("context", tensor_to_js(session.step(input, return_weights ? &weights : nullptr)));
    if (return_weights) out.set("weights", tensor_to_js(weights));  // (batch, heads, t, keys)
    return out;
  });
}

val Layer::decode_set_memory(int id, const val& memory) {
  return guarded([&]() -> val {
    attnkit::Decoder& session = decoder(id);
    HeldMemory held;
    read_memory(memory, held);
    session.set_memory(held.memory);
    return val::object();
  });
}

void Layer::decode_reset(int id) {
  if (id >= 0 && static_cast<std::size_t>(id) < decoders_.size() && decoders_[id]) decoders_[id]->reset();
}

double Layer::decode_length(int id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= decoders_.size() || !decoders_[id]) return 0;
  return static_cast<double>(decoders_[id]->length());
}

void Layer::end_decode(int id) {
  if (id >= 0 && static_cast<std::size_t>(id) < decoders_.size()) decoders_[id].reset();
}

}  // namespace attnkit::wasm
