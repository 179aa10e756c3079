#!/usr/bin/env bash
# Installs logwire from a build tree into a scratch prefix, then builds a tiny backend
# against it twice, with find_package(logwire) and with pkg-config, and runs both.
set -euo pipefail
build_dir=$1
# The sanitizer builds instrument the library; the app must be built the same way.
flags=${2:-}
source_dir=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d /tmp/lw-install-XXXXXX)
cleanup() {
  for rt in "$scratch/rt-cmake" "$scratch/rt-pc"; do
    [ -d "$rt" ] && "$scratch/prefix/bin/logwire" --runtime-dir "$rt" clear >/dev/null 2>&1
  done
  rm -rf "$scratch"
}
trap cleanup EXIT

cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null
cmake -S "$source_dir/app" -B "$scratch/app-build" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$scratch/app-build" >/dev/null
"$scratch/app-build/app" "$scratch/rt-cmake"
echo "find_package(logwire): built and logged"

pc_dir=$(dirname "$(find "$scratch/prefix" -name logwire.pc | head -n 1)")
# shellcheck disable=SC2046
# shellcheck disable=SC2086
g++ -std=c++20 $flags "$source_dir/app/main.cc" -o "$scratch/app-pc" \
    $(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs logwire)
"$scratch/app-pc" "$scratch/rt-pc"
echo "pkg-config logwire: built and logged"
