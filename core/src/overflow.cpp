#include "overflow.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "attnkit/errors.hpp"

namespace attnkit::detail {

void attention_weights_f64(const AttentionRow& row, float* weights) {
  const double ninf = -std::numeric_limits<double>::infinity();
  std::vector<double> s(row.n_k, ninf);
  double mx = ninf;
  for (std::size_t j = 0; j < row.visible; ++j) {
    const double m = row.mask ? double(row.mask[j]) : 0.0;
    if (m == ninf) continue;
    double dot = 0.0;
    for (std::size_t p = 0; p < row.d; ++p) dot += double(row.query[p]) * double(row.key[j * row.ld_key + p]);
    s[j] = dot * row.scale + m;  // |dot| ≤ d·(3.4e38)²: far inside float64
    if (s[j] > mx) mx = s[j];
  }
  if (mx == ninf) {  // nothing to attend to
    for (std::size_t j = 0; j < row.n_k; ++j) weights[j] = 0.0f;
    return;
  }
  double sum = 0.0;
  for (std::size_t j = 0; j < row.n_k; ++j) sum += (s[j] = s[j] == ninf ? 0.0 : std::exp(s[j] - mx));
  for (std::size_t j = 0; j < row.n_k; ++j) weights[j] = static_cast<float>(s[j] / sum);
}

bool attention_context_f64(const float* weights, const AttentionRow& row, float* output) {
  const double fmax = std::numeric_limits<float>::max();
  std::vector<double> out(row.d_v, 0.0);
  for (std::size_t j = 0; j < row.n_k; ++j) {
    if (weights[j] == 0.0f) continue;
    for (std::size_t c = 0; c < row.d_v; ++c) out[c] += double(weights[j]) * double(row.value[j * row.ld_value + c]);
  }
  for (std::size_t c = 0; c < row.d_v; ++c)
    if (!(std::fabs(out[c]) <= fmax))
      return false;  // would round to ±inf (values between max and its rounding edge too)
  for (std::size_t c = 0; c < row.d_v; ++c) output[c] = static_cast<float>(out[c]);
  return true;
}

void screen_projection(const float* y, std::size_t rows, std::size_t tokens, std::size_t cols, Projection kind) {
  const std::size_t at = first_non_finite(y, rows * cols);
  if (at == rows * cols) return;
  static const char* const what[] = {"queries", "keys", "values"};
  static const char* const formula[2][3] = {{"x·W_queryᵀ", "x·W_keyᵀ", "x·W_valueᵀ"},
                                            {"x·W_query", "x·W_key", "x·W_value"}};
  static const char* const alone[] = {"x·W_queryᵀ", "kv·W_keyᵀ", "kv·W_valueᵀ"};
  const bool stacked = kind == Projection::qkv || kind == Projection::qkv_v1;
  const std::size_t row = at / cols,
                    which = stacked ? at % cols / (cols / 3)
                            : kind == Projection::out_proj
                                ? 0
                                : static_cast<std::size_t>(kind) - static_cast<std::size_t>(Projection::query);
  const float found = y[at];
  throw Error(std::string(kind == Projection::out_proj ? "out_proj outputs" : what[which]) +
                  " overflow float32 at batch " + std::to_string(row / tokens) + ", token " +
                  std::to_string(row % tokens) + " (" +
                  (kind == Projection::out_proj ? "context·out_projᵀ"
                   : stacked                    ? formula[kind == Projection::qkv_v1][which]
                                                : alone[which]) +
                  " reached " +
                  (std::isnan(found) ? "nan"
                   : found > 0       ? "inf"
                                     : "-inf") +
                  "); expected inputs and weights whose projections stay below 3.4e38 in magnitude",
              ErrorKind::range);
}

std::string context_overflow_message(std::size_t batch, std::size_t head, std::size_t query) {
  return "context overflows float32 at batch " + std::to_string(batch) + ", head " + std::to_string(head) + ", query " +
         std::to_string(query) +
         " (weights·value reached inf); expected values whose weighted sums stay below 3.4e38 in magnitude";
}

}  // namespace attnkit::detail
