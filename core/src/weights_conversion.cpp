// attnkit — nn.MultiheadAttention's and GPT-2's attention weights to and from the book's multihead layout
// (names and shapes: attnkit/weight_formats.hpp). Every key and shape is checked here, in the source format's
// words, so an error names what the user's file holds; Module then loads the book's names.
#include <algorithm>
#include <string>

#include "attnkit/errors.hpp"
#include "module_internal.hpp"
#include "weights_internal.hpp"

namespace attnkit::detail {
namespace {

const char* const kBookQkv[] = {"W_query", "W_key", "W_value"};

// One format's keys under one prefix, with the checks every key goes through.
class Reader {
 public:
  Reader(const char* format, const PrefixedKeys& keys, const std::string& prefix)
      : format_(format), keys_(keys), prefix_(prefix) {}

  std::string key(const std::string& name) const { return printable(prefix_ + name); }

  // Every key must be one of `known`; `unsupported` ones get their own message.
  void check_names(const std::vector<const char*>& known,
                   const std::vector<std::pair<const char*, const char*>>& unsupported,
                   const std::string& expected) const {
    for (const auto& entry : keys_) {
      for (const auto& [name, why] : unsupported)
        if (entry.first == name)
          throw Error(std::string(format_) + " key " + key(entry.first) + " is not supported: " + why);
      if (std::find_if(known.begin(), known.end(), [&](const char* k) { return entry.first == k; }) == known.end())
        throw Error(std::string(format_) + " state_dict has unknown key " + key(entry.first) + "; expected " +
                    expected);
      check_finite(*entry.second, std::string(format_) + " key " + key(entry.first));
    }
  }

  const Tensor* find(const std::string& name) const {
    for (const auto& entry : keys_)
      if (entry.first == name) return entry.second;
    return nullptr;
  }

  const Tensor& require(const std::string& name, const std::string& shape_words) const {
    const Tensor* t = find(name);
    if (!t)
      throw Error(std::string(format_) + " state_dict is missing key " + key(name) + " (expected shape " + shape_words +
                  ")");
    return *t;
  }

  [[noreturn]] void bad_shape(const std::string& name, const Tensor& t, const std::string& expected) const {
    throw Error(std::string(format_) + " key " + key(name) + " has shape " + shape_to_string(t.shape) + "; expected " +
                expected);
  }

  void expect(const std::string& name, const Tensor& t, const Shape& shape, const std::string& words) const {
    if (t.shape != shape) bad_shape(name, t, shape_to_string(shape) + " " + words);
  }

  // A square (E, E) matrix gives E, the embedding size every other shape follows from.
  std::size_t embed_dim(const std::string& name, const std::string& words) const {
    const Tensor& t = require(name, "[E, E] " + words);
    if (t.rank() != 2 || t.shape[0] != t.shape[1] || t.shape[0] == 0)
      bad_shape(name, t, "[E, E] " + words + ", E >= 1");
    return t.shape[0];
  }

  // config.d_in and config.d_out, where given, must be E; both formats have as many key/value heads as query heads.
  void check_config(const Config& c, std::size_t e, const std::string& from) const {
    if (c.kv_heads != 0 && c.kv_heads != c.num_heads)
      throw Error(std::string(format_) +
                  " weights have as many key and value heads as query heads; expected kv_heads " +
                  std::to_string(c.num_heads) + " or 0, got " + std::to_string(c.kv_heads));
    for (const auto& [what, value] : {std::pair<const char*, std::size_t>{"d_in", c.d_in}, {"d_out", c.d_out}})
      if (value != 0 && value != e)
        throw Error(std::string(what) + " (" + std::to_string(value) + ") does not match the " + format_ +
                    " state_dict: " + from + " gives embed_dim " + std::to_string(e) + "; expected " + what + " " +
                    std::to_string(e));
  }

