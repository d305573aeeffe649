// attnkit tests — reusable testers for the kernel table (in the style of XNNPACK's *-tester.h): set the
// shape with builder methods, then Test(table) compares one ISA's kernel with a float64 reference, and
// TestSplits(table) checks that any row split gives bitwise identical output.
//
// Tolerance: float32 has eps = 6e-8 and the longest accumulation here is ~300 terms, so the worst-case
// rounding error of a sum is ~300·eps ≈ 2e-5 of Σ|terms| and the typical one (√n·eps) far less. Every
// check is therefore relative to the sum of absolute terms (the condition of the sum), at 1e-5 (sums
// of ≤ 160 terms), 3e-5 (≤ 400) or 6e-5 (longer), never to the result itself, which may cancel to ~0.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "attnkit/parallel.hpp"
#include "kernels/kernels.hpp"
#include <xsimd/xsimd.hpp>

namespace attnkit::test {

using kernels::KernelTable;

inline std::vector<const KernelTable*> all_tables() {
  std::size_t n = 0;
  const KernelTable* const* t = kernels::available_tables(&n);
  return {t, t + n};
}

// Sizes around one table's SIMD width W: 1, 3, 7, W−1, W, W+1, 3W, 8W+2.
inline std::vector<std::size_t> sizes_for(const KernelTable& t) {
  const std::size_t w = t.simd_width;
  std::vector<std::size_t> s{1, 3, 7, w - 1, w, w + 1, 3 * w, 8 * w + 2};
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  return s;
}

// A float buffer whose data starts `offset` floats after a 64-byte boundary, with sentinel-filled
// slack around it so writes outside the logical matrix are caught.
class Buffer {
 public:
  static constexpr float kSentinel = -1234.5f;
  Buffer(std::size_t rows, std::size_t cols, std::size_t ld, std::size_t offset)
      : rows_(rows), cols_(cols), ld_(ld), offset_(offset), store_(rows * ld + offset + 64 + 16, kSentinel) {
    begin_ = skew() + offset;
  }
  // A copy keeps the same misalignment (a plain vector copy could land on another boundary).
  Buffer(const Buffer& o)
      : rows_(o.rows_), cols_(o.cols_), ld_(o.ld_), offset_(o.offset_), store_(o.store_.size(), kSentinel) {
    begin_ = skew() + offset_;
    std::memcpy(data(), o.data(), rows_ * ld_ * sizeof(float));
  }
  Buffer& operator=(const Buffer&) = delete;
  float* data() { return store_.data() + begin_; }
  const float* data() const { return store_.data() + begin_; }
  float& at(std::size_t i, std::size_t j) { return data()[i * ld_ + j]; }
  float at(std::size_t i, std::size_t j) const { return data()[i * ld_ + j]; }
  std::size_t ld() const { return ld_; }
  void fill(std::mt19937& rng, float magnitude) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (std::size_t i = 0; i < rows_; ++i)
      for (std::size_t j = 0; j < cols_; ++j) at(i, j) = magnitude * u(rng);
  }
  // True if every float outside the logical (rows, cols) region still holds the sentinel.
  bool slack_untouched() const {
    for (std::size_t x = 0; x < store_.size(); ++x) {
      const bool inside = x >= begin_ && x < begin_ + rows_ * ld_ && (x - begin_) % ld_ < cols_;
      if (!inside && store_[x] != kSentinel) return false;
    }
    return true;
  }
  bool same_bits(const Buffer& o) const { return std::memcmp(data(), o.data(), rows_ * ld_ * sizeof(float)) == 0; }

 private:
  std::size_t skew() const {
    const auto base = reinterpret_cast<std::uintptr_t>(store_.data());
    return (64 - base % 64) % 64 / sizeof(float);
  }

  std::size_t rows_, cols_, ld_, offset_;
  std::vector<float> store_;
  std::size_t begin_ = 0;
};

