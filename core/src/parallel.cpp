// attnkit — the one thread pool. Workers are created lazily on the first parallel call, kept, and
// grown on demand. A call hands out task indices [0, nth) through an atomic counter; the caller works
// too. Idle workers spin briefly, then sleep; a call wakes only the helpers it asks for (tickets), and does
// not wait for one that has not woken by the time the caller ran out of tasks. A call from inside a task, or while
// another caller holds the pool, runs its tasks inline on the calling thread, so nesting and concurrent callers never
// deadlock. A child process (fork) starts with a new pool: the parent's workers do not exist in it.
#include "attnkit/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define ATTNKIT_NO_THREADS 1
#endif

#ifndef ATTNKIT_NO_THREADS
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>
#if !defined(__EMSCRIPTEN__) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#endif
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

// How long a worker waiting for the next call, or a caller waiting for its helpers, spins before it sleeps on a
// condition variable. A forward makes a few calls in a row with short serial gaps between them; waking a sleeping
// thread costs tens of microseconds natively (futex + IPI on a VM) and more in a browser (Atomics.wait/notify), and a
// sleeping helper starts its share late. Spinning longer than this only burns a core another process may want.
constexpr std::chrono::microseconds kSpin{200};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until ready() or kSpin has passed; true if ready() came true.
template <class Ready>
bool spin_until(Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return ready();
  }
}

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_work_.notify_all();
    for (auto& w : workers_) w.join();
  }

  // Returns false if the pool is busy with another caller (the caller then runs inline).
  bool run(std::size_t nth, std::size_t threads, const std::function<void(std::size_t, std::size_t)>& fn) {
    std::unique_lock<std::mutex> owner(call_mu_, std::try_to_lock);
    if (!owner.owns_lock()) return false;
    const std::size_t helpers = grow(std::min(threads, nth) - 1);  // the caller is one of the threads
    // The call's fields are written before tickets_ (release); a worker reads them after it takes a ticket
    // (acquire), and no worker reads them after its pending_ decrement, which the caller waits for.
    fn_ = &fn;
    nth_ = nth;
    error_ = nullptr;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(helpers, std::memory_order_relaxed);
    tickets_.store(helpers, std::memory_order_release);
    {
      // Moved under mu_: a worker that found no new call checks again under mu_ before it sleeps.
      std::lock_guard<std::mutex> lk(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleepers_.load(std::memory_order_relaxed) > 0) cv_work_.notify_all();
    work();
    // Helpers that have not woken yet are not waited for: their tickets are taken back (a descheduled worker
    // would otherwise hold up a call whose tasks are all done).
    const std::size_t unused = tickets_.exchange(0, std::memory_order_acq_rel);
    if (unused) pending_.fetch_sub(unused, std::memory_order_acq_rel);
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lk(mu_);
      cv_done_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    fn_ = nullptr;
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      owner.unlock();
      std::rethrow_exception(e);
    }
    return true;
  }

 private:
  // Starts workers up to `helpers`; returns how many exist (fewer if the system refuses threads).
  std::size_t grow(std::size_t helpers) {
    // A new worker must wait for the next call, not replay the last one.
    const std::size_t gen = generation_.load(std::memory_order_relaxed);
    try {
      while (workers_.size() < helpers) {
        workers_.emplace_back([this, gen] { loop(gen); });
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

  // Takes one of the current call's tickets, if any are left.
  bool take_ticket() {
    std::size_t t = tickets_.load(std::memory_order_relaxed);
    while (t > 0)
      if (tickets_.compare_exchange_weak(t, t - 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
    return false;
  }

  void loop(std::size_t seen) {
    for (;;) {
      const auto moved = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(moved)) {
        std::unique_lock<std::mutex> lk(mu_);
        sleepers_.fetch_add(1, std::memory_order_relaxed);
        cv_work_.wait(lk, moved);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_relaxed)) return;
      if (!take_ticket()) continue;  // not needed for this call, or it is over
      work();
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lk(mu_);  // the caller checks pending_ under mu_ before it sleeps
        cv_done_.notify_one();
      }
    }
  }

  std::mutex call_mu_;  // held by the one caller that owns the pool
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  std::vector<std::thread> workers_;
  // The current call (written by its caller before generation_ moves).
  const std::function<void(std::size_t, std::size_t)>* fn_ = nullptr;
  std::size_t nth_ = 0;
  std::exception_ptr error_;  // under mu_ while workers run
  // Each on its own cache line: workers spin on generation_ while tasks claim next_ and finish on pending_.
  alignas(64) std::atomic<std::size_t> generation_{0};
  alignas(64) std::atomic<std::size_t> next_{0};
  alignas(64) std::atomic<std::size_t> pending_{0};  // helpers with a ticket that have not finished
  std::atomic<std::size_t> tickets_{0};              // helpers the call may still take
  std::atomic<std::size_t> sleepers_{0};
  std::atomic<bool> stop_{false};
};

// The process's pool, created on first use. fork() copies only the calling thread: the copied pool's workers do not
// exist in the child and its mutexes may be held by them, so the child drops it (kept reachable, never touched again)
// and makes a new one on its first parallel call; otherwise its calls would wait for no one, run on one thread, and
// its exit would join threads that are not there. Plain atomics at namespace scope (constant-initialised, no guard a
// forked-away thread could hold): the fork handler touches nothing else.
#if !defined(__EMSCRIPTEN__) && (defined(__unix__) || defined(__APPLE__))
#define ATTNKIT_FORK_HANDLER 1
#endif
std::atomic<Pool*> g_pool{nullptr};
#ifdef ATTNKIT_FORK_HANDLER
std::atomic<Pool*> g_forked_away{nullptr};  // a child's copy of its parent's pool: reachable, so no leak report
std::atomic<bool> g_fork_handler{false};
#endif

// Joins the workers at exit, as a function-local static Pool did.
struct PoolOwner {
  ~PoolOwner() { delete g_pool.exchange(nullptr, std::memory_order_acq_rel); }
} g_pool_owner;

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
#ifdef ATTNKIT_FORK_HANDLER
  if (!g_fork_handler.exchange(true, std::memory_order_acq_rel))
    pthread_atfork(nullptr, nullptr, [] {
      g_forked_away.store(g_pool.exchange(nullptr, std::memory_order_relaxed), std::memory_order_relaxed);
    });
#endif
  // Lock-free: the first pool stored wins.
  auto fresh = std::make_unique<Pool>();
  if (g_pool.compare_exchange_strong(p, fresh.get(), std::memory_order_acq_rel)) return *fresh.release();
  return *p;
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