 private:
  const char* format_;
  const PrefixedKeys& keys_;
  const std::string& prefix_;
};

// Rows [begin, end) of a matrix (out, in) or entries of a vector.
Tensor rows(const Tensor& t, std::size_t begin, std::size_t end) {
  const std::size_t width = t.rank() == 2 ? t.shape[1] : 1;
  Shape shape = t.shape;
  shape[0] = end - begin;
  return Tensor(shape, std::vector<float>(t.data.begin() + begin * width, t.data.begin() + end * width));
}

// Columns [begin, end) of a (rows, cols) matrix, transposed: Conv1D's (in, out) slice as nn.Linear's (out, in).
Tensor columns_transposed(const Tensor& t, std::size_t begin, std::size_t end) {
  const std::size_t n_rows = t.shape[0], n_cols = t.shape[1];
  Tensor out(Shape{end - begin, n_rows});
  for (std::size_t r = 0; r < n_rows; ++r)
    for (std::size_t c = begin; c < end; ++c) out.data[(c - begin) * n_rows + r] = t.data[r * n_cols + c];
  return out;
}

// Tensors stacked along their first axis (in_proj_weight from W_query; W_key; W_value).
Tensor stack_rows(const std::vector<const Tensor*>& parts) {
  Shape shape = parts[0]->shape;
  shape[0] = 0;
  std::vector<float> data;
  for (const Tensor* p : parts) {
    shape[0] += p->shape[0];
    data.insert(data.end(), p->data.begin(), p->data.end());
  }
  return Tensor(shape, std::move(data));
}

bool all_zero(const Tensor& t) {
  return std::all_of(t.data.begin(), t.data.end(), [](float v) { return v == 0.0f; });
}

// The book's state_dict in Module's order, from query, key and value weights (d_out, d_in) and their biases.
StateDict book_dict(const Tensor (&weights)[3], const Tensor* biases, const Tensor& out_weight,
                    const Tensor& out_bias) {
  StateDict sd;
  for (std::size_t i = 0; i < 3; ++i) {
    sd.emplace_back(std::string(kBookQkv[i]) + ".weight", weights[i]);
    if (biases) sd.emplace_back(std::string(kBookQkv[i]) + ".bias", biases[i]);
  }
  sd.emplace_back("out_proj.weight", out_weight);
  sd.emplace_back("out_proj.bias", out_bias);
  return sd;
}

// The book's tensors a writer reads; Module::state_dict() always has them (the biases with qkv_bias).
struct BookTensors {
  const Tensor* weight[3] = {};
  const Tensor* bias[3] = {};
  const Tensor* out_weight = nullptr;
  const Tensor* out_bias = nullptr;
  std::size_t e = 0;
};

BookTensors read_book(const Config& c, const StateDict& book, const char* format) {
  BookTensors b;
  auto need = [&](const std::string& name) {
    const Tensor* t = find_parameter(book, name);
    if (!t)
      throw Error(std::string("writing ") + format + " weights needs the book's key " + name +
                  "; expected a multihead state_dict");
    return t;
  };
  for (std::size_t i = 0; i < 3; ++i) {
    b.weight[i] = need(std::string(kBookQkv[i]) + ".weight");
    if (c.qkv_bias) b.bias[i] = need(std::string(kBookQkv[i]) + ".bias");
  }
  b.out_weight = need("out_proj.weight");
  b.out_bias = need("out_proj.bias");
  b.e = b.out_weight->shape.at(0);
  for (std::size_t i = 1; i < 3; ++i)
    if (b.weight[i]->shape.at(0) != b.e)
      throw Error(std::string(format) + " weights have as many key and value heads as query heads; this module's " +
                  kBookQkv[i] + ".weight has shape " + shape_to_string(b.weight[i]->shape) + " (kv_heads " +
                  std::to_string(c.kv_heads) + "), expected " + std::to_string(b.e) + " rows");
  const std::size_t d_in = b.weight[0]->shape.at(1);
  if (d_in != b.e)
    throw Error(std::string(format) +
                " weights need d_in == d_out (its queries have embed_dim features); this module has d_in " +
                std::to_string(d_in) + " and d_out " + std::to_string(b.e));
  return b;
}

}  // namespace

BookWeights torch_mha_to_book(const Config& config, const PrefixedKeys& keys, const std::string& prefix) {
  const Reader r("torch-mha", keys, prefix);
  const char* bias_kv =
      "nn.MultiheadAttention(add_bias_kv=True) appends a learned key and value to every sequence, "
      "which attnkit does not compute; expected a module built with add_bias_kv=False";
  r.check_names(
      {"in_proj_weight", "in_proj_bias", "q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight",
       "out_proj.bias"},
      {{"bias_k", bias_kv},
       {"bias_v", bias_kv},
       {"add_zero_attn",
        "add_zero_attn=True appends a zero key and value, which attnkit does not compute; "
        "expected a module built with add_zero_attn=False"}},
      "in_proj_weight, in_proj_bias (or q_proj_weight, k_proj_weight, v_proj_weight), out_proj.weight, out_proj.bias");
  const std::size_t e = r.embed_dim("out_proj.weight", "(embed_dim, embed_dim)");
  r.check_config(config, e, "out_proj.weight " + shape_to_string(r.find("out_proj.weight")->shape));
  const std::string words = "(embed_dim " + std::to_string(e) + ")";

  Tensor weights[3];
  const Tensor* packed = r.find("in_proj_weight");
  if (packed && r.find("q_proj_weight"))
    throw Error("torch-mha state_dict has both " + r.key("in_proj_weight") + " and " + r.key("q_proj_weight") +
                "; expected one (nn.MultiheadAttention writes q_proj_weight, k_proj_weight, v_proj_weight only when "
                "kdim or vdim differ from embed_dim)");
  if (packed || !r.find("q_proj_weight")) {
    const Tensor& in = r.require("in_proj_weight", shape_to_string({3 * e, e}) + " (3·embed_dim, embed_dim)");
    r.expect("in_proj_weight", in, {3 * e, e}, "(3·embed_dim, embed_dim) " + words);
    for (std::size_t i = 0; i < 3; ++i) weights[i] = rows(in, i * e, (i + 1) * e);
  } else {
    const char* separate[] = {"q_proj_weight", "k_proj_weight", "v_proj_weight"};
    const char* dims[] = {"embed_dim", "kdim", "vdim"};
    for (std::size_t i = 0; i < 3; ++i) {
      const Tensor& w = r.require(separate[i], shape_to_string({e, e}) + " (embed_dim, " + dims[i] + ")");
      if (w.rank() != 2 || w.shape[0] != e || w.shape[1] == 0)
        r.bad_shape(separate[i], w, "[" + std::to_string(e) + ", " + dims[i] + "] " + words);
      const std::size_t given = i == 0 ? config.d_in : i == 1 ? config.k_dim : config.v_dim;
      if (given != 0 && w.shape[1] != given)
        r.bad_shape(
            separate[i], w,
            shape_to_string({e, given}) + " (embed_dim, " + dims[i] + " " + std::to_string(given) + " as configured)");
      if (i == 0 && w.shape[1] != e) r.bad_shape(separate[i], w, shape_to_string({e, e}) + " (embed_dim, embed_dim)");
      weights[i] = w;
    }
  }

  const Tensor* in_bias = r.find("in_proj_bias");
  const Tensor* out_bias = r.find("out_proj.bias");
  if (!in_bias != !out_bias)
    throw Error("torch-mha state_dict has " + r.key(in_bias ? "in_proj_bias" : "out_proj.bias") + " but no " +
                r.key(in_bias ? "out_proj.bias" : "in_proj_bias") +
                "; expected both (nn.MultiheadAttention(bias=True)) or neither (bias=False)");
  if (config.qkv_bias && !in_bias)
    throw Error("qkv_bias is on but the torch-mha state_dict has no " + r.key("in_proj_bias") +
                " (nn.MultiheadAttention(bias=False)); expected qkv_bias off, or a state_dict with in_proj_bias");
  Tensor biases[3];
  if (in_bias) {
    r.expect("in_proj_bias", *in_bias, {3 * e}, "(3·embed_dim) " + words);
    r.expect("out_proj.bias", *out_bias, {e}, "(embed_dim) " + words);
    for (std::size_t i = 0; i < 3; ++i) biases[i] = rows(*in_bias, i * e, (i + 1) * e);
  }

  BookWeights book;
  book.format = WeightsFormat::torch_mha;
  book.config = config;
  book.config.d_in = book.config.d_out = e;
  // kdim and vdim (nn.MultiheadAttention's cross-attention widths) as the key and value inputs' features.
  book.config.k_dim = weights[1].shape[1] == e ? config.k_dim : weights[1].shape[1];
  book.config.v_dim = weights[2].shape[1] == e ? config.v_dim : weights[2].shape[1];
  if (packed) {
    for (const auto& [what, value] :
         {std::pair<const char*, std::size_t>{"k_dim", config.k_dim}, {"v_dim", config.v_dim}})
      if (value != 0 && value != e)
        throw Error(std::string(what) + " (" + std::to_string(value) + ") does not match the torch-mha key " +
                    r.key("in_proj_weight") + " of shape " + shape_to_string(packed->shape) +
                    ", whose keys and values have embed_dim " + std::to_string(e) + " features; expected " + what +
                    " " + std::to_string(e) + " or 0");
  }
  book.config.qkv_bias = in_bias != nullptr;
  book.config.causal = config.causal.value_or(false);  // nn.MultiheadAttention masks only what attn_mask says
  book.state_dict = book_dict(weights, in_bias ? biases : nullptr, *r.find("out_proj.weight"),
                              out_bias ? *out_bias : Tensor(Shape{e}));
  return book;
}

BookWeights gpt2_to_book(const Config& config, const PrefixedKeys& keys, const std::string& prefix) {
  const Reader r("gpt2", keys, prefix);
  r.check_names({"c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias", "bias", "masked_bias"}, {},
                "c_attn.weight, c_attn.bias, c_proj.weight, c_proj.bias and the buffers bias, masked_bias");
  const std::size_t e = r.embed_dim("c_proj.weight", "(n_embd, n_embd), Conv1D");
  r.check_config(config, e, "c_proj.weight " + shape_to_string(r.find("c_proj.weight")->shape));
  const std::string words = "(n_embd " + std::to_string(e) + ")";
  for (const auto& [what, value] :
       {std::pair<const char*, std::size_t>{"k_dim", config.k_dim}, {"v_dim", config.v_dim}})
    if (value != 0 && value != e)
      throw Error(std::string(what) + " (" + std::to_string(value) +
                  ") does not match the gpt2 state_dict: GPT-2's self-attention "
                  "keys and values have n_embd " +
                  std::to_string(e) + " features; expected " + what + " " + std::to_string(e) + " or 0");
  if (config.num_heads == 0)
    throw Error(
        "num_heads is required for gpt2 weights: GPT-2's n_head is not in its state_dict (GPT-2 small has 12); "
        "expected a head count dividing n_embd (" +
            std::to_string(e) + ")",
        ErrorKind::range);
  if (config.causal && !*config.causal)
    throw Error("gpt2 attention is causal (its bias buffer is the causal mask); expected causal on or unset");

  const Tensor& attn = r.require("c_attn.weight", shape_to_string({e, 3 * e}));
  r.expect("c_attn.weight", attn, {e, 3 * e}, "(n_embd, 3·n_embd), Conv1D layout " + words);
  const Tensor& attn_bias = r.require("c_attn.bias", shape_to_string({3 * e}));
  r.expect("c_attn.bias", attn_bias, {3 * e}, "(3·n_embd) " + words);
  const Tensor& proj_bias = r.require("c_proj.bias", shape_to_string({e}));
  r.expect("c_proj.bias", proj_bias, {e}, "(n_embd) " + words);

  BookWeights book;
  book.format = WeightsFormat::gpt2;
  book.config = config;
  book.config.d_in = book.config.d_out = e;
  book.config.qkv_bias = true;
  book.config.causal = true;
  if (const Tensor* mask = r.find("bias")) {
    // The causal mask of n_positions tokens (HF saves it as bool or uint8; here 1 = may attend).
    const std::size_t n = mask->rank() == 4 ? mask->shape[2] : 0;
    if (mask->rank() != 4 || mask->shape[0] != 1 || mask->shape[1] != 1 || mask->shape[3] != n || n == 0)
      r.bad_shape("bias", *mask, "[1, 1, n_positions, n_positions] (the causal mask buffer)");
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        const float want = j <= i ? 1.0f : 0.0f, got = mask->data[i * n + j];
        if (got != want)
          throw Error("gpt2 key " + r.key("bias") + " is not the causal mask: entry [0, 0, " + std::to_string(i) +
                      ", " + std::to_string(j) + "] is " + format_number(got) + ", expected " + format_number(want) +
                      " (lower-triangular ones; attnkit computes GPT-2's causal attention only)");
      }
    if (config.context_length != 0 && config.context_length != n)
      throw Error("context_length (" + std::to_string(config.context_length) + ") does not match the gpt2 key " +
                  r.key("bias") + " of shape " + shape_to_string(mask->shape) + "; expected context_length " +
                  std::to_string(n) + " (n_positions) or unset");
    book.config.context_length = n;
  }
  // A legacy constant (-1e4) GPT-2 once filled masked scores with; the mask here is −inf, so only its shape is checked.
  if (const Tensor* masked = r.find("masked_bias"))
    if (masked->numel() != 1 || masked->rank() > 1) r.bad_shape("masked_bias", *masked, "[] (a scalar, ignored)");

