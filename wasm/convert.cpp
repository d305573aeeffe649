// attnkit — JS values ↔ core types (see convert.hpp).
#include "convert.hpp"

#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

namespace attnkit::wasm {

using emscripten::val;

std::size_t size_from(const val& v) { return static_cast<std::size_t>(v.as<double>()); }

attnkit::Shape shape_from(const val& array) {
  const std::size_t n = array["length"].as<std::size_t>();
  attnkit::Shape s(n);
  for (std::size_t i = 0; i < n; ++i) s[i] = size_from(array[i]);
  return s;
}

val shape_to_js(const attnkit::Shape& shape) {
  val array = val::array();
  for (std::size_t i = 0; i < shape.size(); ++i) array.set(i, val(static_cast<double>(shape[i])));
  return array;
}

val tensor_to_js(const attnkit::Tensor& t) {
  val out = val::object();
  out.set("shape", shape_to_js(t.shape));
  out.set("data", val::global("Float32Array").new_(val(emscripten::typed_memory_view(t.numel(), t.ptr()))));
  return out;
}

attnkit::Tensor tensor_from(const val& shape, const val& data) {
  attnkit::Shape s = shape_from(shape);
  std::vector<float> d = emscripten::convertJSArrayToNumberVector<float>(data);
  return attnkit::Tensor(std::move(s), std::move(d));
}

attnkit::AttentionMask mask_from(const val& mask) {
  attnkit::AttentionMask m;
  m.kind = mask["kind"].as<std::string>() == "boolean" ? attnkit::MaskKind::boolean : attnkit::MaskKind::additive;
  m.shape = shape_from(mask["shape"]);
  m.values = emscripten::convertJSArrayToNumberVector<float>(mask["data"]);
  return m;
}

namespace {

struct RouteName {
  const char* name;
  attnkit::CausalRoute route;
};
constexpr RouteName kCausalRoutes[] = {{"neg-inf", attnkit::CausalRoute::neg_inf},
                                       {"renormalise", attnkit::CausalRoute::renormalise}};

attnkit::CausalRoute parse_causal_route(const std::string& name) {
  std::string expected;
  for (const RouteName& r : kCausalRoutes) {
    if (name == r.name) return r.route;
    expected += expected.empty() ? r.name : std::string(", ") + r.name;
  }
  throw attnkit::Error("unknown causal route '" + name + "'; expected one of " + expected);
}

template <class T>
void read_size(const val& options, const char* name, T& field) {
  const val v = options[name];
  if (!v.isUndefined()) field = size_from(v);
}

}  // namespace

attnkit::Config config_from(const std::string& mechanism, const val& options) {
  attnkit::Config cfg;
  cfg.mechanism = attnkit::parse_mechanism(mechanism);
  read_size(options, "d_in", cfg.d_in);
  read_size(options, "d_out", cfg.d_out);
  read_size(options, "num_heads", cfg.num_heads);
  read_size(options, "kv_heads", cfg.kv_heads);
  read_size(options, "k_dim", cfg.k_dim);
  read_size(options, "v_dim", cfg.v_dim);
  read_size(options, "context_length", cfg.context_length);
  const val causal = options["causal"];
  if (causal.isTrue()) cfg.causal = true;
  else if (causal.isFalse()) cfg.causal = false;
  const val qkv_bias = options["qkv_bias"];
  if (!qkv_bias.isUndefined()) cfg.qkv_bias = qkv_bias.isTrue();
  // p stays a double, as PyTorch keeps it: 0.99999999 is < 1 and accepted (as float32 it would round to 1)
  const val dropout = options["dropout"];
  if (!dropout.isUndefined()) cfg.dropout = dropout.as<double>();
  const val seed_lo = options["seed_lo"];
  if (!seed_lo.isUndefined()) {
    const auto lo = static_cast<std::uint64_t>(seed_lo.as<double>());
    const auto hi = static_cast<std::uint64_t>(options["seed_hi"].as<double>());
    cfg.seed = (hi << 32) | lo;
  }
  const val route = options["causal_route"];
  if (!route.isUndefined()) cfg.causal_route = parse_causal_route(route.as<std::string>());
  return cfg;
}

val causal_route_names() {
  val names = val::array();
  for (std::size_t i = 0; i < std::size(kCausalRoutes); ++i) names.set(i, val(kCausalRoutes[i].name));
  return names;
}

}  // namespace attnkit::wasm