// Runs a kernel over [0, m) cut into `parts` row ranges, in order.
template <class Fn>
void run_split(std::size_t m, std::size_t parts, Fn&& fn) {
  for (std::size_t p = 0; p < parts; ++p) {
    std::size_t b, e;
    split_range(m, p, parts, b, e);
    if (b < e) fn(b, e);
  }
}

inline const std::size_t kSplits[] = {1, 2, 3, 8};

// C = alpha · A·Bᵀ + bias      A: (m, k)  B: (n, k)  C: (m, n)
class GemmNTTester {
 public:
  GemmNTTester& m(std::size_t v) {
    m_ = v;
    return *this;
  }
  GemmNTTester& n(std::size_t v) {
    n_ = v;
    return *this;
  }
  GemmNTTester& k(std::size_t v) {
    k_ = v;
    return *this;
  }
  GemmNTTester& pad(std::size_t v) {
    pad_ = v;
    return *this;
  }  // extra floats per row (lda, ldb, ldc)
  GemmNTTester& offset(std::size_t v) {
    offset_ = v;
    return *this;
  }  // misalignment of every start, in floats
  GemmNTTester& alpha(float v) {
    alpha_ = v;
    return *this;
  }
  GemmNTTester& bias(bool v) {
    bias_ = v;
    return *this;
  }
  GemmNTTester& magnitude(float v) {
    magnitude_ = v;
    return *this;
  }
  GemmNTTester& seed(unsigned v) {
    seed_ = v;
    return *this;
  }
  GemmNTTester& prepacked(bool v) {
    prepacked_ = v;
    return *this;
  }  // B packed ahead with pack_nt_b_f32

  void Test(const KernelTable& t) const {
    Inputs in = make();
    Buffer c(m_, n_, n_ + pad_, offset_);
    EXPECT_FALSE(run(t, in, c, 1)) << t.isa << " flagged a non-finite output, m=" << m_ << " n=" << n_ << " k=" << k_;
    EXPECT_TRUE(c.slack_untouched()) << t.isa << " wrote outside C";
    for (std::size_t i = 0; i < m_; ++i)
      for (std::size_t j = 0; j < n_; ++j) {
        double ref = 0, mag = 0;
        for (std::size_t p = 0; p < k_; ++p) {
          const double x = double(in.a.at(i, p)) * in.b.at(j, p);
          ref += x;
          mag += std::fabs(x);
        }
        ref = alpha_ * ref + (bias_ ? in.bias[j] : 0.0f);
        mag = std::fabs(alpha_) * mag + (bias_ ? std::fabs(in.bias[j]) : 0.0f);
        ASSERT_NEAR(c.at(i, j), ref, tol(k_) * mag + 1e-30)
            << t.isa << " gemm_nt m=" << m_ << " n=" << n_ << " k=" << k_ << " at (" << i << ", " << j << ")";
      }
  }

  // The kernel's return value flags a non-finite output (the overflow screen): A(i, 0)·B(j, 0) = 9e38 overflows only
  // C(i, j), so the flag is set by exactly the row ranges that hold row i. Finite outputs never set it (Test).
  void TestFlagsOverflowAt(const KernelTable& t, std::size_t i, std::size_t j) const {
    Inputs in = make();
    in.a.at(i, 0) = 3e19f;
    in.b.at(j, 0) = 3e19f;
    Buffer c(m_, n_, n_ + pad_, offset_);
    const auto ranges = {std::pair<std::size_t, std::size_t>{0, m_}, {0, i}, {i, i + 1}, {i + 1, m_}, {i, m_}};
    for (const auto& [lo, hi] : ranges) {
      const bool flagged = run_range(t, in, c, lo, hi);
      ASSERT_EQ(flagged, lo <= i && i < hi) << t.isa << " gemm_nt m=" << m_ << " n=" << n_ << " k=" << k_ << " inf at ("
                                            << i << ", " << j << "), rows [" << lo << ", " << hi << ")";
    }
    EXPECT_TRUE(std::isinf(c.at(i, j))) << t.isa;
    for (std::size_t jj = 0; jj < n_; ++jj)
      if (jj != j) ASSERT_TRUE(std::isfinite(c.at(i, jj))) << t.isa << " at (" << i << ", " << jj << ")";
    // A NaN in A: row i of C is NaN throughout, and flagged.
    in.a.at(i, 0) = std::numeric_limits<float>::quiet_NaN();
    ASSERT_TRUE(run_range(t, in, c, i, i + 1)) << t.isa << " NaN row " << i << " not flagged";
    ASSERT_FALSE(run_range(t, in, c, 0, i)) << t.isa;
  }

