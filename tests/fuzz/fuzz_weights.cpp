// attnkit fuzzing — `attnkit run --weights` in the formats people have: the text is a state_dict (standard input)
// read with --weights-format auto|book|torch-mha|gpt2 and optionally --weights-prefix h.0.attn. through
// command_run (state_dict_from_json, detect_weights_format, weights_to_book, make_config, Module) on a fixed input
// of the width byte 1 picks (written to a temporary directory at start). attnkit::Error is an answer; anything
// else is a finding. An accepted state_dict must give finite numbers (one overflow rule: a non-finite score is an
// error, never an answer) and weight rows in [0, 1].
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "cli.hpp"
#include "fuzz_common.hpp"
#include "fuzz_output.hpp"

using namespace attnkit;
using attnkit_fuzz::finding;

namespace {

std::string g_dir;

// x of width d (1..8), 3 tokens (rank 2) or 2 × 4 (rank 3); values in [-0.75, 0.75].
std::string input_path(std::size_t d, bool batched) {
  return g_dir + "/x" + std::to_string(d) + (batched ? "b" : "") + ".json";
}

void write_input(std::size_t d, bool batched) {
  const std::size_t rows = batched ? 2 : 1, tokens = batched ? 4 : 3;
  std::string s = "{\"x\": ";
  if (batched) s += "[";
  for (std::size_t r = 0; r < rows; ++r) {
    s += r ? ", [" : "[";
    for (std::size_t t = 0; t < tokens; ++t) {
      s += t ? ", [" : "[";
      for (std::size_t i = 0; i < d; ++i)
        s += (i ? ", " : "") + std::to_string(static_cast<double>((r * 5 + t * 3 + i) % 7) * 0.25 - 0.75);
      s += "]";
    }
    s += "]";
  }
  if (batched) s += "]";
  s += "}";
  std::ofstream(input_path(d, batched)) << s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char dir[] = "/tmp/attnkit-fuzz-weights-XXXXXX";
  if (!::mkdtemp(dir)) {
    std::perror("attnkit fuzz_weights: temporary directory");
    std::abort();
  }
  g_dir = dir;
  for (std::size_t d = 1; d <= 8; ++d) {
    write_input(d, false);
    write_input(d, true);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t a = data[0], b = data[1];
  static const WeightsFormat formats[] = {WeightsFormat::automatic, WeightsFormat::book, WeightsFormat::torch_mha,
                                          WeightsFormat::gpt2};
  cli::RunOptions o;
  o.mechanism = "multihead";
  o.weights = "-";
  o.weights_format = formats[a & 3];
  if (a & 0x04) o.weights_prefix = "h.0.attn.";
  if (a & 0x18) o.heads = std::size_t(1) << (((a >> 3) & 3) - 1);  // 1, 2 or 4
  if (a & 0x20) o.causal = (a & 0x40) != 0;
  o.no_weights = a & 0x80;
  o.input = input_path(1 + (b & 7), b & 8);
  if (b & 0x10) o.qkv_bias = true;
  if (b & 0x20) o.context_length = 8;
  o.threads = 1 + ((b >> 6) & 1);
  const std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::istringstream in(text);
  std::ostringstream out;
  if (!attnkit_fuzz::run_expecting_error_or_success([&] { cli::command_run(o, in, out); })) {
    if (!out.str().empty()) finding("command_run wrote output before failing");
    return 0;
  }
  const cli::Json doc = attnkit_fuzz::parse_output(out.str(), "command_run --weights");
  attnkit_fuzz::all_finite(doc.at("context"), "context");
  if (doc.contains("attention_weights")) attnkit_fuzz::weight_rows_in_range(doc.at("attention_weights"), false);
  return 0;
}
