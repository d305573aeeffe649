// attnkit CLI — the commands (run, bench, info, attention) behind `attnkit`, as a library so tests can call them
// without spawning a process. Exit codes: 0 success, 2 usage or input error (one line on stderr:
// "attnkit: error: <problem and expected value>"), 1 an unexpected internal failure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "attnkit/model.hpp"

namespace CLI {
class App;
}

namespace attnkit::cli {

constexpr int kExitOk = 0, kExitInternal = 1, kExitUsage = 2;

enum class Format { json, text };

// `attnkit run` as given on the command line, values already checked for form (not yet for meaning:
// the core checks that, e.g. heads dividing d_out).
struct RunOptions {
  std::string mechanism;
  std::string input;                                        // file or "-"
  std::optional<std::string> weights;                       // state_dict JSON file or "-"
  WeightsFormat weights_format = WeightsFormat::automatic;  // of --weights (attnkit/weight_formats.hpp)
  std::string weights_prefix;  // only the keys of --weights that start with it ("h.0.attn.")
  std::optional<std::size_t> d_out, heads, context_length;
  std::optional<std::size_t> kv_heads, k_dim,
      v_dim;  // grouped-query projections; kv's widths (default: from kv or the weights)
  bool qkv_bias = false;
  std::optional<bool> causal;
  double dropout = 0.0;  // as PyTorch keeps p (0.99999999 is valid)
  bool train = false;
  std::uint64_t seed = 123;
  std::size_t threads = 0;  // 0: all cores
  Format format = Format::json;
  CausalRoute causal_route = CausalRoute::neg_inf;
  bool intermediates = false;
  bool no_weights = false;                 // leave attention_weights out (large n)
  bool decode = false;                     // token by token through a decoding session (attnkit/decoder.hpp)
  bool dry_run = false;                    // print the memory estimate (memory_json) instead of computing
  std::optional<std::string> grad_output;  // `attnkit grad`: the loss's weights (a JSON nested list); default ones
};

// What `attnkit run` holds at its peak (cli_memory.cpp), in bytes, saturating at SIZE_MAX.
struct RunMemory {
  std::size_t peak_bytes = 0;  // the largest of: reading the input; then the weights; then the run. With the program.
  std::size_t parameters = 0;  // parameter count (floats) of the module
  std::size_t parameter_bytes = 0;  // Module::parameter_bytes
  std::size_t forward_bytes = 0;    // Module::forward_bytes
  std::size_t input_bytes = 0;      // --input: its text, the parsed document and x
  std::size_t weights_bytes = 0;    // --weights: the same for the state_dict
  std::size_t output_bytes = 0;     // the printed result
};
// The core's counts for the module and the forward call plus the CLI's own (JSON text in and out, parsed documents).
// inputs: kv, value and the masks of the run (their shapes: n_k, the widths, the (b, h, n_q, n_k) weights), optional.
RunMemory run_memory(const Config& config, const Shape& x, const RunOptions& options, std::size_t input_text,
                     const StateDict* state_dict = nullptr, std::size_t weights_text = 0,
                     const ForwardInputs* inputs = nullptr);
// Throws Error (range) naming the bytes when the run would not fit in this machine's memory.
void check_memory(const Config& config, const RunMemory& memory);
// {"peak_bytes": N, "parameters": P, ...}, one line: what `attnkit run --dry-run` prints.
std::string memory_json(const Config& config, const RunMemory& memory);
// This machine's physical memory in bytes (0 when the OS does not say), and the resident size of the program
// itself (code, libraries, stacks, the allocator's arenas) that every estimate adds.
double physical_memory_bytes();
constexpr std::size_t kProcessBytes = std::size_t(4) << 20;

// The bench configurations for help and messages, from attnkit::bench_configs(): "C1 (b2 n6 …), C2 (…)" and "C1, C2,
// C3, C4".
std::string bench_configs_help();
std::string bench_config_names();

struct BenchOptions {
  std::string config;
  std::size_t threads = 0;
  Format format = Format::text;
  std::optional<std::size_t> repeats;  // fixed run count instead of "at least 5 runs and 1 s"
  std::optional<std::size_t> tokens;   // the config's shape at this many tokens (bench/scaling.py's sweep)
};

// From the core's traits table (cli_mechanisms.cpp): "simplified, self-v1, … or multihead" (last = " or ") and the
// mechanisms an option applies to ("causal, multihead-wrapper and multihead"), for help and messages.
std::string mechanism_names(const char* last = " or ");
std::string mechanisms_with(const std::string& option);
std::string mechanisms_with_default_causal();
std::string
mechanisms_help();  // the run command's footer: one line per mechanism, its description and the book's class
// Throws Error for an option given on the command line that does not apply to m, e.g.
// "--heads: num_heads (2) applies only to multihead-wrapper and multihead; expected no --heads for mechanism self".
void check_options_apply(Mechanism m, const RunOptions& options);

// Value parsers: each throws attnkit::Error naming the option and what it accepts.
std::size_t parse_count(const std::string& option, const std::string& text, std::size_t min, std::size_t max);
std::uint64_t parse_seed(const std::string& text);
double parse_dropout(const std::string& text);
Format parse_format(const std::string& text);
CausalRoute parse_causal_route(const std::string& text);

// The module configuration for a run on input x: d_in from x, context_length from the option, the
// state_dict's mask buffer or the token count, d_out (and the wrapper's head count) from the weights
// when not given.
// With kv (cross-attention input, optional), k_dim and v_dim are the options', else W_key's / W_value's widths in
// the weights, else kv's width; W_key's rows give kv_heads (multihead) when --kv-heads is not given.
Config make_config(const RunOptions& options, const Tensor& x, const StateDict* state_dict, std::size_t mask_size,
                   const Tensor* kv = nullptr, const Tensor* value = nullptr);

// `attnkit attention` as given on the command line (cli_attention.cpp).
struct AttentionCommandOptions {
  std::string input;  // file or "-"
  CausalAlign causal = CausalAlign::none;
  std::optional<double> scale;
  double dropout = 0.0;  // as PyTorch keeps p (0.99999999 is valid)
  bool train = false;
  std::uint64_t seed = 123;
  bool no_weights = false, average_weights = false;
  bool grad = false;                       // also the backward of Σ output ⊙ grad_output
  std::optional<std::string> grad_output;  // file or "-"; default all ones
  std::size_t threads = 0;
  Format format = Format::json;
};

// The `attention` subcommand: adds itself and its options to the command line; run() after parsing checks the
// values and calls command_attention.
class AttentionCommand {
 public:
  explicit AttentionCommand(CLI::App& app);
  bool parsed() const;
  void run(std::istream& in, std::ostream& out) const;

