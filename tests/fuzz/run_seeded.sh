#!/bin/sh
# Runs a fuzzer after copying seed inputs into its corpus directory, each behind a prefix
# byte (the fuzzer's choice of message shape), so that a fresh checkout starts from real
# messages and new seeds are picked up without a rebuild.
#
#   run_seeded.sh <seed dir> <prefix byte, octal, or "none"> <corpus dir> <fuzzer> [options...]
set -eu
seeds=$1 prefix=$2 corpus=$3 fuzzer=$4
shift 4
mkdir -p "$corpus"
count=0
for seed in "$seeds"/*.bin; do
  [ -f "$seed" ] || continue
  if [ "$prefix" = none ]; then
    cp "$seed" "$corpus/seed-$(basename "$seed")"
  else
    { printf "%b" "\\0$prefix"; cat "$seed"; } > "$corpus/seed-$(basename "$seed")"
  fi
  count=$((count + 1))
done
echo "run_seeded.sh: $count seeds from $seeds"
exec "$fuzzer" "$@" "$corpus"
