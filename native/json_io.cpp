// attnkit CLI — JSON ⇄ Tensor / StateDict.
#include "json_io.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <istream>
#include <limits>

namespace attnkit::cli {

const char* const kFloat32Range =
    "expected |value| < 3.4028235677973366e+38 (float32's largest finite value is 3.4028234663852886e+38)";

namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string too_large(const std::string& what, const std::string& size) {
  return what + " is " + size + "; expected at most " + std::to_string(kMaxJsonBytes) + " bytes (" +
         std::to_string(kMaxJsonBytes >> 20) + " MiB, the largest JSON document attnkit reads)";
}

// A NUL byte ends the text for nlohmann (what follows would be ignored); JSON has none, inside strings either.
void check_no_nul(const char* data, std::size_t size, std::size_t offset, const std::string& what) {
  if (const void* nul = std::memchr(data, '\0', size)) {
    const std::size_t at = offset + static_cast<std::size_t>(static_cast<const char*>(nul) - data);
    throw Error(what + " holds a NUL byte at byte " + std::to_string(at) + "; expected JSON text (no NUL bytes)");
  }
}

// Reads at most kMaxJsonBytes: a pipe or a device such as /dev/zero is refused as soon as it passes the
// limit (or shows a NUL byte), without buffering more.
std::string read_stream(std::istream& in, const std::string& what, std::size_t expected_size = 0) {
  std::string text;
  text.reserve(expected_size);
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof buffer);
    const auto got = static_cast<std::size_t>(in.gcount());
    check_no_nul(buffer, got, text.size(), what);
    if (text.size() + got > kMaxJsonBytes) {
      throw Error(too_large(what, "longer than " + std::to_string(kMaxJsonBytes) + " bytes"), ErrorKind::range);
    }
    text.append(buffer, got);
  }
  if (in.bad()) throw Error("cannot read " + what + ": read error");
  return text;
}

// Which bare word of Python's json.dump starts at text[i], if any.
const char* python_non_finite_at(const std::string& text, std::size_t i) {
  for (const char* word : {"NaN", "Infinity", "-Infinity"}) {
    if (text.compare(i, std::strlen(word), word) == 0) return word;
  }
  return nullptr;
}

std::string kind_of(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string (\"" + v.get_ref<const std::string&>().substr(0, 20) + "\")";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "a list";
    default: return "a number";
  }
}

// Walks a nested list once, checking every list against the shape its first elements promise.
class TensorReader {
 public:
  TensorReader(const std::string& name, bool booleans) : name_(name), booleans_(booleans) {}

  Tensor read(const Json& value) {
    for (const Json* p = &value; p->is_array(); p = &(*p)[0]) {
      shape_.push_back(p->size());
      if (p->empty()) break;
    }
    visit(value, 0);
    return Tensor(shape_, std::move(data_));
  }

 private:
  const std::string& name_;
  const bool booleans_;
  Shape shape_;
  std::vector<float> data_;
  std::vector<std::size_t> index_;

  std::string at() const { return "at index " + index_to_string(index_); }
  // Where the reader learnt the expected shape: the same position with every index 0.
  std::string as_at() const {
    return "(as at index " + index_to_string(std::vector<std::size_t>(index_.size(), 0)) + ")";
  }

  void visit(const Json& v, std::size_t depth) {
    if (depth == shape_.size()) return number(v);
    if (!v.is_array()) {
      throw Error(name_ + " is ragged: the element " + at() + " is " + kind_of(v) + ", expected a list of " +
                  std::to_string(shape_[depth]) + " " + as_at());
    }
    if (v.size() != shape_[depth]) {
      throw Error(name_ + " is ragged: the list " + at() + " has " + std::to_string(v.size()) +
                  (v.size() == 1 ? " element" : " elements") + ", expected " + std::to_string(shape_[depth]) + " " +
                  as_at());
    }
    index_.push_back(0);
    for (std::size_t i = 0; i < v.size(); ++i) {
      index_.back() = i;
      visit(v[i], depth + 1);
    }
    index_.pop_back();
  }

