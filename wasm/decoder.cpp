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

val Layer::begin_decode(double max_tokens, double batch) {
  return guarded([&]() -> val {
    auto session = std::make_unique<attnkit::Decoder>(
        module().begin_decode(static_cast<std::size_t>(max_tokens), static_cast<std::size_t>(batch)));
    std::size_t id = 0;
    while (id < decoders_.size() && decoders_[id]) ++id;  // reuse ended ids: a soak of sessions stays flat
    if (id == decoders_.size()) decoders_.emplace_back();
    decoders_[id] = std::move(session);
    val out = val::object();
    out.set("id", val(static_cast<int>(id)));
    return out;
  });
}

val Layer::decode_step(int id, const val& x, const val& shape, double threads) {
  return guarded([&]() -> val {
    attnkit::Decoder& session = decoder(id);
    session.set_threads(pool_threads(static_cast<std::size_t>(threads)));
    const attnkit::Tensor input = tensor_from(shape, x);  // (batch, t, d_in) or (t, d_in)
    val out = val::object();
    out.set("context", tensor_to_js(session.step(input)));
    return out;
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
