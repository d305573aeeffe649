// attnkit tests — every kernel of every table this CPU runs, against float64 references
// (kernel_tester.hpp), at sizes around each table's SIMD width, misaligned, with padded rows.
#include "kernel_tester.hpp"

#include <array>
#include <set>
#include <string>
#include <utility>

#include "kernels/simd_math.hpp"

namespace attnkit::test {
namespace {

TEST(KernelTables, BestTableIsAvailableAndNamed) {
  const auto tables = all_tables();
  ASSERT_FALSE(tables.empty());
  EXPECT_EQ(tables.front(), &kernels::table()) << "available_tables lists the best table first";
  std::set<std::string> names;
  for (const KernelTable* t : tables) {
    EXPECT_TRUE(names.insert(t->isa).second) << t->isa;
    EXPECT_GE(t->simd_width, 4u);
    EXPECT_TRUE(t->gemm_nt_f32 && t->gemm_nn_f32 && t->softmax_f32 && t->attention_f32 && t->packed_nt_b_floats &&
                t->pack_nt_b_f32);
  }
}

TEST(GemmNT, SweepM) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) GemmNTTester().m(s).n(5).k(11).Test(*t);
}
TEST(GemmNT, SweepN) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) GemmNTTester().m(6).n(s).k(9).Test(*t);
}
TEST(GemmNT, SweepK) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) GemmNTTester().m(5).n(7).k(s).Test(*t);
}
TEST(GemmNT, AllSizeTriples) {
  for (const KernelTable* t : all_tables())
    for (std::size_t m : sizes_for(*t))
      for (std::size_t n : sizes_for(*t))
        for (std::size_t k : {std::size_t{1}, t->simd_width + 1, 3 * t->simd_width})
          GemmNTTester().m(m).n(n).k(k).Test(*t);
}
TEST(GemmNT, MisalignedAndPadded) {
  for (const KernelTable* t : all_tables())
    for (std::size_t off = 1; off < t->simd_width; ++off)
      GemmNTTester().m(13).n(2 * t->simd_width + 3).k(3 * t->simd_width + 1).offset(off).pad(off + 2).Test(*t);
}
TEST(GemmNT, AlphaBiasAndLargeMagnitudes) {
  for (const KernelTable* t : all_tables()) {
    GemmNTTester().m(9).n(3 * t->simd_width + 1).k(33).alpha(0.125f).bias(true).Test(*t);
    GemmNTTester().m(7).n(t->simd_width + 1).k(40).magnitude(1e15f).Test(*t);
    GemmNTTester().m(7).n(t->simd_width - 1).k(40).magnitude(1e-15f).Test(*t);
  }
}
TEST(GemmNT, ProjectionShapeLongK) {  // x·Wᵀ + b with k and n across several cache blocks (gemm.hpp)
  for (const KernelTable* t : all_tables()) {
    GemmNTTester().m(64).n(80).k(300).bias(true).Test(*t);
    GemmNTTester().m(9).n(300).k(530).alpha(0.5f).Test(*t);
    GemmNTTester().m(7).n(140).k(1700).bias(true).Test(*t);  // k past two k blocks (768)
  }
}
TEST(GemmNT, ColumnsPastOnePackedBlock) {  // n past the 4096 columns of one packed B block (gemm.hpp)
  for (const KernelTable* t : all_tables()) GemmNTTester().m(7).n(4100).k(9).bias(true).Test(*t);
}
TEST(GemmNT, RowSplitsAreBitwiseIdentical) {
  for (const KernelTable* t : all_tables()) {
    GemmNTTester().m(37).n(8 * t->simd_width + 2).k(29).bias(true).alpha(0.3f).TestSplits(*t);
    GemmNTTester().m(16).n(3).k(7).offset(1).pad(3).TestSplits(*t);
    GemmNTTester().m(40).n(270).k(300).bias(true).TestSplits(*t);
    GemmNTTester().m(61).n(150).k(1000).bias(true).TestSplits(*t);
  }
}

