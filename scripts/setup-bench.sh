#!/usr/bin/env bash
# Installs what the benchmarks need beyond scripts/setup.sh, on Debian 12, when it is missing: PyTorch as a peer
# (python3-torch, which runs on /usr/bin/python3) with OpenBLAS (libopenblas0-pthread; without it Debian's torch
# falls back to the reference BLAS, ~7 GFLOP/s) and matplotlib for bench/scaling.py's chart. Not on the test path:
# `npm run bench:compare` and `npm run bench:scaling` call it. Prints what it could not install and why.
set -uo pipefail

BENCH_PACKAGES=(python3-torch libopenblas0-pthread python3-matplotlib)
missing=()
for p in "${BENCH_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo > /dev/null; then
    echo "attnkit bench setup: not root and no sudo: install ${missing[*]} with apt-get (the PyTorch peer and the" \
      "scaling chart need them; bench/compare reports the peer as not installed)" >&2
    exit 0
  fi
  SUDO="sudo"
fi
echo "attnkit bench setup: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
  echo "attnkit bench setup: apt-get could not install ${missing[*]}; bench/compare reports the peers it cannot run" >&2
fi
exit 0
