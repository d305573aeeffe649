// attnkit CLI — what `attnkit run` and `attnkit grad` share (cli_run.cpp): the input read, the config made, the
// memory checked and the module built.
#pragma once
#include <iosfwd>
#include <optional>

#include "cli.hpp"
#include "json_io.hpp"

namespace attnkit::cli {

struct PreparedRun {
  RunInputs inputs;
  Config config;
  RunMemory memory;
  std::optional<Module> module;  // absent with --dry-run

  // The module's other inputs, pointing into `inputs`.
  ForwardInputs extra() const {
    ForwardInputs e;
    e.kv = inputs.kv ? &*inputs.kv : nullptr;
    e.value_input = inputs.value ? &*inputs.value : nullptr;
    e.key_padding_mask = inputs.key_padding_mask ? &*inputs.key_padding_mask : nullptr;
    e.attn_mask = inputs.attn_mask ? &*inputs.attn_mask : nullptr;
    return e;
  }
};

// Reads --input and --weights, makes the config, checks the memory and builds the module (not with --dry-run).
PreparedRun prepare_run(const RunOptions& options, std::istream& in);

}  // namespace attnkit::cli