  void TestSplits(const KernelTable& t) const {
    Inputs in = make();
    Buffer whole(m_, n_, n_ + pad_, offset_);
    run(t, in, whole, 1);
    for (std::size_t parts : kSplits) {
      Buffer c(m_, n_, n_ + pad_, offset_);
      run(t, in, c, parts);
      ASSERT_TRUE(c.same_bits(whole)) << t.isa << " gemm_nt differs when rows are split in " << parts;
    }
  }

  // Prepacked and packed-per-call B give the same bits.
  void TestPrepackedSameBits(const KernelTable& t) const {
    Inputs in = make();
    Buffer on_the_fly(m_, n_, n_ + pad_, offset_), ahead(m_, n_, n_ + pad_, offset_);
    GemmNTTester(*this).prepacked(false).run(t, in, on_the_fly, 1);
    GemmNTTester(*this).prepacked(true).run(t, in, ahead, 1);
    ASSERT_TRUE(ahead.same_bits(on_the_fly))
        << t.isa << " gemm_nt with prepacked B differs, m=" << m_ << " n=" << n_ << " k=" << k_;
  }

 private:
  struct Inputs {
    Buffer a, b;
    std::vector<float> bias;
  };
  Inputs make() const {
    std::mt19937 rng(seed_);
    Inputs in{Buffer(m_, k_, k_ + pad_, offset_), Buffer(n_, k_, k_ + pad_, offset_), std::vector<float>(n_)};
    in.a.fill(rng, magnitude_);
    in.b.fill(rng, magnitude_);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto& x : in.bias) x = u(rng);
    return in;
  }
  // The kernel's arguments for these inputs and this output (B unpacked).
  kernels::GemmNT args(const Inputs& in, Buffer& c) const {
    return {in.a.data(),
            in.a.ld(),
            in.b.data(),
            in.b.ld(),
            c.data(),
            c.ld(),
            m_,
            n_,
            k_,
            alpha_,
            bias_ ? in.bias.data() : nullptr};
  }
  // Rows [lo, hi) in one call; returns the kernel's non-finite flag.
  bool run_range(const KernelTable& t, const Inputs& in, Buffer& c, std::size_t lo, std::size_t hi) const {
    return t.gemm_nt_f32(args(in, c), lo, hi);
  }
  // Returns whether any of the calls flagged a non-finite output.
  bool run(const KernelTable& t, const Inputs& in, Buffer& c, std::size_t parts) const {
    kernels::GemmNT g = args(in, c);
    std::vector<float, xsimd::aligned_allocator<float, 64>> packed;
    if (prepacked_) {
      // One float past the end, set to a marker: packing must write exactly packed_nt_b_floats floats.
      const std::size_t size = t.packed_nt_b_floats(n_, k_);
      packed.assign(size + 1, 12345.0f);
      t.pack_nt_b_f32(in.b.data(), in.b.ld(), n_, k_, packed.data());
      EXPECT_EQ(packed[size], 12345.0f) << t.isa << " pack_nt_b_f32 wrote past packed_nt_b_floats";
      g.b_packed = packed.data();
    }
    bool flagged = false;
    run_split(m_, parts, [&](std::size_t b, std::size_t e) { flagged |= t.gemm_nt_f32(g, b, e); });
    return flagged;
  }
  static double tol(std::size_t terms) { return terms <= 160 ? 1e-5 : terms <= 400 ? 3e-5 : 6e-5; }

  std::size_t m_ = 1, n_ = 1, k_ = 1, pad_ = 0, offset_ = 0;
  float alpha_ = 1.0f, magnitude_ = 1.0f;
  bool bias_ = false, prepacked_ = false;
  unsigned seed_ = 1;
};

