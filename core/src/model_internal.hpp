// attnkit — what the model's files share (core/src/model.cpp, model_bytes.cpp).
#pragma once
#include "attnkit/model.hpp"

namespace attnkit::detail {

ModelConfig resolve_model_config(ModelConfig config);      // the task's defaults filled in, or Error
Config model_attention_config(const ModelConfig& config);  // the one multihead layer's Config

}  // namespace attnkit::detail
