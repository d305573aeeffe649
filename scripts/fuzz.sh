#!/usr/bin/env bash
# Fuzzes attnkit with libFuzzer under ASan + UBSan: `bash scripts/fuzz.sh [seconds]` (default 60 s in
# total, split evenly among the harnesses; one fuzzer process at a time, no -jobs).
#
#   fuzz_forward     bytes → Config + input tensor + ForwardOptions → Module(...).forward(...)
#   fuzz_json_input  text  → the CLI's parse_json → input_from_json ({"x": ...}), incl. deep nesting
#   fuzz_state_dict  text  → parse_json → state_dict_from_json → make_config → Module(config, sd).forward
#   fuzz_options     bytes → argv (+ stdin) → the whole CLI in process (attnkit::cli::main)
#   fuzz_attention   byte + text → options + parse_json → command_attention ({"query", "key", "value", "attn_mask"?})
#   fuzz_run_inputs  2 bytes + text → options + command_run on {"x", "kv"?, "key_padding_mask"?, "attn_mask"?} (--decode too)
#   fuzz_weights     2 bytes + text → options + command_run --weights - (--weights-format auto|book|torch-mha|gpt2, prefix)
#   fuzz_grad        byte + text → grad / attention --grad with --grad-output - (read_grad_output, the backward)
#   fuzz_train       bytes → ModelConfig + optimizer (SGD/AdamW options) → train_step, Optimizer::step with bad
#                    gradients, Model(config, state_dict), the state_dict through JSON as train --save writes it
#   fuzz_backward    bytes → Config + x, kv, masks + grad_context → Module::forward(grad) → backward (1 and 2 threads)
#
# The harnesses live in tests/fuzz (a separate CMake project built with clang++ into build-fuzz/ through the
# fuzz preset, never part of the main build). Before fuzzing, each harness replays tests/fuzz/regress/<harness>/* (inputs that once
# failed or must always pass: 100 000-level JSON). Seeds: tests/fuzz/corpus/<harness>/ and the golden files;
# the growing corpus is kept in build-fuzz/corpus/<harness>/. A finding (crash, sanitizer report, leak,
# timeout, out-of-memory, an exception other than attnkit::Error, a wrong-form answer) is saved to
# build-fuzz/artifacts/ and makes the script exit 1.
#
# Environment: ATTNKIT_FUZZ_ONLY="fuzz_forward fuzz_options" runs a subset; ATTNKIT_FUZZ_JOBS (default 2)
# is the build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOTAL=${1:-60}
if ! [[ $TOTAL =~ ^[0-9]+$ ]] || (( TOTAL < 1 )); then
  echo "usage: scripts/fuzz.sh [seconds]   (seconds: a positive integer, the total fuzzing time; default 60)" >&2
  exit 2
