// attnkit — the tiny model's built-in tasks (attnkit/model.hpp): their defaults, goals and seeded generators.
#include <algorithm>
#include <numeric>

#include "attnkit/errors.hpp"
#include "attnkit/model.hpp"

namespace attnkit {
namespace {

// Goals measured from the default seed with the defaults (tests/core/test_model_tasks.cpp trains each).
const std::vector<TaskSpec> kTasks = {
    {Task::copy_previous, "copy-previous", "predict the previous token (scored: every position but the first)", true,
     16, 16, 0.99, 100},
    {Task::reverse, "reverse", "predict the sequence reversed: position t gives token n-1-t (scored: every position)",
     false, 8, 16, 0.99, 100},
    {Task::sort, "sort", "n/2 distinct tokens, a separator, then predict them sorted (scored: the separator and after)",
     true, 12, 16, 0.95, 200},
    {Task::induction, "induction",
     "n/2 distinct tokens repeated: predict the next token, known only from the first half (scored: the last of "
     "the first half and the second half but its last)",
     true, 16, 16, 0.99, 100},
};

std::int32_t draw_below(Generator& g, std::size_t n) { return static_cast<std::int32_t>(g.random() % n); }

// k distinct tokens in [0, n), in random order: the first k of a partial Fisher–Yates shuffle.
std::vector<std::int32_t> draw_distinct(Generator& g, std::size_t k, std::size_t n) {
  std::vector<std::int32_t> pool(n);
  std::iota(pool.begin(), pool.end(), 0);
  for (std::size_t i = 0; i < k; ++i) std::swap(pool[i], pool[i + g.random() % (n - i)]);
  pool.resize(k);
  return pool;
}

void check_task_sizes(Task task, std::size_t batch, std::size_t tokens, std::size_t vocab) {
  const std::string name = task_spec(task).name;
  if (batch < 1) throw Error("batch (0) must be at least 1", ErrorKind::range);
  if (tokens < 2) throw Error("tokens (" + std::to_string(tokens) + ") must be at least 2", ErrorKind::range);
  if (vocab < 2) throw Error("vocab (" + std::to_string(vocab) + ") must be at least 2", ErrorKind::range);
  const bool halves = task == Task::sort || task == Task::induction;
  if (halves && tokens % 2 != 0)
    throw Error("tokens (" + std::to_string(tokens) + ") must be even for the " + name + " task", ErrorKind::range);
  const std::size_t need = task == Task::sort ? tokens / 2 + 1 : task == Task::induction ? tokens / 2 : 2;
  if (vocab < need)
    throw Error("vocab (" + std::to_string(vocab) + ") must be at least " + std::to_string(need) + " for the " + name +
                    " task with " + std::to_string(tokens) + " tokens (distinct tokens" +
                    (task == Task::sort ? " and a separator)" : ")"),
                ErrorKind::range);
}

}  // namespace

const std::vector<TaskSpec>& task_specs() { return kTasks; }

const TaskSpec& task_spec(Task task) { return kTasks.at(static_cast<std::size_t>(task)); }

Task parse_task(std::string_view name) {
  for (const TaskSpec& s : kTasks)
    if (name == s.name) return s.task;
  throw Error("unknown task '" + std::string(name) + "'; expected copy-previous, reverse, sort or induction");
}

TaskBatch make_task_batch(Task task, std::size_t batch, std::size_t tokens, std::size_t vocab, Generator& generator) {
  check_task_sizes(task, batch, tokens, vocab);
  TaskBatch b;
  b.batch = batch;
  b.tokens = tokens;
  const std::size_t total = checked_numel({batch, tokens});
  b.inputs.assign(total, 0);
  b.targets.assign(total, -1);
  b.expected_key.assign(total, -1);
  const std::size_t n = tokens, half = tokens / 2;
  for (std::size_t s = 0; s < batch; ++s) {
    std::int32_t* in = b.inputs.data() + s * n;
    std::int32_t* target = b.targets.data() + s * n;
    std::int32_t* key = b.expected_key.data() + s * n;
    const auto score = [&](std::size_t t, std::size_t from) {
      target[t] = in[from];
      key[t] = static_cast<std::int32_t>(from);
    };
    switch (task) {
      case Task::copy_previous:
        for (std::size_t t = 0; t < n; ++t) in[t] = draw_below(generator, vocab);
        for (std::size_t t = 1; t < n; ++t) score(t, t - 1);
        break;
      case Task::reverse:
        for (std::size_t t = 0; t < n; ++t) in[t] = draw_below(generator, vocab);
        for (std::size_t t = 0; t < n; ++t) score(t, n - 1 - t);
        break;
      case Task::sort: {
        const std::vector<std::int32_t> values = draw_distinct(generator, half, vocab - 1);
        std::copy(values.begin(), values.end(), in);
        std::vector<std::size_t> order(half);  // positions of the values, smallest first
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t c) { return in[a] < in[c]; });
        in[half] = static_cast<std::int32_t>(vocab - 1);  // the separator
        for (std::size_t i = 0; i < half; ++i) {
          if (half + 1 + i < n) in[half + 1 + i] = in[order[i]];
          score(half + i, order[i]);
        }
        break;
      }
      case Task::induction: {
        const std::vector<std::int32_t> first = draw_distinct(generator, half, vocab);
        for (std::size_t t = 0; t < n; ++t) in[t] = first[t % half];
        for (std::size_t t = half - 1; t + 1 < n; ++t) score(t, t + 1 - half);
        break;
      }
    }
  }
  return b;
}

}  // namespace attnkit
