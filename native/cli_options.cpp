// attnkit CLI — option values: parsed by hand so each error names the option and what it accepts.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "cli.hpp"

namespace attnkit::cli {
namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// d_out and the head count a state_dict implies, when the shapes say so; the core checks the rest.
// W_query is where d_out is read: when it is there but not a matrix of d_in columns (rows for
// self-v1), the error names the shape found, not the missing --d-out.
void infer_from_weights(Mechanism m, const StateDict& sd, std::size_t d_in, std::optional<std::size_t>& d_out,
                        std::size_t& heads, bool& qkv_bias) {
  if (m == Mechanism::multihead_wrapper) {
    std::set<std::size_t> seen;
    for (const auto& [name, tensor] : sd) {
      const auto dot = name.find('.', 6);
      // Heads are counted from parameters; a stray heads.<h>.mask is then the core's unknown key.
      const bool mask = name.size() > 5 && name.compare(name.size() - 5, 5, ".mask") == 0;
      if (!mask && name.rfind("heads.", 0) == 0 && dot != std::string::npos && all_digits(name.substr(6, dot - 6))) {
        seen.insert(std::strtoull(name.c_str() + 6, nullptr, 10));
      }
    }
    if (!seen.empty()) heads = seen.size();
  }
  if (m == Mechanism::simplified) return;
  const bool v1 = m == Mechanism::self_v1;
  const std::string name =
      (m == Mechanism::multihead_wrapper ? "heads.0." : "") + std::string(v1 ? "W_query" : "W_query.weight");
  const Tensor* w = find_parameter(sd, name);
  if (w && !d_out) {
    // self-v1 holds W_query as (d_in, d_out) like x @ W; nn.Linear as (d_out, d_in).
    const std::size_t in_axis = v1 ? 0 : 1;
    if (w->rank() != 2 || w->shape[in_axis] != d_in || w->shape[1 - in_axis] == 0) {
      const std::string d = std::to_string(d_in);
      throw Error("state_dict key " + name + " has shape " + shape_to_string(w->shape) + "; expected " +
                  (v1 ? "[" + d + ", d_out]" : "[d_out, " + d + "]") + " (d_in = " + d + " from x, d_out >= 1)");
    }
    d_out = w->shape[1 - in_axis];
  }
  if (!v1 && find_parameter(sd, (m == Mechanism::multihead_wrapper ? "heads.0." : "") + std::string("W_query.bias")))
    qkv_bias = true;
}

}  // namespace

std::size_t parse_count(const std::string& option, const std::string& text, std::size_t min, std::size_t max) {
  const std::string expected = "; expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (text.empty()) throw Error(option + " is empty" + expected);
  if (!all_digits(text)) throw Error(option + " must be an integer, got " + quoted(text) + expected);
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE || value < min || value > max) {
    throw Error(option + " is " + text + expected, ErrorKind::range);
  }
  return static_cast<std::size_t>(value);
}

std::uint64_t parse_seed(const std::string& text) {
  if (text.empty()) throw Error("--seed is empty; expected an integer from 0 to 18446744073709551615");
  errno = 0;
  const unsigned long long value = all_digits(text) ? std::strtoull(text.c_str(), nullptr, 10) : 0;
  if (!all_digits(text) || errno == ERANGE) {
    throw Error("--seed must be an integer from 0 to 18446744073709551615, got " + quoted(text));
  }
  return value;
}

double parse_dropout(const std::string& text) {
  if (text.empty()) throw Error("--dropout is empty; expected a number in [0, 1)");
  char* end = nullptr;
  errno = 0;
  const double p = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || std::isspace(static_cast<unsigned char>(text[0]))) {
    throw Error("--dropout must be a number in [0, 1), got " + quoted(text));
  }
  // Kept as a double, as PyTorch keeps p: 0.99999999 is below 1 and valid (as float32 it would round to 1).
  if (!(p >= 0.0 && p < 1.0)) throw Error("--dropout is " + text + "; expected a number in [0, 1)", ErrorKind::range);
  return p;
}

