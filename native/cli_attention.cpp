// attnkit CLI — `attnkit attention`: the attention op (attnkit/attention.hpp) on the caller's own query, key and
// value from a JSON input {"query", "key", "value", "attn_mask"?}, printed as JSON {"output", "attention_weights"}
// or as PyTorch prints tensors.
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <ostream>
#include <utility>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "json_io.hpp"
#include "text_format.hpp"

namespace attnkit::cli {
namespace {

const char* const kKeys = "query, key, value and attn_mask";

CausalAlign parse_causal(const std::string& text) {
  if (text == "upper-left") return CausalAlign::upper_left;
  if (text == "lower-right") return CausalAlign::lower_right;
  throw Error("unknown --causal '" + text + "'; expected upper-left or lower-right");
}

double parse_scale(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || std::isspace(static_cast<unsigned char>(text[0])) ||
      std::isnan(v))
    throw Error("--scale must be a number, got '" + text + "'");
  if (rounds_to_float32_inf(v) || errno == ERANGE)  // the float32 rule of json_io.hpp: 3.4028235e38 is kept
    throw Error("--scale is " + text + "; expected a finite float32 number, " + std::string(kFloat32Range).substr(9),
                ErrorKind::range);
  return v;
}

Tensor operand(const Json& document, const char* name, const char* dims) {
  const auto it = document.find(name);
  if (it == document.end())
    throw Error(std::string("input has no key \"") + name + "\"; expected " + name + " " + dims + " as a nested list");
  return tensor_from_json(*it, name);
}

// The output and the weights as JSON numbers (~12 bytes each) against this machine's memory, before computing.
void check_memory(const Tensor& query, const Tensor& key, const Tensor& value, const AttentionCommandOptions& o) {
  const double b = double(query.shape[0]), h = double(query.shape[1]), n_q = double(query.shape[2]),
               n_k = double(key.shape[2]);
  const double weights =
      o.no_weights ? 0.0 : b * (o.average_weights ? 1.0 : h) * n_q * n_k * 16.0 + b * h * n_q * n_k * 8.0;
  const double bytes = weights + b * h * n_q * double(value.shape[3]) * 16.0;
  const double memory = physical_memory_bytes();
  if (memory > 0 && bytes > memory)
    throw Error("this attention needs about " + std::to_string(static_cast<unsigned long long>(bytes)) +
                    " bytes, more than this machine's memory (" +
                    std::to_string(static_cast<unsigned long long>(memory)) +
                    " bytes); expected fewer tokens or --no-weights",
                ErrorKind::range);
}

}  // namespace

void command_attention(const AttentionCommandOptions& o, std::istream& in, std::ostream& out) {
  const Json document = parse_json(read_source(o.input, in, "--input"), "--input");
  if (!document.is_object())
    throw Error(
        "input must be a JSON object; expected {\"query\": (b, h_q, n_q, d), \"key\": (b, h_kv, n_k, d), \"value\": "
        "(b, h_kv, n_k, d_v)}");
  for (const auto& [name, v] : document.items())
    if (name != "query" && name != "key" && name != "value" && name != "attn_mask")
      throw Error("input has unknown key \"" + name + "\"; expected " + kKeys);
  const Tensor query = operand(document, "query", "(b, h_q, n_q, d)"),
               key = operand(document, "key", "(b, h_kv, n_k, d)"),
               value = operand(document, "value", "(b, h_kv, n_k, d_v)");
  std::optional<AttentionMask> mask;
  if (const auto it = document.find("attn_mask"); it != document.end())
    mask = mask_from_json(*it, "attn_mask", "true = may attend");
  if (query.rank() == 4 && key.rank() == 4 && value.rank() == 4) check_memory(query, key, value, o);

  AttentionOptions options;
  options.scale = o.scale;
  options.causal = o.causal;
  options.attn_mask = mask ? &*mask : nullptr;
  options.dropout = o.dropout;
  options.train = o.train;
  options.seed = o.seed;
  options.weights = o.no_weights        ? AttentionWeights::none
                    : o.average_weights ? AttentionWeights::averaged
                                        : AttentionWeights::per_head;
  options.threads = o.threads;
  AttentionResult r;
  std::optional<AttentionGrad> grad;
  if (o.grad) {  // the forward that keeps its state, then the op's backward (attnkit/attention_grad.hpp)
    AttentionForward f = attention_forward(query, key, value, options);
    const Tensor grad_output = read_grad_output(o.grad_output, in, f.state.output.shape, "output");
    grad = attention_backward(query, key, value, grad_output, options, f.state);
    r.output = std::move(f.state.output);
    r.weights = std::move(f.weights);
  } else {
    r = attention(query, key, value, options);
  }
  const std::pair<const char*, const Tensor*> grads[] = {{"grad_query", grad ? &grad->query : nullptr},
                                                         {"grad_key", grad ? &grad->key : nullptr},
                                                         {"grad_value", grad ? &grad->value : nullptr}};

  std::string s;
  if (o.format == Format::json) {
    s = "{\n  \"output_shape\": ";
    append_shape(s, r.output.shape);
    s += ",\n  \"output\": ";
    append_tensor(s, r.output);
    if (!o.no_weights) {
      s += ",\n  \"weights_shape\": ";
      append_shape(s, r.weights.shape);
      s += ",\n  \"attention_weights\": ";
      append_tensor(s, r.weights);
    }
    for (const auto& [name, t] : grads)
      if (t) {
        s += ",\n  ";
        append_string(s, name);
        s += ": ";
        append_tensor(s, *t);
      }
    s += "\n}\n";
  } else {
    s = "output:\n" + format_tensor(r.output) + "\noutput.shape: " + format_size(r.output.shape) + "\n";
    if (!o.no_weights)
      s += "\nattention_weights:\n" + format_tensor(r.weights) +
           "\nattention_weights.shape: " + format_size(r.weights.shape) + "\n";
    for (const auto& [name, t] : grads)
      if (t)
        s += std::string("\n") + name + ":\n" + format_tensor(*t) + "\n" + name + ".shape: " + format_size(t->shape) +
             "\n";
  }
  out << s << std::flush;
}

