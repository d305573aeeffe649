// attnkit tests — the fused attention kernel of every table this CPU runs, with what the attention op gives it:
// causal key offsets (upper-left and lower-right alignment), a mask with a row stride (0: one row for every query),
// d ≠ d_v and n_q ≠ n_k, at sizes around each table's SIMD width, misaligned and padded; against float64, row
// splits bitwise identical, and overflowing rows flagged (output NaN, counted) rather than silently wrong.
#include "kernel_tester.hpp"

#include <limits>

namespace attnkit::test {
namespace {

class FusedAttentionTester {
 public:
  FusedAttentionTester& n_q(std::size_t v) {
    n_q_ = v;
    return *this;
  }
  FusedAttentionTester& n_k(std::size_t v) {
    n_k_ = v;
    return *this;
  }
  FusedAttentionTester& d(std::size_t v) {
    d_ = v;
    return *this;
  }
  FusedAttentionTester& d_v(std::size_t v) {
    d_v_ = v;
    return *this;
  }
  FusedAttentionTester& causal(bool v, std::ptrdiff_t offset = 0) {
    causal_ = v;
    offset_k_ = offset;
    return *this;
  }
  FusedAttentionTester& mask(double allowed, bool shared_row = false) {
    mask_ = allowed;
    shared_ = shared_row;
    return *this;
  }
  FusedAttentionTester& pad(std::size_t v) {
    pad_ = v;
    return *this;
  }
  FusedAttentionTester& offset(std::size_t v) {
    offset_ = v;
    return *this;
  }
  FusedAttentionTester& magnitude(float v) {
    magnitude_ = v;
    return *this;
  }
  FusedAttentionTester& seed(unsigned v) {
    seed_ = v;
    return *this;
  }
  // Scores that rise (or fall) by `step` per key on top of the random part: the running max moves again and again.
  FusedAttentionTester& rising(float step) {
    rising_ = step;
    return *this;
  }
  // Also asks for the weights (Attention::weights, row stride n_k + pad), checked against float64 below.
  FusedAttentionTester& weights() {
    weights_ = true;
    return *this;
  }

  void Test(const KernelTable& t) const {
    Inputs in = make();
    Buffer out(n_q_, d_v_, d_v_ + pad_, offset_);
    const std::size_t ld_w = n_k_ + pad_;
    std::vector<float> weights(weights_ ? n_q_ * ld_w : 0, std::numeric_limits<float>::quiet_NaN());
    EXPECT_EQ(run(t, in, out, 1, weights_ ? weights.data() : nullptr), 0u) << t.isa << " flagged rows of finite inputs";
    EXPECT_TRUE(out.slack_untouched()) << t.isa << " wrote outside out";
    const double scale = 1.0 / std::sqrt(double(d_));
    const double ninf = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < n_q_; ++i) {
      std::vector<double> w(n_k_, ninf);
      double mx = ninf, sum = 0, cond = 0;
      for (std::size_t j = 0; j < n_k_; ++j) {
        if (causal_ && std::ptrdiff_t(j) > std::ptrdiff_t(i) + offset_k_) continue;
        const double add = in.mask.empty() ? 0.0 : double(in.mask[(shared_ ? 0 : i) * n_k_ + j]);
        if (add == ninf) continue;
        double s = 0, sa = 0;
        for (std::size_t p = 0; p < d_; ++p) {
          s += double(in.q.at(i, p)) * in.k.at(j, p);
          sa += std::fabs(double(in.q.at(i, p)) * in.k.at(j, p));
        }
        w[j] = scale * s + add;
        mx = std::max(mx, w[j]);
        cond = std::max(cond, scale * sa);
      }
      for (std::size_t j = 0; j < n_k_; ++j) sum += (w[j] = w[j] == ninf ? 0.0 : std::exp(w[j] - mx));
      for (std::size_t j = 0; j < ld_w && weights_; ++j) {
        const float got = weights[i * ld_w + j];
        if (j >= n_k_) {  // the row stride's slack
          ASSERT_TRUE(std::isnan(got)) << t.isa << " wrote weights past n_k at (" << i << ", " << j << ")";
          continue;
        }
        const double ref = sum > 0 ? w[j] / sum : 0.0;
        if (ref == 0.0)
          ASSERT_EQ(got, 0.0f) << t.isa << " weight of a key the row may not see, (" << i << ", " << j << ")";
        // exp(s − m) / l: the rounding of the scores (cond) and of the sum, relative to the weight
        ASSERT_NEAR(got, ref, 4e-7 * ref * (4.0 + cond) + 1e-36)  // exp_f32 flushes near FLT_MIN
            << t.isa << " weights n_q=" << n_q_ << " n_k=" << n_k_ << " d=" << d_ << " causal=" << causal_
            << " offset=" << offset_k_ << " mask=" << mask_ << " at (" << i << ", " << j << ")";
      }
      for (std::size_t c = 0; c < d_v_; ++c) {
        double ref = 0, mag = 0;
        for (std::size_t j = 0; j < n_k_ && sum > 0; ++j) {
          ref += w[j] / sum * in.v.at(j, c);
          mag += w[j] / sum * std::fabs(in.v.at(j, c));
        }
        ASSERT_NEAR(out.at(i, c), ref, 1e-5 * mag * (1.0 + cond) + 1e-30)
            << t.isa << " attention n_q=" << n_q_ << " n_k=" << n_k_ << " d=" << d_ << " d_v=" << d_v_
            << " causal=" << causal_ << " offset=" << offset_k_ << " mask=" << mask_ << " at (" << i << ", " << c
            << ")";
        if (sum == 0) ASSERT_EQ(out.at(i, c), 0.0f) << t.isa << " a row with nothing to attend to is 0";
      }
    }
  }