  void number(const Json& v) {
    if (booleans_ && v.is_boolean()) {
      data_.push_back(v.get<bool>() ? 1.0f : 0.0f);
      return;
    }
    if (v.is_number()) {
      const double d = v.get<double>();
      if (rounds_to_float32_inf(d)) {
        char text[32];
        const auto end = std::to_chars(text, text + sizeof text, d).ptr;
        throw Error(name_ + " " + at() + " is too large for float32 (" + std::string(text, end) + " rounds to inf); " +
                        kFloat32Range,
                    ErrorKind::range);
      }
      data_.push_back(static_cast<float>(d));
      return;
    }
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      if (s == "NaN" || s == "Infinity" || s == "-Infinity") {
        throw Error(name_ + " contains " + (s == "NaN" ? std::string("NaN") : s) + " " + at() +
                    "; expected finite numbers");
      }
    }
    if (v.is_array()) {
      throw Error(name_ + " is ragged: the element " + at() + " is a list, expected a number " + as_at());
    }
    throw Error(name_ + " " + at() + " is " + kind_of(v) + "; expected a number");
  }
};

}  // namespace

std::string index_to_string(const std::vector<std::size_t>& index) {
  std::string s = "[";
  for (std::size_t i = 0; i < index.size(); ++i) s += (i ? ", " : "") + std::to_string(index[i]);
  return s + "]";
}

std::string read_source(const std::string& path, std::istream& stdin_stream, const std::string& what) {
  if (path == "-") return read_stream(stdin_stream, what + " (standard input)");
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw Error("cannot open " + what + " file " + quoted(path) + ": " + std::strerror(errno) +
                "; expected a JSON file or - for standard input");
  }
  if (S_ISDIR(info.st_mode)) throw Error(what + " " + quoted(path) + " is a directory; expected a JSON file");
  const std::string name = what + " file " + quoted(path);
  // A regular file is refused from its size, before reading; others (pipes, devices) by read_stream's limit.
  const bool regular = S_ISREG(info.st_mode);
  if (regular && static_cast<std::uintmax_t>(info.st_size) > kMaxJsonBytes) {
    throw Error(too_large(name, std::to_string(info.st_size) + " bytes"), ErrorKind::range);
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error("cannot open " + name + ": " + std::strerror(errno));
  return read_stream(file, name, regular ? static_cast<std::size_t>(info.st_size) : 0);
}

Json parse_json(std::string text, const std::string& what) {
  check_no_nul(text.data(), text.size(), 0, what);
  // One pass outside strings: bound the depth, and quote Python's non-finite words where a value may
  // stand (never as an object key: {NaN: 1} stays invalid JSON and nlohmann names its position).
  std::string rewritten;
  std::size_t copied = 0, depth = 0;
  bool in_string = false, any_content = false;
  std::vector<char> open;  // '[' or '{' of each enclosing container
  char last = 0;           // the last character outside strings that is not white space
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') {
      open.push_back(c);
      if (++depth > kMaxJsonDepth) {
        throw Error(what + " is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (at byte " +
                    std::to_string(i) + "); expected at most 4, as in {\"x\": [[[...]]]}");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
      open.pop_back();
    } else if (c == 'N' || c == 'I' || c == '-') {
      const bool key_position = !open.empty() && open.back() == '{' && (last == '{' || last == ',');
      if (const char* word = key_position ? nullptr : python_non_finite_at(text, i)) {
        rewritten.append(text, copied, i - copied).append("\"").append(word).append("\"");
        i += std::strlen(word) - 1;
        copied = i + 1;
      }
    }
    if (!std::isspace(static_cast<unsigned char>(c))) {
      any_content = true;
      last = c;
    }
  }
  if (!any_content) throw Error(what + " is empty; expected a JSON document");
  if (copied > 0) {
    rewritten.append(text, copied, std::string::npos);
    text.swap(rewritten);
  }
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::out_of_range& e) {
    // nlohmann refuses numbers beyond double ("number overflow parsing '1e400'"); name the number.
    const std::string message = e.what();
    const auto open = message.find('\''), close = message.rfind('\'');
    const std::string literal =
        open != std::string::npos && close > open ? message.substr(open + 1, close - open - 1) : "a number";
    throw Error(what + " holds " + literal + ", which is too large for float32; " + kFloat32Range, ErrorKind::range);
  } catch (const nlohmann::json::parse_error& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; keep the line and column.
    std::string message = e.what();
    if (const auto end = message.find("] "); message.rfind("[json.exception", 0) == 0 && end != std::string::npos) {
      message.erase(0, end + 2);
    }
    throw Error(what + " is not valid JSON: " + message);
  }
}

Tensor tensor_from_json(const Json& value, const std::string& name, bool booleans) {
  return TensorReader(name, booleans).read(value);
}

