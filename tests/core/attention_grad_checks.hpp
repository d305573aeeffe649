// attnkit tests — shared by the attention-op gradient suites: the comparison against the float64 reference
// (attention_grad_reference.hpp) and the forward's dropout factors. Tolerance: relative to the largest reference
// gradient of the tensor (a float32 sum of products of O(1) values, see kernel_tester.hpp), since single elements may
// cancel to ~0.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "attnkit/random.hpp"
#include "attnkit/tensor.hpp"

namespace attnkit::test {

inline double max_abs(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

inline void expect_close(const Tensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.numel(), want.size()) << what;
  const double bound = tol * std::max(max_abs(want), 1e-6);
  std::size_t bad = 0;
  for (std::size_t e = 0; e < want.size(); ++e)
    if (!(std::fabs(double(got.data[e]) - want[e]) <= bound) && bad++ < 3)
      ADD_FAILURE() << what << " [" << e << "]: got " << got.data[e] << ", want " << want[e] << " (bound " << bound
                    << ")";
  EXPECT_EQ(bad, 0u) << what;
}

// The forward's dropout factors (0 or 1/(1 − p)) over (b, h_q, n_q, n_k), drawn as F.dropout draws them.
inline std::vector<float> keep_factors(std::uint64_t seed, std::size_t count, double p) {
  std::vector<float> keep(count, 1.0f);
  Generator(seed).dropout_(keep.data(), count, p);
  return keep;
}

}  // namespace attnkit::test
