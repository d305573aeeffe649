// attnkit fuzzing — the --grad-output reader of `attnkit grad` and `attnkit attention --grad`: byte 0 picks the
// command and its options, the rest is the grad_output document (standard input) → read_grad_output → the backward
// (Module::backward for grad, the op's backward for attention). The inputs are fixed files written at start (x of
// shape (2, 3, 4) with kv and masks now and then; query/key/value with a mask). attnkit::Error is an answer; anything
// else is a finding. An accepted grad_output must give a JSON document whose numbers are all finite.
#include <unistd.h>

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

std::string path(const char* name) { return g_dir + "/" + name; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char dir[] = "/tmp/attnkit-fuzz-grad-XXXXXX";
  if (!::mkdtemp(dir)) {
    std::perror("attnkit fuzz_grad: temporary directory");
    std::abort();
  }
  g_dir = dir;
  const std::string x = R"("x": [[[0.1, 0.2, 0.3, 0.4], [0.5, -0.6, 0.7, 0.8], [0.9, 1.0, -1.1, 1.2]],
                                   [[-0.3, 0.2, 0.1, 0.0], [0.4, 0.4, -0.4, 0.4], [1.5, -1.5, 0.5, -0.5]]])";
  std::ofstream(path("x.json")) << "{" << x << "}";
  std::ofstream(path("x_kv.json")) << "{" << x
                                   << R"(, "kv": [[[1, 0, 0, 1], [0, 1, 1, 0]], [[0.5, 0.5, 0.5, 0.5], [1, -1, 1, -1]]],
                                        "key_padding_mask": [[false, true], [false, false]]})";
  std::ofstream(path("x_mask.json")) << "{" << x
                                     << R"(, "attn_mask": [[0, "-inf", "-inf"], [0, 0, "-inf"], [0, 0, 0]]})";
  std::ofstream(path("qkv.json")) << R"({"query": [[[[1, 0], [0, 1], [1, 1]], [[0.5, -0.5], [1, 0], [0, 0]]]],
             "key": [[[[1, 0], [0, 1]]]], "value": [[[[1, 2, 3], [4, 5, 6]]]],
             "attn_mask": [[true, false], [true, true], [false, false]]})";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t a = data[0];
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  std::ostringstream out;
  const bool attention = (a & 3) == 3;
  bool ok;
  if (attention) {
    cli::AttentionCommandOptions o;
    o.input = path("qkv.json");
    o.grad = true;
    o.grad_output = "-";
    o.causal = (a & 0x04) ? CausalAlign::lower_right : CausalAlign::none;
    o.no_weights = a & 0x08;
    if (a & 0x10) {
      o.train = true;
      o.dropout = 0.25;
    }
    o.threads = 1 + ((a >> 5) & 1);
    ok = attnkit_fuzz::run_expecting_error_or_success([&] { cli::command_attention(o, in, out); });
  } else {
    static const char* const inputs[] = {"x.json", "x_kv.json", "x_mask.json"};
    cli::RunOptions o;
    o.mechanism = (a & 0x04) ? "multihead" : "causal";
    o.input = path(inputs[a & 3]);
    o.grad_output = "-";
    o.d_out = 4;
    if (a & 0x04) o.heads = (a & 0x08) ? 2 : 1;
    if ((a & 3) != 0) o.causal = false;  // kv and attn_mask: the mask says what is visible
    o.qkv_bias = a & 0x40;
    if (a & 0x10) {
      o.train = true;
      o.dropout = 0.25;
    }
    o.threads = 1 + ((a >> 5) & 1);
    if ((a & 3) != 0 && !(a & 0x04)) o.mechanism = "self";  // causal cannot be made non-causal from the options
    ok = attnkit_fuzz::run_expecting_error_or_success([&] { cli::command_grad(o, in, out); });
  }
  if (!ok) {
    if (!out.str().empty()) finding("the grad command wrote output before failing");
    return 0;
  }
  attnkit_fuzz::all_finite(attnkit_fuzz::parse_output(out.str(), "grad"), "the grad output");
  return 0;
}
