#!/usr/bin/env bash
# ctest install_consumer: installs the build tree into a fresh prefix, then builds tests/consumer against it
# twice, with find_package(attnkit CONFIG) and with a plain g++ line from pkg-config, and runs the book's
# multi-head example through each. Also checks the installed headers do not need xsimd.
#   run.sh BUILD_DIR BOOK_11_JSON CXX
set -euo pipefail
BUILD=$1 BOOK=$2 CXX=$3
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$BUILD/consumer-test
rm -rf "$WORK"
mkdir -p "$WORK"
PREFIX=$WORK/prefix

echo "== cmake --install $BUILD --prefix $PREFIX"
cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log"
for f in include/attnkit/attnkit.hpp bin/attnkit; do
  [[ -e $PREFIX/$f ]] || { echo "install_consumer: $f not installed" >&2; exit 1; }
done
compgen -G "$PREFIX/lib*/libattnkit.*" >/dev/null || { echo "install_consumer: no libattnkit installed" >&2; exit 1; }
if grep -rl "xsimd" "$PREFIX/include" "$PREFIX"/lib*/cmake/attnkit "$PREFIX"/lib*/pkgconfig; then
  echo "install_consumer: the installed headers or package files above mention xsimd (a private build dependency)" >&2
  exit 1
fi

echo "== find_package(attnkit CONFIG): configure, build and run tests/consumer"
cmake -S "$HERE" -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_BUILD_TYPE=Release >"$WORK/cmake-configure.log" || { cat "$WORK/cmake-configure.log" >&2; exit 1; }
cmake --build "$WORK/cmake" >"$WORK/cmake-build.log" || { cat "$WORK/cmake-build.log" >&2; exit 1; }
"$WORK/cmake/consumer" "$BOOK"

echo "== pkg-config attnkit: a plain $CXX line"
export PKG_CONFIG_PATH=$(echo "$PREFIX"/lib*/pkgconfig)
flags=$(pkg-config --cflags --libs attnkit)
libdir=$(pkg-config --variable=libdir attnkit)
# shellcheck disable=SC2086
"$CXX" -O2 -o "$WORK/consumer-pc" "$HERE/main.cpp" $flags -Wl,-rpath,"$libdir"
"$WORK/consumer-pc" "$BOOK"

echo "== installed CLI: $PREFIX/bin/attnkit info"
"$PREFIX/bin/attnkit" info | head -1
