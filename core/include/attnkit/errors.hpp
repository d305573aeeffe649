// attnkit — the one exception type that leaves the core.
#pragma once
#include <stdexcept>
#include <string>

namespace attnkit {

// What kind of mistake: bindings map `invalid` to JS Error and `range` to JS RangeError.
enum class ErrorKind {
  invalid,  // malformed or inconsistent input (wrong shape, unknown name, NaN)
  range,    // a number outside its allowed range (heads = 0, dropout = 1.5, too large to allocate)
};

// Every message names the problem and the expected value, in one line, e.g.
// "d_out (5) must be divisible by num_heads (2)".
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ErrorKind kind = ErrorKind::invalid)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// The shortest text that reads back as the same double ("0.1", not "0.100000"), for messages.
std::string format_number(double value);

}  // namespace attnkit
