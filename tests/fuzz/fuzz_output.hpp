// attnkit fuzzing — checks on a document the CLI printed: every number finite, weights in [0, 1], each weight row's
// sum in [0, 1] (a row sums to 1, or to 0 when it could attend to nothing; averaged over heads, to the share of heads
// that could attend), the rank of each shape.
#pragma once
#include <cmath>
#include <string>

#include "cli.hpp"
#include "fuzz_common.hpp"
#include "json_io.hpp"

namespace attnkit_fuzz {

inline void all_finite(const attnkit::cli::Json& v, const char* what) {
  if (v.is_object()) {  // a document: its strings are names ("mechanism"), its numbers sit in lists
    for (const auto& [key, value] : v.items())
      if (!value.is_string()) all_finite(value, what);
  } else if (v.is_array()) {
    for (const auto& e : v) all_finite(e, what);
  } else if (!v.is_number() || !std::isfinite(v.get<double>())) {
    finding(std::string(what) + " holds a non-finite value: " + v.dump());
  }
}

// Rows are the innermost lists of `weights`; with dropout (training) kept weights are scaled by 1/(1-p), so the
// bounds do not apply and only finiteness is checked.
inline void weight_rows_in_range(const attnkit::cli::Json& weights, bool dropout) {
  all_finite(weights, "attention_weights");
  if (dropout || !weights.is_array() || weights.empty()) return;
  if (!weights[0].is_array()) {
    double sum = 0;
    for (const auto& w : weights) {
      const double x = w.get<double>();
      if (x < 0 || x > 1) finding("a weight outside [0, 1]: " + w.dump());
      sum += x;
    }
    if (sum > 1 + 1e-4) finding("a weight row sums to " + std::to_string(sum) + " (> 1)");
    return;
  }
  for (const auto& inner : weights) weight_rows_in_range(inner, dropout);
}

inline attnkit::cli::Json parse_output(const std::string& text, const char* command) {
  try {
    return attnkit::cli::Json::parse(text);
  } catch (...) {
    finding(std::string(command) + " wrote a document that is not JSON: " + text.substr(0, 200));
  }
}

}  // namespace attnkit_fuzz
