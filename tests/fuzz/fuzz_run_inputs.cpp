// attnkit fuzzing — `attnkit run`'s input document with the module features of nn.MultiheadAttention:
// {"x", "kv"?, "key_padding_mask"?, "attn_mask"?} through command_run (run_inputs_from_json, mask_from_json, the
// core's shape checks against x, kv and the heads, the fused and explain paths, grouped-query heads, --decode).
// Bytes 0 and 1 choose the options, the rest is the document (standard input). attnkit::Error is an answer;
// anything else is a finding. An accepted input must give finite numbers with weight rows in [0, 1]; with --decode
// the context must equal the full forward's (≤ 1e-4 relative to the largest value).
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>

#include "cli.hpp"
#include "fuzz_common.hpp"
#include "fuzz_output.hpp"

using namespace attnkit;
using attnkit_fuzz::finding;

namespace {

const char* const kMechanisms[] = {"multihead", "multihead", "multihead-wrapper", "causal"};

bool run(const cli::RunOptions& o, const std::string& document, std::string& out) {
  std::istringstream in(document);
  std::ostringstream os;
  const bool ok = attnkit_fuzz::run_expecting_error_or_success([&] { cli::command_run(o, in, os); });
  if (!ok && !os.str().empty()) finding("command_run wrote output before failing");
  out = os.str();
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t a = data[0], b = data[1];
  cli::RunOptions o;
  o.input = "-";
  o.mechanism = kMechanisms[a & 3];
  const bool wrapper = (a & 3) == 2, multi = (a & 3) < 2;
  if (a & 0x04) o.causal = (a & 0x10) != 0;
  o.no_weights = a & 0x08;
  o.threads = 1 + ((a >> 5) & 1);
  o.decode = a & 0x40;
  o.qkv_bias = a & 0x80;
  o.d_out = 1 + (b & 7);
  if (multi || wrapper) o.heads = 1 + ((b >> 3) & 3);
  if (multi && (b & 0x60)) o.kv_heads = (b >> 5) & 3;  // 1, 2 or 3
  if (b & 0x80) {
    o.train = true;
    o.dropout = 0.25;
  }
  if (o.decode) {  // as the command line sets them (native/cli_main.cpp refuses --decode --train)
    o.no_weights = true;
    o.train = false;
    o.dropout = 0;
  }
  const std::string document(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string text;
  if (!run(o, document, text)) return 0;

  const cli::Json doc = attnkit_fuzz::parse_output(text, "command_run");
  const cli::Json& context = doc.at("context");
  attnkit_fuzz::all_finite(context, "context");
  if (doc.at("context_shape").size() < 2 || doc.at("context_shape").size() > 3) finding("context of the wrong rank");
  if (doc.contains("attention_weights")) {
    if (o.no_weights || o.decode) finding("attention_weights printed with --no-weights");
    attnkit_fuzz::weight_rows_in_range(doc.at("attention_weights"), o.train);
  }
  if (o.decode) {  // token by token through the KV cache = the full causal forward
    cli::RunOptions full = o;
    full.decode = false;
    full.no_weights = true;
    std::string full_text;
    if (!run(full, document, full_text)) finding("--decode accepted an input the full forward refuses");
    const cli::Json reference = attnkit_fuzz::parse_output(full_text, "command_run").at("context");
    const auto flat = [](const cli::Json& v) { return v.flatten(); };
    const cli::Json got = flat(context), want = flat(reference);
    double largest = 1;
    for (const auto& [k, v] : want.items()) largest = std::max(largest, std::fabs(v.get<double>()));
    for (const auto& [k, v] : want.items()) {
      const auto it = got.find(k);
      if (it == got.end() || std::fabs(it->get<double>() - v.get<double>()) > 1e-4 * largest)
        finding("--decode context differs from the full forward's at " + k);
    }
  }
  return 0;
}
