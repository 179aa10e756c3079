#!/usr/bin/env bash
# `make soak`: what is too long for `make test`. Every fuzz target for SOAK_FUZZ_SECONDS
# (default 600), then the kill tests SOAK_KILL_ROUNDS times (default 10), for the
# shared-memory rings and for remote producers over ZeroMQ.
set -euo pipefail
build=${1:-build}
fuzz_seconds=${SOAK_FUZZ_SECONDS:-600}
kill_rounds=${SOAK_KILL_ROUNDS:-10}

for fuzzer in "$build"/fuzz/*_fuzz; do
  [ -x "$fuzzer" ] || continue
  name=$(basename "$fuzzer")
  echo "== $name for ${fuzz_seconds}s"
  mkdir -p "$build/fuzz/corpus-$name"
  "$fuzzer" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=1 \
      "$build/fuzz/corpus-$name"
done
echo "== kill tests x$kill_rounds"
"$build/bin/kill_test" --gtest_repeat="$kill_rounds" --gtest_brief=1
"$build/bin/remote_kill_test" --gtest_filter='*killed*' --gtest_repeat="$kill_rounds" \
    --gtest_brief=1
