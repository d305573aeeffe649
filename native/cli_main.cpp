// attnkit CLI — the command line (CLI11) and the one place errors become exit codes.
#include <algorithm>
#include <new>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cli.hpp"

namespace attnkit::cli {
namespace {

const char* const kCommands[] = {"run", "bench", "info", "attention", "grad", "train"};

// One line, always: multi-line messages (CLI11's, a path with a newline) are joined.
std::string one_line(std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  return message;
}

// An option's text and whether it was given: `--seed ""` is given (and then an error), not the default.
struct Valued {
  std::string text;
  CLI::Option* option = nullptr;
  bool given() const { return option && option->count() > 0; }
};

Valued& add(CLI::App* app, const std::string& name, Valued& v, const std::string& help, const std::string& type_name) {
  v.option = app->add_option(name, v.text, help)->type_name(type_name);
  return v;
}

struct RunText {
  Valued mechanism, input, weights, weights_format, weights_prefix, d_out, heads, kv_heads, k_dim, v_dim,
      context_length, dropout, seed, threads, format, causal_route, grad_output;
  bool causal = false, no_causal = false;
};

// `attnkit run`, or with grad `attnkit grad`: the same options, plus --grad-output.
CLI::App* add_run(CLI::App& app, RunText& t, RunOptions& o, bool grad = false) {
  auto* run = grad
                  ? app.add_subcommand("grad",
                                       "Run one attention mechanism forward and backward on a JSON input and print the "
                                       "context and the gradients of sum(context * grad_output)")
                  : app.add_subcommand("run",
                                       "Run one attention mechanism on a JSON input and print the context and the "
                                       "attention weights");
  add(run, "--mechanism", t.mechanism, mechanism_names() + " (see Mechanisms below)", "M");
  add(run, "--input", t.input,
      "JSON {\"x\": [[...]]} (tokens x d_in) or {\"x\": [[[...]]]} (batch x tokens x d_in), optionally with \"kv\" "
      "(batch x n_k x k_dim: "
      "keys and values for cross-attention), \"value\" (batch x n_k x v_dim: the values' input when not kv), "
      "\"key_padding_mask\" (batch x n_k, true = padding) and \"attn_mask\" (n_q "
      "x n_k or "
      "batch*heads x n_q x n_k, true = not allowed; or numbers added to the scores), as torch.nn.MultiheadAttention; - "
      "reads standard input",
      "FILE|-");
  add(run, "--weights", t.weights,
      "PyTorch state_dict as JSON {name: nested list}; default: drawn from --seed like PyTorch", "FILE|-");
  add(run, "--weights-format", t.weights_format,
      "auto (default: from the key names), book (the book's classes), torch-mha (nn.MultiheadAttention) or gpt2 "
      "(GPT-2's "
      "attention block, Conv1D c_attn/c_proj; needs --heads); formats other than book are for multihead",
      "F");
  add(run, "--weights-prefix", t.weights_prefix,
      "read only the --weights keys that start with P, e.g. h.0.attn. (default none)", "P");
  add(run, "--d-out", t.d_out,
      "output size (per head for multihead-wrapper) for " + mechanisms_with("d_out") +
          "; required unless --weights give it",
      "N");
  add(run, "--heads", t.heads, "num_heads for " + mechanisms_with("num_heads") + " (default 1)", "N");
  add(run, "--kv-heads", t.kv_heads,
      "heads of W_key and W_value for " + mechanisms_with("kv_heads") +
          " (grouped-query; must divide --heads; default: --heads, or from --weights)",
      "N");
  add(run, "--k-dim", t.k_dim,
      "features of kv for W_key (" + mechanisms_with("k_dim") + "; default: kv's width, or from --weights)", "N");
  add(run, "--v-dim", t.v_dim,
      "features of kv for W_value (" + mechanisms_with("v_dim") + "; default: kv's width, or from --weights)", "N");
  add(run, "--context-length", t.context_length, "mask size; more tokens is an error (default: the token count)", "N");
  run->add_flag("--qkv-bias", o.qkv_bias, "bias on W_query, W_key, W_value (" + mechanisms_with("qkv_bias") + ")");
  auto* causal =
      run->add_flag("--causal", t.causal, "mask the future (default for " + mechanisms_with_default_causal() + ")");
  auto* no_causal = run->add_flag("--no-causal", t.no_causal, "do not mask the future");
  causal->excludes(no_causal);
  add(run, "--dropout", t.dropout,
      "dropout on the attention weights, in [0, 1), for " + mechanisms_with("dropout") +
          "; only with --train (default 0)",
      "P");
  run->add_flag("--train", o.train, "training mode: apply dropout");
  add(run, "--seed", t.seed, "torch.manual_seed for the parameters and dropout (default 123)", "S");
  add(run, "--threads", t.threads, "worker threads (default: all cores); results are the same for any count", "N");
  add(run, "--format", t.format, "json (default) or text (as PyTorch prints tensors)", "json|text");
  add(run, "--causal-route", t.causal_route,
      "neg-inf (default: -inf then softmax) or renormalise (softmax, zero the future, renormalise)", "R");
  run->add_flag("--intermediates", o.intermediates,
                "also print every step: queries, keys, values, scores, ... weights, context");
  run->add_flag("--no-weights", o.no_weights, "leave attention_weights out of the output");
  run->add_flag("--decode", o.decode,
                "compute the same token by token: self-attention through a KV cache (causal modules, grouped-query "
                "heads too), or cross-attention over \"kv\" (with \"value\", \"key_padding_mask\"; not causal); "
                "prints the same JSON");
  run->add_flag("--dry-run", o.dry_run,
                "print the memory the run would need, {\"peak_bytes\": N, \"parameters\": P, ...}, without computing");
  if (grad) {
    add(run, "--grad-output", t.grad_output,
        "JSON nested list of the context's shape: the loss is sum(context * grad_output) (default all ones)", "FILE|-");
    run->footer(mechanisms_help() +
                "\n\nExample:\n  attnkit grad --mechanism multihead --d-out 2 --heads 2 --input batch.json");
    return run;
  }
  run->footer(mechanisms_help() +
              "\n\nExample:\n  attnkit run --mechanism multihead --d-out 2 --heads 2 --input batch.json --format text");
  return run;
}

RunOptions finish_run(const RunText& t, RunOptions o) {
  const std::string mechanisms = "one of " + mechanism_names(", ");
  if (!t.mechanism.given()) throw Error("--mechanism is required; expected " + mechanisms);
  if (t.mechanism.text.empty()) throw Error("--mechanism is empty; expected " + mechanisms);
  if (!t.input.given()) throw Error("--input is required; expected a JSON file or - for standard input");
  if (t.input.text.empty()) throw Error("--input is empty; expected a JSON file or - for standard input");
  constexpr std::size_t kMaxSize = std::size_t(1) << 31;
  o.mechanism = t.mechanism.text;
  o.input = t.input.text;
  if (t.weights.given()) {
    if (t.weights.text.empty())
      throw Error("--weights is empty; expected a state_dict JSON file or - for standard input");
    o.weights = t.weights.text;
  }
  if (t.weights_format.given()) {
    if (!t.weights.given()) throw Error("--weights-format applies only with --weights; expected --weights FILE");
    if (t.weights_format.text.empty()) throw Error("--weights-format is empty; expected auto, book, torch-mha or gpt2");
    o.weights_format = parse_weights_format(t.weights_format.text);
  }
  if (t.weights_prefix.given()) {
    if (!t.weights.given()) throw Error("--weights-prefix applies only with --weights; expected --weights FILE");
    o.weights_prefix = t.weights_prefix.text;  // "" is no prefix, as the default
  }
  // Given means parsed: an empty value is an error from the parser, never the default.
  if (t.d_out.given()) o.d_out = parse_count("--d-out", t.d_out.text, 1, kMaxSize);
  if (t.heads.given()) o.heads = parse_count("--heads", t.heads.text, 1, kMaxSize);
  if (t.kv_heads.given()) o.kv_heads = parse_count("--kv-heads", t.kv_heads.text, 1, kMaxSize);
  if (t.k_dim.given()) o.k_dim = parse_count("--k-dim", t.k_dim.text, 1, kMaxSize);
  if (t.v_dim.given()) o.v_dim = parse_count("--v-dim", t.v_dim.text, 1, kMaxSize);
  if (t.context_length.given()) o.context_length = parse_count("--context-length", t.context_length.text, 1, kMaxSize);
  if (t.causal) o.causal = true;
  if (t.no_causal) o.causal = false;
  if (o.decode && o.train)
    throw Error("--decode runs in evaluation mode (no dropout); expected no --train with --decode");
  if (o.decode && o.intermediates)
    throw Error("--decode computes the context and the weights only; expected no --intermediates with --decode");
  if (t.dropout.given()) o.dropout = parse_dropout(t.dropout.text);
  if (t.seed.given()) o.seed = parse_seed(t.seed.text);
  if (t.threads.given()) o.threads = parse_count("--threads", t.threads.text, 1, 1024);
  if (t.format.given()) o.format = parse_format(t.format.text);
  if (t.causal_route.given()) o.causal_route = parse_causal_route(t.causal_route.text);
  if (t.grad_output.given()) {
    if (t.grad_output.text.empty()) throw Error("--grad-output is empty; expected a JSON file or - for standard input");
    o.grad_output = t.grad_output.text;
  }
  return o;
}

int fail(std::ostream& err, const std::string& message, int code) {
  err << "attnkit: error: " << one_line(message) << std::endl;
  return code;
}

}  // namespace

int main(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  try {
    CLI::App app{
        "attnkit: the attention mechanisms of the seed (simplified, self-attention, causal, multi-head), exact and "
        "fast",
        "attnkit"};
    app.set_version_flag("--version", version());

    RunText run_text;
    RunOptions run_options;
    auto* run = add_run(app, run_text, run_options);
    RunText grad_text;
    RunOptions grad_options;
    auto* grad = add_run(app, grad_text, grad_options, true);

    auto* bench = app.add_subcommand(
        "bench", "Time causal multi-head attention on a standard configuration (" + bench_config_names() + ")");
    Valued bench_config, bench_threads, bench_format, bench_repeats, bench_tokens;
    add(bench, "--config", bench_config, bench_configs_help(), "C");
    add(bench, "--threads", bench_threads, "worker threads (default: all cores)", "N");
    add(bench, "--format", bench_format, "text (default) or json", "json|text");
    add(bench, "--repeats", bench_repeats,
        "timed samples (default: at least 5 and at least 1 s; a sample is one call, or a batch of calls lasting 0.2 ms "
        "for configs faster than that)",
        "R");
    add(bench, "--tokens", bench_tokens, "the config's shape at N tokens instead of its own (a forward config)", "N");

    auto* info = app.add_subcommand("info", "Print the version, the SIMD instruction set in use and the thread counts");
    Valued info_format;
    add(info, "--format", info_format, "text (default) or json", "json|text");

    const AttentionCommand attention(app);
    const TrainCommand train(app);

    app.footer("See attnkit <command> --help.");  // set last: subcommands copy the footer when created

    if (args.size() < 2)
      return fail(
          err, "a command is required; expected one of run, bench, info, attention, grad, train (see attnkit --help)",
          kExitUsage);
    const std::string& first = args[1];
    if (first.empty() ||
        (first[0] != '-' && std::find(std::begin(kCommands), std::end(kCommands), first) == std::end(kCommands))) {
      return fail(err, "unknown command '" + first + "'; expected one of run, bench, info, attention, grad, train",
                  kExitUsage);
    }

    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) return app.exit(e, out, err);  // --help, --version
      return fail(err, std::string(e.what()) + " (see attnkit --help)", kExitUsage);
    }