  void TestSplits(const KernelTable& t) const {
    Inputs in = make();
    Buffer whole(n_q_, d_v_, d_v_ + pad_, offset_);
    run(t, in, whole, 1);
    for (std::size_t parts : kSplits) {
      Buffer out(n_q_, d_v_, d_v_ + pad_, offset_);
      run(t, in, out, parts);
      ASSERT_TRUE(out.same_bits(whole)) << t.isa << " attention differs when query rows are split in " << parts;
    }
  }

  // Rows whose scores overflow: only those are flagged, as NaN, for any split.
  void TestOverflowFlagged(const KernelTable& t, std::size_t bad_row) const {
    Inputs in = make();
    for (std::size_t p = 0; p < d_; ++p) in.q.at(bad_row, p) = 3e38f;
    for (std::size_t p = 0; p < d_; ++p) in.k.at(0, p) = 1e10f;  // key 0, which every row sees: only bad_row overflows
    for (std::size_t parts : kSplits) {
      Buffer out(n_q_, d_v_, d_v_ + pad_, offset_);
      EXPECT_EQ(run(t, in, out, parts), 1u) << t.isa << " split " << parts;
      for (std::size_t i = 0; i < n_q_; ++i)
        EXPECT_EQ(std::isnan(out.at(i, 0)), i == bad_row) << t.isa << " row " << i << " split " << parts;
    }
  }

 private:
  struct Inputs {
    Buffer q, k, v;
    std::vector<float> mask;
  };
  Inputs make() const {
    std::mt19937 rng(seed_);
    Inputs in{Buffer(n_q_, d_, d_ + pad_, offset_),
              Buffer(n_k_, d_, d_ + pad_, offset_),
              Buffer(n_k_, d_v_, d_v_ + pad_, offset_),
              {}};
    in.q.fill(rng, magnitude_);
    in.k.fill(rng, magnitude_);
    in.v.fill(rng, 1.0f);
    if (rising_ != 0.0f) {  // q·k·scale gains rising_·j: q[i, 0] = 1, k[j, 0] = rising_·j·sqrt(d)
      for (std::size_t i = 0; i < n_q_; ++i) in.q.at(i, 0) = 1.0f;
      for (std::size_t j = 0; j < n_k_; ++j) in.k.at(j, 0) = rising_ * float(j) * std::sqrt(float(d_));
    }
    if (mask_ >= 0) {
      std::uniform_real_distribution<float> u(0.0f, 1.0f);
      in.mask.resize((shared_ ? 1 : n_q_) * n_k_);
      for (std::size_t e = 0; e < in.mask.size(); ++e) {
        // Runs of 40 keys masked together, so whole key blocks are skipped.
        const bool allow = u(rng) < mask_ && (e / 40) % 3 != 1;
        in.mask[e] = allow ? 2.0f * u(rng) - 1.0f : -std::numeric_limits<float>::infinity();
      }
    }
    return in;
  }
  std::size_t run(const KernelTable& t, const Inputs& in, Buffer& out, std::size_t parts,
                  float* weights = nullptr) const {
    kernels::Attention a{in.q.data(), in.q.ld(), in.k.data(), in.k.ld(),
                         in.v.data(), in.v.ld(), out.data(),  out.ld(),
                         n_q_,        n_k_,      d_,          float(1.0 / std::sqrt(double(d_))),
                         causal_};
    a.causal_offset = offset_k_;
    a.d_v = d_v_;
    a.mask = in.mask.empty() ? nullptr : in.mask.data();
    a.ld_mask = shared_ ? 0 : n_k_;
    a.weights = weights;
    a.ld_weights = n_k_ + pad_;
    std::size_t flagged = 0;
    run_split(n_q_, parts, [&](std::size_t lo, std::size_t hi) { flagged += t.attention_f32(a, lo, hi); });
    return flagged;
  }

