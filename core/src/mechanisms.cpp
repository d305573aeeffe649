// attnkit — the six mechanisms: configuration, parameters (PyTorch names, layouts and draws) and forward.
// Every mechanism is one pipeline: project x into queries, keys and values (stacked per head), scaled
// dot-product attention per head, then out_proj for multihead. The mechanisms differ only in how
// their parameters map onto that pipeline.
#include "attnkit/mechanisms.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <memory>
#include <optional>
#include <new>

#include "attention.hpp"
#include "attnkit/errors.hpp"

namespace attnkit {
namespace {

const char* const kNames[] = {"simplified", "self-v1", "self", "causal", "multihead-wrapper", "multihead"};

std::string names_list() {
  std::string s;
  for (const char* n : kNames) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

bool has_dropout(Mechanism m) {
  return m == Mechanism::causal || m == Mechanism::multihead_wrapper || m == Mechanism::multihead;
}
bool has_heads(Mechanism m) { return m == Mechanism::multihead_wrapper || m == Mechanism::multihead; }
bool has_linear(Mechanism m) { return m != Mechanism::simplified && m != Mechanism::self_v1; }
bool has_mask_buffer(Mechanism m) { return has_dropout(m); }  // the classes that register_buffer('mask')

// "heads.<h>.mask" with h written as str(h) does (no sign, no leading zero) and h < num_heads.
bool is_head_mask_key(const std::string& key, std::size_t num_heads) {
  if (key.size() <= 11 || key.rfind("heads.", 0) != 0 || key.compare(key.size() - 5, 5, ".mask") != 0) return false;
  const std::string head = key.substr(6, key.size() - 11);
  if (head.size() > 19 || !std::all_of(head.begin(), head.end(), [](unsigned char c) { return std::isdigit(c); })) return false;
  const unsigned long long h = std::strtoull(head.c_str(), nullptr, 10);
  return std::to_string(h) == head && h < num_heads;
}

// User text in a message, on one line: control characters are shown as \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch >= 0x20 && ch != 0x7f) { out += static_cast<char>(ch); continue; }
    static const char hex[] = "0123456789abcdef";
    out += "\\x";
    out += hex[ch >> 4];
    out += hex[ch & 15];
  }
  return out;
}

std::string q(const std::string& s) { return "'" + printable(s) + "'"; }

// Name → tensor, so loading and packing stay linear in the number of heads (the wrapper has 3 per head).
std::unordered_map<std::string_view, const Tensor*> index_by_name(const StateDict& sd) {
  std::unordered_map<std::string_view, const Tensor*> index;
  index.reserve(sd.size());
  for (const auto& [key, value] : sd) index.emplace(key, &value);
  return index;
}

// Copies head h of a (b, n, ld) view into (b, H, n, hd) layout.
Tensor split_heads(const detail::HeadsView& v, std::size_t b, std::size_t n, std::size_t H, std::size_t hd) {
  Tensor t({b, H, n, hd});
  for (std::size_t bi = 0; bi < b; ++bi)
    for (std::size_t h = 0; h < H; ++h)
      for (std::size_t i = 0; i < n; ++i)
        std::memcpy(t.ptr() + ((bi * H + h) * n + i) * hd, v.data + (bi * n + i) * v.ld + v.col + h * hd,
                    hd * sizeof(float));
  return t;
}

// A buffer that forward writes in full before reading (the q|k|v projection, multihead's context before
// out_proj): unlike Tensor it is not zero-filled first. Same size checks and messages as Tensor. Small ones
// reuse a per-thread buffer (slot 0 or 1; forward never nests), so a tiny forward makes no allocation for them.
class Scratch {
 public:
  Scratch(std::initializer_list<std::size_t> shape, int slot) {
    const std::size_t n = checked_numel(shape);
    if (n <= kReused) {
      thread_local std::vector<float> reused[2];
      if (reused[slot].size() < kReused) reused[slot].resize(kReused);
      data_ = reused[slot].data();
      return;
    }
    owned_.reset(new (std::nothrow) float[n]);
    if (!owned_)
      throw Error("out of memory allocating a tensor of shape " + shape_to_string(Shape(shape)) + " (" +
                      std::to_string(n * sizeof(float)) + " bytes)",
                  ErrorKind::range);
    data_ = owned_.get();
  }
  float* get() const noexcept { return data_; }

