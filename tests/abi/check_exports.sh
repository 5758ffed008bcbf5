#!/usr/bin/env bash
# The shared library exports exactly the functions lunamq.h declares with
# LMQ_API: no internal symbol leaks, no public one is missing.
set -euo pipefail
lib=$1 header=$2

exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | sed 's/@.*//' | sort -u)
# the name right before the first '(' of each LMQ_API declaration
declared=$(grep -oE '^LMQ_API[^(]*\(' "$header" | grep -oE 'lmq_[a-z0-9_]+\($' | tr -d '(' | sort -u)

status=0
leaked=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
if [ -n "$leaked" ]; then
  echo "exported but not declared in lunamq.h:"; echo "$leaked" | sed 's/^/  /'; status=1
fi
if [ -n "$missing" ]; then
  echo "declared in lunamq.h but not exported:"; echo "$missing" | sed 's/^/  /'; status=1
fi
n=$(echo "$declared" | grep -c . || true)
[ "$status" -eq 0 ] && echo "1 passed, 0 failed: $n public functions exported, nothing else"
[ "$status" -eq 0 ] || echo "0 passed, 1 failed"
exit "$status"
