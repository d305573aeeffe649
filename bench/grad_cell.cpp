// attnkit — one forward + backward cell of bench/compare (grad-run.mjs), timed in this process: the attention op of
// a standard configuration's attention (attnkit/bench_configs.hpp: b, h heads of d_out / h, n tokens, causal),
// attention_forward + attention_backward; or, with --module, the configuration's module (as `attnkit bench` runs it)
// forward with ForwardOptions::grad + Module::backward. Prints one JSON line:
// the medians of the forward, the backward and their sum over --repeats runs (after one warm-up; wall clock, and the
// process's CPU time of each, which other tenants of a shared machine disturb less at 1 thread), the useful FLOPs
// of each, and memory: the process's peak RSS and its growth over the RSS held before the first run (inputs
// allocated). --dir writes the inputs and attnkit's results as raw float32 files, for the peer to check against.
//
//   attnkit_grad_cell --config C2 [--module] [--threads N] [--repeats R] [--dir DIR]
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/attention_grad.hpp"
#include "attnkit/attnkit.hpp"
#include "kernels/kernels.hpp"

namespace {

double resident_mb() {  // current RSS (/proc/self/statm: pages)
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t k = v.size();
  return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

void write(const std::string& dir, const char* name, const attnkit::Tensor& t) {
  const std::string path = dir + "/" + name + ".bin";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(t.ptr(), sizeof(float), t.numel(), f) != t.numel())
    throw attnkit::Error("cannot write " + path);
  std::fclose(f);
}

// One side of a timed step: forward, then backward; `write` saves the inputs and results (the warm-up run).
struct Step {
  std::function<void()> forward, backward;
  std::function<void(const std::string&)> write;
};

// The op: query, key, value (b, h, n, head_dim) and grad_output, causal upper-left as PyTorch's is_causal.
Step op_step(const attnkit::BenchConfig& c, std::size_t threads) {
  const std::size_t b = c.batch, h = c.heads, n = c.tokens, hd = c.d_out / c.heads;
  struct State {
    attnkit::Tensor query, key, value, grad_output;
    attnkit::AttentionOptions o;
    attnkit::AttentionForward f;
    attnkit::AttentionGrad g;
  };
  auto s = std::make_shared<State>();
  attnkit::Generator generator(7);
  for (attnkit::Tensor* t : {&s->query, &s->key, &s->value, &s->grad_output})
    *t = generator.uniform({b, h, n, hd}, -1.0, 1.0);
  s->o.causal = c.causal ? attnkit::CausalAlign::upper_left : attnkit::CausalAlign::none;
  s->o.threads = threads;
  return {[s] { s->f = attnkit::attention_forward(s->query, s->key, s->value, s->o); },
          [s] { s->g = attnkit::attention_backward(s->query, s->key, s->value, s->grad_output, s->o, s->f.state); },
          [s](const std::string& dir) {
            write(dir, "query", s->query);
            write(dir, "key", s->key);
            write(dir, "value", s->value);
            write(dir, "grad_output", s->grad_output);
            write(dir, "output", s->f.state.output);
            write(dir, "grad_query", s->g.query);
            write(dir, "grad_key", s->g.key);
            write(dir, "grad_value", s->g.value);
          }};
}

// The module as `attnkit bench` times it (bench_module_config, bench_input), forward with grad, then Module::backward.
Step module_step(const attnkit::BenchConfig& c, std::size_t threads) {
  struct State {
    attnkit::Module module;
    attnkit::Tensor x, grad_context, context;
    attnkit::ForwardOptions o;
    attnkit::ModuleGrad g;
  };
  auto s = std::make_shared<State>(State{attnkit::Module(attnkit::bench_module_config(c)), attnkit::bench_input(c)});
  s->grad_context = attnkit::Generator(8).uniform({c.batch, c.tokens, c.d_out}, -1.0, 1.0);
  s->o.grad = true;
  s->o.threads = threads;
  return {[s] { s->context = s->module.forward(s->x, s->o).context; },
          [s] { s->g = s->module.backward(s->grad_context); },
          [s](const std::string& dir) {
            write(dir, "x", s->x);
            write(dir, "grad_context", s->grad_context);
            write(dir, "context", s->context);
            write(dir, "grad_input", s->g.input);
            for (const auto& [name, t] : s->module.state_dict()) write(dir, name.c_str(), t);
            for (const auto& [name, t] : s->g.params) write(dir, ("grad." + name).c_str(), t);
          }};
}

int run(int argc, char** argv) {
  std::string config = "C2", dir;
  std::size_t threads = 1, repeats = 5;
  bool module = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--module") {
      module = true;
      continue;
    }
    if (i + 1 >= argc) throw attnkit::Error("option " + a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--config") config = v;
    else if (a == "--threads") threads = std::stoul(v);
    else if (a == "--repeats") repeats = std::max<std::size_t>(1, std::stoul(v));
    else if (a == "--dir") dir = v;
    else throw attnkit::Error("unknown option " + a + "; expected --config, --threads, --repeats, --dir or --module");
  }
  const attnkit::BenchConfig& c = attnkit::find_bench_config(config);
  const std::size_t b = c.batch, h = c.heads, n = c.tokens, hd = c.d_out / c.heads;
  const Step step = module ? module_step(c, threads) : op_step(c, threads);
  const double before = resident_mb();

