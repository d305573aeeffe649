#!/usr/bin/env bash
# Installs what attnkit needs on Debian 12 when it is missing: Debian packages with apt-get,
# npm packages from the lock file. Safe to run again; does nothing when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  cmake g++ make pkg-config time
  libxsimd-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  emscripten wabt
  chromium
  clang libclang-rt-14-dev clang-format
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "attnkit setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -f package-lock.json ]; then
  # npm ci only when the lock file changed since the last install.
  stamp=node_modules/.attnkit-lock-stamp
  if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    echo "attnkit setup: installing npm packages from package-lock.json"
    ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund
    cp package-lock.json "$stamp"
  fi
fi
