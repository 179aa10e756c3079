#!/usr/bin/env bash
# `make bench`: runs every benchmark and prints the machine it ran on.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
shift || true
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date:    $(date -u +%Y-%m-%d)"
"$bin/log_call_bench" --benchmark_min_time=1 "$@"
