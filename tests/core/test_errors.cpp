// Bad input through the C++ API: every case must throw attnkit::Error (never crash, never another
// exception type) of the right kind, with one line that names the problem and the expected value.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "configs.hpp"
#include "attnkit/attnkit.hpp"

namespace {

using attnkit_test::make_config;

using attnkit::Config;
using attnkit::Error;
using attnkit::ErrorKind;
using attnkit::ForwardOptions;
using attnkit::Generator;
using attnkit::Mechanism;
using attnkit::Module;
using attnkit::Shape;
using attnkit::StateDict;
using attnkit::Tensor;

struct ErrorCase {
  const char* name;
  std::function<void()> run;
  ErrorKind kind;
  std::vector<std::string> message_parts;  // each must appear in what()
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

Config with_dropout(Config c, float p) {
  c.dropout = p;
  return c;
}
Config with_bias(Config c) {
  c.qkv_bias = true;
  return c;
}

using attnkit_test::filled;

// A valid state_dict for `causal`/`self` with d_in 3, d_out 2 (nn.Linear layout (out, in)).
StateDict linear_sd(bool bias = false) {
  StateDict sd;
  for (const char* n : {"W_query", "W_key", "W_value"}) {
    sd.emplace_back(std::string(n) + ".weight", filled({2, 3}));
    if (bias) sd.emplace_back(std::string(n) + ".bias", filled({2}));
  }
  return sd;
}

StateDict replace(StateDict sd, const std::string& key, Tensor t) {
  for (auto& kv : sd)
    if (kv.first == key) kv.second = std::move(t);
  return sd;
}
StateDict erase(StateDict sd, const std::string& key) {
  StateDict out;
  for (auto& kv : sd)
    if (kv.first != key) out.push_back(kv);
  return out;
}
StateDict add(StateDict sd, const std::string& key, Tensor t) {
  sd.emplace_back(key, std::move(t));
  return sd;
}

Tensor with_value_at(Tensor t, std::size_t flat, float v) {
  t.data.at(flat) = v;
  return t;
}

void forward(const Config& c, const Tensor& x, bool return_weights = false) {
  Module m(c);
  ForwardOptions o;
  o.return_weights = return_weights;
  m.forward(x, o);
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

std::string bytes_of(std::initializer_list<std::uint64_t> dims) {
  long double b = 4;  // float32
  for (auto d : dims) b *= static_cast<long double>(d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0Lf", b);
  return buf;
}

const std::size_t kBig = std::size_t(1) << 22;  // 2^22 × 2^22 floats is 64 TiB: past any allocation limit

std::vector<ErrorCase> cases() {
  const Config causal = make_config(Mechanism::causal, 3, 2, 1, 6);
  const Tensor x_ok = filled({2, 6, 3});
  return {
      // ---- configuration ----
      {"DOutNotDivisibleByHeads",
       [] { Module(make_config(Mechanism::multihead, 3, 5, 2)); },
       ErrorKind::range,
       {"d_out (5) must be divisible by num_heads (2)"}},
      {"DOutNotDivisibleByHeadsDesignExample",
       [] { Module(make_config(Mechanism::multihead, 4, 10, 3)); },
       ErrorKind::range,
       {"d_out (10) must be divisible by num_heads (3)"}},
      {"ZeroHeadsMultihead",
       [] { Module(make_config(Mechanism::multihead, 3, 2, 0)); },
       ErrorKind::range,
       {"num_heads", "at least 1", "0"}},
      {"ZeroHeadsWrapper",
       [] { Module(make_config(Mechanism::multihead_wrapper, 3, 2, 0)); },
       ErrorKind::range,
       {"num_heads", "at least 1", "0"}},
      {"HeadsOnASingleHeadMechanism",
       [] { Module(make_config(Mechanism::self, 3, 2, 2)); },
       ErrorKind::range,
       {"num_heads (2)", "expected 1", "self"}},
      {"DropoutNegative",
       [=] { Module(with_dropout(causal, -0.1f)); },
       ErrorKind::range,
       {"dropout (-0.1) must be in [0, 1)"}},
      {"DropoutOne",
       [=] { Module(with_dropout(causal, 1.0f)); },
       ErrorKind::range,
       {"dropout (1", "must be in [0, 1)"}},
      {"DropoutNaN",
       [=] { Module(with_dropout(causal, kNaN)); },
       ErrorKind::range,
       {"dropout (nan", "must be in [0, 1)"}},
      {"DropoutAboveOneOnMultihead",
       [] { Module(with_dropout(make_config(Mechanism::multihead, 3, 2, 2), 1.5f)); },
       ErrorKind::range,
       {"dropout (1.5", "must be in [0, 1)"}},
      {"DropoutOnAMechanismWithoutDropout",
       [] { Module(with_dropout(make_config(Mechanism::self, 3, 2), 0.5f)); },
       ErrorKind::range,
       {"dropout", "self"}},
      {"QkvBiasOnSimplified",
       [] { Module(with_bias(make_config(Mechanism::simplified, 0, 0))); },
       ErrorKind::invalid,
       {"qkv_bias", "simplified"}},
      {"ZeroDIn", [] { Module(make_config(Mechanism::self, 0, 2)); }, ErrorKind::range, {"d_in", "at least 1", "0"}},
      {"ZeroDOut",
       [] { Module(make_config(Mechanism::causal, 3, 0)); },
       ErrorKind::range,
       {"d_out", "at least 1", "0"}},
      {"HugeParametersRefusedBeforeAllocating",
       [] { Module(make_config(Mechanism::self, kBig, kBig)); },
       ErrorKind::range,
       {"needs", "bytes", "expected at most"}},
      {"HugeParametersNameTheBytes",
       [] { Module(make_config(Mechanism::multihead, kBig, kBig, 1)); },
       ErrorKind::range,
       {"needs " + bytes_of({3, kBig, kBig}) + " bytes"}},

      {"AbsurdHeadCountDoesNotWrap",  // 3·num_heads wraps size_t; must be refused, not looped over
       [] { Module(make_config(Mechanism::multihead_wrapper, 1, 1, std::numeric_limits<std::size_t>::max() / 3 + 1)); },
       ErrorKind::range,
       {"needs", "bytes"}},
      {"AbsurdDOut",
       [] { Module(make_config(Mechanism::multihead, 2, std::numeric_limits<std::size_t>::max(), 1)); },
       ErrorKind::range,
       {"needs", "bytes"}},

      // ---- the input x ----
      {"TokensExceedContextLength",
       [] {
         forward(make_config(Mechanism::causal, 3, 2, 1, 4), filled({1, 5, 3}));
       },
       ErrorKind::range,
       {"5 tokens", "context_length", "4"}},
      {"TokensExceedContextLengthMultihead",
       [] {
         forward(make_config(Mechanism::multihead, 3, 2, 2, 6), filled({7, 3}));
       },
       ErrorKind::range,
       {"7 tokens", "context_length", "6"}},
      {"InputRank1",
       [] { forward(make_config(Mechanism::self, 3, 2), filled({3})); },
       ErrorKind::invalid,
       {"(batch, tokens, d_in) or (tokens, d_in)", "rank 1"}},
      {"InputRank4",
       [=] {
         forward(causal, filled({1, 2, 6, 3}));
       },
       ErrorKind::invalid,
       {"(batch, tokens, d_in) or (tokens, d_in)", "rank 4", "[1, 2, 6, 3]"}},
      {"InputRank0", [=] { forward(causal, Tensor(Shape{}, {1.0f})); }, ErrorKind::invalid, {"rank 0"}},
      {"ZeroTokensBatched",
       [=] {
         forward(causal, Tensor({2, 0, 3}));
       },
       ErrorKind::range,
       {"0 tokens", "at least 1"}},
      {"ZeroTokensUnbatched",
       [] {
         forward(make_config(Mechanism::simplified, 0, 0), Tensor({0, 3}));
       },
       ErrorKind::range,
       {"0 tokens", "at least 1"}},
      {"ZeroBatch",
       [=] {
         forward(causal, Tensor({0, 6, 3}));
       },
       ErrorKind::range,
       {"batch size 0", "at least 1"}},
      {"ZeroDInInX",
       [] {
         forward(make_config(Mechanism::simplified, 0, 0), Tensor({6, 0}));
       },
       ErrorKind::range,
       {"d_in 0", "at least 1"}},
      {"XWidthDiffersFromDIn",
       [=] {
         forward(causal, filled({2, 6, 4}));
       },
       ErrorKind::invalid,
       {"d_in 4", "[2, 6, 4]", "expected d_in 3"}},
      {"XWidthDiffersFromDInUnbatched",
       [] {
         forward(make_config(Mechanism::self_v1, 3, 2), filled({6, 2}));
       },
       ErrorKind::invalid,
       {"d_in 2", "expected d_in 3"}},
      {"NaNInX",
       [=] { forward(causal, with_value_at(x_ok, (0 * 6 + 2) * 3 + 1, kNaN)); },
       ErrorKind::invalid,
       {"x contains NaN at index [0, 2, 1]; expected finite numbers"}},
      {"InfInX",
       [] {
         forward(make_config(Mechanism::simplified, 0, 0), with_value_at(filled({6, 3}), 3 * 3, kInf));
       },
       ErrorKind::invalid,
       {"x contains Inf at index [3, 0]"}},
      {"NegInfInX",
       [=] { forward(causal, with_value_at(x_ok, x_ok.numel() - 1, -kInf)); },
       ErrorKind::invalid,
       {"x contains -Inf at index [1, 5, 2]"}},
      {"WeightsTooLargeToAllocate",
       [] {
         forward(make_config(Mechanism::multihead, 1, 1, 1), filled({1, kBig + 1, 1}), true);
       },
       ErrorKind::range,
       {"needs " + bytes_of({1, 1, kBig + 1, kBig + 1}) + " bytes"}},

      // ---- state_dict ----
      {"StateDictWrongShape",
       [=] {
         Module(causal, replace(linear_sd(), "W_query.weight", filled({1, 2})));
       },
       ErrorKind::invalid,
       {"state_dict key W_query.weight has shape [1, 2], expected [2, 3]"}},
      {"StateDictV1GivenLinearLayout",
       [] {
         StateDict sd;
         for (const char* n : {"W_query", "W_key", "W_value"}) sd.emplace_back(n, filled({2, 3}));
         Module(make_config(Mechanism::self_v1, 3, 2), sd);
       },
       ErrorKind::invalid,
       {"state_dict key W_query has shape [2, 3], expected [3, 2]"}},
      {"StateDictWrongBiasShape",
       [=] { Module(with_bias(causal), replace(linear_sd(true), "W_key.bias", filled({3}))); },
       ErrorKind::invalid,
       {"state_dict key W_key.bias has shape [3], expected [2]"}},
      {"StateDictWrongOutProjShape",
       [] {
         StateDict sd = add(add(linear_sd(), "out_proj.weight", filled({2, 2})), "out_proj.bias", filled({2, 1}));
         Module(make_config(Mechanism::multihead, 3, 2, 2), sd);
       },
       ErrorKind::invalid,
       {"state_dict key out_proj.bias has shape [2, 1], expected [2]"}},
      {"StateDictMissingKey",
       [=] { Module(causal, erase(linear_sd(), "W_value.weight")); },
       ErrorKind::invalid,
       {"missing", "W_value.weight", "[2, 3]"}},
      {"StateDictMissingBias",
       [=] { Module(with_bias(causal), erase(linear_sd(true), "W_query.bias")); },
       ErrorKind::invalid,
       {"missing", "W_query.bias"}},
      {"StateDictMissingOutProj",
       [] { Module(make_config(Mechanism::multihead, 3, 2, 2), linear_sd()); },
       ErrorKind::invalid,
       {"missing", "out_proj.weight"}},
      {"StateDictUnknownKey",
       [=] { Module(causal, add(linear_sd(), "foo", filled({2}))); },
       ErrorKind::invalid,
       {"unknown key foo", "W_query.weight"}},
      {"StateDictBiasWithoutQkvBias",
       [=] { Module(causal, linear_sd(true)); },
       ErrorKind::invalid,
       {"W_query.bias", "qkv_bias"}},
      {"StateDictHeadBeyondNumHeads",
       [] {
         StateDict sd;
         for (int h = 0; h < 3; ++h)
           for (const char* n : {"W_query", "W_key", "W_value"})
             sd.emplace_back("heads." + std::to_string(h) + "." + n + ".weight", filled({2, 3}));
         Module(make_config(Mechanism::multihead_wrapper, 3, 2, 2), sd);
       },
       ErrorKind::invalid,
       {"heads.2.W_query.weight"}},
      {"StateDictForSimplified",
       [] { Module(make_config(Mechanism::simplified, 0, 0), linear_sd()); },
       ErrorKind::invalid,
       {"unknown key W_query.weight"}},
      {"StateDictNaNInWeight",
       [=] {
         Module(causal, replace(linear_sd(), "W_key.weight", with_value_at(filled({2, 3}), 3, kNaN)));
       },
       ErrorKind::invalid,
       {"W_key.weight contains NaN at index [1, 0]", "expected finite numbers"}},
      {"StateDictInfInBias",
       [=] {
         Module(with_bias(causal), replace(linear_sd(true), "W_value.bias", with_value_at(filled({2}), 1, kInf)));
       },
       ErrorKind::invalid,
       {"W_value.bias contains Inf at index [1]"}},
      {"StateDictWrongMaskBuffer",
       [=] {
         Module(causal, add(linear_sd(), "mask", filled({5, 5})));
       },
       ErrorKind::invalid,
       {"mask", "[5, 5]", "[6, 6]"}},
      // Only the mechanism's own buffer: "mask", or the wrapper's "heads.<h>.mask" for h < num_heads (issue 15, row 4).
      {"StateDictMaskOfAnotherName",
       [=] {
         Module(causal, add(linear_sd(), "W_query.mask", filled({6, 6})));
       },
       ErrorKind::invalid,
       {"unknown key W_query.mask", "W_query.weight"}},
      {"StateDictHeadMaskOnMultihead",
       [] {
         StateDict sd = add(add(linear_sd(), "out_proj.weight", filled({2, 2})), "out_proj.bias", filled({2}));
         Module(make_config(Mechanism::multihead, 3, 2, 2), add(sd, "heads.0.mask", filled({6, 6})));
       },
       ErrorKind::invalid,
       {"unknown key heads.0.mask"}},
      {"StateDictWrapperMaskBeyondNumHeads",
       [] {
         StateDict sd;
         for (int h = 0; h < 2; ++h)
           for (const char* n : {"W_query", "W_key", "W_value"})
             sd.emplace_back("heads." + std::to_string(h) + "." + n + ".weight", filled({2, 3}));
         for (const char* bad : {"heads.2.mask", "heads.x.mask", "heads.1x.mask", "mask"}) {
           StateDict with = add(sd, bad, filled({6, 6}));
           try {
             Module(make_config(Mechanism::multihead_wrapper, 3, 2, 2), with);
           } catch (const Error& e) {
             if (std::string(e.what()).find(std::string("unknown key ") + bad) == std::string::npos) throw;
             continue;
           }
           return;  // accepted: the outer check fails on "no error"
         }
         Module(make_config(Mechanism::multihead_wrapper, 3, 2, 2), add(sd, "heads.00.mask", filled({6, 6})));
       },
       ErrorKind::invalid,
       {"unknown key heads.00.mask"}},

      // ---- names, tensors, the generator ----
      {"UnknownMechanism",
       [] { attnkit::parse_mechanism("foo"); },
       ErrorKind::invalid,
       {"unknown mechanism 'foo'; expected one of simplified, self-v1, self, causal, multihead-wrapper, multihead"}},
      {"MechanismNamesAreExact",
       [] { attnkit::parse_mechanism("MultiHead"); },
       ErrorKind::invalid,
       {"unknown mechanism 'MultiHead'"}},
      {"EmptyMechanismName", [] { attnkit::parse_mechanism(""); }, ErrorKind::invalid, {"unknown mechanism ''"}},
      {"TensorDataSizeMismatch",
       [] {
         Tensor({2, 3}, std::vector<float>(5));
       },
       ErrorKind::invalid,
       {"[2, 3]", "6", "5"}},
      {"TensorTooLarge",
       [] {
         Tensor({kBig, kBig, 4});
       },
       ErrorKind::range,
       {"[4194304, 4194304, 4]", "needs " + bytes_of({kBig, kBig, 4}) + " bytes"}},
      {"TensorShapeOverflowsSizeT",
       [] {
         Tensor({std::numeric_limits<std::size_t>::max(), 2});
       },
       ErrorKind::range,
       {"needs", "bytes"}},
      {"GeneratorDropoutOne",
       [] {
         Tensor t = filled({4});
         Generator(1).dropout_(t, 1.0f);
       },
       ErrorKind::range,
       {"dropout (1", "[0, 1)"}},
      {"GeneratorDropoutNegative",
       [] {
         Tensor t = filled({4});
         Generator(1).dropout_(t, -0.5f);
       },
       ErrorKind::range,
       {"dropout (-0.5", "[0, 1)"}},
  };
}

class ErrorMessages : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorMessages, ThrowsAttnkitErrorNamingTheProblem) {
  const ErrorCase& c = GetParam();
  try {
    c.run();
    FAIL() << "no exception thrown";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.kind(), c.kind) << msg;
    for (const auto& part : c.message_parts)
      EXPECT_NE(msg.find(part), std::string::npos) << "message: " << msg << "\nlacks: " << part;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
    EXPECT_FALSE(msg.empty());
  } catch (const std::exception& e) {
    FAIL() << "threw a " << typeid(e).name() << " instead of attnkit::Error: " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Api, ErrorMessages, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

// After a refused forward the module still works (errors are checked before any state changes).
TEST(ErrorRecovery, ModuleStillWorksAfterARefusedForward) {
  Config c = make_config(Mechanism::multihead, 3, 4, 2, 6);
  Module m(c);
  const Tensor x = filled({2, 6, 3});
  const auto before = m.forward(x).context.data;
  EXPECT_THROW(m.forward(filled({2, 7, 3})), Error);
  EXPECT_THROW(m.forward(with_value_at(x, 0, kNaN)), Error);
  EXPECT_EQ(m.forward(x).context.data, before);
}

// On the route for inputs past forward_small's size, x is screened through its projection's non-finite flag
// (core/src/forward.cpp): every non-finite value, wherever it sits, is still named as an element of x, on 1 and 2
// threads, with and without weights or intermediates, and the module's dropout draws do not move.
TEST(ErrorNonFiniteX, IsNamedOnTheLargeRoute) {
  const Shape shape{2, 300, 40};  // 24 000 floats: past forward_small
  const std::size_t numel = 2 * 300 * 40;
  struct Spot {
    std::size_t flat;
    const char* index;
  };
  const std::vector<Spot> spots = {
      {0, "[0, 0, 0]"}, {(1 * 300 + 157) * 40 + 23, "[1, 157, 23]"}, {numel - 1, "[1, 299, 39]"}};
  std::size_t checked = 0;
  for (const auto& t : attnkit::mechanism_traits()) {
    if (!t.has_parameters) continue;
    Config c = make_config(t.mechanism, 40, t.mechanism == Mechanism::multihead_wrapper ? 8 : 16,
                           attnkit::option_applies(t.mechanism, "num_heads") ? 2 : 1);
    if (attnkit::option_applies(t.mechanism, "dropout")) c.dropout = 0.5;
    for (const float v : {kNaN, kInf, -kInf})
      for (const Spot& spot : spots)
        for (int variant = 0; variant < 4; ++variant) {
          Module m(c);
          ForwardOptions o;
          o.threads = variant % 2 ? 2 : 1;
          o.return_weights = variant == 2;
          o.intermediates = variant == 3;
          o.train = variant == 3;
          const std::string kind = std::isnan(v) ? "NaN" : (v > 0 ? "Inf" : "-Inf");
          try {
            m.forward(with_value_at(filled(shape), spot.flat, v), o);
            ADD_FAILURE() << t.name << " " << kind << " at " << spot.index << ": no error";
          } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()),
                      "x contains " + kind + " at index " + spot.index + "; expected finite numbers")
                << t.name << " variant " << variant;
            EXPECT_EQ(e.kind(), ErrorKind::invalid);
          }
          Module fresh(c);  // a refused call drew no dropout: the next forward is the fresh module's
          EXPECT_EQ(m.forward(filled(shape), o).context.data, fresh.forward(filled(shape), o).context.data) << t.name;
          ++checked;
        }
  }
  EXPECT_GE(checked, 4u * 3 * 3 * 4);
}

// The padded route (a right-padding key_padding_mask keeps forward_stacked's one GEMM, core/src/forward.cpp), small
// (the tiny GEMM) and large: a non-finite value in a padded row of x is refused and named as in a real row.
TEST(ErrorNonFiniteX, IsNamedOnThePaddedRoute) {
  struct Size {
    std::size_t b, n, d, pad;
  };
  std::size_t checked = 0;
  for (const Mechanism m : {Mechanism::multihead, Mechanism::causal})
    for (const Size s : {Size{2, 6, 3, 2}, Size{2, 300, 40, 100}}) {
      Config c = make_config(m, s.d, m == Mechanism::multihead ? 4 : 2, m == Mechanism::multihead ? 2 : 1);
      attnkit::AttentionMask padding{attnkit::MaskKind::boolean, {s.b, s.n}, std::vector<float>(s.b * s.n, 0.0f)};
      for (std::size_t bi = 0; bi < s.b; ++bi)
        for (std::size_t j = s.n - s.pad; j < s.n; ++j) padding.values[bi * s.n + j] = 1.0f;
      attnkit::ForwardInputs inputs;
      inputs.key_padding_mask = &padding;
      const std::size_t real = s.n / 3, padded = s.n - 1;  // a token of each kind, in batch 1
      for (const std::size_t token : {real, padded})
        for (std::size_t threads : {1, 2}) {
          Module module(c);
          ForwardOptions o;
          o.threads = threads;
          const std::size_t col = s.d - 1;
          const std::string index = "[1, " + std::to_string(token) + ", " + std::to_string(col) + "]";
          try {
            module.forward(with_value_at(filled({s.b, s.n, s.d}), (s.n + token) * s.d + col, kNaN), inputs, o);
            ADD_FAILURE() << "no error at " << index;
          } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), "x contains NaN at index " + index + "; expected finite numbers");
          }
          ++checked;
        }
    }
  EXPECT_EQ(checked, 2u * 2 * 2 * 2);
}

// Boundaries that are valid must not be refused.
TEST(ErrorBoundaries, ValidEdgesAreAccepted) {
  EXPECT_NO_THROW(forward(make_config(Mechanism::causal, 3, 2, 1, 6), filled({1, 6, 3})));   // tokens == context_length
  EXPECT_NO_THROW(forward(make_config(Mechanism::causal, 3, 2, 1, 0), filled({1, 50, 3})));  // 0: no limit
  EXPECT_NO_THROW(Module(with_dropout(make_config(Mechanism::causal, 3, 2), 0.0f)));
  EXPECT_NO_THROW(Module(with_dropout(make_config(Mechanism::causal, 3, 2), std::nextafter(1.0f, 0.0f))));
  EXPECT_NO_THROW(forward(make_config(Mechanism::simplified, 0, 0), filled({1, 1})));  // one token of one feature
  EXPECT_NO_THROW(attnkit::parse_mechanism("multihead-wrapper"));
}

}  // namespace