  std::size_t n_q_ = 1, n_k_ = 1, d_ = 1, d_v_ = 1, pad_ = 0, offset_ = 0;
  std::ptrdiff_t offset_k_ = 0;
  bool causal_ = false, shared_ = false, weights_ = false;
  double mask_ = -1;  // < 0: no mask
  float magnitude_ = 1.0f, rising_ = 0.0f;
  unsigned seed_ = 1;
};

TEST(FusedAttention, SizesWithMasksOffsetsAndValueWidths) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) {
      for (std::ptrdiff_t off : {0, 5, -3}) {
        FusedAttentionTester().n_q(s).n_k(70).d(20).d_v(9).causal(true, off).Test(*t);
        FusedAttentionTester().n_q(13).n_k(s).d(20).d_v(9).causal(true, off).mask(0.8).Test(*t);
      }
      FusedAttentionTester().n_q(13).n_k(70).d(s).d_v(s).mask(0.7, true).Test(*t);
      FusedAttentionTester().n_q(9).n_k(40).d(s).d_v(3).mask(0.7).Test(*t);  // the direct path when d ≤ 16
      FusedAttentionTester().n_q(30).n_k(100).d(8).d_v(s).mask(0.6).causal(true, 70).Test(*t);
    }
}

TEST(FusedAttention, LongSequencesSkipMaskedBlocks) {
  for (const KernelTable* t : all_tables()) {
    FusedAttentionTester().n_q(200).n_k(700).d(64).d_v(64).mask(0.5).Test(*t);
    FusedAttentionTester().n_q(200).n_k(700).d(64).d_v(32).mask(0.9, true).causal(true, 500).Test(*t);
    FusedAttentionTester().n_q(300).n_k(100).d(40).d_v(72).causal(true, -200).Test(*t);  // the first 200 rows see
                                                                                         // nothing
  }
}

TEST(FusedAttention, MisalignedPaddedAndLarge) {
  for (const KernelTable* t : all_tables())
    for (std::size_t off = 1; off < t->simd_width; off += 2) {
      FusedAttentionTester()
          .n_q(50)
          .n_k(3 * t->simd_width + 1)
          .d(t->simd_width + 1)
          .d_v(2 * t->simd_width + 3)
          .offset(off)
          .pad(off + 2)
          .mask(0.7)
          .causal(true, 4)
          .Test(*t);
      FusedAttentionTester().n_q(7).n_k(100).d(33).d_v(5).offset(off).pad(1).magnitude(8.0f).mask(0.8).Test(*t);
    }
}

