// attnkit — what weight_formats.cpp (names, detection, the prefix) and weights_conversion.cpp (the layouts) share.
// Internal to core.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "attnkit/weight_formats.hpp"

namespace attnkit::detail {

// The keys under the prefix, the prefix removed, in the state_dict's order.
using PrefixedKeys = std::vector<std::pair<std::string, const Tensor*>>;

// Each reads its format (keys as above; `prefix` only names the full key in errors) into the book's layout.
BookWeights torch_mha_to_book(const Config& config, const PrefixedKeys& keys, const std::string& prefix);
BookWeights gpt2_to_book(const Config& config, const PrefixedKeys& keys, const std::string& prefix);
// A book multihead state_dict in the other formats, keys prefixed.
StateDict book_to_torch_mha(const Config& config, const StateDict& book, const std::string& prefix);
StateDict book_to_gpt2(const Config& config, const StateDict& book, const std::string& prefix);

}  // namespace attnkit::detail