AttentionCommand::AttentionCommand(CLI::App& app) {
  command_ = app.add_subcommand("attention",
                                "Scaled dot-product attention on your own query, key and value (JSON), with masks, "
                                "causal alignment, grouped-query heads and dropout");
  command_
      ->add_option("--input", input_,
                   "JSON {\"query\": (b, h_q, n_q, d), \"key\": (b, h_kv, n_k, d), \"value\": (b, h_kv, n_k, d_v), "
                   "\"attn_mask\"?: booleans (true = may attend) or numbers added, broadcastable to (b, h_q, n_q, "
                   "n_k)}; - reads standard input")
      ->type_name("FILE|-");
  command_
      ->add_option("--causal", causal_,
                   "upper-left (query i sees keys j <= i, PyTorch's is_causal) or lower-right (j <= i + n_k - n_q)")
      ->type_name("upper-left|lower-right");
  command_->add_option("--scale", scale_, "multiplies query·keyᵀ (default 1/sqrt(d))")->type_name("S");
  command_->add_option("--dropout", dropout_, "dropout on the weights, in [0, 1); only with --train (default 0)")
      ->type_name("P");
  command_->add_flag("--train", train_, "training mode: apply dropout");
  command_->add_option("--seed", seed_, "torch.manual_seed for the dropout draws (default 123)")->type_name("S");
  command_->add_flag("--no-weights", no_weights_, "leave attention_weights out (the fused path: no (n_q, n_k) matrix)");
  command_->add_flag("--average-weights", average_weights_,
                     "attention_weights averaged over query heads: (b, n_q, n_k)");
  command_->add_flag("--grad", grad_,
                     "also the gradients of sum(output * grad_output): grad_query, grad_key, grad_value");
  command_
      ->add_option("--grad-output", grad_output_,
                   "with --grad: JSON nested list of the output's shape (default all ones)")
      ->type_name("FILE|-");
  command_->add_option("--threads", threads_, "worker threads (default: all cores); results are the same for any count")
      ->type_name("N");
  command_->add_option("--format", format_, "json (default) or text (as PyTorch prints tensors)")
      ->type_name("json|text");
  command_->footer(
      "A query row with nothing to attend to gives zeros.\n\nExample:\n  attnkit attention --input qkv.json --causal "
      "lower-right --no-weights");
}

bool AttentionCommand::parsed() const { return command_->parsed(); }

void AttentionCommand::run(std::istream& in, std::ostream& out) const {
  if (input_.empty()) throw Error("--input is required; expected a JSON file or - for standard input");
  AttentionCommandOptions o;
  o.input = input_;
  const std::pair<const char*, const std::string*> valued[] = {
      {"--causal", &causal_},   {"--scale", &scale_},   {"--dropout", &dropout_},        {"--seed", &seed_},
      {"--threads", &threads_}, {"--format", &format_}, {"--grad-output", &grad_output_}};
  for (const auto& [name, text] : valued)  // an empty value is an error, never the default
    if (command_->get_option(name)->count() > 0 && text->empty())
      throw Error(std::string(name) + " is empty; expected a value (see attnkit attention --help)");
  if (!causal_.empty()) o.causal = parse_causal(causal_);
  if (!scale_.empty()) o.scale = parse_scale(scale_);
  if (!dropout_.empty()) o.dropout = parse_dropout(dropout_);
  o.train = train_;
  if (!seed_.empty()) o.seed = parse_seed(seed_);
  if (no_weights_ && average_weights_)
    throw Error("--no-weights and --average-weights contradict each other; expected at most one of them");
  o.no_weights = no_weights_;
  o.average_weights = average_weights_;
  o.grad = grad_;
  if (command_->get_option("--grad-output")->count() > 0) {
    if (!grad_) throw Error("--grad-output applies only with --grad; expected --grad");
    if (grad_output_ == "-" && input_ == "-")
      throw Error("--grad-output and --input cannot both read standard input (-); expected a file for one of them");
    o.grad_output = grad_output_;
  }
  if (!threads_.empty()) o.threads = parse_count("--threads", threads_, 1, 1024);
  o.format = parse_format(format_);
  command_attention(o, in, out);
}

}  // namespace attnkit::cli
