// attnkit CLI — masks from JSON: a nested list of booleans or of numbers added to the scores ("-inf" and Python's
// -Infinity allowed), as `attnkit attention`'s attn_mask and `attnkit run`'s key_padding_mask and attn_mask take.
// The shape is checked by the core, which knows what it must broadcast to.
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "json_io.hpp"

namespace attnkit::cli {

AttentionMask mask_from_json(const Json& value, const std::string& name, const std::string& true_means) {
  AttentionMask mask;
  std::vector<std::size_t> index;
  bool seen_bool = false, seen_number = false;
  std::function<void(const Json&, std::size_t)> walk = [&](const Json& v, std::size_t depth) {
    const std::string at = "at index " + index_to_string(index);
    if (v.is_array()) {
      if (depth == mask.shape.size()) mask.shape.push_back(v.size());
      else if (depth > mask.shape.size() || mask.shape[depth] != v.size())
        throw Error(name + " is ragged: the list " + at + " has " + std::to_string(v.size()) + " elements, expected " +
                    (depth < mask.shape.size() ? std::to_string(mask.shape[depth]) : std::string("a value")));
      index.push_back(0);
      for (const auto& e : v) {
        walk(e, depth + 1);
        ++index.back();
      }
      index.pop_back();
      return;
    }
    if (depth != mask.shape.size())
      throw Error(name + " is ragged: the element " + at + " is a value, expected a list");
    if (v.is_boolean()) {
      seen_bool = true;
      mask.values.push_back(v.get<bool>() ? 1.0f : 0.0f);
    } else if (v.is_number() ||
               (v.is_string() && (v.get<std::string>() == "-inf" || v.get<std::string>() == "-Infinity"))) {
      seen_number = true;
      const double x = v.is_number() ? v.get<double>() : -std::numeric_limits<double>::infinity();
      if (std::isfinite(x) && rounds_to_float32_inf(x)) {  // the one float32 rule (json_io.hpp), as x has it
        char text[32];
        const auto end = std::to_chars(text, text + sizeof text, x).ptr;
        throw Error(name + " " + at + " is too large for float32 (" + std::string(text, end) + " rounds to inf); " +
                        kFloat32Range + ", or -inf",
                    ErrorKind::range);
      }
      mask.values.push_back(static_cast<float>(x));
    } else {
      throw Error(name + " " + at + " is " + v.dump() + "; expected true/false (" + true_means +
                  ") or a number added to the scores (-inf allowed)");
    }
    if (seen_bool && seen_number)
      throw Error(name + " mixes booleans and numbers (" + at + "); expected all booleans or all numbers");
  };
  if (!value.is_array())
    throw Error(name + " is " + value.dump().substr(0, 40) + "; expected a nested list of booleans or numbers");
  walk(value, 0);
  if (mask.values.empty()) throw Error(name + " is empty; expected a nested list of booleans or numbers");
  mask.kind = seen_bool ? MaskKind::boolean : MaskKind::additive;
  return mask;
}

}  // namespace attnkit::cli
