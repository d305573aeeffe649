// attnkit — the one catch ladder of the bindings (see errors.hpp).
#include "errors.hpp"

#include <new>
#include <stdexcept>

#include "attnkit/errors.hpp"

namespace attnkit::wasm {

Failure current_failure() {
  try {
    throw;
  } catch (const attnkit::Error& e) {
    return {e.kind() == attnkit::ErrorKind::range ? status_range : status_invalid, e.what()};
  } catch (const std::bad_alloc&) {
    return {status_range,
            "out of memory: the WebAssembly heap could not grow (limit 4 GB); use fewer tokens, a smaller batch or "
            "smaller dimensions"};
  } catch (const std::length_error& e) {
    return {status_range, std::string("size too large: ") + e.what()};
  } catch (const std::exception& e) {
    return {status_invalid, e.what()};
  } catch (...) {
    return {status_invalid, "unknown error in attnkit"};
  }
}

emscripten::val failure_value(const Failure& failure) {
  emscripten::val e = emscripten::val::object();
  e.set("error", emscripten::val(failure.message));
  e.set("status", emscripten::val(static_cast<int>(failure.status)));
  return e;
}

}  // namespace attnkit::wasm
