#include "overflow.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "attnkit/errors.hpp"

namespace attnkit::detail {

std::size_t first_non_finite(const float* x, std::size_t n) {
  // Exponent bits all ones is exactly NaN or ±Inf. Blocks of integer tests (vectorised by the compiler) keep the
  // common all-finite case one cheap pass; the block that holds one is searched again for its index.
  constexpr std::size_t kBlock = 1024;
  for (std::size_t b0 = 0; b0 < n; b0 += kBlock) {
    const std::size_t b1 = n - b0 < kBlock ? n : b0 + kBlock;
    std::uint32_t any = 0;
    for (std::size_t i = b0; i < b1; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, x + i, sizeof bits);
      any |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (!any) continue;
    for (std::size_t i = b0; i < b1; ++i)
      if (!std::isfinite(x[i])) return i;
  }
  return n;
}

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
    if (!(std::fabs(out[c]) <= fmax)) return false;  // would round to ±inf (values between max and its rounding edge too)
  for (std::size_t c = 0; c < row.d_v; ++c) output[c] = static_cast<float>(out[c]);
  return true;
}

std::string projection_overflow_message(const char* what, const char* formula, std::size_t batch, std::size_t token, float found) {
  return std::string(what) + " overflow float32 at batch " + std::to_string(batch) + ", token " + std::to_string(token) +
         " (" + formula + " reached " + (std::isnan(found) ? "nan" : found > 0 ? "inf" : "-inf") +
         "); expected inputs and weights whose projections stay below 3.4e38 in magnitude";
}

std::string context_overflow_message(std::size_t batch, std::size_t head, std::size_t query) {
  return "context overflows float32 at batch " + std::to_string(batch) + ", head " + std::to_string(head) + ", query " +
         std::to_string(query) + " (weights·value reached inf); expected values whose weighted sums stay below 3.4e38 in magnitude";
}

}  // namespace attnkit::detail
