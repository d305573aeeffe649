// attnkit CLI — JSON in and out: the input {"x": ...}, a PyTorch state_dict, and tensors as nested lists.
// Every malformed input becomes an attnkit::Error with one line naming the tensor, the index and the
// expected value, so the CLI can answer it with exit code 2.
#pragma once
#include <cmath>
#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "attnkit/attnkit.hpp"

namespace attnkit::cli {

// ordered_json keeps a state_dict's keys in the file's order, which is PyTorch's order.
using Json = nlohmann::ordered_json;

// Deepest nesting accepted. The deepest valid document is {"x": [[[n]]]} (4 levels); the limit is
// checked before nlohmann sees the text, so 100 000 '[' cannot exhaust the stack.
constexpr std::size_t kMaxJsonDepth = 64;
// Largest input or weights document read (512 MiB). A regular file is refused from its size before
// reading, a pipe or device once it passes this many bytes. Parsed, every number takes ~16 bytes
// whatever its length (measured: 66 MB of 8-digit numbers peaked at 266 MB, 15 MB of "1," at 213 MB).
constexpr std::size_t kMaxJsonBytes = std::size_t(512) << 20;

// One rule for numbers beyond float32, on every interface (docs/reliability.md §1): refused exactly when the
// float32 conversion (round to nearest) is ±inf, i.e. |value| >= 2^128 - 2^103 = 3.4028235677973366e+38;
// 3.4028235e38 rounds to FLT_MAX and is kept. kFloat32Range is the "expected ..." part of the message.
inline bool rounds_to_float32_inf(double value) { return std::isinf(static_cast<float>(value)); }
extern const char* const kFloat32Range;

// Reads a whole file, or standard input for "-", up to kMaxJsonBytes; a NUL byte is an error (JSON has
// none). `what` names it in errors ("--input", "--weights").
std::string read_source(const std::string& path, std::istream& stdin_stream, const std::string& what);

// Parses `text` as JSON. Python's json.dump writes NaN, Infinity and -Infinity as bare words; they are
// read as the strings "NaN", "Infinity", "-Infinity" so the tensor reader can name their index.
Json parse_json(std::string text, const std::string& what);

// A nested list of numbers → a float32 tensor of any rank (a bare number has rank 0). `name` appears in
// every error: "x is ragged: the list at index [1] has 2 elements, expected 3 (as at index [0])".
// With `booleans`, true and false read as 1 and 0 (PyTorch's bool buffers, e.g. GPT-2's causal `bias`).
Tensor tensor_from_json(const Json& value, const std::string& name, bool booleans = false);

// {"x": [[...]]} (tokens × d_in) or {"x": [[[...]]]} (batch × tokens × d_in), every size ≥ 1.
Tensor input_from_json(const Json& document);

// A mask as a nested list of all booleans or all numbers ("-inf" allowed) → AttentionMask (boolean: 1 for true),
// any rank; `name` and what true means ("true = may attend") appear in errors.
AttentionMask mask_from_json(const Json& value, const std::string& name, const std::string& true_means);

// {"x": …, "kv"?: …, "key_padding_mask"?: …, "attn_mask"?: …}: the inputs of `attnkit run` (run_inputs.cpp).
struct RunInputs {
  Tensor x;
  std::optional<Tensor> kv;                                  // (b, n_k, k_dim): cross-attention
  std::optional<Tensor> value;                               // (b, n_k, v_dim): W_value's input when not kv
  std::optional<AttentionMask> key_padding_mask, attn_mask;  // nn.MultiheadAttention's sense: true = may not attend
};
RunInputs run_inputs_from_json(const Json& document);

// {"W_query.weight": [[...]], ...} in the file's order, every key kept, booleans as 1 and 0. PyTorch also saves the
// causal `mask` buffer ("mask", "heads.0.mask"): the Module checks it belongs to the mechanism and has size
// context_length; the first one's size is returned in mask_size (0 when absent or not square) as the
// default context_length.
// "mask" or "heads.<digits>.mask": the book's causal classes' mask buffer.
bool is_mask_buffer_name(const std::string& key);

StateDict state_dict_from_json(const Json& document, std::size_t* mask_size = nullptr);

// Appends a tensor as nested lists with the shortest text that reads back to the same float32
// (std::to_chars); ±inf and NaN, which JSON cannot hold, are written as the strings "-inf", "inf", "nan".
void append_tensor(std::string& out, const Tensor& tensor);
void append_shape(std::string& out, const Shape& shape);
// A JSON string literal with the needed escapes.
void append_string(std::string& out, const std::string& text);

// "[0, 2, 1]"
std::string index_to_string(const std::vector<std::size_t>& index);

}  // namespace attnkit::cli
