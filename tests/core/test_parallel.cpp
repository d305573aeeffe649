// attnkit tests — the thread pool: every task once, exceptions reach the caller, nested and concurrent
// calls finish, and a kernel split by parallel_for gives the same bits for any thread count.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#if (defined(__unix__) || defined(__APPLE__)) && !defined(__EMSCRIPTEN__)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#endif

#include "attnkit/parallel.hpp"
#include "kernel_tester.hpp"

namespace attnkit::test {
namespace {

TEST(Parallel, SplitRangeCoversEveryIndexOnce) {
  for (std::size_t n : {0u, 1u, 7u, 100u})
    for (std::size_t nth : {1u, 2u, 3u, 8u, 13u}) {
      std::size_t next = 0;
      for (std::size_t i = 0; i < nth; ++i) {
        std::size_t b, e;
        split_range(n, i, nth, b, e);
        EXPECT_EQ(b, next);
        EXPECT_LE(e - b, n / nth + 1);
        next = e;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(Parallel, RunsEveryTaskExactlyOnce) {
  for (std::size_t threads : {1u, 2u, 3u, 8u})
    for (std::size_t nth : {1u, 2u, 5u, 64u}) {
      std::vector<std::atomic<int>> hits(nth);
      parallel_for(nth, threads, [&](std::size_t ith, std::size_t n) {
        EXPECT_EQ(n, nth);
        hits[ith].fetch_add(1);
      });
      for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    }
}

TEST(Parallel, ZeroTasksIsANoOp) {
  bool called = false;
  parallel_for(0, 4, [&](std::size_t, std::size_t) { called = true; });
  EXPECT_FALSE(called);
}

// Two tasks on two threads; each waits (up to 10 s, for a loaded machine's slow wake-up) until the other is inside
// too. True if both ran at once, on two threads.
bool two_tasks_ran_at_once() {
  std::atomic<int> inside{0}, peak{0};
  parallel_for(2, 2, [&](std::size_t, std::size_t) {
    const int now = ++inside;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (peak.load() < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    --inside;
  });
  return peak.load() == 2;
}

// The pool starts the workers asked for whatever the core count, so this holds on any machine.
TEST(Parallel, UsesMoreThanOneThreadWhenAsked) { EXPECT_TRUE(two_tasks_ran_at_once()); }

#if (defined(__unix__) || defined(__APPLE__)) && !defined(__EMSCRIPTEN__)
// fork() copies only the calling thread. A child of a process whose pool runs still gets two threads at once (a new
// pool, not the parent's absent workers) and exits through its static destructors without waiting on them.
TEST(Parallel, ForkedChildGetsItsOwnWorkersAndExits) {
  ASSERT_TRUE(two_tasks_ran_at_once());  // the parent's pool has its worker
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  // exit(), not _exit(): static destructors run (they join the child's own workers). scripts/sanitize.sh says how
  // the sanitizer runs treat this test.
  if (pid == 0) std::exit(two_tasks_ran_at_once() ? 0 : 3);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the child did not exit within 30 s";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: the child's two tasks did not run at once";
  EXPECT_TRUE(two_tasks_ran_at_once());  // and the parent's pool is untouched
}
#endif

TEST(Parallel, ExceptionReachesTheCallerAndPoolStaysUsable) {
  for (std::size_t threads : {1u, 2u, 4u}) {
    EXPECT_THROW(parallel_for(8, threads,
                              [](std::size_t ith, std::size_t) {
                                if (ith == 5) throw std::runtime_error("task 5 failed");
                              }),
                 std::runtime_error);
    std::atomic<int> count{0};
    parallel_for(8, threads, [&](std::size_t, std::size_t) { ++count; });
    EXPECT_EQ(count.load(), 8);
  }
}

TEST(Parallel, NestedCallsRunInlineWithoutDeadlock) {
  std::atomic<int> count{0};
  parallel_for(4, 2, [&](std::size_t, std::size_t) { parallel_for(3, 2, [&](std::size_t, std::size_t) { ++count; }); });
  EXPECT_EQ(count.load(), 12);
}

TEST(Parallel, ConcurrentCallersAllFinish) {
  std::atomic<int> count{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int r = 0; r < 50; ++r) parallel_for(6, 2, [&](std::size_t, std::size_t) { ++count; });
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(count.load(), 4 * 50 * 6);
}

// Calls back to back (workers still spinning) and after pauses longer than the spin (workers asleep): every task
// runs once either way, and a call never waits for a helper that did not take part.
TEST(Parallel, SpinningAndSleepingWorkersRunEveryTaskOnce) {
  for (int pause_us : {0, 1000}) {
    for (int call = 0; call < 40; ++call) {
      const std::size_t nth = 1 + static_cast<std::size_t>(call) % 7;
      std::vector<std::atomic<int>> hits(nth);
      parallel_for(nth, 3, [&](std::size_t ith, std::size_t) { hits[ith].fetch_add(1); });
      for (std::size_t i = 0; i < nth; ++i) ASSERT_EQ(hits[i].load(), 1) << "pause " << pause_us << " call " << call;
      if (pause_us) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    }
  }
}

TEST(Parallel, DefaultThreads) {
  EXPECT_GE(hardware_threads(), 1u);
  set_default_num_threads(3);
  EXPECT_EQ(default_num_threads(), 3u);
  set_default_num_threads(0);
  EXPECT_EQ(default_num_threads(), hardware_threads());
}

// The mechanisms' pattern: parallel_for over row blocks of one kernel call. Same bits for 1, 2, 3, 8 threads.
TEST(Parallel, KernelResultsIndependentOfThreadCount) {
  const std::size_t n = 157, d = 40;
  Buffer q(n, d, d, 0), k(n, d, d, 0), v(n, d, d, 0);
  std::mt19937 rng(7);
  q.fill(rng, 1.0f);
  k.fill(rng, 1.0f);
  v.fill(rng, 1.0f);
  for (const KernelTable* t : all_tables()) {
    std::vector<float> first;
    for (std::size_t threads : {1u, 2u, 3u, 8u}) {
      std::vector<float> out(n * d), proj(n * d);
      const kernels::Attention a{q.data(), d, k.data(), d, v.data(), d, out.data(), d, n, n, d, 0.15f, true};
      const kernels::GemmNT g{out.data(), d, k.data(), d, proj.data(), d, n, d, d, 1.0f, nullptr};
      parallel_for(threads * 2, threads, [&](std::size_t ith, std::size_t nth) {
        std::size_t b, e;
        split_range(n, ith, nth, b, e);
        t->attention_f32(a, b, e);
      });
      parallel_for(threads, threads, [&](std::size_t ith, std::size_t nth) {
        std::size_t b, e;
        split_range(n, ith, nth, b, e);
        t->gemm_nt_f32(g, b, e);
      });
      out.insert(out.end(), proj.begin(), proj.end());
      if (first.empty()) first = out;
      else
        ASSERT_EQ(std::memcmp(first.data(), out.data(), out.size() * sizeof(float)), 0)
            << t->isa << " threads=" << threads;
    }
  }
}

}  // namespace
}  // namespace attnkit::test