// The non-finite flag (the forward's overflow screen) at tile corners and edges, on the tiny path, the tiled path
// (partial tiles in both directions) and across k blocks.
TEST(GemmNT, FlagsExactlyTheRangesWithAnOverflow) {
  for (const KernelTable* t : all_tables()) {
    const std::size_t W = t->simd_width;
    GemmNTTester().m(5).n(3).k(7).TestFlagsOverflowAt(*t, 4, 2);  // tiny product (read in place)
    for (const auto& [m, n, k] : {std::array<std::size_t, 3>{37, 8 * W + 2, 29}, {30, 2 * W, 800}, {15, 3 * W, 64}})
      for (const auto& [i, j] : {std::pair<std::size_t, std::size_t>{0, 0}, {m - 1, n - 1}, {m / 2, n / 2}, {m - 1, 0}})
        GemmNTTester().m(m).n(n).k(k).bias(true).TestFlagsOverflowAt(*t, i, j);
  }
}

// No columns: nothing is written, whatever k is (a tiny-product test must not admit a long k when n is 0).
TEST(GemmNT, NoColumnsWritesNothing) {
  const std::size_t m = 3, k = 100000;
  std::vector<float> a(m * k, 1.0f), b(1, 1.0f), c(4, 7.0f);
  for (const KernelTable* t : all_tables()) {
    t->gemm_nt_f32(kernels::GemmNT{a.data(), k, b.data(), k, c.data(), 0, m, 0, k, 1.0f, nullptr}, 0, m);
    t->gemm_nn_f32(kernels::GemmNN{a.data(), k, b.data(), 0, c.data(), 0, m, 0, k}, 0, m);
    for (float x : c) EXPECT_EQ(x, 7.0f) << t->isa;
  }
}

// B packed once ahead (Module weights): the same sizes against the reference, and bit-identical to packing per call.
TEST(GemmNTPrepacked, SweepSizesAgainstReference) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) {
      GemmNTTester().m(7).n(s).k(s + 5).bias(true).prepacked(true).Test(*t);
      GemmNTTester().m(s).n(2 * t->simd_width + 1).k(s).prepacked(true).Test(*t);
    }
}
TEST(GemmNTPrepacked, SameBitsAsPackingPerCall) {
  for (const KernelTable* t : all_tables()) {
    for (std::size_t s : sizes_for(*t)) GemmNTTester().m(s + 3).n(s).k(3 * s + 1).bias(true).TestPrepackedSameBits(*t);
    GemmNTTester().m(13).n(2 * t->simd_width + 3).k(3 * t->simd_width + 1).offset(3).pad(5).TestPrepackedSameBits(*t);
    GemmNTTester().m(61).n(150).k(1000).bias(true).TestPrepackedSameBits(*t);  // two k blocks
    GemmNTTester().m(7).n(4100).k(9).bias(true).TestPrepackedSameBits(*t);     // two column blocks
    GemmNTTester().m(5).n(4099).k(770).alpha(0.5f).TestPrepackedSameBits(*t);  // both, with partial last blocks
  }
}