Tensor input_from_json(const Json& document) {
  if (!document.is_object()) {
    throw Error("input must be a JSON object with key \"x\", got " + kind_of(document) + "; expected {\"x\": [[...]]}");
  }
  const auto it = document.find("x");
  if (it == document.end()) {
    throw Error(
        "input has no key \"x\"; expected {\"x\": [[...]]} (tokens x d_in) or {\"x\": [[[...]]]} (batch x tokens x "
        "d_in)");
  }
  if (!it->is_array())
    throw Error("x is " + kind_of(*it) + "; expected a nested list [[...]] of tokens x d_in numbers");
  Tensor x = tensor_from_json(*it, "x");
  if (x.rank() != 2 && x.rank() != 3) {
    const bool empty = x.rank() == 1 && x.shape[0] == 0;
    throw Error(empty ? std::string("x is empty; expected at least one token, e.g. {\"x\": [[0.43, 0.15, 0.89]]}")
                      : "x has rank " + std::to_string(x.rank()) + " (shape " + shape_to_string(x.shape) +
                            "); expected rank 2 [tokens, d_in] or rank 3 [batch, tokens, d_in]");
  }
  for (std::size_t d : x.shape) {
    if (d == 0) {
      throw Error("x has shape " + shape_to_string(x.shape) +
                  " with a zero size; expected at least one token of at least one number");
    }
  }
  return x;
}

// The book's causal classes save their mask buffer as "mask"; the wrapper's heads as "heads.<h>.mask".
bool is_mask_buffer_name(const std::string& key) {
  if (key == "mask") return true;
  const std::size_t digits = key.size() - std::min(key.size(), std::strlen("heads.") + std::strlen(".mask"));
  return digits > 0 && key.rfind("heads.", 0) == 0 && key.compare(key.size() - 5, 5, ".mask") == 0 &&
         std::all_of(key.begin() + 6, key.begin() + 6 + static_cast<std::ptrdiff_t>(digits),
                     [](unsigned char c) { return std::isdigit(c); });
}

StateDict state_dict_from_json(const Json& document, std::size_t* mask_size) {
  if (!document.is_object()) {
    throw Error("weights must be a JSON object {name: nested list} (a PyTorch state_dict), got " + kind_of(document));
  }
  if (mask_size) *mask_size = 0;
  StateDict sd;
  for (const auto& [key, value] : document.items()) {
    const std::string name = "state_dict key " + key;
    if (!value.is_array() && !value.is_number())
      throw Error(name + " is " + kind_of(value) + "; expected a nested list of numbers");
    Tensor t = tensor_from_json(value, name, true);
    // Kept: the core checks which mask a mechanism has and its size, as for the JS package.
    if (mask_size && !*mask_size && is_mask_buffer_name(key) && t.rank() == 2 && t.shape[0] == t.shape[1])
      *mask_size = t.shape[0];
    sd.emplace_back(key, std::move(t));
  }
  return sd;
}

void append_string(std::string& out, const std::string& text) { out += Json(text).dump(); }

void append_shape(std::string& out, const Shape& shape) {
  out += '[';
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  out += ']';
}

namespace {
void append_float(std::string& out, float v) {
  if (std::isnan(v)) {
    out += "\"nan\"";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "\"-inf\"" : "\"inf\"";
    return;
  }
  if (v == 0.0f && std::signbit(v)) {
    out += "-0.0";
    return;
  }  // "-0" would read back as the integer 0
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, result.ptr);
}

void append_nested(std::string& out, const Tensor& t, std::size_t dim, std::size_t offset, std::size_t stride) {
  const std::size_t n = t.shape[dim], inner = stride / n;
  out += '[';
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    if (dim + 1 == t.rank()) append_float(out, t.data[offset + i]);
    else append_nested(out, t, dim + 1, offset + i * inner, inner);
  }
  out += ']';
}
}  // namespace

void append_tensor(std::string& out, const Tensor& tensor) {
  if (tensor.rank() == 0) {
    if (tensor.data.empty()) out += "[]";
    else append_float(out, tensor.data[0]);
    return;
  }
  if (tensor.numel() == 0) {
    out += "[]";  // a zero size anywhere: nested lists cannot show the rest of the shape
    return;
  }
  append_nested(out, tensor, 0, 0, tensor.numel());
}

}  // namespace attnkit::cli
