// attnkit CLI — the command line (CLI11) and the one place errors become exit codes.
#include <algorithm>
#include <new>
#include <ostream>

#include <CLI/CLI.hpp>

#include "cli.hpp"

namespace attnkit::cli {
namespace {

const char* const kCommands[] = {"run", "bench", "info", "attention"};

// One line, always: multi-line messages (CLI11's, a path with a newline) are joined.
std::string one_line(std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  return message;
}

struct RunText {
  std::string mechanism, input, weights, d_out, heads, context_length, dropout, seed, threads, format = "json",
      causal_route = "neg-inf";
  bool causal = false, no_causal = false;
  CLI::Option* weights_option = nullptr;  // set even when given an empty name, which is then an error
};

CLI::App* add_run(CLI::App& app, RunText& t, RunOptions& o) {
  auto* run = app.add_subcommand("run", "Run one attention mechanism on a JSON input and print the context and the attention weights");
  run->add_option("--mechanism", t.mechanism, mechanism_names() + " (see Mechanisms below)")->type_name("M");
  run->add_option("--input", t.input, "JSON {\"x\": [[...]]} (tokens x d_in) or {\"x\": [[[...]]]} (batch x tokens x d_in); - reads standard input")->type_name("FILE|-");
  t.weights_option = run->add_option("--weights", t.weights, "PyTorch state_dict as JSON {name: nested list}; default: drawn from --seed like PyTorch")->type_name("FILE|-");
  run->add_option("--d-out", t.d_out, "output size (per head for multihead-wrapper) for " + mechanisms_with("d_out") + "; required unless --weights give it")->type_name("N");
  run->add_option("--heads", t.heads, "num_heads for " + mechanisms_with("num_heads") + " (default 1)")->type_name("N");
  run->add_option("--context-length", t.context_length, "mask size; more tokens is an error (default: the token count)")->type_name("N");
  run->add_flag("--qkv-bias", o.qkv_bias, "bias on W_query, W_key, W_value (" + mechanisms_with("qkv_bias") + ")");
  auto* causal = run->add_flag("--causal", t.causal, "mask the future (default for " + mechanisms_with_default_causal() + ")");
  auto* no_causal = run->add_flag("--no-causal", t.no_causal, "do not mask the future");
  causal->excludes(no_causal);
  run->add_option("--dropout", t.dropout, "dropout on the attention weights, in [0, 1), for " + mechanisms_with("dropout") + "; only with --train (default 0)")->type_name("P");
  run->add_flag("--train", o.train, "training mode: apply dropout");
  run->add_option("--seed", t.seed, "torch.manual_seed for the parameters and dropout (default 123)")->type_name("S");
  run->add_option("--threads", t.threads, "worker threads (default: all cores); results are the same for any count")->type_name("N");
  run->add_option("--format", t.format, "json (default) or text (as PyTorch prints tensors)")->type_name("json|text");
  run->add_option("--causal-route", t.causal_route, "neg-inf (default: -inf then softmax) or renormalise (softmax, zero the future, renormalise)")->type_name("R");
  run->add_flag("--intermediates", o.intermediates, "also print every step: queries, keys, values, scores, ... weights, context");
  run->add_flag("--no-weights", o.no_weights, "leave attention_weights out of the output");
  run->footer(mechanisms_help() + "\n\nExample:\n  attnkit run --mechanism multihead --d-out 2 --heads 2 --input batch.json --format text");
  return run;
}

RunOptions finish_run(const RunText& t, RunOptions o) {
  if (t.mechanism.empty()) {
    throw Error("--mechanism is required; expected one of " + mechanism_names(", "));
  }
  if (t.input.empty()) throw Error("--input is required; expected a JSON file or - for standard input");
  constexpr std::size_t kMaxSize = std::size_t(1) << 31;
  o.mechanism = t.mechanism;
  o.input = t.input;
  if (t.weights_option->count() > 0) {
    if (t.weights.empty()) throw Error("--weights is empty; expected a state_dict JSON file or - for standard input");
    o.weights = t.weights;
  }
  if (!t.d_out.empty()) o.d_out = parse_count("--d-out", t.d_out, 1, kMaxSize);
  if (!t.heads.empty()) o.heads = parse_count("--heads", t.heads, 1, kMaxSize);
  if (!t.context_length.empty()) o.context_length = parse_count("--context-length", t.context_length, 1, kMaxSize);
  if (t.causal) o.causal = true;
  if (t.no_causal) o.causal = false;
  if (!t.dropout.empty()) o.dropout = parse_dropout(t.dropout);
  if (!t.seed.empty()) o.seed = parse_seed(t.seed);
  if (!t.threads.empty()) o.threads = parse_count("--threads", t.threads, 1, 1024);
  o.format = parse_format(t.format);
  o.causal_route = parse_causal_route(t.causal_route);
  return o;
}

int fail(std::ostream& err, const std::string& message, int code) {
  err << "attnkit: error: " << one_line(message) << std::endl;
  return code;
}

}  // namespace

int main(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  try {
    CLI::App app{"attnkit: the attention mechanisms of the seed (simplified, self-attention, causal, multi-head), exact and fast",
                 "attnkit"};
    app.set_version_flag("--version", version());

    RunText run_text;
    RunOptions run_options;
    auto* run = add_run(app, run_text, run_options);

    auto* bench = app.add_subcommand("bench", "Time causal multi-head attention on a standard configuration (" + bench_config_names() + ")");
    std::string bench_config, bench_threads, bench_format = "text", bench_repeats;
    bench->add_option("--config", bench_config, bench_configs_help())->type_name("C");
    bench->add_option("--threads", bench_threads, "worker threads (default: all cores)")->type_name("N");
    bench->add_option("--format", bench_format, "text (default) or json")->type_name("json|text");
    bench->add_option("--repeats", bench_repeats, "timed samples (default: at least 5 and at least 1 s; a sample is one call, or a batch of calls lasting 0.2 ms for configs faster than that)")->type_name("R");

    auto* info = app.add_subcommand("info", "Print the version, the SIMD instruction set in use and the thread counts");
    std::string info_format = "text";
    info->add_option("--format", info_format, "text (default) or json")->type_name("json|text");

    const AttentionCommand attention(app);

    app.footer("See attnkit <command> --help.");  // set last: subcommands copy the footer when created

    if (args.size() < 2) return fail(err, "a command is required; expected one of run, bench, info, attention (see attnkit --help)", kExitUsage);
    const std::string& first = args[1];
    if (first.empty() || (first[0] != '-' && std::find(std::begin(kCommands), std::end(kCommands), first) == std::end(kCommands))) {
      return fail(err, "unknown command '" + first + "'; expected one of run, bench, info, attention", kExitUsage);
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
    } else if (bench->parsed()) {
      if (bench_config.empty()) throw Error("--config is required; expected one of " + bench_config_names());
      BenchOptions o;
      o.config = bench_config;
      if (!bench_threads.empty()) o.threads = parse_count("--threads", bench_threads, 1, 1024);
      o.format = parse_format(bench_format);
      if (!bench_repeats.empty()) o.repeats = parse_count("--repeats", bench_repeats, 1, 1000000);
      command_bench(o, out);
    } else if (info->parsed()) {
      command_info(parse_format(info_format), out);
    } else if (attention.parsed()) {
      attention.run(in, out);
    } else {
      return fail(err, "a command is required; expected one of run, bench, info, attention (see attnkit --help)", kExitUsage);
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
