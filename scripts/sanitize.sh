#!/usr/bin/env bash
# `npm run test:sanitize`: the GoogleTest suites under sanitizers, by one command.
#   1. build-asan/: every suite (core and native) under AddressSanitizer + UndefinedBehaviorSanitizer
#      (leak checking on, any UB report fatal), run by ctest.
#   2. build-tsan/: ThreadSanitizer on every suite (about 2 minutes on 2 cores). ATTNKIT_TSAN_THREADED_ONLY=1
#      runs only the tests that exercise the thread pool (thread pool, thread-count and run-to-run
#      determinism, kernels split across threads, the CLI's --threads): a few seconds.
# Exits non-zero on any failure or sanitizer report. No suppressions are used (none were needed).
# Environment: ATTNKIT_JOBS (default 2) for build and ctest parallelism; CXX to pick the compiler
# (default: the system c++, g++ 12 on Debian 12; clang++ works too).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${ATTNKIT_JOBS:-2}

# Tests whose bodies run on more than one thread (gtest names; ctest -R matches "Suite.Test").
# The split-KV decode (Decoder.BitwiseIdenticalForOneTwoAndThreeThreads: 700 tokens, 3 chunks, 2 and 3 threads), the
# op's forward and backward reductions (AttentionOp./AttentionGrad.), the module backward (ModuleGrad.), the tiny model's
# training step on 1-3 threads (ModelThreads.), the CLI's decode, attention and grad on 1-3 threads (CliThreads.,
# CliGrad.) and attnkit train (CliTrain.: the default thread count, 2 or more on a multi-core machine) are among them.
TSAN_TESTS='^([A-Za-z]+/)?(Parallel\.|Determinism\.|Dropout\.TrainingModeIsDeterministicPerSeed|[A-Za-z]+\.RowSplitsAreBitwiseIdentical|[A-Za-z]+\.BitwiseIdentical[A-Za-z]*|[A-Za-z]+\.SameBitsForAnyThreadCount|CliGolden\.ThreadCountDoesNotChangeTheOutput|CliGrad\.DefaultGradOutputIsOnesAndThreadsDoNotChangeTheOutput|CliTrain\.|ModelThreads\.|CliThreads\.)'

configure_and_build() {  # preset (asan or tsan: CMakePresets.json holds the sanitizer flags), dir
  local preset=$1 dir=$2
  cmake --preset "$preset" >"$dir/sanitize-configure.log" 2>&1 || { cat "$dir/sanitize-configure.log" >&2; return 1; }
  cmake --build --preset "$preset" -j"$JOBS" >"$dir/sanitize-build.log" 2>&1 || { grep -E "error|Error" "$dir/sanitize-build.log" | head -40 >&2; return 1; }
}

# Parallel.ForkedChildGetsItsOwnWorkersAndExits forks a threaded process and starts a thread in the child. Under ASan
# it runs on its own without the leak check (LeakSanitizer's check at a forked child's exit waits for the parent's
# threads it still lists: the child never exits); TSan cannot follow such a child at all (it stops it, or with
# die_after_fork=0 reports "dup thread with used id" and exits 66), so the TSan run leaves it out.
FORK_TEST='Parallel\.ForkedChildGetsItsOwnWorkersAndExits'

mkdir -p build-asan build-tsan
echo "== sanitize: ASan + UBSan build (build-asan/)"
configure_and_build asan build-asan
echo "== sanitize: ASan + UBSan, every GoogleTest suite"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" -E "$FORK_TEST" | tee build-asan/ctest.log | tail -4
asan_total=$(grep -oE "tests passed, [0-9]+ tests failed out of [0-9]+" build-asan/ctest.log | grep -oE "[0-9]+$" || echo 0)
echo "== sanitize: ASan + UBSan, the fork test without the leak check"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -R "$FORK_TEST" | tee build-asan/ctest-fork.log | tail -2
grep -q "100% tests passed, 0 tests failed out of 1$" build-asan/ctest-fork.log || { echo "sanitize: $FORK_TEST failed or did not run under ASan" >&2; exit 1; }
asan_total=$((asan_total + 1))

echo "== sanitize: TSan build (build-tsan/)"
configure_and_build tsan build-tsan
if [[ ${ATTNKIT_TSAN_THREADED_ONLY:-0} == 1 ]]; then filter=(-R "$TSAN_TESTS"); what="the threaded tests"; else filter=(); what="every test"; fi
echo "== sanitize: TSan, $what"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:history_size=4 \
  ctest --test-dir build-tsan --output-on-failure -j"$JOBS" "${filter[@]}" -E "$FORK_TEST" | tee build-tsan/ctest.log | tail -4
tsan_total=$(grep -oE "tests passed, [0-9]+ tests failed out of [0-9]+" build-tsan/ctest.log | grep -oE "[0-9]+$" || echo 0)
(( tsan_total > 0 )) || { echo "sanitize: TSan ran no test (filter $TSAN_TESTS matched nothing?)" >&2; exit 1; }

echo "== sanitize summary: ASan+UBSan ${asan_total} tests clean; TSan ${tsan_total} tests (${what}) clean"
