#!/usr/bin/env bash
# Builds the WebAssembly module (Emscripten 3.1.6, SIMD128) and puts the package's files in dist/:
#   dist/attnkit.mjs + dist/attnkit.wasm                          single-thread build (build-wasm/)
#   dist/attnkit-mt.mjs + .wasm + .worker.js                      pthreads build (build-wasm-mt/)
# Incremental: re-running with nothing changed only re-checks the build trees.
# ATTNKIT_WASM_MT=0 skips the pthreads build.
set -euo pipefail
cd "$(dirname "$0")/.."
# The presets wasm / wasm-mt (CMakePresets.json) give the Emscripten toolchain file, NODE_PATH and a plain
# node emulator themselves, so no emcmake here (docs/architecture.md, "Toolchain notes").
export NODE_PATH=/usr/share/nodejs   # emcc's acorn-optimizer needs it, also for builds outside the presets
JOBS="${JOBS:-2}"

build() {  # build <preset> <dir>: configure once, then build the module
  if [ ! -f "$2/CMakeCache.txt" ]; then
    cmake --preset "$1" >/dev/null
  fi
  cmake --build --preset "$1" -j"$JOBS"
}

build wasm build-wasm
if [ "${ATTNKIT_WASM_MT:-1}" != "0" ]; then
  build wasm-mt build-wasm-mt
fi

mkdir -p dist
copy() { cmp -s "$1" "$2" 2>/dev/null || cp "$1" "$2"; }
copy build-wasm/wasm/attnkit.mjs dist/attnkit.mjs
copy build-wasm/wasm/attnkit.wasm dist/attnkit.wasm
if [ "${ATTNKIT_WASM_MT:-1}" != "0" ]; then
  copy build-wasm-mt/wasm/attnkit-mt.mjs dist/attnkit-mt.mjs
  copy build-wasm-mt/wasm/attnkit-mt.wasm dist/attnkit-mt.wasm
  copy build-wasm-mt/wasm/attnkit-mt.worker.js dist/attnkit-mt.worker.js
fi
echo "build-wasm: dist/ ready ($(cd dist && ls | tr '\n' ' '))"
