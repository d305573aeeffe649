// The tiny model's training step on 1, 2 and 3 threads: the same losses and parameters, bit for bit (the attention
// layer's forward and backward split across threads; each output element has one owner and a fixed order). Run under
// ThreadSanitizer by scripts/sanitize.sh's threaded set.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "attnkit/model.hpp"
#include "attnkit/parallel.hpp"

namespace attnkit {
namespace {

struct Trained {
  std::vector<double> losses;
  StateDict params;
};

Trained train(std::size_t threads, const ModelConfig& c, const char* optimizer, std::size_t steps) {
  set_default_num_threads(threads);
  Model model(c);
  const auto opt = model.make_optimizer(optimizer);
  Trained t;
  for (std::size_t i = 0; i < steps; ++i) t.losses.push_back(model.train_step(*opt).loss);
  t.losses.push_back(model.evaluate().loss);
  t.params = model.state_dict();
  set_default_num_threads(0);
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0;
}

TEST(ModelThreads, TrainingIsBitwiseIdenticalForOneTwoAndThreeThreads) {
  struct Case {
    Task task;
    const char* optimizer;
  };
  for (const Case& k : {Case{Task::induction, "adamw"}, Case{Task::reverse, "sgd"}}) {  // causal and not
    ModelConfig c;
    c.task = k.task;
    c.batch = 6;  // 6 sequences x 4 heads: 24 (sequence, head) blocks to split
    c.d_model = 16;
    c.eval_batch = 5;
    const Trained one = train(1, c, k.optimizer, 4);
    const Model fresh(c);
    ASSERT_EQ(one.params.size(), fresh.state_dict().size());
    EXPECT_FALSE(same_bits(one.params[2].second, fresh.state_dict()[2].second)) << "the steps moved the parameters";
    for (std::size_t threads : {2, 3}) {
      const Trained many = train(threads, c, k.optimizer, 4);
      EXPECT_EQ(many.losses, one.losses) << k.optimizer << " on " << threads << " threads";
      ASSERT_EQ(many.params.size(), one.params.size());
      for (std::size_t i = 0; i < one.params.size(); ++i)
        EXPECT_TRUE(same_bits(many.params[i].second, one.params[i].second))
            << one.params[i].first << " on " << threads << " threads (" << k.optimizer << ")";
    }
  }
}

}  // namespace
}  // namespace attnkit
