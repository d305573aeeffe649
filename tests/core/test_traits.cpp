// The traits table against the book (names, classes, which options each class takes) and against what Module
// actually does with each option: defaults, refusals and the state_dict it has.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "configs.hpp"

namespace {

using attnkit::Config;
using attnkit::Error;
using attnkit::Mechanism;
using attnkit::Module;
using attnkit::Shape;
using attnkit_test::make_config;

TEST(Traits, NamesAndClassesAreTheBooksInOrder) {
  // Written out here, not read from the table: the names the CLI and JS accept and the book's class names.
  const std::vector<std::pair<std::string, std::string>> book = {{"simplified", ""},
                                                                 {"self-v1", "SelfAttention_v1"},
                                                                 {"self", "SelfAttention_v2"},
                                                                 {"causal", "CausalAttention"},
                                                                 {"multihead-wrapper", "MultiHeadAttentionWrapper"},
                                                                 {"multihead", "MultiHeadAttention"}};
  const auto& table = attnkit::mechanism_traits();
  ASSERT_EQ(table.size(), book.size());
  ASSERT_EQ(attnkit::all_mechanisms().size(), book.size());
  for (std::size_t i = 0; i < book.size(); ++i) {
    SCOPED_TRACE(book[i].first);
    EXPECT_EQ(table[i].mechanism, attnkit::all_mechanisms()[i]);
    EXPECT_EQ(table[i].name, book[i].first);
    EXPECT_EQ(table[i].book_class, book[i].second);
    EXPECT_GT(std::string(table[i].description).size(), 10u);
    EXPECT_EQ(std::string(table[i].description).find('\n'), std::string::npos);
    EXPECT_EQ(&attnkit::traits(table[i].mechanism), &table[i]);
    EXPECT_EQ(attnkit::mechanism_name(table[i].mechanism), book[i].first);
    EXPECT_EQ(attnkit::parse_mechanism(book[i].first), table[i].mechanism);
  }
}

TEST(Traits, OptionsComeFromTheFixedSetAndMatchTheClassesArguments) {
  const std::set<std::string> allowed = {"d_out",          "num_heads", "kv_heads", "k_dim",   "v_dim",
                                         "context_length", "causal",    "qkv_bias", "dropout", "causal_route"};
  for (const auto& t : attnkit::mechanism_traits()) {
    SCOPED_TRACE(t.name);
    std::set<std::string> seen;
    for (const char* o : t.options) {
      EXPECT_TRUE(allowed.count(o)) << o;
      EXPECT_TRUE(seen.insert(o).second) << "listed twice: " << o;
      EXPECT_TRUE(attnkit::option_applies(t.mechanism, o));
    }
    EXPECT_FALSE(attnkit::option_applies(t.mechanism, "dIn"));
    EXPECT_FALSE(attnkit::option_applies(t.mechanism, "heads"));
  }
  // The book's constructors: SelfAttention_v1(d_in, d_out), SelfAttention_v2(d_in, d_out, qkv_bias),
  // CausalAttention(d_in, d_out, context_length, dropout, qkv_bias), the wrapper and MultiHeadAttention add num_heads.
  using M = Mechanism;
  const auto applies = [](M m, const char* o) { return attnkit::option_applies(m, o); };
  EXPECT_FALSE(applies(M::simplified, "d_out"));
  EXPECT_TRUE(applies(M::self_v1, "d_out"));
  EXPECT_FALSE(applies(M::self_v1, "qkv_bias"));
  EXPECT_TRUE(applies(M::self, "qkv_bias"));
  EXPECT_FALSE(applies(M::self, "dropout"));
  EXPECT_TRUE(applies(M::causal, "dropout"));
  EXPECT_FALSE(applies(M::causal, "num_heads"));
  EXPECT_TRUE(applies(M::multihead_wrapper, "num_heads"));
  EXPECT_TRUE(applies(M::multihead, "num_heads"));
  EXPECT_FALSE(attnkit::traits(M::simplified).has_parameters);
  for (M m : {M::self_v1, M::self, M::causal, M::multihead_wrapper, M::multihead})
    EXPECT_TRUE(attnkit::traits(m).has_parameters);
}

TEST(Traits, ModuleDefaultsAndRefusalsFollowTheTable) {
  for (const auto& t : attnkit::mechanism_traits()) {
    SCOPED_TRACE(t.name);
    const Config base = make_config(t.mechanism, 4, 2, 1);
    EXPECT_EQ(Module(base).causal(), t.default_causal);
    Config flipped = base;
    flipped.causal = !t.default_causal;
    EXPECT_EQ(Module(flipped).causal(), !t.default_causal);  // causal applies to every mechanism

    Config heads = make_config(t.mechanism, 4, 2, 2);
    Config dropout = base;
    dropout.dropout = 0.25;
    Config bias = base;
    bias.qkv_bias = true;
    for (const auto& [option, config] :
         {std::pair<const char*, Config>{"num_heads", heads}, {"dropout", dropout}, {"qkv_bias", bias}}) {
      if (attnkit::option_applies(t.mechanism, option)) {
        EXPECT_NO_THROW(Module{config}) << option;
      } else {
        try {
          Module m(config);
          ADD_FAILURE() << option << " was accepted";
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find(std::string("'") + t.name + "'"), std::string::npos) << e.what();
        }
      }
    }
  }
}

