// attnkit fuzzing — shared helpers: a finding is reported by abort() with a message on stderr, so
// libFuzzer saves the input; attnkit::Error (the library's one answer to bad input) is never a finding.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include "attnkit/errors.hpp"

namespace attnkit_fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "\n==attnkit-fuzz== FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Runs fn; attnkit::Error is an answer, every other exception a finding. An Error's message must not be
// empty. Messages quote what the user gave (a mechanism name, a state_dict key) verbatim, so they are one
// line only when that text is; the CLI joins lines itself (fuzz_options checks its stderr).
template <class Fn>
bool run_expecting_error_or_success(Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const attnkit::Error& e) {
    const std::string m = e.what();
    if (m.empty()) finding("attnkit::Error with an empty message");
    return false;
  } catch (const std::bad_alloc&) {
    finding("std::bad_alloc escaped (expected attnkit::Error naming the bytes needed)");
  } catch (const std::exception& e) {
    finding(std::string("unexpected exception (not attnkit::Error): ") + e.what());
  } catch (...) {
    finding("unexpected non-std exception");
  }
}

}  // namespace attnkit_fuzz