// C = A·B      A: (m, k)  B: (k, n)  C: (m, n)
class GemmNNTester {
 public:
  GemmNNTester& m(std::size_t v) {
    m_ = v;
    return *this;
  }
  GemmNNTester& n(std::size_t v) {
    n_ = v;
    return *this;
  }
  GemmNNTester& k(std::size_t v) {
    k_ = v;
    return *this;
  }
  GemmNNTester& pad(std::size_t v) {
    pad_ = v;
    return *this;
  }
  GemmNNTester& offset(std::size_t v) {
    offset_ = v;
    return *this;
  }
  GemmNNTester& magnitude(float v) {
    magnitude_ = v;
    return *this;
  }
  GemmNNTester& seed(unsigned v) {
    seed_ = v;
    return *this;
  }

  void Test(const KernelTable& t) const {
    std::mt19937 rng(seed_);
    Buffer a(m_, k_, k_ + pad_, offset_), b(k_, n_, n_ + pad_, offset_), c(m_, n_, n_ + pad_, offset_);
    a.fill(rng, magnitude_);
    b.fill(rng, magnitude_);
    run(t, a, b, c, 1);
    EXPECT_TRUE(c.slack_untouched()) << t.isa << " wrote outside C";
    for (std::size_t i = 0; i < m_; ++i)
      for (std::size_t j = 0; j < n_; ++j) {
        double ref = 0, mag = 0;
        for (std::size_t p = 0; p < k_; ++p) {
          const double x = double(a.at(i, p)) * b.at(p, j);
          ref += x;
          mag += std::fabs(x);
        }
        ASSERT_NEAR(c.at(i, j), ref,
                    (k_ <= 160   ? 1e-5
                     : k_ <= 400 ? 3e-5
                                 : 6e-5) *
                            mag +
                        1e-30)
            << t.isa << " gemm_nn m=" << m_ << " n=" << n_ << " k=" << k_ << " at (" << i << ", " << j << ")";
      }
  }

  void TestSplits(const KernelTable& t) const {
    std::mt19937 rng(seed_);
    Buffer a(m_, k_, k_ + pad_, offset_), b(k_, n_, n_ + pad_, offset_), whole(m_, n_, n_ + pad_, offset_);
    a.fill(rng, magnitude_);
    b.fill(rng, magnitude_);
    run(t, a, b, whole, 1);
    for (std::size_t parts : kSplits) {
      Buffer c(m_, n_, n_ + pad_, offset_);
      run(t, a, b, c, parts);
      ASSERT_TRUE(c.same_bits(whole)) << t.isa << " gemm_nn differs when rows are split in " << parts;
    }
  }

 private:
  void run(const KernelTable& t, const Buffer& a, const Buffer& b, Buffer& c, std::size_t parts) const {
    kernels::GemmNN g{a.data(), a.ld(), b.data(), b.ld(), c.data(), c.ld(), m_, n_, k_};
    run_split(m_, parts, [&](std::size_t lo, std::size_t hi) { t.gemm_nn_f32(g, lo, hi); });
  }

  std::size_t m_ = 1, n_ = 1, k_ = 1, pad_ = 0, offset_ = 0;
  float magnitude_ = 1.0f;
  unsigned seed_ = 1;
};

// Row-wise softmax in place over (m, n). Optional −inf entries (a fraction), fully −inf rows (every
// `masked_row_every`-th row), and extreme entries ±1e30.
class SoftmaxTester {
 public:
  SoftmaxTester& m(std::size_t v) {
    m_ = v;
    return *this;
  }
  SoftmaxTester& n(std::size_t v) {
    n_ = v;
    return *this;
  }
  SoftmaxTester& pad(std::size_t v) {
    pad_ = v;
    return *this;
  }
  SoftmaxTester& offset(std::size_t v) {
    offset_ = v;
    return *this;
  }
  SoftmaxTester& magnitude(float v) {
    magnitude_ = v;
    return *this;
  }
  SoftmaxTester& neg_inf_fraction(double v) {
    neg_inf_ = v;
    return *this;
  }
  SoftmaxTester& masked_row_every(std::size_t v) {
    masked_every_ = v;
    return *this;
  }
  SoftmaxTester& extremes(bool v) {
    extremes_ = v;
    return *this;
  }
  SoftmaxTester& seed(unsigned v) {
    seed_ = v;
    return *this;
  }

