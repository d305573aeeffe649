// attnkit — the one thread pool. Workers are created lazily on the first parallel call, kept, and
// grown on demand. A call hands out task indices [0, nth) through an atomic counter; the caller works
// too. A call from inside a task, or while another caller holds the pool, runs its tasks inline on
// the calling thread, so nesting and concurrent callers never deadlock.
#include "attnkit/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define ATTNKIT_NO_THREADS 1
#endif

#ifndef ATTNKIT_NO_THREADS
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>
#endif

namespace attnkit {
namespace {

std::atomic<std::size_t> g_default_threads{0};  // 0: hardware default

void run_inline(std::size_t nth, const std::function<void(std::size_t, std::size_t)>& fn) {
  for (std::size_t ith = 0; ith < nth; ++ith) fn(ith, nth);
}

#ifndef ATTNKIT_NO_THREADS
constexpr std::size_t kMaxWorkers = 255;
thread_local bool t_in_pool_task = false;  // set while this thread runs a pool task

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_work_.notify_all();
    for (auto& w : workers_) w.join();
  }

  // Returns false if the pool is busy with another caller (the caller then runs inline).
  bool run(std::size_t nth, std::size_t threads, const std::function<void(std::size_t, std::size_t)>& fn) {
    std::unique_lock<std::mutex> owner(call_mu_, std::try_to_lock);
    if (!owner.owns_lock()) return false;
    const std::size_t helpers = grow(std::min(threads, nth) - 1);  // the caller is one of the threads
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      nth_ = nth;
      next_.store(0, std::memory_order_relaxed);
      active_ = helpers;
      pending_ = helpers;
      error_ = nullptr;
      ++generation_;
    }
    cv_work_.notify_all();
    work();
    std::unique_lock<std::mutex> lk(mu_);
    cv_done_.wait(lk, [&] { return pending_ == 0; });
    fn_ = nullptr;
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      lk.unlock();
      std::rethrow_exception(e);
    }
    return true;
  }

 private:
  // Starts workers up to `helpers`; returns how many exist (fewer if the system refuses threads).
  std::size_t grow(std::size_t helpers) {
    std::size_t gen;
    {
      std::lock_guard<std::mutex> lk(mu_);
      gen = generation_;  // a new worker must wait for the next call, not replay the last one
    }
    try {
      while (workers_.size() < helpers) {
        const std::size_t index = workers_.size();
        workers_.emplace_back([this, index, gen] { loop(index, gen); });
      }
    } catch (const std::system_error&) {
    }
    return std::min(helpers, workers_.size());
  }

  // Claims task indices until none are left; the first exception is kept for the caller.
  void work() {
    t_in_pool_task = true;
    for (;;) {
      const std::size_t ith = next_.fetch_add(1, std::memory_order_relaxed);
      if (ith >= nth_) break;
      try {
        (*fn_)(ith, nth_);
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
    t_in_pool_task = false;
  }

  void loop(std::size_t index, std::size_t seen) {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_work_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= active_) continue;  // not needed for this call
      lk.unlock();
      work();
      lk.lock();
      if (--pending_ == 0) cv_done_.notify_one();
    }
  }

  std::mutex call_mu_;  // held by the one caller that owns the pool
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  std::vector<std::thread> workers_;
  const std::function<void(std::size_t, std::size_t)>* fn_ = nullptr;
  std::size_t nth_ = 0, active_ = 0, pending_ = 0, generation_ = 0;
  std::atomic<std::size_t> next_{0};
  std::exception_ptr error_;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}
#endif

}  // namespace

std::size_t hardware_threads() {
#ifdef ATTNKIT_NO_THREADS
  return 1;
#else
  static const std::size_t n = [] {
    const unsigned h = std::thread::hardware_concurrency();
    return h == 0 ? std::size_t{1} : std::size_t{h};
  }();
  return n;
#endif
}

std::size_t default_num_threads() {
  const std::size_t n = g_default_threads.load(std::memory_order_relaxed);
  return n == 0 ? hardware_threads() : n;
}

void set_default_num_threads(std::size_t n) { g_default_threads.store(n, std::memory_order_relaxed); }

void parallel_for(std::size_t nth, std::size_t threads, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (nth == 0) return;
#ifdef ATTNKIT_NO_THREADS
  (void)threads;
  run_inline(nth, fn);
#else
  if (threads == 0) threads = default_num_threads();
  if (threads > kMaxWorkers + 1) threads = kMaxWorkers + 1;
#ifdef __EMSCRIPTEN_PTHREADS__
  // A pthread beyond Emscripten's prebuilt pool starts only when the browser's main thread is free, so
  // never ask for more than the hardware has (build with PTHREAD_POOL_SIZE >= hardware threads − 1).
  // Fewer workers take more tasks each; results do not change.
  if (threads > hardware_threads()) threads = hardware_threads();
#endif
  if (threads <= 1 || nth == 1 || t_in_pool_task || !pool().run(nth, threads, fn)) run_inline(nth, fn);
#endif
}

}  // namespace attnkit
