#!/usr/bin/env bash
# `make soak`: what is too long for `make test`. Every fuzz target for SOAK_FUZZ_SECONDS
# (default 600), then the kill tests SOAK_KILL_ROUNDS times (default 10), for the
# shared-memory rings and for remote producers over ZeroMQ, then the store soak for
# SOAK_STORE_SECONDS (default 600: 10 services x 10,000 records/s, memory and latency
# budgets asserted). SOAK_PARTS picks some of them: "fuzz kill store" (default all).
set -euo pipefail
build=${1:-build}
fuzz_seconds=${SOAK_FUZZ_SECONDS:-600}
kill_rounds=${SOAK_KILL_ROUNDS:-10}
store_seconds=${SOAK_STORE_SECONDS:-600}
parts=" ${SOAK_PARTS:-fuzz kill store} "

if [[ $parts == *" fuzz "* ]]; then
  for fuzzer in "$build"/fuzz/*_fuzz; do
    [ -x "$fuzzer" ] || continue
    name=$(basename "$fuzzer")
    echo "== $name for ${fuzz_seconds}s"
    mkdir -p "$build/fuzz/corpus-$name"
    "$fuzzer" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=1 \
        "$build/fuzz/corpus-$name"
  done
fi
if [[ $parts == *" kill "* ]]; then
  echo "== kill tests x$kill_rounds"
  "$build/bin/kill_test" --gtest_repeat="$kill_rounds" --gtest_brief=1
  "$build/bin/remote_kill_test" --gtest_filter='*killed*' --gtest_repeat="$kill_rounds" \
      --gtest_brief=1
fi
if [[ $parts == *" store "* ]]; then
  echo "== store soak for ${store_seconds}s"
  "$build/bin/store_soak" --seconds "$store_seconds" --latency strict
fi
