// attnkit fuzzing — the CLI's state_dict loader and the core's parameter checks behind it:
// byte 0 picks the mechanism and flags, the rest is JSON text → parse_json → state_dict_from_json →
// make_config (d_out, heads and qkv_bias inferred from the weights, as `attnkit run --weights` does) →
// Module(config, state_dict) → forward on a small input. attnkit::Error is an answer; anything else is a
// finding. An accepted state_dict must hold finite tensors whose shapes the module asked for.
#include <cmath>
#include <cstdint>
#include <string>

#include "cli.hpp"
#include "fuzz_common.hpp"
#include "json_io.hpp"

using namespace attnkit;
using attnkit_fuzz::finding;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0], sizes = data[1];
  const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);

  StateDict sd;
  std::size_t mask_size = 0;
  if (!attnkit_fuzz::run_expecting_error_or_success(
          [&] { sd = cli::state_dict_from_json(cli::parse_json(text, "--weights"), &mask_size); }))
    return 0;
  for (const auto& [name, t] : sd) {
    if (t.data.size() != checked_numel(t.shape))
      finding("state_dict tensor " + name + " data does not match its shape");
    for (float v : t.data)
      if (!std::isfinite(v)) finding("state_dict_from_json accepted a non-finite value in " + name);
  }

  // The run command's path from here on.
  const auto& mechs = all_mechanisms();
  cli::RunOptions o;
  o.mechanism = mechanism_name(mechs[flags % mechs.size()]);
  o.qkv_bias = flags & 0x08;
  if (flags & 0x10) o.d_out = 1 + sizes % 8;
  if (flags & 0x20) o.heads = 1 + (sizes >> 3) % 4;
  if (flags & 0x40) o.causal = (flags & 0x80) != 0;
  std::size_t d_in = 1 + (sizes >> 5);
  for (const auto& [name, t] : sd) {  // the d_in the weights were made for, when they say
    if (t.rank() == 2 && t.shape[1] >= 1 && t.shape[1] <= 64 && name.find("W_query") != std::string::npos) {
      d_in = mechs[flags % mechs.size()] == Mechanism::self_v1 ? t.shape[0] : t.shape[1];
      break;
    }
  }
  if (d_in == 0 || d_in > 64) d_in = 3;
  const std::size_t tokens = 1 + (flags >> 5) % 4;
  std::vector<float> values(tokens * d_in);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 7) * 0.25f - 0.75f;
  const Tensor x({tokens, d_in}, values);

  attnkit_fuzz::run_expecting_error_or_success([&] {
    const Config c = cli::make_config(o, x, &sd, mask_size);
    Module m(c, sd);
    // Accepted: every parameter the module asked for, with its shape, and nothing else.
    const auto shapes = m.parameter_shapes();
    const StateDict loaded = m.state_dict();
    if (loaded.size() != shapes.size()) finding("module holds a different number of parameters than it asks for");
    for (const auto& [name, shape] : shapes) {
      const Tensor* t = find_parameter(loaded, name);
      if (!t || t->shape != shape) finding("loaded parameter " + name + " missing or misshapen");
    }
    ForwardOptions fo;
    fo.return_weights = true;
    const ForwardResult r = m.forward(x, fo);
    bool finite_weights = true;
    for (const auto& [name, t] : sd)
      for (float v : t.data) finite_weights = finite_weights && std::fabs(v) <= 1e3f;
    if (finite_weights)
      for (float v : r.context.data)
        if (!std::isfinite(v)) finding("non-finite context from moderate weights");
  });
  return 0;
}