TEST(Traits, ParameterShapesAreTheModulesStateDict) {
  for (const auto& t : attnkit::mechanism_traits()) {
    for (bool qkv_bias : {false, true}) {
      if (qkv_bias && !attnkit::option_applies(t.mechanism, "qkv_bias")) continue;
      Config c = make_config(t.mechanism, 5, attnkit::option_applies(t.mechanism, "num_heads") ? 6 : 3,
                             attnkit::option_applies(t.mechanism, "num_heads") ? 3 : 1);
      c.qkv_bias = qkv_bias;
      SCOPED_TRACE(std::string(t.name) + (qkv_bias ? " bias" : ""));
      const auto shapes = attnkit::parameter_shapes(c);
      const Module m(c);
      const auto sd = m.state_dict();
      ASSERT_EQ(shapes.size(), sd.size());
      for (std::size_t i = 0; i < sd.size(); ++i) {
        EXPECT_EQ(shapes[i].first, sd[i].first);
        EXPECT_EQ(shapes[i].second, sd[i].second.shape) << shapes[i].first;
      }
      EXPECT_EQ(m.parameter_shapes(), shapes);
      EXPECT_EQ(shapes.empty(), !t.has_parameters);
    }
  }
  // The book's MultiHeadAttention(d_in 3, d_out 2, num_heads 2) state_dict, written out.
  const auto mha = attnkit::parameter_shapes(make_config(Mechanism::multihead, 3, 2, 2));
  const std::vector<std::pair<std::string, Shape>> want = {{"W_query.weight", {2, 3}},
                                                           {"W_key.weight", {2, 3}},
                                                           {"W_value.weight", {2, 3}},
                                                           {"out_proj.weight", {2, 2}},
                                                           {"out_proj.bias", {2}}};
  EXPECT_EQ(mha, want);
  const auto wrapper = attnkit::parameter_shapes(make_config(Mechanism::multihead_wrapper, 3, 2, 2));
  ASSERT_EQ(wrapper.size(), 6u);
  EXPECT_EQ(wrapper[3].first, "heads.1.W_query.weight");
  EXPECT_EQ(attnkit::parameter_shapes(make_config(Mechanism::self_v1, 3, 2))[0].second, (Shape{3, 2}));
}

TEST(Traits, ParameterShapesRefuseWhatModuleRefuses) {
  EXPECT_THROW(attnkit::parameter_shapes(make_config(Mechanism::multihead, 3, 5, 2)), Error);
  EXPECT_THROW(attnkit::parameter_shapes(make_config(Mechanism::self, 0, 2)), Error);
  EXPECT_THROW(attnkit::parameter_shapes(make_config(Mechanism::self, 3, 2, 2)), Error);
  EXPECT_THROW(attnkit::traits(static_cast<Mechanism>(17)), Error);
}

}  // namespace
