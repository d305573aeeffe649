#include "attnkit/mechanisms.hpp"
#include "kernels/kernels.hpp"

#ifndef ATTNKIT_VERSION
#define ATTNKIT_VERSION "0.0.0"
#endif

namespace attnkit {

const char* version() { return ATTNKIT_VERSION; }
const char* simd_instruction_set() { return kernels::table().isa; }

}  // namespace attnkit
