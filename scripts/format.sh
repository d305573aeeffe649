#!/usr/bin/env bash
# Code format: C++ with Debian's clang-format (.clang-format) over core/ native/ wasm/ bench/ tests/, and
# JavaScript/TypeScript with prettier (.prettierrc) over wasm/ web/ bench/ tests/ scripts/.
#   bash scripts/format.sh --check   lists every file that is not formatted and exits 1 (npm test runs this)
#   bash scripts/format.sh           rewrites the files in place
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case $mode in
  --check | "") ;;
  *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac

command -v clang-format >/dev/null || { echo "format.sh: clang-format not found (apt-get install clang-format)" >&2; exit 2; }
[[ -x node_modules/.bin/prettier ]] || { echo "format.sh: prettier not installed (bash scripts/setup.sh)" >&2; exit 2; }

# Tracked files only (build trees and node_modules are never checked); plain find outside a git checkout.
list() {  # list <dir...> -- <glob...>
  local dirs=() globs=()
  while [[ $1 != -- ]]; do dirs+=("$1"); shift; done
  shift
  globs=("$@")
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    local pathspecs=()
    for d in "${dirs[@]}"; do for g in "${globs[@]}"; do pathspecs+=("$d/**/$g" "$d/$g"); done; done
    git ls-files -- "${pathspecs[@]}" | sort -u
  else
    local names=()
    for g in "${globs[@]}"; do names+=(-o -name "$g"); done
    find "${dirs[@]}" -type f \( "${names[@]:1}" \) | sort
  fi
}

mapfile -t cxx < <(list core native wasm bench tests -- '*.cpp' '*.hpp' '*.h' '*.cc')
mapfile -t js < <(list wasm web bench tests scripts -- '*.js' '*.mjs' '*.cjs' '*.ts')

status=0
if [[ $mode == --check ]]; then
  echo "== format: clang-format $(clang-format --version | grep -oE '[0-9]+\.[0-9.]+' | head -1) on ${#cxx[@]} C++ files"
  # --dry-run -Werror: one warning per line that would change; exit non-zero if any.
  if ! clang-format --dry-run -Werror "${cxx[@]}" 2>/tmp/attnkit-clang-format.$$; then
    grep -oE '^[^:]+:[0-9]+' /tmp/attnkit-clang-format.$$ | cut -d: -f1 | sort | uniq -c | sort -rn |
      awk '{ printf "  %s: %d lines to change\n", $2, $1 }'
    echo "format: C++ is not formatted: run bash scripts/format.sh" >&2
    status=1
  fi
  rm -f /tmp/attnkit-clang-format.$$
  echo "== format: prettier $(node_modules/.bin/prettier --version) on ${#js[@]} JS/TS files"
  if ! node_modules/.bin/prettier --check --log-level warn "${js[@]}"; then
    echo "format: JS is not formatted: run bash scripts/format.sh" >&2
    status=1
  fi
else
  clang-format -i "${cxx[@]}"
  node_modules/.bin/prettier --write --log-level warn "${js[@]}"
fi
exit $status
