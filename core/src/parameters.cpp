#include "attnkit/parameters.hpp"

namespace attnkit {

const Tensor* find_parameter(const StateDict& sd, const std::string& name) {
  for (const auto& [key, value] : sd)
    if (key == name) return &value;
  return nullptr;
}

}  // namespace attnkit