  void Test(const KernelTable& t) const {
    Buffer x = make();
    const Buffer x0 = x;
    run(t, x, 1);
    EXPECT_TRUE(x.slack_untouched()) << t.isa << " wrote outside the matrix";
    for (std::size_t i = 0; i < m_; ++i) {
      double mx = -std::numeric_limits<double>::infinity(), sum = 0;
      for (std::size_t j = 0; j < n_; ++j) mx = std::max(mx, double(x0.at(i, j)));
      for (std::size_t j = 0; j < n_; ++j) sum += std::isinf(mx) ? 0.0 : std::exp(double(x0.at(i, j)) - mx);
      for (std::size_t j = 0; j < n_; ++j) {
        const double ref = sum == 0 ? 0.0 : std::exp(double(x0.at(i, j)) - mx) / sum;
        // Besides the sum's rounding, x − max is rounded to float: a relative error of |x − max|·eps/2
        // in the weight, ≤ 87·3e-8 before exp underflows.
        ASSERT_NEAR(x.at(i, j), ref, 1e-5 * ref + 1e-37)
            << t.isa << " softmax m=" << m_ << " n=" << n_ << " at (" << i << ", " << j << ") x=" << x0.at(i, j);
      }
    }
  }

  void TestSplits(const KernelTable& t) const {
    Buffer whole = make();
    const Buffer x0 = whole;
    run(t, whole, 1);
    for (std::size_t parts : kSplits) {
      Buffer x = x0;
      run(t, x, parts);
      ASSERT_TRUE(x.same_bits(whole)) << t.isa << " softmax differs when rows are split in " << parts;
    }
  }

 private:
  Buffer make() const {
    std::mt19937 rng(seed_);
    Buffer x(m_, n_, n_ + pad_, offset_);
    x.fill(rng, magnitude_);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const float ninf = -std::numeric_limits<float>::infinity();
    for (std::size_t i = 0; i < m_; ++i)
      for (std::size_t j = 0; j < n_; ++j) {
        if (masked_every_ && i % masked_every_ == 0) x.at(i, j) = ninf;
        else if (u(rng) < neg_inf_) x.at(i, j) = ninf;
        else if (extremes_ && u(rng) < 0.3) x.at(i, j) = u(rng) < 0.5 ? 1e30f : -1e30f;
      }
    return x;
  }
  void run(const KernelTable& t, Buffer& x, std::size_t parts) const {
    kernels::Softmax s{x.data(), x.ld(), m_, n_};
    run_split(m_, parts, [&](std::size_t lo, std::size_t hi) { t.softmax_f32(s, lo, hi); });
  }

  std::size_t m_ = 1, n_ = 1, pad_ = 0, offset_ = 0, masked_every_ = 0;
  float magnitude_ = 1.0f;
  double neg_inf_ = 0.0;
  bool extremes_ = false;
  unsigned seed_ = 1;
};

// context = softmax(q·kᵀ·scale [+ causal])·v for one head.
//   q: (n_q, d)  k: (n_k, d)  v: (n_k, d)  out: (n_q, d)
class AttentionTester {
 public:
  AttentionTester& n_q(std::size_t v) {
    n_q_ = v;
    return *this;
  }
  AttentionTester& n_k(std::size_t v) {
    n_k_ = v;
    return *this;
  }
  AttentionTester& d(std::size_t v) {
    d_ = v;
    return *this;
  }
  AttentionTester& pad(std::size_t v) {
    pad_ = v;
    return *this;
  }
  AttentionTester& offset(std::size_t v) {
    offset_ = v;
    return *this;
  }
  AttentionTester& causal(bool v) {
    causal_ = v;
    return *this;
  }
  AttentionTester& magnitude(float v) {
    magnitude_ = v;
    return *this;
  }  // of q and k: sharpens the softmax
  AttentionTester& seed(unsigned v) {
    seed_ = v;
    return *this;
  }