  Tensor weights[3], biases[3];
  for (std::size_t i = 0; i < 3; ++i) {
    weights[i] = columns_transposed(attn, i * e, (i + 1) * e);
    biases[i] = rows(attn_bias, i * e, (i + 1) * e);
  }
  const Tensor& proj = *r.find("c_proj.weight");
  book.state_dict = book_dict(weights, biases, columns_transposed(proj, 0, e), proj_bias);
  return book;
}

StateDict book_to_torch_mha(const Config& config, const StateDict& book, const std::string& prefix) {
  const BookTensors b = read_book(config, book, "torch-mha");
  StateDict sd;
  if (b.weight[1]->shape[1] == b.e && b.weight[2]->shape[1] == b.e) {
    sd.emplace_back(prefix + "in_proj_weight", stack_rows({b.weight[0], b.weight[1], b.weight[2]}));
  } else {  // kdim or vdim other than embed_dim: nn.MultiheadAttention keeps the three apart
    for (std::size_t i = 0; i < 3; ++i) sd.emplace_back(prefix + "qkv"[i] + "_proj_weight", *b.weight[i]);
  }
  // nn.MultiheadAttention's one bias flag covers both: bias=False when neither is there.
  const bool bias = config.qkv_bias || !all_zero(*b.out_bias);
  if (bias) {
    const Tensor zeros(Shape{b.e});
    sd.emplace_back(prefix + "in_proj_bias", config.qkv_bias ? stack_rows({b.bias[0], b.bias[1], b.bias[2]})
                                                             : stack_rows({&zeros, &zeros, &zeros}));
  }
  sd.emplace_back(prefix + "out_proj.weight", *b.out_weight);
  if (bias) sd.emplace_back(prefix + "out_proj.bias", *b.out_bias);
  return sd;
}

