// Helpers shared by the CLI tests.
#include "native_test_util.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

namespace attnkit::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string shell_quote(const std::string& word) {
  std::string q = "'";
  for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

void flatten_into(const Json& v, std::vector<float>& out) {
  if (v.is_array()) {
    for (const auto& e : v) flatten_into(e, out);
  } else if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    out.push_back(s == "-inf" || s == "-Infinity" ? -INFINITY : s == "inf" || s == "Infinity" ? INFINITY : NAN);
  } else {
    out.push_back(v.get<float>());
  }
}

}  // namespace

Json golden(const std::string& file) {
  // The book's files (book_*, hacktricks_*) are in data/book; the generated fixtures (ref_*, torch/...) in
  // tests/golden.
  const bool book = file.rfind("book_", 0) == 0 || file.rfind("hacktricks_", 0) == 0;
  const std::string path = std::string(book ? ATTNKIT_BOOK_DIR : ATTNKIT_GOLDEN_DIR) + "/" + file;
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open golden file " + path);
  std::stringstream text;
  text << f.rdbuf();
  // The CLI's reader: it takes the float64 references' -Infinity (Python's json.dump) as a string.
  return cli::parse_json(text.str(), path);
}

std::vector<float> flatten(const Json& nested) {
  std::vector<float> out;
  flatten_into(nested, out);
  return out;
}

const Json& book_tensor(const Json& book, const std::vector<std::size_t>& shape) {
  for (const auto& step : book.at("steps")) {
    if (!step.contains("tensors")) continue;
    for (const auto& t : step.at("tensors")) {
      if (t.at("shape").get<std::vector<std::size_t>>() == shape) return t;
    }
  }
  throw std::runtime_error("no tensor of that shape in " + book.at("example").get<std::string>());
}

Json book_input(bool batched) {
  const Json x = golden("book_11_multihead_attention_seed123.json").at("inputs").at("inputs_6x3");
  return Json{{"x", batched ? Json::array({x, x}) : x}};
}

std::string write_temp(const std::string& name, const std::string& text) {
  static std::atomic<int> counter{0};
  const std::string path =
      ::testing::TempDir() + "attnkit_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

CliRun run_cli(const std::vector<std::string>& args, const std::string& stdin_file) {
  const std::string out = write_temp("stdout", ""), err = write_temp("stderr", "");
  // timeout turns a hang into a failure instead of a stuck suite.
  std::string command = "timeout 120 " + shell_quote(ATTNKIT_CLI);
  for (const auto& a : args) command += " " + shell_quote(a);
  command += " <" + shell_quote(stdin_file) + " >" + shell_quote(out) + " 2>" + shell_quote(err);
  const int status = std::system(command.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

double max_abs_diff(const std::vector<float>& got, const std::vector<float>& expected) {
  if (got.size() != expected.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(expected[i]) && got[i] == expected[i]) continue;
    worst = std::max(worst, std::fabs(double(got[i]) - double(expected[i])));
  }
  return worst;
}

double max_rel_diff(const std::vector<float>& got, const std::vector<double>& expected) {
  if (got.size() != expected.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::fabs(double(got[i]) - expected[i]) / std::max(1.0, std::fabs(expected[i])));
  }
  return worst;
}

void expect_bad_cli_rows(const std::vector<BadCliRow>& rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const BadCliRow& row = rows[i];
    SCOPED_TRACE(row.name);
    const std::string in = write_temp("bad_in_" + std::to_string(i) + ".json", row.input);
    const std::string wt =
        row.weights.is_null() ? "" : write_temp("bad_wt_" + std::to_string(i) + ".json", row.weights.dump());
    std::vector<std::string> args = row.args;
    for (auto& a : args) a = a == "IN" ? in : a == "WT" ? wt : a;
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "attnkit: error: " + row.message + "\n");
  }
}

}  // namespace attnkit::test
