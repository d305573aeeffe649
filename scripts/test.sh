#!/usr/bin/env bash
# `npm test`: installs what is missing, checks the code format, builds native and wasm, runs every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/format.sh --check
bash scripts/build-native.sh
echo "== native suites (GoogleTest, the version check and the installed-consumer test, via ctest)"
ctest --test-dir build --output-on-failure -j2
echo "== fuzz (libFuzzer under ASan+UBSan, 60 s; regression inputs replayed first)"
bash scripts/fuzz.sh 60
bash scripts/build-wasm.sh
echo "== bench tooling: issue 14's goals table, threads-paired (node --test; the latter needs the wasm build)"
node --test tests/bench
echo "== wasm package (node --test)"
node --test tests/wasm
echo "== web page in headless Chromium (node --test)"
node --test tests/web