StateDict book_to_gpt2(const Config& config, const StateDict& book, const std::string& prefix) {
  const BookTensors b = read_book(config, book, "gpt2");
  for (std::size_t i = 1; i < 3; ++i)
    if (b.weight[i]->shape[1] != b.e)
      throw Error(std::string("gpt2 weights are self-attention: keys and values have n_embd features; this module's ") +
                  kBookQkv[i] + ".weight has shape " + shape_to_string(b.weight[i]->shape) + ", expected " +
                  shape_to_string({b.e, b.e}));
  if (!config.causal.value_or(true))
    throw Error("gpt2 weights are a causal block; this module is not causal (expected causal on to write gpt2)");
  const std::size_t e = b.e, n = config.context_length;
  StateDict sd;
  if (n != 0) {  // the legacy buffers, as GPT2Attention registers them, first
    Tensor mask(Shape{1, 1, n, n});
    for (std::size_t i = 0; i < n; ++i) std::fill(mask.data.begin() + i * n, mask.data.begin() + i * n + i + 1, 1.0f);
    sd.emplace_back(prefix + "bias", std::move(mask));
    sd.emplace_back(prefix + "masked_bias", Tensor(Shape{}, {-1e4f}));
  }
  Tensor attn(Shape{e, 3 * e}), attn_bias(Shape{3 * e});
  for (std::size_t i = 0; i < 3; ++i) {
    const Tensor& w = *b.weight[i];  // (E out, E in) → columns [i·E, (i+1)·E) of (E in, 3E out)
    for (std::size_t out = 0; out < e; ++out)
      for (std::size_t in = 0; in < e; ++in) attn.data[in * 3 * e + i * e + out] = w.data[out * e + in];
    if (config.qkv_bias) std::copy(b.bias[i]->data.begin(), b.bias[i]->data.end(), attn_bias.data.begin() + i * e);
  }
  sd.emplace_back(prefix + "c_attn.weight", std::move(attn));
  sd.emplace_back(prefix + "c_attn.bias", std::move(attn_bias));
  sd.emplace_back(prefix + "c_proj.weight", columns_transposed(*b.out_weight, 0, e));
  sd.emplace_back(prefix + "c_proj.bias", *b.out_bias);
  return sd;
}

}  // namespace attnkit::detail
