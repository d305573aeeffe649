// Helpers shared by the CLI tests: golden files, JSON → Tensor, and running the attnkit binary.
#pragma once
#include <string>
#include <vector>

#include "json_io.hpp"

namespace attnkit::test {

using cli::Json;

// A golden file, parsed: the book's (book_*, hacktricks_*) from ATTNKIT_BOOK_DIR, the rest from ATTNKIT_GOLDEN_DIR.
Json golden(const std::string& file);
// Nested lists of numbers (with "-inf"/"inf" strings) → float32 values, row-major.
std::vector<float> flatten(const Json& nested);
// The first tensor of a book_* file whose shape is `shape`.
const Json& book_tensor(const Json& book, const std::vector<std::size_t>& shape);

// The book's 6 tokens ("Your journey starts with one step") as {"x": ...}, unbatched or stacked twice.
Json book_input(bool batched);

// A file under the test's temporary folder holding `text`; returns its path.
std::string write_temp(const std::string& name, const std::string& text);

struct CliRun {
  int code = -1;
  std::string out, err;
};
// Runs the attnkit binary with args (each passed as one word); stdin from stdin_file (or /dev/null).
CliRun run_cli(const std::vector<std::string>& args, const std::string& stdin_file = "/dev/null");

// One row of a CLI bad-input table: args ("IN" and "WT" stand for files holding input and weights), and the one
// line the run must print to stderr after "attnkit: error: ", with exit code 2 and nothing on stdout.
struct BadCliRow {
  const char* name;
  std::vector<std::string> args;
  std::string input;
  std::string message;
  Json weights = nullptr;
};
void expect_bad_cli_rows(const std::vector<BadCliRow>& rows);

// The message of the attnkit::Error `f` throws, or "" if it throws none.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// max |got - expected| over equal-length vectors (sizes must match, else +inf).
double max_abs_diff(const std::vector<float>& got, const std::vector<float>& expected);
// max |got - expected| / max(1, |expected|).
double max_rel_diff(const std::vector<float>& got, const std::vector<double>& expected);

}  // namespace attnkit::test