// The weights the explain path returns, written from the kernel's tiles: sizes around the SIMD width, the causal
// offsets, masks that skip whole key blocks, rows that see nothing, misaligned rows with a padded stride, large scores.
TEST(FusedAttention, WeightsFromTheTiles) {
  for (const KernelTable* t : all_tables()) {
    for (std::size_t s : sizes_for(*t)) {
      FusedAttentionTester().n_q(s).n_k(70).d(20).d_v(9).causal(true, 0).weights().Test(*t);
      FusedAttentionTester().n_q(13).n_k(s).d(20).d_v(9).causal(true, 5).mask(0.8).weights().Test(*t);
      FusedAttentionTester().n_q(9).n_k(40).d(s).d_v(3).mask(0.7).weights().Test(*t);  // direct when d ≤ 16
    }
    FusedAttentionTester().n_q(200).n_k(700).d(64).d_v(64).mask(0.5).weights().Test(*t);
    FusedAttentionTester().n_q(300).n_k(100).d(40).d_v(72).causal(true, -200).weights().Test(*t);  // 200 rows see none
    FusedAttentionTester()
        .n_q(50)
        .n_k(130)
        .d(33)
        .d_v(5)
        .offset(3)
        .pad(5)
        .magnitude(8.0f)
        .mask(0.8, true)
        .weights()
        .Test(*t);
  }
}

// The kernel's tiles (flash_attention.hpp, AttnTile: query tiles of 48, 24 and 16 rows and key blocks of 256, 128 and
// 64 keys for 16, 8 and 4 lanes): a boundary of each at every size class, across the causal diagonal both ways, with
// a mask of rows or one row; and scores whose max keeps rising (the lazy rescale moves the reference max many times)
// or only falls (it never moves after the first key).
TEST(FusedAttention, TileBoundariesAndRisingMaxima) {
  for (const KernelTable* t : all_tables()) {
    for (std::size_t n_q : {15, 16, 23, 25, 47, 48, 49, 97})
      for (std::size_t n_k : {63, 64, 65, 129, 255, 257}) {
        FusedAttentionTester().n_q(n_q).n_k(n_k).d(24).d_v(64).Test(*t);
        FusedAttentionTester().n_q(n_q).n_k(n_k).d(17).d_v(65).causal(true, 0).Test(*t);
        FusedAttentionTester()
            .n_q(n_q)
            .n_k(n_k)
            .d(33)
            .d_v(63)
            .causal(true, std::ptrdiff_t(n_k) - std::ptrdiff_t(n_q))
            .mask(0.7)
            .Test(*t);
        FusedAttentionTester().n_q(n_q).n_k(n_k).d(20).d_v(7).mask(0.8, true).causal(true, 9).Test(*t);
      }
    for (float step : {0.5f, -0.5f, 3.0f}) {
      FusedAttentionTester().n_q(50).n_k(300).d(32).d_v(64).rising(step).Test(*t);
      FusedAttentionTester().n_q(100).n_k(200).d(32).d_v(40).rising(step).causal(true, 100).mask(0.9).Test(*t);
    }
  }
}

TEST(FusedAttention, RowSplitsAreBitwiseIdentical) {
  for (const KernelTable* t : all_tables()) {
    FusedAttentionTester().n_q(150).n_k(400).d(64).d_v(48).mask(0.6).causal(true, 250).TestSplits(*t);
    FusedAttentionTester().n_q(77).n_k(30).d(8).d_v(20).mask(0.6).causal(true, -10).TestSplits(*t);  // direct path
    FusedAttentionTester().n_q(100).n_k(300).d(24).d_v(24).mask(0.5, true).offset(3).pad(5).TestSplits(*t);
    FusedAttentionTester().n_q(145).n_k(400).d(64).d_v(64).causal(true).rising(0.5f).TestSplits(*t);  // lazy rescale
  }
}

TEST(FusedAttention, OverflowingRowsAreFlagged) {
  for (const KernelTable* t : all_tables()) {
    FusedAttentionTester().n_q(60).n_k(200).d(32).d_v(16).TestOverflowFlagged(*t, 37);
    FusedAttentionTester().n_q(60).n_k(200).d(32).d_v(16).causal(true).mask(1.0, true).TestOverflowFlagged(*t, 5);
    FusedAttentionTester().n_q(20).n_k(10).d(4).d_v(3).TestOverflowFlagged(*t, 13);  // direct path
    FusedAttentionTester().n_q(20).n_k(10).d(4).d_v(3).causal(true).mask(1.0, true).TestOverflowFlagged(*t, 0);
  }
}

}  // namespace
}  // namespace attnkit::test
