// attnkit tests — bad input to the attention op: every case throws attnkit::Error of the right kind, with one
// line naming the problem and the expected value.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "configs.hpp"
#include "attnkit/attention.hpp"
#include "bad_input_table.hpp"

namespace attnkit {
namespace {

using attnkit_test::filled;

AttentionResult op(const Tensor& q, const Tensor& k, const Tensor& v, AttentionOptions o = {}) {
  return attention(q, k, v, o);
}

const float kNan = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

TEST(AttentionErrors, EachBadInputIsNamedWithTheExpectedValue) {
  const Tensor q = filled({2, 6, 3, 4}), k = filled({2, 2, 5, 4}), v = filled({2, 2, 5, 7});
  auto with_mask = [&](AttentionMask m) {
    return [&, m] {
      AttentionOptions o;
      o.attn_mask = &m;
      op(q, k, v, o);
    };
  };
  auto with_nan = [](Tensor t, std::size_t i, float x) {
    t.data[i] = x;
    return t;
  };
  const std::vector<BadCase> cases = {
      {"query rank 3",
       [&] {
         op(filled({6, 3, 4}), k, v);
       },
       ErrorKind::invalid,
       {"query must have shape (b, h_q, n_q, d)", "rank 3"}},
      {"key rank 5",
       [&] {
         op(q, filled({1, 2, 2, 5, 4}), v);
       },
       ErrorKind::invalid,
       {"key must have shape (b, h_kv, n_k, d)", "rank 5"}},
      {"value rank 2",
       [&] {
         op(q, k, filled({5, 7}));
       },
       ErrorKind::invalid,
       {"value must have shape (b, h_kv, n_k, d_v)"}},
      {"key batch",
       [&] {
         op(q, filled({3, 2, 5, 4}), filled({3, 2, 5, 7}));
       },
       ErrorKind::invalid,
       {"key's batch is 3", "query's is 2", "expected 2"}},
      {"key d",
       [&] {
         op(q, filled({2, 2, 5, 3}), v);
       },
       ErrorKind::invalid,
       {"key's d is 3", "expected 4"}},
      {"value batch",
       [&] {
         op(q, k, filled({1, 2, 5, 7}));
       },
       ErrorKind::invalid,
       {"value's batch is 1", "expected 2"}},
      {"value heads",
       [&] {
         op(q, k, filled({2, 3, 5, 7}));
       },
       ErrorKind::invalid,
       {"value's heads is 3", "expected 2"}},
      {"value tokens",
       [&] {
         op(q, k, filled({2, 2, 4, 7}));
       },
       ErrorKind::invalid,
       {"value's tokens is 4", "expected 5"}},
      {"heads not a multiple",
       [&] {
         op(q, filled({2, 4, 5, 4}), filled({2, 4, 5, 7}));
       },
       ErrorKind::invalid,
       {"query has 6 heads, not a multiple of key's 4", "h_q divisible by h_kv"}},
      {"empty batch",
       [&] {
         op(filled({0, 6, 3, 4}), k, v);
       },
       ErrorKind::range,
       {"query has 0 batch", "expected at least 1"}},
      {"empty query tokens",
       [&] {
         op(filled({2, 6, 0, 4}), k, v);
       },
       ErrorKind::range,
       {"query has 0 tokens"}},
      {"empty keys",
       [&] {
         op(q, filled({2, 2, 0, 4}), filled({2, 2, 0, 7}));
       },
       ErrorKind::range,
       {"key has 0 tokens"}},
      {"empty d",
       [&] {
         op(filled({2, 6, 3, 0}), filled({2, 2, 5, 0}), v);
       },
       ErrorKind::range,
       {"query has 0 features"}},
      {"empty d_v",
       [&] {
         op(q, k, filled({2, 2, 5, 0}));
       },
       ErrorKind::range,
       {"value has 0 features"}},
      {"NaN query",
       [&] { op(with_nan(q, 5, kNan), k, v); },
       ErrorKind::invalid,
       {"query contains NaN", "expected finite"}},
      {"Inf key", [&] { op(q, with_nan(k, 3, kInf), v); }, ErrorKind::invalid, {"key contains", "expected finite"}},
      {"-Inf value",
       [&] { op(q, k, with_nan(v, 0, -kInf)); },
       ErrorKind::invalid,
       {"value contains", "expected finite"}},
      {"mask rank 5",
       with_mask(boolean_mask({1, 2, 6, 3, 5}, std::vector<bool>(180, true))),
       ErrorKind::invalid,
       {"attn_mask has rank 5", "expected rank 1 to 4", "[2, 6, 3, 5]"}},
      {"mask rank 0",
       with_mask(AttentionMask{MaskKind::boolean, {}, {}}),
       ErrorKind::invalid,
       {"attn_mask has rank 0"}},
      {"mask keys",
       with_mask(boolean_mask({4}, std::vector<bool>(4, true))),
       ErrorKind::invalid,
       {"attn_mask shape [4] is not broadcastable", "n_k dimension is 4, expected 1 or 5"}},
      {"mask queries",
       with_mask(boolean_mask({2, 5}, std::vector<bool>(10, true))),
       ErrorKind::invalid,
       {"n_q dimension is 2, expected 1 or 3"}},
      {"mask heads",
       with_mask(boolean_mask({2, 3, 5}, std::vector<bool>(30, true))),
       ErrorKind::invalid,
       {"h_q dimension is 2, expected 1 or 6"}},
      {"mask batch",
       with_mask(boolean_mask({3, 1, 1, 5}, std::vector<bool>(15, true))),
       ErrorKind::invalid,
       {"b dimension is 3, expected 1 or 2"}},
      {"mask values count",
       with_mask(AttentionMask{MaskKind::additive, {3, 5}, std::vector<float>(14)}),
       ErrorKind::invalid,
       {"attn_mask has 14 values but its shape [3, 5] holds 15"}},
      {"bool mask value",
       with_mask(AttentionMask{MaskKind::boolean, {5}, {1, 0, 0.5f, 1, 1}}),
       ErrorKind::invalid,
       {"attn_mask (boolean) has 0.5 at index [2]", "expected 1 (may attend) or 0"}},
      {"float mask NaN",
       with_mask(additive_mask({5}, {0, 0, 0, kNan, 0})),
       ErrorKind::invalid,
       {"attn_mask has nan at index [3]", "expected finite numbers or -inf"}},
      {"float mask +inf",
       with_mask(additive_mask({1, 5}, {0, kInf, 0, 0, 0})),
       ErrorKind::invalid,
       {"attn_mask has inf at index [0, 1]"}},
      {"dropout 1",
       [&] {
         AttentionOptions o;
         o.dropout = 1.0;
         o.train = true;
         op(q, k, v, o);
       },
       ErrorKind::range,
       {"dropout (1) must be in [0, 1)"}},
      {"dropout negative",
       [&] {
         AttentionOptions o;
         o.dropout = -0.1;
         op(q, k, v, o);
       },
       ErrorKind::range,
       {"dropout (-0.1)"}},
      {"scale NaN",
       [&] {
         AttentionOptions o;
         o.scale = std::nan("");
         op(q, k, v, o);
       },
       ErrorKind::range,
       {"scale (nan) must be a finite float32 number"}},
      {"scale too large",
       [&] {
         AttentionOptions o;
         o.scale = 1e300;
         op(q, k, v, o);
       },
       ErrorKind::range,
       {"scale (1e+300)"}},
      {"too large to allocate",
       [&] {
         AttentionOptions o;
         o.weights = AttentionWeights::per_head;
         op(filled({1, 1, 1, 1}), filled({1, 1, 1, 1}), filled({1, 1, 1, 1}), o);
         set_max_tensor_bytes(64);
         try {
           op(filled({1, 1, 4, 1}), filled({1, 1, 5, 1}), filled({1, 1, 5, 1}), o);
         } catch (...) {
           set_max_tensor_bytes(0);
           throw;
         }
         set_max_tensor_bytes(0);
       },
       ErrorKind::range,
       {"bytes"}},
  };
  expect_bad_inputs(cases);
}

}  // namespace
}  // namespace attnkit
