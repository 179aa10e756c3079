#!/usr/bin/env bash
# `make demo`: a broker, a backend that logs the payment example, and what an AI agent
# sees when it calls observe through logwire-mcp. Everything runs in a private runtime
# directory that is removed afterwards.
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)

runtime_root=$(mktemp -d /tmp/logwire-demo-XXXXXX)
runtime="$runtime_root/rt"
broker_pid=""
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
  "$bin/logwire" --runtime-dir "$runtime" clear >/dev/null 2>&1 || true
  rm -rf "$runtime_root"
}
trap cleanup EXIT

if [ -t 1 ]; then
  bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
  bold() { printf '\n== %s\n' "$*"; }
fi

bold "1. Start the broker"
"$bin/logwire-broker" --runtime-dir "$runtime" 2>"$runtime_root/broker.log" &
broker_pid=$!
for _ in $(seq 100); do [ -S "$runtime/query.sock" ] && break; sleep 0.05; done
[ -S "$runtime/query.sock" ] || { cat "$runtime_root/broker.log"; exit 1; }
echo "logwire-broker --runtime-dir $runtime   (pid $broker_pid)"

bold "2. A backend (api-server, on the C++ producer library) handles POST /api/payments/process"
"$bin/logwire-demo-payment" --runtime-dir "$runtime"
for _ in $(seq 100); do
  count=$("$bin/logwire" --runtime-dir "$runtime" query --service api-server --level ERROR | jq '.totalCount')
  [ "$count" -ge 2 ] && break
  sleep 0.05
done

bold "3. The agent asks, through logwire-mcp (MCP over stdio):"
request='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"observe","arguments":{"what":"backend-logs","service":"api-server","level":"ERROR"}}}'
echo "$request"
reply=$(printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo","version":"1"}}}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  "$request" | "$bin/logwire-mcp" --runtime-dir "$runtime" 2>>"$runtime_root/bridge.log" | tail -n 1)

bold "4. What the agent sees:"
text=$(jq -r '.result.content[0].text' <<<"$reply")
head -n 1 <<<"$text"
tail -n +2 <<<"$text" | jq .

bold "Broker log"
cat "$runtime_root/broker.log"
