#!/usr/bin/env bash
# Install lunamq from a build tree into a scratch prefix, then build this
# example plugin and its try-out program out of tree with pkg-config (as a
# user would) and run them.  Used by ctest (plugins.example_out_of_tree).
set -euo pipefail
build=$1 here=$2 cc=$3 flags=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -1)
test -f "$tmp/prefix/include/lunamq_plugin.h"
cp "$here"/hello.c "$here"/try_hello.c "$here"/Makefile "$tmp/"
PKG_CONFIG_PATH=$libdir/pkgconfig make -s -C "$tmp" CC="$cc" CFLAGS="-O2 -Wall -Wextra -Werror $flags" check
echo "1 passed, 0 failed"