Format parse_format(const std::string& text) {
  if (text.empty()) throw Error("--format is empty; expected json or text");
  if (text == "json") return Format::json;
  if (text == "text") return Format::text;
  throw Error("unknown --format " + quoted(text) + "; expected json or text");
}

CausalRoute parse_causal_route(const std::string& text) {
  if (text == "neg-inf") return CausalRoute::neg_inf;
  if (text.empty()) throw Error("--causal-route is empty; expected neg-inf or renormalise");
  // One spelling, the one the JS package and the docs use (British, as in the seed).
  if (text == "renormalise") return CausalRoute::renormalise;
  throw Error("unknown --causal-route " + quoted(text) + "; expected neg-inf or renormalise");
}

Config make_config(const RunOptions& o, const Tensor& x, const StateDict* state_dict, std::size_t mask_size,
                   const Tensor* kv, const Tensor* value) {
  Config c;
  c.mechanism = parse_mechanism(o.mechanism);
  c.d_in = x.shape.back();
  std::optional<std::size_t> d_out = o.d_out;
  std::size_t heads = 1;
  bool qkv_bias = o.qkv_bias;
  if (state_dict) infer_from_weights(c.mechanism, *state_dict, c.d_in, d_out, heads, qkv_bias);
  if (o.heads) heads = *o.heads;
  if (!d_out && option_applies(c.mechanism, "d_out")) {
    if (state_dict) {
      throw Error(std::string("--d-out is required for mechanism ") + mechanism_name(c.mechanism) +
                  " when the state_dict has no " + (c.mechanism == Mechanism::multihead_wrapper ? "heads.0." : "") +
                  (c.mechanism == Mechanism::self_v1 ? "W_query" : "W_query.weight") +
                  " to take it from; expected --d-out N");
    }
    throw Error(std::string("--d-out is required for mechanism ") + mechanism_name(c.mechanism) +
                "; expected a positive integer (the book uses --d-out 2), or --weights to take it from W_query");
  }
  c.d_out = d_out.value_or(0);
  c.num_heads = heads;
  // Cross-attention and grouped-query widths: the options, else (with kv) the weights' W_key / W_value, else kv's
  // width.
  std::optional<std::size_t> kv_heads = o.kv_heads, k_dim = o.k_dim, v_dim = o.v_dim;
  const Tensor* w_key = state_dict ? find_parameter(*state_dict, "W_key.weight") : nullptr;
  const Tensor* w_value = state_dict ? find_parameter(*state_dict, "W_value.weight") : nullptr;
  // Without kv, W_key and W_value read x: a W_key of another width is then the core's shape error, not a k_dim.
  if (option_applies(c.mechanism, "k_dim") && kv && kv->rank() >= 1) {
    if (!k_dim) k_dim = w_key && w_key->rank() == 2 ? w_key->shape[1] : kv->shape.back();
    if (!v_dim)
      v_dim = w_value && w_value->rank() == 2 ? w_value->shape[1]
              : value && value->rank() >= 1   ? value->shape.back()
                                              : kv->shape.back();
  }
  if (option_applies(c.mechanism, "kv_heads") && !kv_heads && w_key && w_key->rank() == 2 && c.d_out && heads &&
      c.d_out % heads == 0) {
    const std::size_t head_dim = c.d_out / heads;
    if (head_dim && w_key->shape[0] % head_dim == 0 && w_key->shape[0] != c.d_out)
      kv_heads = w_key->shape[0] / head_dim;
  }
  // The same as the default is left unset (0), so the config reads as the book's.
  c.kv_heads = kv_heads && *kv_heads != heads ? *kv_heads : 0;
  c.k_dim = k_dim && *k_dim != c.d_in ? *k_dim : 0;
  c.v_dim = v_dim && *v_dim != c.d_in ? *v_dim : 0;
  const std::size_t n_k = kv && kv->rank() >= 2 ? kv->shape[kv->rank() - 2] : 0;
  c.context_length = o.context_length.value_or(mask_size ? mask_size : std::max(x.shape[x.rank() - 2], n_k));
  c.causal = o.causal;
  c.qkv_bias = qkv_bias;
  c.dropout = o.dropout;
  c.seed = o.seed;
  c.causal_route = o.causal_route;
  return c;
}

}  // namespace attnkit::cli
