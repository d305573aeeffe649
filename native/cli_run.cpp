// attnkit CLI — `attnkit run`: one forward pass of a mechanism on a JSON input, printed as JSON or as
// PyTorch prints tensors.
#include <algorithm>
#include <ostream>

#include "cli.hpp"
#include "json_io.hpp"
#include "prepared_run.hpp"
#include "text_format.hpp"

namespace attnkit::cli {
namespace {

std::string to_json(const ForwardResult& r, const Config& config, const RunOptions& o, std::size_t expected_bytes) {
  std::string s;
  s.reserve(expected_bytes);  // one allocation, not a doubling string (whose old and new copies would both be held)
  s += "{\n  \"mechanism\": ";
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
  s += "\n}\n";
  return s;
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

// forward's context (and weights), computed one token at a time through a decoding session: self-attention's KV
// cache, or cross-attention over kv (and value, key_padding_mask). Each step's row of weights goes into row i of the
// (b, h, n, n_k) matrix forward returns (zeros in the causal future).
ForwardResult decode_all(const Module& module, const Tensor& x, const ForwardInputs& in, bool weights,
                         std::size_t threads) {
  if (in.attn_mask)
    throw Error("--decode takes kv, value and key_padding_mask (cross-attention); expected no attn_mask with --decode");
  if (!in.kv && in.key_padding_mask)
    throw Error(
        "--decode of self-attention attends every earlier token; expected no key_padding_mask without kv (it pads "
        "the memory of cross-attention)");
  const bool batched = x.rank() == 3;
  const std::size_t b = batched ? x.shape[0] : 1, n = x.shape[batched ? 1 : 0], d_in = x.shape[batched ? 2 : 1];
  const std::size_t width = module.d_out_total(), heads = module.num_heads();
  Decoder decoder = in.kv ? module.begin_decode(n, DecodeMemory{in.kv, in.value_input, in.key_padding_mask}, threads)
                          : module.begin_decode(n, b, threads);
  const std::size_t keys = in.kv ? decoder.memory_tokens() : n;
  ForwardResult r;
  r.context = Tensor(batched ? Shape{b, n, width} : Shape{n, width});
  if (weights) r.weights = Tensor(batched ? Shape{b, heads, n, keys} : Shape{heads, n, keys});
  Tensor token({b, 1, d_in}), step_weights;  // step_weights (b, h, 1, seen)
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t bi = 0; bi < b; ++bi) std::copy_n(x.ptr() + (bi * n + i) * d_in, d_in, token.ptr() + bi * d_in);
    const Tensor& context = decoder.step(token, weights ? &step_weights : nullptr);  // (b, 1, width)
    for (std::size_t bi = 0; bi < b; ++bi)
      std::copy_n(context.ptr() + bi * width, width, r.context.ptr() + (bi * n + i) * width);
    if (!weights) continue;
    const std::size_t seen = step_weights.shape[3];
    for (std::size_t bh = 0; bh < b * heads; ++bh)
      std::copy_n(step_weights.ptr() + bh * seen, seen, r.weights.ptr() + (bh * n + i) * keys);
  }
  return r;
}

// The state_dict under --weights-prefix in the book's names, for make_config and Module, with what its format says
// (qkv bias, causal, GPT-2's mask size) as the run's defaults.
void weights_to_book_names(RunOptions& o, const Tensor& x, bool has_kv, StateDict& sd, std::size_t& mask_size) {
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
  if ((book.config.k_dim || book.config.v_dim) && !has_kv)
    throw Error("torch-mha k_proj_weight / v_proj_weight have kdim " +
                std::to_string(book.config.k_dim ? book.config.k_dim : given.d_in) + " and vdim " +
                std::to_string(book.config.v_dim ? book.config.v_dim : given.d_in) +
                ": cross-attention weights, which read their keys and values from \"kv\" (and \"value\"); expected "
                "\"kv\" in the input, or kdim = vdim = " +
                std::to_string(given.d_in));
  o.causal = book.config.causal;
  o.qkv_bias = book.config.qkv_bias;
  mask_size = book.config.context_length;
}

}  // namespace

PreparedRun prepare_run(const RunOptions& o, std::istream& in) {
  // An unknown name, or an option that does not apply to it, is reported before any file is read.
  check_options_apply(parse_mechanism(o.mechanism), o);
  if (o.input == "-" && o.weights && *o.weights == "-") {
    throw Error("--input and --weights cannot both read standard input (-); expected a file for one of them");
  }
  std::string input_text = read_source(o.input, in, "--input");
  const std::size_t input_text_bytes = input_text.size();
  PreparedRun p{run_inputs_from_json(parse_json(std::move(input_text), "--input")), {}, {}, {}};
  const Tensor& x = p.inputs.x;
  std::optional<StateDict> state_dict;
  std::size_t mask_size = 0, weights_text_bytes = 0;
  RunOptions run = o;
  if (o.weights) {
    std::string weights_text = read_source(*o.weights, in, "--weights");
    weights_text_bytes = weights_text.size();
    state_dict = state_dict_from_json(parse_json(std::move(weights_text), "--weights"), &mask_size);
    weights_to_book_names(run, x, p.inputs.kv.has_value(), *state_dict, mask_size);
  }
  p.config = make_config(run, x, state_dict ? &*state_dict : nullptr, mask_size, p.inputs.kv ? &*p.inputs.kv : nullptr,
                         p.inputs.value ? &*p.inputs.value : nullptr);
  const ForwardInputs extra = p.extra();
  p.memory = run_memory(p.config, x.shape, o, input_text_bytes, state_dict ? &*state_dict : nullptr, weights_text_bytes,
                        &extra);
  if (o.dry_run) return p;
  check_memory(p.config, p.memory);
  p.module.emplace(state_dict ? Module(p.config, *state_dict) : Module(p.config));
  return p;
}

void command_run(const RunOptions& o, std::istream& in, std::ostream& out) {
  PreparedRun p = prepare_run(o, in);
  if (o.dry_run) {
    out << memory_json(p.config, p.memory) << std::flush;
    return;
  }
  ForwardOptions options;
  options.train = o.train;
  options.return_weights = !o.no_weights;
  options.intermediates = o.intermediates;
  options.threads = o.threads;
  const ForwardInputs extra = p.extra();
  const Tensor& x = p.inputs.x;
  const ForwardResult result =
      o.decode ? decode_all(*p.module, x, extra, !o.no_weights, o.threads) : p.module->forward(x, extra, options);

  const std::string text =
      o.format == Format::json ? to_json(result, p.config, o, p.memory.output_bytes) : to_text(result, o);
  out << text << std::flush;
}

}  // namespace attnkit::cli