 private:
  CLI::App* command_ = nullptr;
  std::string input_, causal_, scale_, dropout_, seed_, threads_, format_ = "json", grad_output_;
  bool train_ = false, no_weights_ = false, average_weights_ = false, grad_ = false;
};

// `attnkit train` as given on the command line (cli_train.cpp); unset values take the model's defaults.
struct TrainOptions {
  std::string task;
  std::optional<std::size_t> steps, batch, tokens, heads, d_model;
  std::string optimizer = "adamw";
  std::optional<double> lr;
  std::uint64_t seed = 123;
  std::optional<std::string> save;  // state_dict JSON file
  Format format = Format::text;
  bool dry_run = false;  // print {"peak_bytes": …} (Model::memory_bytes) instead of training
};

// The `train` subcommand: adds itself and its options; run() after parsing checks the values and calls
// command_train, with a progress bar on err when err is the process's terminal stderr.
class TrainCommand {
 public:
  explicit TrainCommand(CLI::App& app);
  bool parsed() const;
  void run(std::ostream& out, std::ostream& err) const;

 private:
  CLI::App* command_ = nullptr;
  std::map<std::string, std::string> values_;  // option name → its text
  bool dry_run_ = false;
};

// Each command writes its whole output to `out` only on success, so a failure never leaves half a document.
void command_run(const RunOptions& options, std::istream& in, std::ostream& out);
// `attnkit grad` (cli_grad.cpp): run's forward, then the backward of Σ context ⊙ grad_output.
void command_grad(const RunOptions& options, std::istream& in, std::ostream& out);
// --grad-output's nested list (path, "-" for `in`), which must have `shape` (the shape of `of`, for messages);
// all ones without a path.
Tensor read_grad_output(const std::optional<std::string>& path, std::istream& in, const Shape& shape, const char* of);
void command_bench(const BenchOptions& options, std::ostream& out);
void command_info(Format format, std::ostream& out);
void command_attention(const AttentionCommandOptions& options, std::istream& in, std::ostream& out);
// progress: where the progress bar goes (nullptr: none).
void command_train(const TrainOptions& options, std::ostream& out, std::ostream* progress);

// The command line: parses args (args[0] is the program name), runs the command, reports errors.
int main(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace attnkit::cli
