#!/usr/bin/env bash
# `npm run test:native`: the GoogleTest suites alone, for a fast loop. Builds only the test binaries (and the
# CLI they run) in build/ (preset dev), then runs each binary once (one process per suite binary, not one per
# test as ctest does). Extra arguments go to every binary, e.g. `npm run test:native -- --gtest_filter='Golden*'`.
set -euo pipefail
cd "$(dirname "$0")/.."
SUITES=(core_tests native_tests memory_tests)
ATTNKIT_TARGETS="${SUITES[*]}" bash scripts/build-native.sh
status=0
for suite in build/tests/core_tests build/tests/native/native_tests build/tests/memory_tests; do
  echo "== $suite"
  "$suite" --gtest_brief=1 "$@" || status=1
done
exit $status