 private:
  static constexpr std::size_t kReused = 4096;  // floats (16 KB per slot and thread)
  std::unique_ptr<float[]> owned_;
  float* data_ = nullptr;
};

// Unbatched input gives unbatched outputs, as PyTorch does.
void drop_batch(Tensor& t) {
  if (!t.shape.empty()) t.shape.erase(t.shape.begin());
}

}  // namespace

const std::vector<Mechanism>& all_mechanisms() {
  static const std::vector<Mechanism> all = {Mechanism::simplified, Mechanism::self_v1,           Mechanism::self,
                                             Mechanism::causal,     Mechanism::multihead_wrapper, Mechanism::multihead};
  return all;
}

const char* mechanism_name(Mechanism m) { return kNames[static_cast<int>(m)]; }

Mechanism parse_mechanism(std::string_view name) {
  for (Mechanism m : all_mechanisms())
    if (name == mechanism_name(m)) return m;
  throw Error("unknown mechanism " + q(std::string(name)) + "; expected one of " + names_list());
}

const Tensor* ForwardResult::intermediate(const std::string& name) const {
  for (const auto& [key, value] : intermediates)
    if (key == name) return &value;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------- config

void Module::validate_config() {
  const Config& c = config_;
  const std::string mech = q(mechanism_name(c.mechanism));
  if (c.mechanism != Mechanism::simplified) {
    if (c.d_in == 0) throw Error("d_in must be at least 1 (got 0)", ErrorKind::range);
    if (c.d_out == 0) throw Error("d_out must be at least 1 (got 0)", ErrorKind::range);
  }
  if (c.num_heads == 0) throw Error("num_heads must be at least 1 (got 0)", ErrorKind::range);
  if (!has_heads(c.mechanism) && c.num_heads != 1)
    throw Error("num_heads (" + std::to_string(c.num_heads) + ") applies only to multihead and multihead-wrapper; expected 1 for mechanism " + mech,
                ErrorKind::range);
  if (c.mechanism == Mechanism::multihead && c.d_out % c.num_heads != 0)
    throw Error("d_out (" + std::to_string(c.d_out) + ") must be divisible by num_heads (" + std::to_string(c.num_heads) + ")",
                ErrorKind::range);
  if (!(c.dropout >= 0.0 && c.dropout < 1.0))
    throw Error("dropout (" + format_number(c.dropout) + ") must be in [0, 1)", ErrorKind::range);
  if (c.dropout > 0.0 && !has_dropout(c.mechanism))
    throw Error("dropout applies only to causal, multihead-wrapper and multihead; expected 0 for mechanism " + mech, ErrorKind::range);
  if (c.qkv_bias && !has_linear(c.mechanism))
    throw Error("qkv_bias applies only to self, causal, multihead-wrapper and multihead; mechanism " + mech + " has no bias");

  causal_ = c.causal.value_or(has_dropout(c.mechanism));
  num_heads_ = c.num_heads;
  switch (c.mechanism) {
    case Mechanism::simplified: head_dim_ = c.d_in; break;
    case Mechanism::multihead: head_dim_ = c.d_out / c.num_heads; break;
    default: head_dim_ = c.d_out; break;
  }
  // Refuse parameter sizes that cannot be allocated before drawing or loading anything.
  checked_numel({3, num_heads_, head_dim_, c.d_in});  // as separate sizes: 3·num_heads·head_dim must not wrap
}

std::vector<std::pair<std::string, Shape>> Module::parameter_shapes() const {
  const Config& c = config_;
  std::vector<std::pair<std::string, Shape>> shapes;
  auto linear = [&](const std::string& name, std::size_t in, std::size_t out, bool bias) {
    shapes.emplace_back(name + ".weight", Shape{out, in});
    if (bias) shapes.emplace_back(name + ".bias", Shape{out});
  };
  auto qkv = [&](const std::string& prefix, std::size_t out) {
    for (const char* n : {"W_query", "W_key", "W_value"}) linear(prefix + n, c.d_in, out, c.qkv_bias);
  };
  switch (c.mechanism) {
    case Mechanism::simplified: break;
    case Mechanism::self_v1:
      for (const char* n : {"W_query", "W_key", "W_value"}) shapes.emplace_back(n, Shape{c.d_in, c.d_out});
      break;
    case Mechanism::self:
    case Mechanism::causal: qkv("", c.d_out); break;
    case Mechanism::multihead_wrapper:
      for (std::size_t h = 0; h < c.num_heads; ++h) qkv("heads." + std::to_string(h) + ".", c.d_out);
      break;
    case Mechanism::multihead:
      qkv("", c.d_out);
      linear("out_proj", c.d_out, c.d_out, true);  // out_proj always has a bias, as in the seed
      break;
  }
  return shapes;
}

// ---------------------------------------------------------------------------------------------- parameters

Module::Module(const Config& config) : config_(config), generator_(config.seed) {
  validate_config();
  draw_parameters();
  pack_parameters();
}

Module::Module(const Config& config, const StateDict& state_dict) : config_(config), generator_(config.seed) {
  validate_config();
  load_parameters(state_dict);
  pack_parameters();
}

void Module::draw_parameters() {
  // PyTorch draws in construction order; the state_dict lists parameters in that same order.
  for (const auto& [name, shape] : parameter_shapes()) {
    if (config_.mechanism == Mechanism::self_v1) {
      params_.emplace_back(name, generator_.rand(shape));  // torch.rand(d_in, d_out)
    } else {
      // nn.Linear: kaiming_uniform_(a=√5) gives bound 1/√fan_in for the weight; the bias uses the same bound.
      const std::size_t fan_in = name.compare(name.size() - 5, 5, ".bias") == 0 ? params_.back().second.shape[1] : shape[1];
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      params_.emplace_back(name, generator_.uniform(shape, -bound, bound));
    }
  }
}

void Module::load_parameters(const StateDict& sd) {
  const auto shapes = parameter_shapes();
  auto expected_keys = [&] {
    constexpr std::size_t kListed = 12;  // a wrapper with many heads would otherwise print thousands of names
    std::string s;
    for (std::size_t i = 0; i < shapes.size() && i < kListed; ++i) s += (i ? ", " : "") + shapes[i].first;
    if (shapes.size() > kListed) s += ", … (" + std::to_string(shapes.size()) + " keys in all)";
    return s.empty() ? std::string("none") : s;
  };
  std::unordered_map<std::string_view, std::size_t> expected;
  for (std::size_t i = 0; i < shapes.size(); ++i) expected.emplace(shapes[i].first, i);
  for (const auto& [raw_key, value] : sd) {
    if (expected.count(raw_key)) continue;
    const std::string key = printable(raw_key);
    // The classes' causal mask buffer is in a PyTorch state_dict; accept it when it is the mask we use:
    // "mask" (CausalAttention, MultiHeadAttention) or "heads.<h>.mask" for h < num_heads (the wrapper).
    const bool wrapper = config_.mechanism == Mechanism::multihead_wrapper;
    const bool mask_key = has_mask_buffer(config_.mechanism) && (wrapper ? is_head_mask_key(key, num_heads_) : key == "mask");
    if (mask_key) {
      if (value.rank() != 2 || value.shape[0] != value.shape[1])
        throw Error("state_dict key " + key + " has shape " + shape_to_string(value.shape) + ", expected a square [context_length, context_length]");
      if (config_.context_length == 0) config_.context_length = value.shape[0];
      if (value.shape[0] != config_.context_length)
        throw Error("state_dict key " + key + " has shape " + shape_to_string(value.shape) + ", expected [" +
                    std::to_string(config_.context_length) + ", " + std::to_string(config_.context_length) + "] (context_length)");
      continue;
    }
    if (!config_.qkv_bias && key.size() > 5 && key.compare(key.size() - 5, 5, ".bias") == 0 && key.find("out_proj") == std::string::npos &&
        has_linear(config_.mechanism))
      throw Error("state_dict has key " + key + " but qkv_bias is off; turn qkv_bias on to load it");
    throw Error("state_dict has unknown key " + key + "; expected keys " + expected_keys());
  }
  const auto given = index_by_name(sd);
  for (const auto& [name, shape] : shapes) {
    const auto it = given.find(name);
    const Tensor* t = it == given.end() ? nullptr : it->second;
    if (!t) throw Error("state_dict is missing key " + name + " (expected shape " + shape_to_string(shape) + ")");
    if (t->shape != shape)
      throw Error("state_dict key " + name + " has shape " + shape_to_string(t->shape) + ", expected " + shape_to_string(shape));
    check_finite(*t, "state_dict key " + name);
    params_.emplace_back(name, *t);
  }
}

void Module::pack_parameters() {
  // Stack every head's W_query, then W_key, then W_value into one (3·D, d_in) nn.Linear weight, so one GEMM
  // projects all three and head h of each reads columns [h·hd, (h+1)·hd) of its third.
  const Config& c = config_;
  if (c.mechanism == Mechanism::simplified) return;
  const std::size_t D = d_out_total(), d_in = c.d_in;
  qkv_weight_.assign(3 * D * d_in, 0.0f);
  if (c.qkv_bias) qkv_bias_.assign(3 * D, 0.0f);
  const auto params = index_by_name(params_);
  const char* names[] = {"W_query", "W_key", "W_value"};
  for (std::size_t which = 0; which < 3; ++which) {
    const std::size_t heads = c.mechanism == Mechanism::multihead_wrapper ? num_heads_ : 1;
    const std::size_t width = D / heads;  // rows each source tensor contributes
    for (std::size_t h = 0; h < heads; ++h) {
      const std::string prefix = c.mechanism == Mechanism::multihead_wrapper ? "heads." + std::to_string(h) + "." : "";
      float* dst = qkv_weight_.data() + (which * D + h * width) * d_in;
      if (c.mechanism == Mechanism::self_v1) {
        const Tensor& w = *params.at(names[which]);  // (d_in, d_out): transpose into nn.Linear layout
        for (std::size_t o = 0; o < width; ++o)
          for (std::size_t i = 0; i < d_in; ++i) dst[o * d_in + i] = w.data[i * width + o];
        continue;
      }
      const Tensor& w = *params.at(prefix + names[which] + ".weight");
      std::copy(w.data.begin(), w.data.end(), dst);
      if (c.qkv_bias) {
        const Tensor& b = *params.at(prefix + names[which] + ".bias");
        std::copy(b.data.begin(), b.data.end(), qkv_bias_.begin() + which * D + h * width);
      }
    }
  }
  // Pack both projections once for the gemm kernel: every forward call would otherwise repack them (per thread).
  auto packed = std::make_shared<detail::PackedWeights>();
  packed->qkv = std::make_unique<detail::PackedWeight>(qkv_weight_.data(), 3 * D, d_in);
  if (c.mechanism == Mechanism::multihead) {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (params_[i].first == "out_proj.weight") out_proj_weight_ = i;
      if (params_[i].first == "out_proj.bias") out_proj_bias_ = i;
    }
    packed->out_proj = std::make_unique<detail::PackedWeight>(params.at("out_proj.weight")->ptr(), c.d_out, D);
  }
  packed_ = std::move(packed);
}