TEST(GemmNN, SweepM) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) GemmNNTester().m(s).n(5).k(11).Test(*t);
}
TEST(GemmNN, SweepN) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) GemmNNTester().m(6).n(s).k(9).Test(*t);
}
TEST(GemmNN, SweepK) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) GemmNNTester().m(5).n(7).k(s).Test(*t);
}
TEST(GemmNN, AllSizeTriples) {
  for (const KernelTable* t : all_tables())
    for (std::size_t m : sizes_for(*t))
      for (std::size_t n : sizes_for(*t))
        for (std::size_t k : {std::size_t{1}, t->simd_width + 1, 3 * t->simd_width})
          GemmNNTester().m(m).n(n).k(k).Test(*t);
}
TEST(GemmNN, MisalignedAndPadded) {
  for (const KernelTable* t : all_tables())
    for (std::size_t off = 1; off < t->simd_width; ++off)
      GemmNNTester().m(13).n(2 * t->simd_width + 3).k(3 * t->simd_width + 1).offset(off).pad(off + 2).Test(*t);
}
TEST(GemmNN, LargeMagnitudesAndLongK) {
  for (const KernelTable* t : all_tables()) {
    GemmNNTester().m(7).n(t->simd_width + 1).k(40).magnitude(1e15f).Test(*t);
    GemmNNTester().m(33).n(70).k(300).Test(*t);
    GemmNNTester().m(9).n(300).k(530).Test(*t);
    GemmNNTester().m(7).n(140).k(1700).Test(*t);
  }
}
TEST(GemmNN, ColumnsPastOnePackedBlock) {
  for (const KernelTable* t : all_tables()) GemmNNTester().m(7).n(4100).k(9).Test(*t);
}
TEST(GemmNN, RowSplitsAreBitwiseIdentical) {
  for (const KernelTable* t : all_tables()) {
    GemmNNTester().m(37).n(8 * t->simd_width + 2).k(29).TestSplits(*t);
    GemmNNTester().m(16).n(3).k(7).offset(1).pad(3).TestSplits(*t);
    GemmNNTester().m(40).n(270).k(300).TestSplits(*t);
    GemmNNTester().m(61).n(150).k(1000).TestSplits(*t);
  }
}

// The kernels' own exp (simd_math.hpp), at the baseline ISA of this TU: ≤ 2e-7 relative over the
// whole normal range, exact at 0, exactly 0 below the underflow limit and at −inf.
TEST(SimdMath, ExpAccuracy) {
  using Arch = xsimd::default_arch;
  using F = xsimd::batch<float, Arch>;
  alignas(64) float in[F::size], out[F::size];
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.00731f) {
    for (std::size_t i = 0; i < F::size; ++i) in[i] = x + 0.001f * float(i);
    kernels::exp_f32<Arch>(F::load_aligned(in)).store_aligned(out);
    for (std::size_t i = 0; i < F::size; ++i) {
      const double ref = std::exp(double(in[i]));
      worst = std::max(worst, std::fabs(out[i] - ref) / ref);
    }
  }
  EXPECT_LE(worst, 2e-7);
  const float specials[] = {0.0f, -std::numeric_limits<float>::infinity(), -100.0f, -1e30f};
  const float expected[] = {1.0f, 0.0f, 0.0f, 0.0f};
  for (int s = 0; s < 4; ++s) {
    kernels::exp_f32<Arch>(F(specials[s])).store_aligned(out);
    EXPECT_EQ(out[0], expected[s]) << "exp(" << specials[s] << ")";
  }
}

TEST(Softmax, SweepN) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) SoftmaxTester().m(5).n(s).magnitude(10.0f).Test(*t);
}
TEST(Softmax, SweepM) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) SoftmaxTester().m(s).n(t->simd_width + 1).Test(*t);
}
TEST(Softmax, NegInfAndFullyMaskedRows) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t))
      SoftmaxTester().m(7).n(s).neg_inf_fraction(0.4).masked_row_every(3).magnitude(5.0f).Test(*t);
}
TEST(Softmax, FullyMaskedRowIsAllZeros) {
  for (const KernelTable* t : all_tables()) {
    std::vector<float> x(2 * t->simd_width + 3, -std::numeric_limits<float>::infinity());
    t->softmax_f32(kernels::Softmax{x.data(), x.size(), 1, x.size()}, 0, 1);
    for (float v : x) ASSERT_EQ(v, 0.0f) << t->isa;
  }
}
TEST(Softmax, ExtremeMagnitudes) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t)) {
      SoftmaxTester().m(6).n(s).extremes(true).magnitude(100.0f).Test(*t);
      SoftmaxTester().m(6).n(s).extremes(true).neg_inf_fraction(0.2).Test(*t);
    }
}
TEST(Softmax, UnderflowRange) {  // x − max across the whole range where exp underflows to 0
  for (const KernelTable* t : all_tables()) SoftmaxTester().m(16).n(257).magnitude(60.0f).Test(*t);
}
TEST(Softmax, MisalignedAndPadded) {
  for (const KernelTable* t : all_tables())
    for (std::size_t off = 1; off < t->simd_width; ++off)
      SoftmaxTester().m(9).n(3 * t->simd_width + 1).offset(off).pad(off).Test(*t);
}
TEST(Softmax, RowSplitsAreBitwiseIdentical) {
  for (const KernelTable* t : all_tables())
    SoftmaxTester().m(29).n(8 * t->simd_width + 2).neg_inf_fraction(0.1).masked_row_every(5).TestSplits(*t);
}

