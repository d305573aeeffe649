// attnkit — everything a user of the C++ library needs.
#pragma once
#include "attnkit/attention.hpp"
#include "attnkit/bench_configs.hpp"
#include "attnkit/decoder.hpp"
#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "attnkit/parallel.hpp"
#include "attnkit/parameters.hpp"
#include "attnkit/peak.hpp"
#include "attnkit/random.hpp"
#include "attnkit/traits.hpp"
#include "attnkit/tensor.hpp"
#include "attnkit/weight_formats.hpp"
