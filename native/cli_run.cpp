// attnkit CLI — `attnkit run`: one forward pass of a mechanism on a JSON input, printed as JSON or as
// PyTorch prints tensors.
#include <unistd.h>

#include <ostream>

#include "cli.hpp"
#include "json_io.hpp"
#include "text_format.hpp"

namespace attnkit::cli {
namespace {

// Parameters, activations and the attention weights (b, h, n, n) with their JSON text (~12 bytes a
// number), in bytes: a run that would not fit in this machine's memory is refused before anything is
// allocated, instead of being killed (or paging for minutes) half-way.
double bytes_needed(const Config& c, const Tensor& x, const RunOptions& o, double* weight_bytes) {
  const double d_in = double(c.d_in), d_out = double(c.d_out), bias = c.qkv_bias ? 1.0 : 0.0;
  const bool split = c.mechanism == Mechanism::multihead || c.mechanism == Mechanism::multihead_wrapper;
  const double heads = split ? double(c.num_heads) : 1.0;
  double parameters = 0, width = d_out;
  switch (c.mechanism) {
    case Mechanism::simplified: width = d_in; break;
    case Mechanism::self_v1: parameters = 3 * d_in * d_out; break;
    case Mechanism::self:
    case Mechanism::causal: parameters = 3 * (d_in * d_out + bias * d_out); break;
    case Mechanism::multihead_wrapper: parameters = heads * 3 * (d_in * d_out + bias * d_out); width = heads * d_out; break;
    case Mechanism::multihead: parameters = 3 * (d_in * d_out + bias * d_out) + d_out * d_out + d_out; break;
  }
  const double n = double(x.shape[x.rank() - 2]), b = x.rank() == 3 ? double(x.shape[0]) : 1.0;
  const double text = o.format == Format::json ? 12.0 : 0.0, steps = o.intermediates ? 6.0 : 1.0;
  const double activations = b * n * (d_in + 4 * width) * (4.0 + text) * (o.intermediates ? 2.0 : 1.0);
  *weight_bytes = o.no_weights ? 0.0 : b * heads * n * n * (4.0 + text) * steps;
  return 4.0 * parameters + activations + *weight_bytes;
}

void check_memory(const Config& config, const Tensor& x, const RunOptions& o) {
  double weight_bytes = 0;
  const double bytes = bytes_needed(config, x, o, &weight_bytes);
  const double memory = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGESIZE));
  if (memory > 0 && bytes > memory) {
    const auto text = [](double v) { return std::to_string(static_cast<unsigned long long>(v)); };
    throw Error("this run of " + std::string(mechanism_name(config.mechanism)) + " needs about " + text(bytes) +
                    " bytes (attention weights and their output: " + text(weight_bytes) +
                    "), more than this machine's memory (" + text(memory) +
                    " bytes); expected a smaller --d-out or --heads, fewer tokens, or --no-weights",
                ErrorKind::range);
  }
}

std::string to_json(const ForwardResult& r, const Config& config, const RunOptions& o) {
  std::string s = "{\n  \"mechanism\": ";
  append_string(s, mechanism_name(config.mechanism));
  s += ",\n  \"context_shape\": ";
  append_shape(s, r.context.shape);
  s += ",\n  \"context\": ";
  append_tensor(s, r.context);
  if (!o.no_weights) {
    s += ",\n  \"weights_shape\": ";
    append_shape(s, r.weights.shape);
    s += ",\n  \"attention_weights\": ";
    append_tensor(s, r.weights);
  }
  if (o.intermediates) {
    s += ",\n  \"intermediates\": {";
    for (std::size_t i = 0; i < r.intermediates.size(); ++i) {
      s += i ? ",\n    " : "\n    ";
      append_string(s, r.intermediates[i].first);
      s += ": ";
      append_tensor(s, r.intermediates[i].second);
    }
    s += "\n  }";
  }
  return s + "\n}\n";
}

void append_text(std::string& s, const std::string& name, const Tensor& t) {
  s += name + ":\n" + format_tensor(t) + "\n" + name + ".shape: " + format_size(t.shape) + "\n";
}

