// attnkit — the name registry of the six mechanisms and what each of them has.
#include <string>
#include <string_view>

#include "attnkit/errors.hpp"
#include "attnkit/mechanisms.hpp"
#include "module_internal.hpp"

namespace attnkit {
namespace {

const char* const kNames[] = {"simplified", "self-v1", "self", "causal", "multihead-wrapper", "multihead"};

std::string names_list() {
  std::string s;
  for (const char* n : kNames) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

}  // namespace

namespace detail {

bool has_dropout(Mechanism m) {
  return m == Mechanism::causal || m == Mechanism::multihead_wrapper || m == Mechanism::multihead;
}
bool has_heads(Mechanism m) { return m == Mechanism::multihead_wrapper || m == Mechanism::multihead; }
bool has_linear(Mechanism m) { return m != Mechanism::simplified && m != Mechanism::self_v1; }
bool has_mask_buffer(Mechanism m) { return has_dropout(m); }  // the classes that register_buffer('mask')

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch >= 0x20 && ch != 0x7f) { out += static_cast<char>(ch); continue; }
    static const char hex[] = "0123456789abcdef";
    out += "\\x";
    out += hex[ch >> 4];
    out += hex[ch & 15];
  }
  return out;
}

std::string quoted(const std::string& s) { return "'" + printable(s) + "'"; }

}  // namespace detail

const std::vector<Mechanism>& all_mechanisms() {
  static const std::vector<Mechanism> all = {Mechanism::simplified, Mechanism::self_v1,           Mechanism::self,
                                             Mechanism::causal,     Mechanism::multihead_wrapper, Mechanism::multihead};
  return all;
}

const char* mechanism_name(Mechanism m) { return kNames[static_cast<int>(m)]; }

Mechanism parse_mechanism(std::string_view name) {
  for (Mechanism m : all_mechanisms())
    if (name == mechanism_name(m)) return m;
  throw Error("unknown mechanism " + detail::quoted(std::string(name)) + "; expected one of " + names_list());
}

}  // namespace attnkit
