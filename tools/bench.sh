#!/usr/bin/env bash
# `make bench`: every benchmark, with the machine and date they ran on. The figures in
# README.md come from here.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
shift || true
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date:    $(date -u +%Y-%m-%d)"
for bench in log_call_bench drain_bench store_bench end_to_end_bench remote_log_call_bench remote_ingest_bench mcp_bench http_ingest_bench; do
  echo
  echo "== $bench"
  "$bin/$bench" "$@"
done