// ---------------------------------------------------------------------------------------------- forward

ForwardResult Module::forward(const Tensor& x, const ForwardOptions& options) {
  const Config& c = config_;
  if (x.rank() != 2 && x.rank() != 3)
    throw Error("x must have shape (batch, tokens, d_in) or (tokens, d_in); got rank " + std::to_string(x.rank()) +
                " shape " + shape_to_string(x.shape));
  const bool batched = x.rank() == 3;
  const std::size_t b = batched ? x.shape[0] : 1, n = x.shape[batched ? 1 : 0], d_in = x.shape[batched ? 2 : 1];
  if (b == 0) throw Error("x has batch size 0; expected at least 1", ErrorKind::range);
  if (n == 0) throw Error("x has 0 tokens; expected at least 1", ErrorKind::range);
  if (d_in == 0) throw Error("x has d_in 0; expected at least 1", ErrorKind::range);
  if (c.d_in != 0 && d_in != c.d_in)
    throw Error("x has d_in " + std::to_string(d_in) + " (shape " + shape_to_string(x.shape) + "); expected d_in " + std::to_string(c.d_in));
  if (c.context_length != 0 && n > c.context_length)
    throw Error("x has " + std::to_string(n) + " tokens but context_length is " + std::to_string(c.context_length) +
                    "; expected at most " + std::to_string(c.context_length) + " tokens",
                ErrorKind::range);
  check_finite(x, "x");

  const std::size_t H = num_heads_, hd = c.mechanism == Mechanism::simplified ? d_in : head_dim_, D = H * hd, rows = b * n;
  const bool dropout_on = options.train && c.dropout > 0.0;
  const bool explain = options.return_weights || options.intermediates || dropout_on;
  if (explain) checked_numel({b, H, n, n});  // the explain path holds (b, h, n, n); refuse it before any work
  ForwardResult r;

  // Step 1 — queries, keys, values: x·Wᵀ (+ b) in one GEMM over the stacked weights.          (b·n, 3·D)
  std::optional<Scratch> qkv;
  detail::HeadsView query{x.ptr(), d_in, 0}, key = query, value = query;  // simplified: q = k = v = x
  if (c.mechanism != Mechanism::simplified) {
    qkv.emplace(std::initializer_list<std::size_t>{rows, 3 * D}, 0);
    detail::linear(x.ptr(), rows, d_in, qkv_weight_.data(), qkv_bias_.empty() ? nullptr : qkv_bias_.data(), 3 * D,
                   qkv->get(), options.threads, packed_->qkv.get());
    query = {qkv->get(), 3 * D, 0};
    key = {qkv->get(), 3 * D, D};
    value = {qkv->get(), 3 * D, 2 * D};
  }
  if (options.intermediates) {
    r.intermediates.emplace_back("queries", split_heads(query, b, n, H, hd));
    r.intermediates.emplace_back("keys", split_heads(key, b, n, H, hd));
    r.intermediates.emplace_back("values", split_heads(value, b, n, H, hd));
  }

  // Step 2 — attention per head: softmax(q·kᵀ / √d_k [+ mask]) [dropout] · v.                  (b, n, D)
  const detail::Sdpa sdpa{query, key, value, b, n, H, hd, causal_, c.mechanism != Mechanism::simplified, c.causal_route, options.threads};
  // Multihead's context only feeds out_proj: a scratch buffer. Otherwise it is the result.
  const bool multihead = c.mechanism == Mechanism::multihead;
  Tensor context;
  std::optional<Scratch> context_scratch;
  if (multihead) context_scratch.emplace(std::initializer_list<std::size_t>{b, n, D}, 1);
  else context = Tensor({b, n, D});
  float* const context_ptr = multihead ? context_scratch->get() : context.ptr();
  if (explain) {
    detail::SdpaSteps steps;
    const auto order = c.mechanism == Mechanism::multihead_wrapper ? detail::DropoutOrder::head_major : detail::DropoutOrder::batch_major;
    detail::sdpa_explain(sdpa, options.intermediates, dropout_on ? &generator_ : nullptr, c.dropout, order, steps, context_ptr);
    if (options.intermediates) {
      for (auto* step : {&steps.scores, &steps.scaled_scores, &steps.masked_scores, &steps.unmasked_weights}) {
        static const char* const names[] = {"scores", "scaled_scores", "masked_scores", "unmasked_weights"};
        if (!step->empty()) r.intermediates.emplace_back(names[step - &steps.scores], *step);
      }
      r.intermediates.emplace_back("weights", steps.weights);
      if (!steps.weights_after_dropout.empty()) r.intermediates.emplace_back("weights_after_dropout", steps.weights_after_dropout);
    }
    if (options.return_weights) r.weights = std::move(steps.weights);
  } else {
    detail::sdpa_fast(sdpa, context_ptr);
  }

  // Step 3 — multihead combines the heads with out_proj.                                      (b, n, d_out)
  if (multihead) {
    if (options.intermediates)
      r.intermediates.emplace_back("context_before_out_proj",
                                   Tensor({b, n, D}, std::vector<float>(context_ptr, context_ptr + b * n * D)));
    Tensor out({b, n, c.d_out});
    detail::linear(context_ptr, rows, D, params_[out_proj_weight_].second.ptr(), params_[out_proj_bias_].second.ptr(), c.d_out, out.ptr(), options.threads,
                   packed_->out_proj.get());
    context = std::move(out);
  }
  r.context = std::move(context);
  if (options.intermediates) r.intermediates.emplace_back("context", r.context);

  if (!batched) {
    drop_batch(r.context);
    drop_batch(r.weights);
    for (auto& [name, t] : r.intermediates) drop_batch(t);
  }
  return r;
}

}  // namespace attnkit
