// A decoding step allocates nothing: the cache, scratch and output are sized by begin_decode (core/src/decoder.cpp).
// Counted by counting_malloc.cpp, on every thread, after one warm-up step has started the pool and grown the
// kernels' per-thread buffers (the projections' gemm keeps a thread_local panel buffer).
#include <gtest/gtest.h>

#include "attnkit/attnkit.hpp"
#include "counting_malloc.hpp"

namespace {

TEST(DecodeAllocation, StepsAllocateNothingAndKeepTheirBuffers) {
  for (std::size_t threads : {1, 2}) {
    attnkit::Config c;
    c.mechanism = attnkit::Mechanism::multihead;
    c.d_in = 96;
    c.d_out = 96;
    c.num_heads = 4;
    attnkit::Module module(c);
    attnkit::Decoder decoder = module.begin_decode(700, 1, threads);  // 700: three split-KV chunks
    attnkit::Generator generator(5);
    const attnkit::Tensor x = generator.rand({1, 1, 96});
    // Warm-up: a long step starts the pool (used once the cache is long enough to split) and grows the gemm's
    // per-thread panels; then the cache is rewound and the steps counted.
    const float* address = decoder.step(generator.rand({1, 650, 96})).ptr();
    decoder.rewind(1);
    attnkit_memory::reset_peak();
    const std::size_t before = attnkit_memory::bytes_in_use();
    for (int i = 0; i < 600; ++i) {
      const attnkit::Tensor& context = decoder.step(x);
      ASSERT_EQ(context.ptr(), address);
    }
    EXPECT_EQ(attnkit_memory::allocating_threads(), 0u) << threads << " threads";
    EXPECT_EQ(attnkit_memory::peak_bytes(), before) << threads << " threads";
    EXPECT_EQ(decoder.length(), 601u);
  }
}

}  // namespace
