// attnkit fuzzing — Module construction and forward over every mechanism and option.
//
// Bytes → a Config (mechanism, small sizes with occasional huge or wrapping ones, causal, qkv_bias,
// dropout incl. NaN and out-of-range, seed, route), optionally a state_dict (the drawn one, mutated: a
// value made NaN/Inf, a key dropped, renamed, added, reshaped), an input tensor of rank 0..4 (values
// may be NaN, ±Inf, huge, denormal) and ForwardOptions. attnkit::Error is an answer; anything else
// (crash, sanitizer report, other exception, hang) is a finding. When the input and parameters are
// finite and moderate, the answer must also be right in form: shapes as documented, finite numbers,
// weight rows summing to 1, and the fused path equal to the explain path.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "fuzz_common.hpp"

using namespace attnkit;
using attnkit_fuzz::finding;

namespace {

constexpr std::size_t kMaxElements = 1024;  // input tensor elements: keeps every exec well under a millisecond

// Mostly small sizes; now and then a size that must be refused before anything is allocated (each is
// ≥ 2^43, so any product with it exceeds max_tensor_bytes()), including ones that wrap size_t when
// multiplied by 2, 3 or the head count.
std::size_t pick_size(FuzzedDataProvider& p, std::size_t small_max) {
  const std::uint8_t sel = p.ConsumeIntegral<std::uint8_t>();
  if (sel < 244) return sel % (small_max + 1);
  static const std::size_t edges[] = {std::size_t(1) << 43, std::size_t(1) << 62,
                                      std::size_t(1) << 63, SIZE_MAX,
                                      SIZE_MAX / 3,         SIZE_MAX / 3 + 1,
                                      SIZE_MAX / 2 + 1,     (SIZE_MAX / 3) * 2 + 2 /* ·3 wraps to a small number */,
                                      std::size_t(1) << 61, (std::size_t(1) << 62) + 1,
                                      std::size_t(1) << 44, std::size_t(1) << 50};
  return edges[sel % (sizeof edges / sizeof edges[0])];
}

struct Value {
  float v;
  bool moderate;  // finite and |v| ≤ 100
};

Value pick_value(FuzzedDataProvider& p) {
  const std::uint8_t sel = p.ConsumeIntegral<std::uint8_t>();
  float v;
  if (sel < 200) {
    v = static_cast<float>(p.ConsumeIntegral<std::int16_t>()) / 512.0f;  // |v| < 64
  } else if (sel < 230) {
    const std::uint32_t bits = p.ConsumeIntegral<std::uint32_t>();
    std::memcpy(&v, &bits, sizeof v);
  } else {
    static const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                                     std::numeric_limits<float>::infinity(),
                                     -std::numeric_limits<float>::infinity(),
                                     1e30f,
                                     -1e30f,
                                     std::numeric_limits<float>::max(),
                                     -std::numeric_limits<float>::max(),
                                     std::numeric_limits<float>::denorm_min(),
                                     0.0f,
                                     -0.0f,
                                     1e-30f,
                                     88.0f,
                                     -88.0f};
    v = specials[sel % (sizeof specials / sizeof specials[0])];
  }
  return {v, std::isfinite(v) && std::fabs(v) <= 100.0f};
}

double pick_dropout(FuzzedDataProvider& p) {
  const std::uint8_t sel = p.ConsumeIntegral<std::uint8_t>();
  if (sel < 128) return 0.0;
  static const double specials[] = {0.1,
                                    0.5,
                                    0.9,
                                    0.999999,
                                    -0.0,
                                    -0.1,
                                    1.0,
                                    1.5,
                                    std::nan(""),
                                    std::numeric_limits<double>::infinity(),
                                    -std::numeric_limits<double>::infinity(),
                                    std::numeric_limits<double>::denorm_min(),
                                    std::nextafter(1.0, 0.0)};
  if (sel < 200) return specials[sel % (sizeof specials / sizeof specials[0])];
  return p.ConsumeFloatingPoint<double>();
}

