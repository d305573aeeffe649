#!/usr/bin/env bash
# Configures (once, preset dev) and builds the native library, CLI, tests and benchmarks into build/.
# ATTNKIT_TARGETS="core_tests native_tests" builds only those targets (npm run test:native).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/CMakeCache.txt ]; then
  cmake --preset dev
fi
# shellcheck disable=SC2086
cmake --build --preset dev -j"${ATTNKIT_JOBS:-2}" ${ATTNKIT_TARGETS:+--target $ATTNKIT_TARGETS}
