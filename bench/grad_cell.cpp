// attnkit — one forward + backward cell of bench/compare (grad-run.mjs): the attention op of a standard
// configuration's attention (attnkit/bench_configs.hpp: b, h heads of d_out / h, n tokens, causal), forward with the
// state the backward needs (attention_forward) and attention_backward, timed in this process. Prints one JSON line:
// the medians of the forward, the backward and their sum over --repeats runs (after one warm-up; wall clock, and the
// process's CPU time of each, which other tenants of a shared machine disturb less at 1 thread), the useful FLOPs
// of each, and memory: the process's peak RSS and its growth over the RSS held before the first run (inputs
// allocated). --dir writes the inputs and attnkit's results as raw float32 files, for the peer to check against.
//
//   attnkit_grad_cell --config C2 [--threads N] [--repeats R] [--dir DIR]
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
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

int run(int argc, char** argv) {
  std::string config = "C2", dir;
  std::size_t threads = 1, repeats = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) throw attnkit::Error("option " + a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--config") config = v;
    else if (a == "--threads") threads = std::stoul(v);
    else if (a == "--repeats") repeats = std::max<std::size_t>(1, std::stoul(v));
    else if (a == "--dir") dir = v;
    else throw attnkit::Error("unknown option " + a + "; expected --config, --threads, --repeats or --dir");
  }
  const attnkit::BenchConfig& c = attnkit::find_bench_config(config);
  const std::size_t b = c.batch, h = c.heads, n = c.tokens, hd = c.d_out / c.heads;
  attnkit::Generator generator(7);
  const attnkit::Tensor query = generator.uniform({b, h, n, hd}, -1.0, 1.0),
                        key = generator.uniform({b, h, n, hd}, -1.0, 1.0),
                        value = generator.uniform({b, h, n, hd}, -1.0, 1.0),
                        grad_output = generator.uniform({b, h, n, hd}, -1.0, 1.0);
  attnkit::AttentionOptions o;
  o.causal = c.causal ? attnkit::CausalAlign::upper_left : attnkit::CausalAlign::none;
  o.threads = threads;
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
    const attnkit::AttentionForward f = attnkit::attention_forward(query, key, value, o);
    const auto t1 = clock::now();
    const double c1 = cpu_now();
    const attnkit::AttentionGrad g = attnkit::attention_backward(query, key, value, grad_output, o, f.state);
    const auto t2 = clock::now();
    const double c2 = cpu_now();
    if (r == 0 && !dir.empty()) {
      write(dir, "query", query);
      write(dir, "key", key);
      write(dir, "value", value);
      write(dir, "grad_output", grad_output);
      write(dir, "output", f.state.output);
      write(dir, "grad_query", g.query);
      write(dir, "grad_key", g.key);
      write(dir, "grad_value", g.value);
    }
    if (r == 0) continue;
    forward.push_back(ms(t0, t1));
    backward.push_back(ms(t1, t2));
    total.push_back(ms(t0, t2));
    cpu_forward.push_back(c1 - c0);
    cpu_backward.push_back(c2 - c1);
  }
  // Useful FLOPs: visible (query, key) pairs, 2 products forward (scores, context), 5 backward (scores and dP
  // recomputed, dV, dK, dQ), 2 FLOPs per multiply-add.
  const double pairs = c.causal ? double(n) * double(n + 1) / 2 : double(n) * double(n);
  const double fwd_flops = 2.0 * 2 * double(b * h) * pairs * double(hd), bwd_flops = 2.5 * fwd_flops;
  std::printf(
      "{\"peer\":\"attnkit-native\",\"what\":\"op\",\"config\":\"%s\",\"batch\":%zu,\"heads\":%zu,\"tokens\":%zu,"
      "\"head_dim\":%zu,\"threads\":%zu,\"simd\":\"%s\",\"runs\":%zu,"
      "\"forward_ms\":%.4f,\"backward_ms\":%.4f,\"median_ms\":%.4f,\"min_ms\":%.4f,\"cpu_forward_ms\":%.4f,"
      "\"cpu_backward_ms\":%.4f,\"forward_flops\":%.6g,"
      "\"backward_flops\":%.6g,\"rss_before_mb\":%.1f,\"max_rss_mb\":%.1f,\"working_mb\":%.1f}\n",
      c.name, b, h, n, hd, threads, attnkit::kernels::table().isa, repeats, median(forward), median(backward),
      median(total), *std::min_element(total.begin(), total.end()), median(cpu_forward), median(cpu_backward),
      fwd_flops, bwd_flops, before, peak_mb(), peak_mb() - before);
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
