#!/usr/bin/env bash
# `npm start`: installs what is missing, builds the wasm package and the page, serves the page and prints its URL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-wasm.sh
node_modules/.bin/vite build --config web/vite.config.mjs --logLevel warn
PORT=${PORT:-5173}
echo
echo "attnkit demo: http://localhost:${PORT}/"
echo "(Ctrl-C to stop)"
exec node_modules/.bin/vite preview --config web/vite.config.mjs --port "$PORT" --strictPort --host 127.0.0.1
