// attnkit — multihead weights in the formats people have: the book's MultiHeadAttention, PyTorch's
// nn.MultiheadAttention and GPT-2's attention block, read into (and written from) the book's layout.
//
//   book       W_query.weight (d_out, d_in) [.bias], W_key.*, W_value.*, out_proj.weight (d_out, d_out), out_proj.bias
//   torch-mha  in_proj_weight (3E, E) = W_query; W_key; W_value stacked, in_proj_bias (3E), out_proj.weight (E, E),
//              out_proj.bias (E); or q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim) when
//              kdim/vdim differ from E (read as Config::k_dim, v_dim).
//              nn.MultiheadAttention(bias=False) has neither bias (out_proj.bias is then zero). bias_k, bias_v and
//              add_zero_attn are not supported (an error naming the key). Not causal unless Config::causal says so:
//              nn.MultiheadAttention has no causal mask of its own.
//   gpt2       c_attn.weight (E, 3E) and c_proj.weight (E, E) in Conv1D layout (y = x·W + b: the transpose of
//              nn.Linear's), c_attn.bias (3E) = query | key | value, c_proj.bias (E); optionally the legacy buffers
//              bias (1, 1, n_positions, n_positions), which must be the lower-triangular causal mask and gives
//              context_length, and masked_bias (a scalar, ignored: the mask is applied as −inf). Always causal. The
//              head count (GPT-2's n_head) is not in the state_dict: Config::num_heads must be given.
//
// A prefix (e.g. "h.0.attn." for one block of GPT2Model.state_dict()) selects the keys that start with it; keys
// outside it are ignored, and no key under it is an error. Formats other than book apply to multihead only.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "attnkit/mechanisms.hpp"
#include "attnkit/parameters.hpp"

namespace attnkit {

enum class WeightsFormat : int { automatic, book, torch_mha, gpt2 };  // declared in mechanisms.hpp for Module

const std::vector<WeightsFormat>& all_weights_formats();  // automatic first
const char* weights_format_name(WeightsFormat format);    // "auto", "book", "torch-mha", "gpt2"
// Throws Error listing the names: "unknown weights format 'hf'; expected one of auto, book, torch-mha, gpt2".
WeightsFormat parse_weights_format(std::string_view name);

// The format the key names under `prefix` say (never automatic): in_proj_weight or q_proj_weight → torch-mha,
// c_attn.weight → gpt2, W_query… or heads.… → book. Throws Error listing the keys seen when none or two match,
// or when no key starts with the prefix.
WeightsFormat detect_weights_format(const StateDict& state_dict, const std::string& prefix = "");

// A state_dict in `format` as the book's layout, with the config it implies.
struct BookWeights {
  WeightsFormat format = WeightsFormat::book;  // the format read (detected for automatic)
  Config config;                               // the caller's, with what the state_dict says filled in and checked
  StateDict state_dict;  // the book's names (the prefix removed); Module(config, state_dict) loads it
};

// Checks every key and shape in the source format's words (Error naming the format, the key, the shape found and
// the shape expected). config.d_in and config.d_out, when not 0, must agree with the state_dict; when 0 they are
// taken from it. torch-mha and gpt2 set qkv_bias from the state_dict (config.qkv_bias on without a bias there is
// an error; book multihead takes d_in, d_out, k_dim, v_dim, kv_heads, qkv_bias and context_length from W_query.*,
// W_key, W_value and mask where the config leaves them 0 or off); torch-mha leaves causal unset as false, gpt2 sets it
// (causal off is an error) and takes context_length from its bias buffer. book passes the keys through (Module checks
// them). config.mechanism must be multihead for torch-mha and gpt2 (the traits table's weights_formats).
BookWeights weights_to_book(const Config& config, const StateDict& state_dict,
                            WeightsFormat format = WeightsFormat::automatic, const std::string& prefix = "");

// A book multihead state_dict (Module::state_dict()) written in `format`, each key prefixed. torch-mha writes
// in_proj_bias and out_proj.bias when qkv_bias is on, neither when it is off and out_proj.bias is zero (bias=False),
// and zero in_proj_bias otherwise; gpt2 needs d_in == d_out and a causal config, writes zero c_attn.bias without
// qkv_bias, and the bias / masked_bias buffers when context_length is set.
StateDict weights_from_book(const Config& config, const StateDict& book, WeightsFormat format,
                            const std::string& prefix = "");

}  // namespace attnkit
