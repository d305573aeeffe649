// attnkit CLI — what `attnkit run` holds at its peak, in bytes: the core's counts for the module and the forward
// call (Module::parameter_bytes, Module::forward_bytes) and the CLI's own: the JSON text read, its parsed document,
// the input and the state_dict as tensors, and the output text. A run that would not fit is refused before the
// module is built; --dry-run prints the counts.
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "cli.hpp"

namespace attnkit::cli {
namespace {

constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
std::size_t add(std::size_t a, std::size_t b) { return a > kMax - b ? kMax : a + b; }
std::size_t mul(std::size_t a, std::size_t b) { return b != 0 && a > kMax / b ? kMax : a * b; }
std::size_t numel(const Shape& s) {
  std::size_t n = 1;
  for (std::size_t d : s) n = mul(n, d);
  return n;
}

// Output text per number, at most: the shortest float32 that reads back (up to "-1.17549435e-38") and ", ".
constexpr std::size_t kJsonNumberBytes = 18, kTextNumberBytes = 14;

// A parsed nested list of numbers (nlohmann: 16 bytes a value; each list a vector grown by doubling, and
// its own allocation).
std::size_t parsed_bytes(const Shape& s) {
  if (s.empty()) return 16;
  std::size_t capacity = 1;
  while (capacity < s.back()) capacity *= 2;
  const std::size_t lists = numel(s) / std::max<std::size_t>(s.back(), 1);
  return mul(lists, add(mul(capacity, 16), 64));
}

// The shapes of the tensors `attnkit run` prints (batch dimension kept: an upper bound).
std::vector<Shape> printed_tensors(const Config& c, const Shape& x, const RunOptions& o, std::size_t n_k) {
  const bool batched = x.size() == 3;
  const std::size_t b = batched ? x[0] : 1, n = x[batched ? 1 : 0], d_in = x.back();
  if (n_k == 0) n_k = n;
  const MechanismTraits& t = traits(c.mechanism);
  const std::size_t heads = option_applies(c.mechanism, "num_heads") ? c.num_heads : 1;
  const std::size_t width = !t.has_parameters                     ? d_in
                            : c.mechanism == Mechanism::multihead ? c.d_out
                                                                  : mul(heads, c.d_out);
  const std::size_t head_dim = c.mechanism == Mechanism::multihead ? c.d_out / heads
                               : !t.has_parameters                 ? d_in
                                                                   : c.d_out;
  const Shape square = {b, heads, n, n_k}, context = {b, n, width}, per_head = {b, heads, n, head_dim};
  std::vector<Shape> printed = {context};
  if (!o.no_weights) printed.push_back(square);
  if (o.intermediates) {
    const bool causal = c.causal.value_or(t.default_causal), dropout = o.train && c.dropout > 0;
    printed.insert(printed.end(), 3, per_head);                                                // queries, keys, values
    printed.insert(printed.end(), 3 + (causal ? 1 : 0) + (dropout ? 1 : 0), square);           // scores … weights
    printed.push_back(context);                                                                // context
    if (c.mechanism == Mechanism::multihead) printed.push_back({b, n, mul(heads, head_dim)});  // before out_proj
  }
  return printed;
}

// Bytes of the printed text: every number in JSON; in text, as PyTorch prints, at most 1000 numbers in full and
// 3 at each edge of every dimension beyond that (text_format.cpp).
std::size_t printed_bytes(const std::vector<Shape>& tensors, Format format) {
  std::size_t bytes = 0;
  for (const Shape& s : tensors) {
    std::size_t numbers = numel(s);
    if (format == Format::text && numbers > 1000) {
      numbers = 1;
      for (std::size_t d : s) numbers = mul(numbers, std::min<std::size_t>(d, 6));
    }
    bytes = add(bytes, mul(numbers, format == Format::json ? kJsonNumberBytes : kTextNumberBytes));
  }
  return bytes;
}

}  // namespace

RunMemory run_memory(const Config& config, const Shape& x, const RunOptions& o, std::size_t input_text,
                     const StateDict* state_dict, std::size_t weights_text, const ForwardInputs* inputs) {
  RunMemory m;
  const ForwardInputs none;
  const ForwardInputs& in = inputs ? *inputs : none;
  ForwardOptions forward;
  forward.train = o.train;
  forward.return_weights = !o.no_weights;
  forward.intermediates = o.intermediates;
  forward.threads = o.threads;
  std::size_t module_kept = 0;
  m.parameter_bytes = Module::parameter_bytes(config, &module_kept);
  m.forward_bytes = Module::forward_bytes(config, x, in, forward);
  for (const auto& [name, shape] : parameter_shapes(config)) m.parameters = add(m.parameters, numel(shape));
  // x and the other inputs: each as a tensor and as its parsed nested list.
  std::size_t x_bytes = mul(numel(x), sizeof(float)), parsed = parsed_bytes(x);
  for (const Shape* s :
       {in.kv ? &in.kv->shape : nullptr, in.value_input ? &in.value_input->shape : nullptr,
        in.key_padding_mask ? &in.key_padding_mask->shape : nullptr, in.attn_mask ? &in.attn_mask->shape : nullptr})
    if (s) {
      x_bytes = add(x_bytes, mul(numel(*s), sizeof(float)));
      parsed = add(parsed, parsed_bytes(*s));
    }
  m.input_bytes = add(add(input_text, parsed), x_bytes);
  std::size_t state_dict_bytes = 0;
  if (state_dict) {
    std::size_t parsed = 0;
    for (const auto& [name, tensor] : *state_dict) {
      state_dict_bytes = add(state_dict_bytes, add(mul(tensor.numel(), sizeof(float)), 128));
      parsed = add(parsed, parsed_bytes(tensor.shape));
    }
    m.weights_bytes = add(add(weights_text, parsed), state_dict_bytes);
  }
  const std::size_t n_k = in.kv && in.kv->rank() >= 2 ? in.kv->shape[in.kv->rank() - 2] : 0;
  m.output_bytes = printed_bytes(printed_tensors(config, x, o, n_k), o.format);
  // Reading the input; then the weights (the input held); building the module; then the run (input, state_dict,
  // module, forward, text).
  const std::size_t held = add(x_bytes, state_dict_bytes);
  const std::size_t build = add(held, m.parameter_bytes);
  const std::size_t run = add(add(held, add(module_kept, m.forward_bytes)), m.output_bytes);
  m.peak_bytes = add(kProcessBytes, std::max({m.input_bytes, add(x_bytes, m.weights_bytes), build, run}));
  return m;
}

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
}

