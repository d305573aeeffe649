#!/usr/bin/env bash
# Builds the WebAssembly module (Emscripten 3.1.6, SIMD128) and puts the package's files in dist/:
#   dist/attnkit.mjs + dist/attnkit.wasm                          single-thread build (build-wasm/)
#   dist/attnkit-mt.mjs + .wasm + .worker.js                      pthreads build (build-wasm-mt/)
# Incremental: re-running with nothing changed only re-checks the build trees.
# ATTNKIT_WASM_MT=0 skips the pthreads build.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs   # emcc's acorn-optimizer needs it (TOOLCHAIN.md §0)
JOBS="${JOBS:-2}"

configure() {  # configure <dir> [cmake args...]
  local dir="$1"; shift
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    # Pass the emulator ourselves: emcmake's default adds --experimental-wasm-threads, which Node 20 rejects.
    emcmake cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CROSSCOMPILING_EMULATOR=/usr/bin/node "$@" >/dev/null
  fi
}

configure build-wasm -DATTNKIT_WASM_THREADS=OFF
cmake --build build-wasm --target attnkit_wasm -j"$JOBS"
if [ "${ATTNKIT_WASM_MT:-1}" != "0" ]; then
  configure build-wasm-mt -DATTNKIT_WASM_THREADS=ON
  cmake --build build-wasm-mt --target attnkit_wasm -j"$JOBS"
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
