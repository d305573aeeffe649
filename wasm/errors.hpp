// attnkit — the bindings' one translation of C++ exceptions into what the JS entry throws.
//
// No C++ exception ever crosses into JS. Every entry point catches, lets the exception and everything the
// call allocated be freed by normal unwinding, and hands JS a status and the message; wasm/src/errors.mjs
// throws Error (status_invalid) or RangeError (status_range) with the core's message. (Throwing a JS error
// from C++ with val::throw_() would skip destructors and leak what the call held.)
#pragma once
#include <emscripten/val.h>

#include <string>

namespace attnkit::wasm {

// Exported to JS by name (bindings.cpp: Module.status); the fast path's C exports return it as an int.
enum Status : int { status_ok = 0, status_invalid = 1, status_range = 2 };

struct Failure {
  Status status = status_invalid;
  std::string message;
};

// Call only inside a catch block: what the exception being handled means for JS.
Failure current_failure();

// { error: message, status } for the Embind entry points.
emscripten::val failure_value(const Failure& failure);

// Runs f() and returns its value, or failure_value() once the exception has been fully handled.
template <class F>
emscripten::val guarded(F&& f) {
  Failure failure;
  try {
    return f();
  } catch (...) {
    failure = current_failure();
  }
  return failure_value(failure);
}

}  // namespace attnkit::wasm
