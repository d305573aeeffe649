// attnkit fuzzing — the whole command line, in process: bytes → argv (segments separated by NUL; the
// text after the first 0x01 byte is standard input) → attnkit::cli::main. Every run must end with exit
// code 0, or 2 with exactly one line "attnkit: error: ..." on stderr and nothing on stdout; exit code 1
// (an internal error: an exception other than attnkit::Error) or a crash is a finding.
//
// Sandbox: the harness works in a fresh temporary directory holding a few JSON files (in.json,
// batch.json, w.json, mha.json, bad.json, empty.json, deep.json and a directory dir); an argument
// containing '/' is skipped, so only those files can be read. `bench` runs only C1 with --repeats 1; `train` runs
// 2 steps with sizes up to 64 (no --save).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "cli.hpp"
#include "fuzz_common.hpp"

using attnkit_fuzz::finding;

namespace {

void write_file(const char* name, const std::string& text) {
  std::ofstream f(name, std::ios::binary);
  f << text;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char dir[] = "/tmp/attnkit-fuzz-options-XXXXXX";
  if (!::mkdtemp(dir) || ::chdir(dir) != 0) {
    std::perror("attnkit fuzz_options: temporary directory");
    std::abort();
  }
  write_file("in.json", "{\"x\": [[0.43, 0.15, 0.89], [0.55, 0.87, 0.66], [0.57, 0.85, 0.64]]}");
  write_file("batch.json",
             "{\"x\": [[[0.43, 0.15, 0.89], [0.55, 0.87, 0.66]], [[0.22, 0.58, 0.33], [0.77, 0.25, 0.10]]]}");
  write_file(
      "w.json",
      "{\"W_query.weight\": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], \"W_key.weight\": [[0.2, 0.1, 0.0], [0.3, 0.2, 0.1]],"
      " \"W_value.weight\": [[0.5, 0.4, 0.3], [0.2, 0.1, 0.0]]}");
  write_file(
      "mha.json",
      "{\"W_query.weight\": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], \"W_key.weight\": [[0.2, 0.1, 0.0], [0.3, 0.2, 0.1]],"
      " \"W_value.weight\": [[0.5, 0.4, 0.3], [0.2, 0.1, 0.0]], \"out_proj.weight\": [[1, 0], [0, 1]],"
      " \"out_proj.bias\": [0, 0], \"mask\": [[0, 1, 1], [0, 0, 1], [0, 0, 0]]}");
  write_file("bad.json", "{\"x\": [[1, 2], [3]]}");
  write_file("empty.json", "");
  write_file("deep.json", std::string(100000, '['));
  ::mkdir("dir", 0700);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::size_t split = bytes.find('\x01');
  const std::string argtext = bytes.substr(0, split);
  const std::string input = split == std::string::npos ? std::string() : bytes.substr(split + 1);

  std::vector<std::string> args{"attnkit"};
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = argtext.find('\0', start);
    args.push_back(argtext.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (args.size() > 40) return 0;
  bool bench = false, train = false;
  for (const auto& a : args) {
    if (a.find('/') != std::string::npos) return 0;  // stay inside the sandbox directory
    if (a == "bench") bench = true;
    if (a == "train") train = true;
  }
  if (train) {  // two steps of a small model: sizes above 64 and --steps are left to the bad-input tests
    for (const auto& a : args) {
      if (a.find("steps") != std::string::npos || a.find("save") != std::string::npos) return 0;
      char* end = nullptr;
      const double v = std::strtod(a.c_str(), &end);
      if (end != a.c_str() && v > 64) return 0;
    }
    args.push_back("--steps");
    args.push_back("2");
  }
  if (bench) {  // only the tiny book configuration, timed once
    for (auto& a : args) {
      if (a.find("repeats") != std::string::npos) return 0;
      for (const char* big : {"C2", "C3", "C4", "c2", "c3", "c4"})
        if (a.find(big) != std::string::npos) return 0;
    }
    args.push_back("--repeats");
    args.push_back("1");
  }

  std::istringstream in(input);
  std::ostringstream out, err;
  const int code = attnkit::cli::main(args, in, out, err);
  const std::string e = err.str();
  std::string argline;
  for (const auto& a : args) argline += " '" + a + "'";
  if (code == attnkit::cli::kExitUsage) {
    if (e.rfind("attnkit: error: ", 0) != 0)
      finding("exit 2 without 'attnkit: error: ' on stderr:" + argline + " → " + e);
    if (e.find('\n') != e.size() - 1) finding("exit 2 with other than one line on stderr:" + argline + " → " + e);
    if (!out.str().empty()) finding("exit 2 but stdout is not empty:" + argline);
  } else if (code != attnkit::cli::kExitOk) {
    finding("exit code " + std::to_string(code) + " (expected 0 or 2):" + argline + " → " + e);
  }
  return 0;
}
