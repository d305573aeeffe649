// Model::memory_bytes against the heap bytes a real model allocates (counting_malloc.cpp): building it, an AdamW
// optimizer, two training steps, evaluate() and probe_weights(), each case in a fresh child process. The estimate
// must be at least the measured peak on 1 and 2 threads and, for one-thread models past 4 MB, at most 1.5× it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attnkit/attnkit.hpp"
#include "attnkit/model.hpp"
#include "child_process.hpp"
#include "counting_malloc.hpp"

namespace {

using attnkit::Model;
using attnkit::ModelConfig;
using attnkit::Task;

struct Peak {
  std::size_t estimate = 0, peak = 0;
};

struct Case {
  Task task;
  std::size_t tokens, d_model, heads, batch, eval_batch;
};

TEST(ModelMemory, EstimateIsAtLeastTheMeasuredPeak) {
  const std::vector<Case> cases = {
      {Task::copy_previous, 0, 64, 4, 32, 256},    // attnkit train's defaults
      {Task::reverse, 0, 64, 4, 32, 256},          // not causal
      {Task::induction, 32, 16, 2, 8, 16},         // tiny
      {Task::copy_previous, 128, 128, 8, 64, 64},  // wider and longer
      {Task::sort, 0, 96, 3, 16, 256},             // eval set larger than the batch
      {Task::copy_previous, 256, 256, 4, 4, 8},    // the (1, h, n, n) probe weights matter
  };
  for (const std::size_t threads : {1, 2})
    for (const Case& k : cases) {
      ModelConfig c;
      c.task = k.task;
      c.tokens = k.tokens;
      c.d_model = k.d_model;
      c.heads = k.heads;
      c.batch = k.batch;
      c.eval_batch = k.eval_batch;
      c.seed = 7;
      const std::string name = std::string(attnkit::task_spec(k.task).name) + " n" + std::to_string(k.tokens) + " d" +
                               std::to_string(k.d_model) + " h" + std::to_string(k.heads) + " b" +
                               std::to_string(k.batch) + " eval" + std::to_string(k.eval_batch) + " threads" +
                               std::to_string(threads);
      const std::optional<Peak> m = attnkit_memory::in_child<Peak>([&] {
        attnkit::set_default_num_threads(threads);
        attnkit_memory::reset_peak();
        const std::size_t before = attnkit_memory::bytes_in_use();
        Model model(c);
        const auto optimizer = model.make_optimizer("adamw");
        model.train_step(*optimizer);
        model.train_step(*optimizer);
        model.evaluate();
        model.probe_weights();
        return Peak{Model::memory_bytes(c), attnkit_memory::peak_bytes() - before};
      });
      ASSERT_TRUE(m.has_value()) << name << ": the child failed";
      EXPECT_GE(m->estimate, m->peak) << name;
      if (threads == 1 && m->peak > (std::size_t(4) << 20))
        EXPECT_LE(double(m->estimate), 1.5 * double(m->peak)) << name;
      std::printf("%-40s estimate %10zu  peak %10zu  ratio %.3f\n", name.c_str(), m->estimate, m->peak,
                  double(m->estimate) / double(m->peak));
    }
}

TEST(ModelMemory, LargeConfigsAreCountedOrRefusedLikeTheConstructor) {
  ModelConfig c;
  c.task = Task::copy_previous;
  c.tokens = 1024;  // attnkit train's largest --tokens, --d-model and --batch
  c.d_model = 4096;
  c.batch = 4096;
  EXPECT_GT(Model::memory_bytes(c), std::size_t(1) << 40);  // the (eval 256, 4, 1024, 1024) weights alone: 4 GiB
  c.d_model = std::size_t(1) << 40;                         // a parameter beyond max_tensor_bytes()
  try {
    Model::memory_bytes(c);
    ADD_FAILURE() << "expected the constructor's range error";
  } catch (const attnkit::Error& e) {
    EXPECT_EQ(e.kind(), attnkit::ErrorKind::range) << e.what();
  }
  c.d_model = 63;
  c.heads = 4;
  EXPECT_THROW(Model::memory_bytes(c), attnkit::Error);  // 63 not divisible by 4 heads, as the constructor says
}

}  // namespace