fi
BUILD=$ROOT/build-fuzz
CXX_FUZZ=${CXX_FUZZ:-clang++}
command -v "$CXX_FUZZ" >/dev/null || { echo "fuzz.sh: $CXX_FUZZ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

echo "== fuzz: building the harnesses with $CXX_FUZZ (-fsanitize=fuzzer,address,undefined) into build-fuzz/"
# A tree configured from tests/fuzz directly (before the fuzz preset) is configured afresh.
if [[ -f $BUILD/CMakeCache.txt ]] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT" "$BUILD/CMakeCache.txt"; then
  rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"
fi
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  mkdir -p "$BUILD"
  cmake --preset fuzz -DCMAKE_CXX_COMPILER="$CXX_FUZZ" >"$BUILD/configure.log" 2>&1 ||
    { cat "$BUILD/configure.log" >&2; exit 2; }
fi
cmake --build --preset fuzz -j"${ATTNKIT_FUZZ_JOBS:-2}" >"$BUILD/build.log" 2>&1 || { grep -E "error|Error" "$BUILD/build.log" | head -40 >&2; exit 2; }

HARNESSES=()
for h in fuzz_forward fuzz_json_input fuzz_state_dict fuzz_options fuzz_attention fuzz_run_inputs fuzz_weights fuzz_backward fuzz_grad fuzz_train; do
  if [[ -n ${ATTNKIT_FUZZ_ONLY:-} && " $ATTNKIT_FUZZ_ONLY " != *" $h "* ]]; then continue; fi
  if [[ -x $BUILD/$h ]]; then HARNESSES+=("$h"); else echo "fuzz: $h not built (native/ lacks its sources), skipped"; fi
done
(( ${#HARNESSES[@]} > 0 )) || { echo "fuzz: no harness to run" >&2; exit 2; }
PER=$(( TOTAL / ${#HARNESSES[@]} )); (( PER >= 1 )) || PER=1

# allocator_may_return_null: an allocation ASan refuses (> its 1 TiB cap) must surface as std::bad_alloc
# (which the library turns into attnkit::Error), as it does without ASan; abort_on_error keeps reports short.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

max_len() {
  case $1 in fuzz_forward | fuzz_backward | fuzz_train) echo 512 ;; fuzz_options) echo 1024 ;; *) echo 8192 ;; esac
}
dict() {
  case $1 in fuzz_json_input | fuzz_state_dict | fuzz_attention | fuzz_run_inputs | fuzz_weights | fuzz_grad) echo "-dict=$ROOT/tests/fuzz/json.dict" ;;
    fuzz_options) echo "-dict=$ROOT/tests/fuzz/options.dict" ;; *) echo "" ;; esac
}

mkdir -p "$BUILD/artifacts" "$BUILD/logs"
SUMMARY=()
STATUS=0
for h in "${HARNESSES[@]}"; do
  corpus=$BUILD/corpus/$h
  mkdir -p "$corpus"
  seeds=()
  [[ -d tests/fuzz/corpus/$h ]] && seeds+=("$ROOT/tests/fuzz/corpus/$h")  # absolute: fuzz_options works in a temporary directory
  [[ $h == fuzz_json_input ]] && seeds+=("$ROOT/data/book" "$ROOT/tests/golden")
  log=$BUILD/logs/$h.log

  # 1. Regression inputs, each run once (at full length: no -max_len here).
  if compgen -G "tests/fuzz/regress/$h/*" >/dev/null; then
    if ! "$BUILD/$h" -timeout=30 -rss_limit_mb=2048 "$ROOT"/tests/fuzz/regress/$h/* >"$BUILD/logs/$h.regress.log" 2>&1; then
      echo "fuzz: $h FAILED a regression input (log: build-fuzz/logs/$h.regress.log)" >&2
      grep -E "FINDING|ERROR|SUMMARY|Running:" "$BUILD/logs/$h.regress.log" | tail -5 >&2 || true
      SUMMARY+=("$h: regression input FAILED")
      STATUS=1
      continue
    fi
  fi

  # 2. Fuzzing for PER seconds.
  echo "== fuzz: $h for ${PER}s (log: build-fuzz/logs/$h.log)"
  rc=0
  # shellcheck disable=SC2046
  "$BUILD/$h" "$corpus" "${seeds[@]}" -max_total_time="$PER" -max_len="$(max_len "$h")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$h-" $(dict "$h") >"$log" 2>&1 || rc=$?
  execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" | tail -1 || true)
  [[ -n $execs ]] || execs=$(grep -oE "^#[0-9]+" "$log" | tail -1 | tr -d '#' || true)
  files=$(find "$corpus" -type f | wc -l)
  kbytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s / 1024}')
  cov=$(grep -oE "cov: [0-9]+" "$log" | tail -1 | grep -oE "[0-9]+" || true)
  if (( rc != 0 )); then
    STATUS=1
    artifact=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //' || true)
    echo "fuzz: $h FOUND A PROBLEM (exit $rc); input: ${artifact:-see log}" >&2
    grep -E "FINDING|ERROR: |SUMMARY|runtime error|No such file" "$log" | head -6 >&2 || true
    SUMMARY+=("$h: ${PER} s, ${execs:-?} executions, corpus $files inputs (${kbytes} KB), coverage ${cov:-?} edges, findings 1 (${artifact:-see $log})")
  else
    SUMMARY+=("$h: ${PER} s, ${execs:-?} executions, corpus $files inputs (${kbytes} KB), coverage ${cov:-?} edges, findings 0")
  fi
done

echo "== fuzz summary (libFuzzer + ASan + UBSan, ${TOTAL} s requested)"
for line in "${SUMMARY[@]}"; do echo "$line"; done
exit $STATUS