// As the seed prints its steps: each tensor, then its shape.
std::string to_text(const ForwardResult& r, const RunOptions& o) {
  std::string s;
  if (o.intermediates) {
    for (const auto& [name, tensor] : r.intermediates) {
      if (!s.empty()) s += "\n";
      append_text(s, name, tensor);
    }
    return s;
  }
  append_text(s, "context", r.context);
  if (!o.no_weights) {
    s += "\n";
    append_text(s, "attention_weights", r.weights);
  }
  return s;
}

// The state_dict under --weights-prefix in the book's names, for make_config and Module, with what its format says
// (qkv bias, causal, GPT-2's mask size) as the run's defaults.
void weights_to_book_names(RunOptions& o, const Tensor& x, StateDict& sd, std::size_t& mask_size) {
  Config given;
  given.mechanism = parse_mechanism(o.mechanism);
  given.d_in = x.shape.back();
  given.d_out = o.d_out.value_or(0);
  given.num_heads = o.heads.value_or(1);
  given.causal = o.causal;
  given.qkv_bias = o.qkv_bias;
  given.context_length = o.context_length.value_or(0);
  BookWeights book = weights_to_book(given, sd, o.weights_format, o.weights_prefix);
  sd = std::move(book.state_dict);
  if (book.format == WeightsFormat::book) {
    if (!o.weights_prefix.empty()) {  // the mask buffer's size, as state_dict_from_json found it, under the prefix
      mask_size = 0;
      for (const auto& [key, t] : sd)
        if (!mask_size && is_mask_buffer_name(key) && t.rank() == 2 && t.shape[0] == t.shape[1]) mask_size = t.shape[0];
    }
    return;
  }
  if (!o.heads) {
    const bool gpt2 = book.format == WeightsFormat::gpt2;
    throw Error(std::string("--heads is required with ") + weights_format_name(book.format) + " weights: " +
                (gpt2 ? "GPT-2's n_head is not in its state_dict (GPT-2 small has 12)"
                      : "nn.MultiheadAttention's num_heads is not in its state_dict") +
                "; expected --heads N dividing " + std::to_string(book.config.d_out));
  }
  if (book.config.k_dim || book.config.v_dim)
    throw Error("torch-mha k_proj_weight / v_proj_weight have kdim " + std::to_string(book.config.k_dim ? book.config.k_dim : given.d_in) +
                " and vdim " + std::to_string(book.config.v_dim ? book.config.v_dim : given.d_in) +
                ": cross-attention weights, which need a key/value input that attnkit run does not take; expected kdim = vdim = " +
                std::to_string(given.d_in));
  o.causal = book.config.causal;
  o.qkv_bias = book.config.qkv_bias;
  mask_size = book.config.context_length;
}

}  // namespace

void command_run(const RunOptions& o, std::istream& in, std::ostream& out) {
  // An unknown name, or an option that does not apply to it, is reported before any file is read.
  check_options_apply(parse_mechanism(o.mechanism), o);
  if (o.input == "-" && o.weights && *o.weights == "-") {
    throw Error("--input and --weights cannot both read standard input (-); expected a file for one of them");
  }
  const Tensor x = input_from_json(parse_json(read_source(o.input, in, "--input"), "--input"));
  std::optional<StateDict> state_dict;
  std::size_t mask_size = 0;
  RunOptions run = o;
  if (o.weights) {
    state_dict = state_dict_from_json(parse_json(read_source(*o.weights, in, "--weights"), "--weights"), &mask_size);
    weights_to_book_names(run, x, *state_dict, mask_size);
  }
  const Config config = make_config(run, x, state_dict ? &*state_dict : nullptr, mask_size);
  check_memory(config, x, o);
  Module module = state_dict ? Module(config, *state_dict) : Module(config);

  ForwardOptions options;
  options.train = o.train;
  options.return_weights = !o.no_weights;
  options.intermediates = o.intermediates;
  options.threads = o.threads;
  const ForwardResult result = module.forward(x, options);

  const std::string text = o.format == Format::json ? to_json(result, config, o) : to_text(result, o);
  out << text << std::flush;
}

}  // namespace attnkit::cli
