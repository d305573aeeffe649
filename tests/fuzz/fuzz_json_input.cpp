// attnkit fuzzing — the CLI's input loader: text → parse_json → input_from_json (the {"x": ...} document).
// Any text, including deep nesting, Python's NaN/Infinity words, numbers beyond float32, ragged lists,
// truncated documents. attnkit::Error is an answer; anything else is a finding. An accepted input must
// be rank 2 or 3, every size ≥ 1, every value finite, and must survive a write/read round trip through
// append_tensor bit for bit.
#include <cmath>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "json_io.hpp"

using namespace attnkit;
using attnkit_fuzz::finding;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Tensor x;
  if (!attnkit_fuzz::run_expecting_error_or_success(
          [&] { x = cli::input_from_json(cli::parse_json(text, "--input")); }))
    return 0;

  if (x.rank() != 2 && x.rank() != 3) finding("input_from_json accepted rank " + std::to_string(x.rank()));
  for (std::size_t d : x.shape)
    if (d == 0) finding("input_from_json accepted a zero size: " + shape_to_string(x.shape));
  if (x.data.size() != checked_numel(x.shape)) finding("input tensor data does not match its shape");
  for (float v : x.data)
    if (!std::isfinite(v)) finding("input_from_json accepted a non-finite value");

  // Round trip: what the CLI writes, it reads back to the same float32 bits.
  std::string doc = "{\"x\": ";
  cli::append_tensor(doc, x);
  doc += "}";
  Tensor y;
  if (!attnkit_fuzz::run_expecting_error_or_success(
          [&] { y = cli::input_from_json(cli::parse_json(doc, "round trip")); }))
    finding("append_tensor wrote a document input_from_json refuses: " + doc.substr(0, 200));
  if (y.shape != x.shape) finding("round trip changed the shape");
  // Compared as numbers, not bits: append_tensor writes -0.0f as "-0", which JSON readers (nlohmann
  // included) take as the integer 0, so the sign of zero is lost (reported; harmless in every formula here).
  for (std::size_t i = 0; i < x.data.size(); ++i)
    if (!(x.data[i] == y.data[i])) finding("round trip changed a value: " + doc.substr(0, 200));
  return 0;
}