  void Test(const KernelTable& t) const {
    Inputs in = make();
    Buffer out(n_q_, d_, d_ + pad_, offset_);
    run(t, in, out, 1);
    EXPECT_TRUE(out.slack_untouched()) << t.isa << " wrote outside out";
    const double scale = this->scale();
    for (std::size_t i = 0; i < n_q_; ++i) {
      const std::size_t kend = causal_ ? std::min(i + 1, n_k_) : n_k_;
      std::vector<double> w(kend);
      double mx = -std::numeric_limits<double>::infinity(), sum = 0, cond = 0;
      for (std::size_t j = 0; j < kend; ++j) {
        double s = 0, sa = 0;
        for (std::size_t p = 0; p < d_; ++p) {
          s += double(in.q.at(i, p)) * in.k.at(j, p);
          sa += std::fabs(double(in.q.at(i, p)) * in.k.at(j, p));
        }
        w[j] = scale * s;
        mx = std::max(mx, w[j]);
        cond = std::max(cond, scale * sa);  // rounding of a score is ~d·eps of this; exp turns it relative
      }
      for (std::size_t j = 0; j < kend; ++j) sum += (w[j] = std::exp(w[j] - mx));
      for (std::size_t c = 0; c < d_; ++c) {
        double ref = 0, mag = 0;
        for (std::size_t j = 0; j < kend; ++j) {
          ref += w[j] / sum * in.v.at(j, c);
          mag += w[j] / sum * std::fabs(in.v.at(j, c));
        }
        ASSERT_NEAR(out.at(i, c), ref, 1e-5 * mag * (1.0 + cond) + 1e-30)
            << t.isa << " attention n_q=" << n_q_ << " n_k=" << n_k_ << " d=" << d_ << " causal=" << causal_ << " at ("
            << i << ", " << c << ")";
      }
    }
  }

  void TestSplits(const KernelTable& t) const {
    Inputs in = make();
    Buffer whole(n_q_, d_, d_ + pad_, offset_);
    run(t, in, whole, 1);
    for (std::size_t parts : kSplits) {
      Buffer out(n_q_, d_, d_ + pad_, offset_);
      run(t, in, out, parts);
      ASSERT_TRUE(out.same_bits(whole)) << t.isa << " attention differs when query rows are split in " << parts;
    }
  }

 private:
  struct Inputs {
    Buffer q, k, v;
  };
  float scale() const { return 1.0f / std::sqrt(float(d_)); }
  Inputs make() const {
    std::mt19937 rng(seed_);
    Inputs in{Buffer(n_q_, d_, d_ + pad_, offset_), Buffer(n_k_, d_, d_ + pad_, offset_),
              Buffer(n_k_, d_, d_ + pad_, offset_)};
    in.q.fill(rng, magnitude_);
    in.k.fill(rng, magnitude_);
    in.v.fill(rng, 1.0f);
    return in;
  }
  void run(const KernelTable& t, const Inputs& in, Buffer& out, std::size_t parts) const {
    kernels::Attention a{in.q.data(), in.q.ld(), in.k.data(), in.k.ld(), in.v.data(), in.v.ld(), out.data(),
                         out.ld(),    n_q_,      n_k_,        d_,        scale(),     causal_};
    run_split(n_q_, parts, [&](std::size_t lo, std::size_t hi) { t.attention_f32(a, lo, hi); });
  }

  std::size_t n_q_ = 1, n_k_ = 1, d_ = 1, pad_ = 0, offset_ = 0;
  float magnitude_ = 1.0f;
  bool causal_ = false;
  unsigned seed_ = 1;
};

}  // namespace attnkit::test
