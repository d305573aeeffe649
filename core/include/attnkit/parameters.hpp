// attnkit — parameters named and laid out as a PyTorch state_dict of the seed's classes.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "attnkit/tensor.hpp"

namespace attnkit {

// In PyTorch's order (the order model.state_dict() lists them).
using StateDict = std::vector<std::pair<std::string, Tensor>>;

// nullptr when absent.
const Tensor* find_parameter(const StateDict& sd, const std::string& name);

}  // namespace attnkit