TEST(Attention, SweepNq) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t))
      for (bool causal : {false, true}) AttentionTester().n_q(s).n_k(19).d(13).causal(causal).Test(*t);
}
TEST(Attention, SweepNk) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t))
      for (bool causal : {false, true}) AttentionTester().n_q(23).n_k(s).d(11).causal(causal).Test(*t);
}
TEST(Attention, SweepD) {
  for (const KernelTable* t : all_tables())
    for (std::size_t s : sizes_for(*t))
      for (bool causal : {false, true}) AttentionTester().n_q(17).n_k(17).d(s).causal(causal).Test(*t);
}
TEST(Attention, AllSizeTriples) {
  for (const KernelTable* t : all_tables())
    for (std::size_t nq : sizes_for(*t))
      for (std::size_t nk : sizes_for(*t))
        for (std::size_t d : {std::size_t{1}, t->simd_width, 3 * t->simd_width})
          for (bool causal : {false, true}) AttentionTester().n_q(nq).n_k(nk).d(d).causal(causal).Test(*t);
}
TEST(Attention, ManyKeyBlocks) {  // long enough for several key blocks and query tiles, head size 64
  for (const KernelTable* t : all_tables())
    for (bool causal : {false, true}) {
      AttentionTester().n_q(300).n_k(300).d(64).causal(causal).Test(*t);
      AttentionTester().n_q(70).n_k(333).d(64).causal(causal).Test(*t);
      AttentionTester().n_q(333).n_k(70).d(64).causal(causal).Test(*t);
    }
}
TEST(Attention, SharpSoftmax) {  // large q, k magnitudes: near one-hot weights, large running-max jumps
  for (const KernelTable* t : all_tables())
    for (bool causal : {false, true})
      AttentionTester().n_q(150).n_k(150).d(16).magnitude(30.0f).causal(causal).Test(*t);
}
TEST(Attention, MisalignedAndPadded) {
  for (const KernelTable* t : all_tables())
    for (std::size_t off = 1; off < t->simd_width; ++off)
      AttentionTester()
          .n_q(21)
          .n_k(2 * t->simd_width + 5)
          .d(t->simd_width + 3)
          .offset(off)
          .pad(off + 1)
          .causal(off % 2)
          .Test(*t);
  for (const KernelTable* t : all_tables())  // head size a multiple of the tile width: v is read in place
    for (std::size_t off = 1; off < t->simd_width; off += 2)
      AttentionTester().n_q(40).n_k(150).d(64).offset(off).pad(off).causal(off % 4 == 1).Test(*t);
}
TEST(Attention, RowSplitsAreBitwiseIdentical) {
  for (const KernelTable* t : all_tables())
    for (bool causal : {false, true}) {
      AttentionTester().n_q(67).n_k(67).d(24).causal(causal).TestSplits(*t);
      AttentionTester().n_q(200).n_k(260).d(64).causal(causal).TestSplits(*t);
      AttentionTester().n_q(9).n_k(5).d(3).offset(1).pad(2).causal(causal).TestSplits(*t);
    }
}

}  // namespace
}  // namespace attnkit::test
