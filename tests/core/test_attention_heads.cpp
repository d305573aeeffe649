// kernels::attention_heads_f32 (core/src/kernels/attention_direct.hpp): every (batch, head) problem of a call at once,
// lanes across problems, gives each row the bits attention_f32 gives it one problem at a time, on every table;
// rows whose scores leave float32 are flagged, problems past the direct path refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_tester.hpp"
#include "reference.hpp"

namespace {

using attnkit::kernels::Attention;
using attnkit::kernels::AttentionHeads;
using attnkit::kernels::KernelTable;
using attnkit::test::all_tables;
using attnkit::test::sizes_for;

struct Layout {  // Module's: q|k|v (batch, n, 3·heads·hd), context (batch, n, heads·hd)
  std::size_t batch, heads, n, hd;
  bool causal;
};

// Runs both ways on the same inputs; returns the flagged counts (heads, per problem) through the pointers.
void run(const KernelTable& t, const Layout& l, const std::vector<float>& qkv, std::vector<float>& together,
         std::vector<float>& apart, std::size_t* flagged_together, std::size_t* flagged_apart) {
  const std::size_t D = l.heads * l.hd, ld = 3 * D;
  Attention a;
  a.q = qkv.data(), a.ld_q = ld, a.k = qkv.data() + D, a.ld_k = ld, a.v = qkv.data() + 2 * D, a.ld_v = ld;
  a.ld_out = D, a.n_q = a.n_k = l.n, a.d = l.hd, a.scale = 1.0f / std::sqrt(float(l.hd)), a.causal = l.causal;
  together.assign(l.batch * l.n * D, -7.0f);
  apart = together;
  AttentionHeads h;
  h.t = a, h.t.out = together.data(), h.batch = l.batch, h.heads = l.heads, h.head_step = l.hd;
  *flagged_together = t.attention_heads_f32(h);
  *flagged_apart = 0;
  for (std::size_t b = 0; b < l.batch; ++b)
    for (std::size_t hh = 0; hh < l.heads; ++hh) {
      Attention one = a;
      const std::size_t at = b * l.n * ld + hh * l.hd;
      one.q += at, one.k += at, one.v += at, one.out = apart.data() + b * l.n * D + hh * l.hd;
      *flagged_apart += t.attention_f32(one, 0, l.n);
    }
}

TEST(AttentionHeads, SameBitsAsOneProblemAtATime) {
  ref::Rng rng(11);
  for (const KernelTable* t : all_tables())
    for (std::size_t n : sizes_for(*t))
      for (const Layout base : {Layout{2, 2, 0, 1, true}, Layout{3, 4, 0, 5, false}, Layout{1, 3, 0, 16, true},
                                Layout{2, 1, 0, 17, true}})  // head size 17: past the direct path
      {
        Layout l = base;
        l.n = n;
        std::vector<float> qkv(l.batch * n * 3 * l.heads * l.hd);
        for (auto& e : qkv) e = float(rng.uniform(-3.0, 3.0));
        std::vector<float> together, apart;
        std::size_t ft = 0, fa = 0;
        run(*t, l, qkv, together, apart, &ft, &fa);
        if (l.hd > 16 || n > 64) {  // past the direct path (head size 17, more than 64 keys): refused whole
          EXPECT_EQ(ft, l.batch * l.heads * n);
          continue;
        }
        EXPECT_EQ(ft, 0u);
        EXPECT_EQ(fa, 0u);
        ASSERT_EQ(std::memcmp(together.data(), apart.data(), together.size() * sizeof(float)), 0)
            << t->isa << " batch " << l.batch << " heads " << l.heads << " n " << n << " hd " << l.hd;
      }
}

TEST(AttentionHeads, OverflowingRowsAreFlagged) {
  for (const KernelTable* t : all_tables()) {
    const Layout l{2, 2, 6, 1, true};
    std::vector<float> qkv(2 * 6 * 3 * 2, 0.5f);
    // Batch 1, head 0, token 3: its query and key 3e30 give a score of 9e60 (inf in float32) on its own key.
    const std::size_t at = (1 * 6 + 3) * 6;
    qkv[at + 0] = 3e30f;  // q
    qkv[at + 2] = 3e30f;  // k
    std::vector<float> together, apart;
    std::size_t ft = 0, fa = 0;
    run(*t, l, qkv, together, apart, &ft, &fa);
    EXPECT_EQ(ft, fa) << t->isa;
    EXPECT_GE(ft, 1u) << t->isa;
    for (std::size_t i = 0; i < together.size(); ++i)
      EXPECT_EQ(std::isnan(together[i]), std::isnan(apart[i])) << t->isa << " element " << i;
  }
}

}  // namespace
