#!/usr/bin/env bash
# Install the library into a scratch prefix, then build a small consumer
# with find_package(lunamq) and another with pkg-config, and run both.
set -euo pipefail
build=$1 here=$2 cc=$3 flags=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -1)

cmake -S "$here/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
LD_LIBRARY_PATH=$libdir "$tmp/consumer/consumer"
LD_LIBRARY_PATH=$libdir "$tmp/consumer/consumer_static"

export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046,SC2086
"$cc" $flags -o "$tmp/pc_consumer" "$here/consumer/consumer.c" $(pkg-config --cflags --libs lunamq)
LD_LIBRARY_PATH=$libdir "$tmp/pc_consumer"
echo "3 passed, 0 failed"