void mutate_state_dict(FuzzedDataProvider& p, StateDict& sd, bool& moderate) {
  const int edits = p.ConsumeIntegralInRange(0, 3);
  for (int e = 0; e < edits && p.remaining_bytes() > 0; ++e) {
    const int op = p.ConsumeIntegralInRange(0, 7);
    const std::size_t i = sd.empty() ? 0 : p.ConsumeIntegralInRange<std::size_t>(0, sd.size() - 1);
    switch (op) {
      case 0:  // one value replaced
        if (!sd.empty() && !sd[i].second.data.empty()) {
          const Value v = pick_value(p);
          sd[i].second.data[p.ConsumeIntegralInRange<std::size_t>(0, sd[i].second.data.size() - 1)] = v.v;
          moderate = moderate && v.moderate;
        }
        break;
      case 1:  // a key dropped
        if (!sd.empty()) sd.erase(sd.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      case 2:  // a key renamed
        if (!sd.empty()) sd[i].first = p.ConsumeRandomLengthString(24);
        break;
      case 3: {  // a tensor reshaped (same data: the element count may no longer match → Tensor refuses)
        if (!sd.empty()) {
          Shape s = sd[i].second.shape;
          if (!s.empty()) s[p.ConsumeIntegralInRange<std::size_t>(0, s.size() - 1)] = pick_size(p, 6);
          if (p.ConsumeBool()) s.push_back(1);
          try {
            std::size_t n = 1;
            bool ok = true;
            for (std::size_t d : s) {
              if (d != 0 && n > kMaxElements / d) ok = false;
              n *= d;
            }
            if (ok && n <= kMaxElements) sd[i].second = Tensor(s, std::vector<float>(n, 0.25f));
            else sd[i].second.shape = s;  // inconsistent on purpose: shape no longer matches data
          } catch (const Error&) {
          }
        }
        break;
      }
      case 4: {  // the causal mask buffer, as PyTorch saves it
        const std::size_t n = p.ConsumeIntegralInRange<std::size_t>(0, 8), m = p.ConsumeBool() ? n : n + 1;
        const char* names[] = {"mask", "heads.0.mask", "heads.7.mask", "x.mask"};
        sd.emplace_back(names[p.ConsumeIntegralInRange(0, 3)], Tensor({n, m}, std::vector<float>(n * m, 1.0f)));
        break;
      }
      case 5:  // a duplicate key
        if (!sd.empty()) sd.push_back(sd[i]);
        break;
      case 6:  // an unknown key
        sd.emplace_back(p.ConsumeRandomLengthString(24), Tensor({1}, {0.0f}));
        break;
      case 7:  // order shuffled
        if (sd.size() > 1) std::swap(sd[i], sd[0]);
        break;
    }
  }
}

float max_abs(const Tensor& t) {
  float m = 0.0f;
  for (float v : t.data) m = std::fmax(m, std::fabs(v));
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);

  Config c;
  const auto& mechs = all_mechanisms();
  if (p.ConsumeIntegralInRange(0, 15) == 0) {
    const std::string name = p.ConsumeRandomLengthString(24);
    if (!attnkit_fuzz::run_expecting_error_or_success([&] { c.mechanism = parse_mechanism(name); })) return 0;
    if (name != mechanism_name(c.mechanism))
      finding("parse_mechanism('" + name + "') accepted a name that is not its own");
  } else {
    c.mechanism = mechs[p.ConsumeIntegralInRange<std::size_t>(0, mechs.size() - 1)];
  }
  c.d_in = pick_size(p, 12);
  c.d_out = pick_size(p, 12);
  c.num_heads = p.ConsumeIntegralInRange(0, 7) == 0 ? pick_size(p, 6) : p.ConsumeIntegralInRange<std::size_t>(1, 4);
  c.context_length = pick_size(p, 10);
  const int causal = p.ConsumeIntegralInRange(0, 2);
  if (causal < 2) c.causal = causal == 1;
  c.qkv_bias = p.ConsumeBool();
  c.dropout = pick_dropout(p);
  c.seed = p.ConsumeIntegral<std::uint64_t>();
  c.causal_route = p.ConsumeBool() ? CausalRoute::renormalise : CausalRoute::neg_inf;

  // The input: rank 0..4, dims small (or one huge dim next to a zero one), values from pick_value.
  const std::size_t rank = p.ConsumeIntegralInRange<std::size_t>(0, 7) == 0
                               ? p.ConsumeIntegralInRange<std::size_t>(0, 4)
                               : p.ConsumeIntegralInRange<std::size_t>(2, 3);
  Shape shape(rank);
  std::size_t numel = 1;
  bool has_zero = false;
  for (auto& d : shape) {
    d = p.ConsumeIntegralInRange<std::size_t>(0, 15) == 0 ? pick_size(p, 3)
                                                          : p.ConsumeIntegralInRange<std::size_t>(1, 8);
    has_zero = has_zero || d == 0;
  }
  if (has_zero) {
    numel = 0;
  } else {
    for (auto& d : shape) {
      if (d > kMaxElements) d = 1 + d % 8;
      if (numel * d > kMaxElements) d = 1;
      numel *= d;
    }
  }
  bool moderate = true;
  std::vector<float> values(numel);
  for (float& v : values) {
    const Value x = pick_value(p);
    v = x.v;
    moderate = moderate && x.moderate;
  }
  Tensor x;
  x.shape = shape;
  x.data = std::move(values);
  if (p.ConsumeIntegralInRange(0, 31) == 0 && !x.data.empty()) x.data.pop_back();  // shape ≠ data size

  ForwardOptions o;
  o.train = p.ConsumeBool();
  o.return_weights = p.ConsumeBool();
  o.intermediates = p.ConsumeIntegralInRange(0, 3) == 0;
  o.threads = p.ConsumeIntegralInRange<std::size_t>(0, 3);
  const bool use_state_dict = p.ConsumeIntegralInRange(0, 3) == 0;

  if (std::getenv("ATTNKIT_FUZZ_DEBUG")) {  // to read a saved input: ATTNKIT_FUZZ_DEBUG=1 fuzz_forward crash-…
    std::fprintf(stderr,
                 "mechanism=%s d_in=%zu d_out=%zu num_heads=%zu context_length=%zu causal=%d qkv_bias=%d dropout=%g "
                 "seed=%llu route=%d x=%s train=%d return_weights=%d intermediates=%d threads=%zu state_dict=%d\n",
                 mechanism_name(c.mechanism), c.d_in, c.d_out, c.num_heads, c.context_length, causal, c.qkv_bias,
                 c.dropout, static_cast<unsigned long long>(c.seed), static_cast<int>(c.causal_route),
                 shape_to_string(x.shape).c_str(), o.train, o.return_weights, o.intermediates, o.threads,
                 use_state_dict);
  }

  // Construct (drawn parameters, or a mutated state_dict), then forward.
  std::unique_ptr<Module> module;
  if (!attnkit_fuzz::run_expecting_error_or_success([&] { module = std::make_unique<Module>(c); })) return 0;
  if (use_state_dict) {
    StateDict sd = module->state_dict();
    mutate_state_dict(p, sd, moderate);
    if (!attnkit_fuzz::run_expecting_error_or_success([&] { module = std::make_unique<Module>(c, sd); })) return 0;
  }
  ForwardResult r;
  if (!attnkit_fuzz::run_expecting_error_or_success([&] { r = module->forward(x, o); })) return 0;

  // ---- the answer must be right in form
  const bool batched = x.rank() == 3;
  const std::size_t b = batched ? x.shape[0] : 1, n = x.shape[x.rank() - 2];
  const std::size_t H = module->num_heads();
  const std::size_t D = c.mechanism == Mechanism::multihead    ? c.d_out
                        : c.mechanism == Mechanism::simplified ? x.shape.back()  // context = weights·x
                                                               : module->d_out_total();
  const Shape want_ctx = batched ? Shape{b, n, D} : Shape{n, D};
  if (r.context.shape != want_ctx)
    finding("context shape " + shape_to_string(r.context.shape) + ", expected " + shape_to_string(want_ctx));
  if (r.context.data.size() != checked_numel(r.context.shape)) finding("context data size does not match its shape");
  if (o.return_weights) {
    const Shape want_w = batched ? Shape{b, H, n, n} : Shape{H, n, n};
    if (r.weights.shape != want_w)
      finding("weights shape " + shape_to_string(r.weights.shape) + ", expected " + shape_to_string(want_w));
  } else if (!r.weights.empty()) {
    finding("weights returned without return_weights");
  }
  if (!moderate) return 0;  // huge inputs may overflow float32 in q·kᵀ: only the form is checked

  for (float v : r.context.data)
    if (!std::isfinite(v)) finding("non-finite context for finite, moderate input and parameters");
  if (o.return_weights) {
    for (std::size_t row = 0; row < r.weights.numel() / n; ++row) {
      double s = 0.0;
      for (std::size_t j = 0; j < n; ++j) {
        const float w = r.weights.data[row * n + j];
        if (!(w >= 0.0f && w <= 1.0f)) finding("attention weight outside [0, 1]: " + std::to_string(w));
        if (module->causal() && j > row % n && w != 0.0f) finding("causal weight above the diagonal is not 0");
        s += w;
      }
      if (std::fabs(s - 1.0) > 1e-4) finding("weight row sums to " + std::to_string(s) + ", expected 1");
    }
  }

  // The fused path (no weights) and the explain path (weights kept) agree; no dropout, so no generator draws.
  bool compare_paths = !(o.train && c.dropout > 0.0);
  if (compare_paths) {
    ForwardOptions other = o;
    other.return_weights = !(o.return_weights || o.intermediates);
    other.intermediates = false;
    other.threads = o.threads == 1 ? 2 : 1;
    ForwardResult r2;
    if (!attnkit_fuzz::run_expecting_error_or_success([&] { r2 = module->forward(x, other); }))
      finding("the second forward on the same input threw");
    if (r2.context.shape != r.context.shape) finding("fused and explain paths give different context shapes");
    const float scale = std::fmax(1.0f, std::fmax(max_abs(r.context), max_abs(r2.context)));
    for (std::size_t i = 0; i < r.context.numel(); ++i) {
      if (std::fabs(r.context.data[i] - r2.context.data[i]) > 1e-4f * scale)
        finding("fused and explain paths differ at " + std::to_string(i) + ": " + std::to_string(r.context.data[i]) +
                " vs " + std::to_string(r2.context.data[i]));
    }
  }
  return 0;
}
