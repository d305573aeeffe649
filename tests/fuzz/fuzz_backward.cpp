// attnkit fuzzing — Module::backward (the gradients of Σ grad_context ⊙ context) over every mechanism, with
// cross-attention, grouped-query heads, both mask kinds, dropout and bad gradients.
//
// Bytes → a small Config (mechanism, d_in, d_out, heads, kv_heads, k_dim, causal, qkv_bias, dropout), x (batched
// or not), kv, key_padding_mask and attn_mask (boolean or additive, −inf allowed), a grad_context of the right shape
// or not (values may be NaN/±Inf/huge), and the call order (backward without a grad forward, twice, after
// load_state_dict). attnkit::Error is an answer; anything else is a finding. An accepted backward must give
// gradients of the inputs' and parameters' shapes, finite when everything is moderate, and the same bits on 2 threads
// as on 1 (each element has one owner and a fixed order).
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "fuzz_common.hpp"

using namespace attnkit;
using attnkit_fuzz::finding;

namespace {

struct Draw {
  FuzzedDataProvider& p;
  bool moderate = true;  // every value finite and |v| ≤ 8

  float value() {
    const std::uint8_t sel = p.ConsumeIntegral<std::uint8_t>();
    if (sel < 240) return static_cast<float>(p.ConsumeIntegral<std::int8_t>()) / 16.0f;
    moderate = false;
    static const float edges[] = {NAN, INFINITY, -INFINITY, 3e38f, -3e38f, 1e20f, 1e-40f, 65504.0f};
    return edges[sel % 8];
  }
  Tensor tensor(Shape shape) {
    Tensor t(shape);
    for (float& v : t.data) v = value();
    return t;
  }
  AttentionMask mask(Shape shape, bool additive) {
    AttentionMask m;
    m.kind = additive ? MaskKind::additive : MaskKind::boolean;
    m.shape = std::move(shape);
    std::size_t n = 1;
    for (std::size_t d : m.shape) n *= d;
    m.values.resize(n);
    for (float& v : m.values) {
      const std::uint8_t sel = p.ConsumeIntegral<std::uint8_t>();
      v = !additive  ? static_cast<float>(sel < 200   ? 0
                                          : sel < 254 ? 1
                                                      : 2)  // 2: not a boolean
          : sel < 40 ? -INFINITY
                     : static_cast<float>(static_cast<std::int8_t>(sel)) / 8.0f;
    }
    return m;
  }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0;
}

void expect_finite(const Tensor& t, const std::string& what) {
  for (float v : t.data)
    if (!std::isfinite(v)) finding("non-finite gradient in " + what + " from moderate inputs");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  Draw draw{p};
  Config c;
  const auto& mechs = all_mechanisms();
  c.mechanism = mechs[p.ConsumeIntegral<std::uint8_t>() % mechs.size()];
  c.d_in = p.ConsumeIntegralInRange<std::size_t>(1, 9);
  c.d_out = p.ConsumeIntegralInRange<std::size_t>(1, 9);
  c.num_heads = p.ConsumeIntegralInRange<std::size_t>(1, 4);
  const std::uint8_t flags = p.ConsumeIntegral<std::uint8_t>();
  if (flags & 0x01) c.kv_heads = p.ConsumeIntegralInRange<std::size_t>(1, 4);
  const bool cross = flags & 0x02;
  if (cross && (flags & 0x04)) c.k_dim = p.ConsumeIntegralInRange<std::size_t>(1, 9);
  if (flags & 0x08) c.causal = (flags & 0x10) != 0;
  c.qkv_bias = flags & 0x20;
  const bool train = flags & 0x40;
  if (train) c.dropout = 0.25;
  c.seed = p.ConsumeIntegral<std::uint8_t>();
  const bool batched = flags & 0x80;
  const std::size_t b = batched ? p.ConsumeIntegralInRange<std::size_t>(1, 3) : 1;
  const std::size_t n_q = p.ConsumeIntegralInRange<std::size_t>(1, 9);
  const std::size_t n_k = cross ? p.ConsumeIntegralInRange<std::size_t>(1, 9) : n_q;
  const std::uint8_t more = p.ConsumeIntegral<std::uint8_t>();

  std::optional<Module> module;
  if (!attnkit_fuzz::run_expecting_error_or_success([&] { module.emplace(c); })) return 0;
  const std::size_t k_features = c.k_dim ? c.k_dim : c.d_in;
  auto shape = [&](std::size_t n, std::size_t d) { return batched ? Shape{b, n, d} : Shape{n, d}; };
  const Tensor x = draw.tensor(shape(n_q, (more & 0x01) ? c.d_in + 1 : c.d_in));  // now and then the wrong d_in
  const Tensor kv = draw.tensor(shape(n_k, k_features));
  std::optional<AttentionMask> padding, attn;
  if (more & 0x02) padding = draw.mask(batched ? Shape{b, n_k} : Shape{n_k}, more & 0x04);
  if (more & 0x08) {
    const std::size_t heads = c.num_heads;
    attn = draw.mask((more & 0x10) ? Shape{batched ? b * heads : heads, n_q, n_k} : Shape{n_q, n_k}, more & 0x20);
  }
  ForwardInputs in;
  if (cross) in.kv = &kv;
  if (padding) in.key_padding_mask = &*padding;
  if (attn) in.attn_mask = &*attn;
  ForwardOptions o;
  o.train = train;
  o.grad = !(more & 0x40) || p.ConsumeBool();  // now and then backward after a forward without grad
  o.threads = 1;

  ForwardResult forward;
  if (!attnkit_fuzz::run_expecting_error_or_success([&] { forward = module->forward(x, in, o); })) return 0;
  const bool wrong_shape = p.ConsumeIntegral<std::uint8_t>() >= 245;
  Shape grad_shape = forward.context.shape;
  if (wrong_shape && !grad_shape.empty()) grad_shape.back() += 1;
  const Tensor grad_context = draw.tensor(grad_shape);
  ModuleGrad grads;
  if (!attnkit_fuzz::run_expecting_error_or_success([&] { grads = module->backward(grad_context); })) return 0;
  if (!o.grad) finding("backward accepted a forward without ForwardOptions::grad");
  if (wrong_shape) finding("backward accepted a grad_context of shape " + shape_to_string(grad_shape));

  // Shapes: the input's, kv's when given, every parameter's under its name.
  if (grads.input.shape != x.shape) finding("grad of x has shape " + shape_to_string(grads.input.shape));
  if (cross && grads.kv.shape != kv.shape) finding("grad of kv has shape " + shape_to_string(grads.kv.shape));
  const StateDict params = module->state_dict();
  if (grads.params.size() != params.size()) finding("backward returned another number of parameter gradients");
  for (const auto& [name, t] : params) {
    const Tensor* g = find_parameter(grads.params, name);
    if (!g || g->shape != t.shape) finding("parameter gradient " + name + " missing or misshapen");
  }
  if (draw.moderate) {
    expect_finite(grads.input, "x");
    if (cross) expect_finite(grads.kv, "kv");
    for (const auto& [name, g] : grads.params) expect_finite(g, name);
  }
  // A second backward for the same forward is an error (the state was released).
  if (attnkit_fuzz::run_expecting_error_or_success([&] { module->backward(grad_context); }))
    finding("a second backward for one forward was accepted");

  // The same forward and backward on 2 threads: the same bits (a fresh module: the dropout generator advanced).
  Module again(c);
  o.threads = 2;
  ForwardResult forward2;
  ModuleGrad grads2;
  if (!attnkit_fuzz::run_expecting_error_or_success([&] {
        forward2 = again.forward(x, in, o);
        grads2 = again.backward(grad_context);
      }))
    finding("forward and backward on 2 threads refused what 1 thread accepted");
  if (!same_bits(forward.context, forward2.context)) finding("context differs on 2 threads");
  if (!same_bits(grads.input, grads2.input)) finding("grad of x differs on 2 threads");
  if (cross && !same_bits(grads.kv, grads2.kv)) finding("grad of kv differs on 2 threads");
  for (const auto& [name, g] : grads.params) {
    const Tensor* g2 = find_parameter(grads2.params, name);
    if (!g2 || !same_bits(g, *g2)) finding("parameter gradient " + name + " differs on 2 threads");
  }

  // load_state_dict drops the saved state: backward after it is an error; a forward after it works.
  if (more & 0x80) {
    o.threads = 1;
    attnkit_fuzz::run_expecting_error_or_success([&] {
      again.forward(x, in, o);
      again.load_state_dict(params);
      if (attnkit_fuzz::run_expecting_error_or_success([&] { again.backward(grad_context); }))
        finding("backward after load_state_dict was accepted");
      again.forward(x, in, o);
    });
  }
  return 0;
}