  using clock = std::chrono::steady_clock;
  auto cpu_now = [] {  // this process's CPU time (all threads), ms: robust to other tenants at 1 thread
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
  };
  auto ms = [](clock::time_point a, clock::time_point z) {
    return std::chrono::duration<double, std::milli>(z - a).count();
  };
  std::vector<double> forward, backward, total, cpu_forward, cpu_backward;
  for (std::size_t r = 0; r <= repeats; ++r) {  // run 0 warms up (and is the one written to --dir)
    const double c0 = cpu_now();
    const auto t0 = clock::now();
    step.forward();
    const auto t1 = clock::now();
    const double c1 = cpu_now();
    step.backward();
    const auto t2 = clock::now();
    const double c2 = cpu_now();
    if (r == 0 && !dir.empty()) step.write(dir);
    if (r == 0) continue;
    forward.push_back(ms(t0, t1));
    backward.push_back(ms(t1, t2));
    total.push_back(ms(t0, t2));
    cpu_forward.push_back(c1 - c0);
    cpu_backward.push_back(c2 - c1);
  }
  // Useful FLOPs, 2 per multiply-add: attention over the visible (query, key) pairs, 2 products forward (scores,
  // context), 5 backward (scores and dO·vᵀ recomputed, dV, dK, dQ); a module's projections once forward, twice
  // backward (the input's gradient and the weights').
  const double pairs = c.causal ? double(n) * double(n + 1) / 2 : double(n) * double(n);
  const double attention = 2.0 * 2 * double(b * h) * pairs * double(hd);
  const double fwd_flops = module ? attnkit::forward_flops(attnkit::bench_module_config(c), {b, n, c.d_in}) : attention;
  const double bwd_flops = 2.0 * (fwd_flops - attention) + 2.5 * attention;
  std::printf(
      "{\"peer\":\"attnkit-native\",\"what\":\"%s\",\"config\":\"%s\",\"batch\":%zu,\"heads\":%zu,\"tokens\":%zu,"
      "\"head_dim\":%zu,\"d_in\":%zu,\"threads\":%zu,\"simd\":\"%s\",\"runs\":%zu,"
      "\"forward_ms\":%.4f,\"backward_ms\":%.4f,\"median_ms\":%.4f,\"min_ms\":%.4f,\"cpu_forward_ms\":%.4f,"
      "\"cpu_backward_ms\":%.4f,\"forward_flops\":%.6g,"
      "\"backward_flops\":%.6g,\"rss_before_mb\":%.1f,\"max_rss_mb\":%.1f,\"working_mb\":%.1f}\n",
      module ? "module" : "op", c.name, b, h, n, hd, c.d_in, threads, attnkit::kernels::table().isa, repeats,
      median(forward), median(backward), median(total), *std::min_element(total.begin(), total.end()),
      median(cpu_forward), median(cpu_backward), fwd_flops, bwd_flops, before, peak_mb(), peak_mb() - before);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnkit_grad_cell: error: %s\n", e.what());
    return 2;
  }
}
