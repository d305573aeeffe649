// attnkit CLI — tensors printed the way PyTorch prints them (default print options: 4 decimals,
// fixed or scientific by the value range, 80 columns, summarised with "..." above 1000 elements),
// so `--format text` reads like the seed's and the book's outputs: tensor([[0.4306, 1.4551], ...]).
#pragma once
#include <string>

#include "attnkit/tensor.hpp"

namespace attnkit::cli {

// "tensor([[0.3190, 0.4858],\n        [0.2943, 0.3897]])" — like print(t) for a float32 tensor
// without grad_fn.
std::string format_tensor(const Tensor& tensor);

// "torch.Size([2, 6, 2])"
std::string format_size(const Shape& shape);

}  // namespace attnkit::cli