void check_memory(const Config& config, const RunMemory& m) {
  const double memory = physical_memory_bytes();
  if (memory > 0 && double(m.peak_bytes) > memory) {
    throw Error("this run of " + std::string(mechanism_name(config.mechanism)) + " needs about " +
                    std::to_string(m.peak_bytes) + " bytes (module " + std::to_string(m.parameter_bytes) +
                    ", forward " + std::to_string(m.forward_bytes) + ", output text " + std::to_string(m.output_bytes) +
                    "), more than this machine's memory (" + std::to_string(static_cast<unsigned long long>(memory)) +
                    " bytes); expected a smaller --d-out or --heads, fewer tokens, or --no-weights",
                ErrorKind::range);
  }
}

std::string memory_json(const Config& config, const RunMemory& m) {
  return "{\"peak_bytes\": " + std::to_string(m.peak_bytes) + ", \"parameters\": " + std::to_string(m.parameters) +
         ", \"parameter_bytes\": " + std::to_string(m.parameter_bytes) +
         ", \"forward_bytes\": " + std::to_string(m.forward_bytes) +
         ", \"input_bytes\": " + std::to_string(m.input_bytes) +
         ", \"weights_bytes\": " + std::to_string(m.weights_bytes) +
         ", \"output_bytes\": " + std::to_string(m.output_bytes) + ", \"mechanism\": \"" +
         mechanism_name(config.mechanism) + "\"}\n";
}

}  // namespace attnkit::cli
