// attnkit fuzzing — `attnkit attention`'s input: a JSON document {"query", "key", "value", "attn_mask"?} through
// parse_json and command_attention (mask parsing, shape checks, broadcasting, the op's two paths), with the first
// byte choosing the options (causal alignment, weights per head / averaged / none, scale, dropout). attnkit::Error
// is an answer; anything else is a finding. An accepted input must give a JSON document whose numbers are all
// finite, with the documented shapes, and weight rows (per head, no dropout) that sum to 1 or are all 0.
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "cli.hpp"
#include "fuzz_common.hpp"
#include "json_io.hpp"

using namespace attnkit;
using attnkit_fuzz::finding;

namespace {

void all_finite(const cli::Json& v, const char* what) {
  if (v.is_array()) {
    for (const auto& e : v) all_finite(e, what);
  } else if (!v.is_number() || !std::isfinite(v.get<double>())) {
    finding(std::string(what) + " holds a non-finite value: " + v.dump());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t sel = data[0];
  cli::AttentionCommandOptions o;
  o.input = "-";
  o.causal = sel % 3 == 0 ? CausalAlign::none : sel % 3 == 1 ? CausalAlign::upper_left : CausalAlign::lower_right;
  o.no_weights = (sel >> 2) % 3 == 0;
  o.average_weights = (sel >> 2) % 3 == 1;
  if (sel & 0x20) o.scale = (sel & 0x40) ? -0.5 : 3.0;
  if (sel & 0x80) {
    o.dropout = 0.25f;
    o.train = true;
  }
  o.threads = 1 + (sel & 1);
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  std::ostringstream out;
  if (!attnkit_fuzz::run_expecting_error_or_success([&] { cli::command_attention(o, in, out); })) {
    if (!out.str().empty()) finding("command_attention wrote output before failing");
    return 0;
  }
  cli::Json doc;
  try {
    doc = cli::Json::parse(out.str());
  } catch (...) {
    finding("command_attention wrote a document that is not JSON: " + out.str().substr(0, 200));
  }
  const auto& shape = doc.at("output_shape");
  if (shape.size() != 4) finding("output_shape is not rank 4: " + shape.dump());
  all_finite(doc.at("output"), "output");
  if (o.no_weights) {
    if (doc.contains("attention_weights")) finding("--no-weights output holds attention_weights");
    return 0;
  }
  const auto& weights = doc.at("attention_weights");
  all_finite(weights, "attention_weights");
  if (doc.at("weights_shape").size() != (o.average_weights ? 3u : 4u)) finding("weights_shape of the wrong rank");
  if (o.average_weights) return 0;
  for (const auto& batch : weights)
    for (const auto& head : batch)
      for (const auto& row : head) {
        double sum = 0;
        for (const auto& w : row) {
          const double x = w.get<double>();
          if (x < 0 || x > 1) finding("a weight outside [0, 1]: " + w.dump());
          sum += x;
        }
        if (sum != 0 && std::fabs(sum - 1) > 1e-4) finding("a weight row sums to " + std::to_string(sum));
      }
  return 0;
}