    if (run->parsed()) {
      command_run(finish_run(run_text, run_options), in, out);
    } else if (grad->parsed()) {
      command_grad(finish_run(grad_text, grad_options), in, out);
    } else if (bench->parsed()) {
      if (!bench_config.given()) throw Error("--config is required; expected one of " + bench_config_names());
      if (bench_config.text.empty()) throw Error("--config is empty; expected one of " + bench_config_names());
      BenchOptions o;
      o.config = bench_config.text;
      if (bench_threads.given()) o.threads = parse_count("--threads", bench_threads.text, 1, 1024);
      if (bench_format.given()) o.format = parse_format(bench_format.text);
      if (bench_repeats.given()) o.repeats = parse_count("--repeats", bench_repeats.text, 1, 1000000);
      if (bench_tokens.given()) o.tokens = parse_count("--tokens", bench_tokens.text, 1, 1 << 20);
      command_bench(o, out);
    } else if (info->parsed()) {
      command_info(info_format.given() ? parse_format(info_format.text) : Format::text, out);
    } else if (attention.parsed()) {
      attention.run(in, out);
    } else if (train.parsed()) {
      train.run(out, err);
    } else {
      return fail(
          err, "a command is required; expected one of run, bench, info, attention, grad, train (see attnkit --help)",
          kExitUsage);
    }
    out.flush();
    if (!out) return fail(err, "cannot write the output (standard output closed or full)", kExitInternal);
    return kExitOk;
  } catch (const Error& e) {
    return fail(err, e.what(), kExitUsage);
  } catch (const std::bad_alloc&) {
    return fail(err, "out of memory; expected smaller sizes", kExitUsage);
  } catch (const std::exception& e) {
    return fail(err, std::string("internal error: ") + e.what(), kExitInternal);
  } catch (...) {
    return fail(err, "internal error", kExitInternal);
  }
}

}  // namespace attnkit::cli
