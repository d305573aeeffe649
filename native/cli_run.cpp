// attnkit CLI — `attnkit run`: one forward pass of a mechanism on a JSON input, printed as JSON or as
// PyTorch prints tensors.
#include <unistd.h>

#include <ostream>

#include "cli.hpp"
#include "json_io.hpp"
#include "text_format.hpp"

namespace attnkit::cli {
namespace {

// The attention weights (b, h, n, n) are the one output that grows with n²: refuse before computing
// when they (and their JSON text, ~12 bytes a number) would not fit in this machine's memory.
void check_weights_fit(const Config& config, const Module& module, const Tensor& x, const RunOptions& o) {
  if (o.no_weights) return;
  const std::size_t n = x.shape[x.rank() - 2], b = x.rank() == 3 ? x.shape[0] : 1;
  const double elements = double(b) * double(module.num_heads()) * double(n) * double(n);
  const double bytes = elements * (4.0 + (o.format == Format::json ? 12.0 : 0.0)) * (o.intermediates ? 6.0 : 1.0);
  const double memory = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGESIZE));
  if (memory > 0 && bytes > memory) {
    throw Error("the attention weights of " + std::string(mechanism_name(config.mechanism)) + " for " + std::to_string(n) +
                    " tokens need about " + std::to_string(static_cast<unsigned long long>(bytes)) +
                    " bytes to compute and print, more than this machine's memory (" +
                    std::to_string(static_cast<unsigned long long>(memory)) + " bytes); expected fewer tokens, or --no-weights",
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

}  // namespace

void command_run(const RunOptions& o, std::istream& in, std::ostream& out) {
  parse_mechanism(o.mechanism);  // an unknown name is reported before any file is read
  if (o.input == "-" && o.weights && *o.weights == "-") {
    throw Error("--input and --weights cannot both read standard input (-); expected a file for one of them");
  }
  const Tensor x = input_from_json(parse_json(read_source(o.input, in, "--input"), "--input"));
  std::optional<StateDict> state_dict;
  std::size_t mask_size = 0;
  if (o.weights) {
    state_dict = state_dict_from_json(parse_json(read_source(*o.weights, in, "--weights"), "--weights"), &mask_size);
  }
  const Config config = make_config(o, x, state_dict ? &*state_dict : nullptr, mask_size);
  Module module = state_dict ? Module(config, *state_dict) : Module(config);
  check_weights_fit(config, module, x, o);

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
