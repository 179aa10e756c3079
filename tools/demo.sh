#!/usr/bin/env bash
# `make demo`: a broker, the payment demo app (a checkout page and a backend on the C++
# producer library), one click on "Submit Payment" that ends in a 500, and what an AI agent
# sees when it asks for that request's timeline through logwire-mcp. At a terminal the
# click is yours; without one, headless Chromium clicks (when Chromium and playwright-core
# are there), else the backend handles the request by itself and the agent sees its side
# only. Everything runs in a private runtime directory that is removed afterwards, and the
# script ends by itself.
#
#   tools/demo.sh [bin dir]      (make demo: build/bin)
set -euo pipefail
bin=$(cd "${1:-build/bin}" && pwd)
build_dir=$(dirname "$bin")
source_dir=$(cd "$(dirname "$0")/.." && pwd)

runtime_root=$(mktemp -d /tmp/logwire-demo-XXXXXX)
runtime="$runtime_root/rt"
broker_pid=""
app_pid=""
stop_process() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  stop_process "$app_pid"
  stop_process "$broker_pid"
  "$bin/logwire" --runtime-dir "$runtime" clear >/dev/null 2>&1 || true
  rm -rf "$runtime_root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then
  bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
  bold() { printf '\n== %s\n' "$*"; }
fi
step_number=0
step() {
  step_number=$((step_number + 1))
  bold "$step_number. $*"
}
interactive=false
if [ -t 0 ] && [ -t 1 ]; then interactive=true; fi

# Waits up to $1 tenths of a second for the regular expression $2 in file $3; prints the
# first match's first group.
wait_for_line() {
  local tries=$1 pattern=$2 file=$3 found
  for _ in $(seq "$tries"); do
    found=$(sed -nE "s#.*${pattern}.*#\\1#p" "$file" 2>/dev/null | head -n 1)
    if [ -n "$found" ]; then
      echo "$found"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# One observe call through logwire-mcp over stdio, as an agent's host makes it; prints
# the tools/call reply.
observe() {
  printf '%s\n' \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo","version":"1"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"observe\",\"arguments\":$1}}" |
    "$bin/logwire-mcp" --runtime-dir "$runtime" --no-start-broker 2>>"$runtime_root/bridge.log" |
    tail -n 1
}

step "Start the broker"
broker_args=(--runtime-dir "$runtime" --listen none)
has_http=false
if "$bin/logwire-broker" --help 2>/dev/null | grep -q -- '--http'; then
  has_http=true
  broker_args+=(--http 127.0.0.1:0)
fi
"$bin/logwire-broker" "${broker_args[@]}" 2>"$runtime_root/broker.log" &
broker_pid=$!
for _ in $(seq 100); do [ -S "$runtime/query.sock" ] && break; sleep 0.05; done
[ -S "$runtime/query.sock" ] || { cat "$runtime_root/broker.log"; exit 1; }
echo "logwire-broker ${broker_args[*]}   (pid $broker_pid)"
broker_origin=""
if $has_http; then
  if port=$(wait_for_line 50 'http: serving on http://127\.0\.0\.1:([0-9]+)' "$runtime_root/broker.log"); then
    broker_origin="http://127.0.0.1:$port"
    echo "browser script and events: $broker_origin/logwire.js"
  else
    echo "(the broker serves no HTTP; see its log below)"
  fi
fi

request_id=""
browser_clicked=false
# Headless Chromium clicks "Submit Payment" at $1; sets request_id, or says why it cannot.
headless_click() {
  local chromium=${LOGWIRE_CHROMIUM:-/usr/bin/chromium}
  local modules="$build_dir/browser"
  if [ ! -x "$chromium" ]; then
    echo "No headless click: Chromium is not installed ($chromium; Debian package chromium)."
    return 1
  fi
  if ! command -v node >/dev/null 2>&1; then
    echo "No headless click: node is not installed (Debian package nodejs)."
    return 1
  fi
  if [ ! -d "$modules/node_modules/playwright-core" ] && [ -f "$source_dir/tests/browser/install.sh" ]; then
    echo "Installing playwright-core into $modules (npm ci, from tests/browser/package-lock.json)..."
    sh "$source_dir/tests/browser/install.sh" "$source_dir/tests/browser" "$modules" \
      >"$runtime_root/npm.log" 2>&1 || true
  fi
  if [ ! -d "$modules/node_modules/playwright-core" ]; then
    local why="not installed in $modules"
    [ -f "$modules/skip-reason" ] && why=$(cat "$modules/skip-reason")
    echo "No headless click: playwright-core is missing ($why)."
    return 1
  fi
  echo "Headless Chromium opens $1 and clicks \"Submit Payment\"..."
  local clicked
  if ! clicked=$(LOGWIRE_CHROMIUM="$chromium" node "$source_dir/tools/demo/click_submit.mjs" \
    "$modules" "$1" 2>"$runtime_root/chromium.log"); then
    echo "No headless click: $(tail -n 1 "$runtime_root/chromium.log")"
    return 1
  fi
  request_id=$(jq -r '.requestId // empty' <<<"$clicked")
  echo "The page got $(jq -r .status <<<"$clicked") for X-Request-ID $request_id."
  browser_clicked=true
}

if [ -n "$broker_origin" ]; then
  step "The payment app (api-server, on the C++ producer library) serves its checkout page"
  "$bin/logwire-demo-payment" --runtime-dir "$runtime" --serve 127.0.0.1:0 \
    --broker-http "$broker_origin" >"$runtime_root/app.log" 2>&1 &
  app_pid=$!
  page_url=$(wait_for_line 100 'serving the checkout page on (http://[^ ]+)' "$runtime_root/app.log") ||
    { cat "$runtime_root/app.log"; exit 1; }
  echo "logwire-demo-payment --serve 127.0.0.1:0 --broker-http $broker_origin   (pid $app_pid)"
  echo "The page loads $broker_origin/logwire.js: one script tag, nothing else changed."

  step "Click \"Submit Payment\""
  if $interactive; then
    echo "Open this page in a browser on this machine and click \"Submit Payment\":"
    echo
    echo "    $page_url"
    echo
    page_port=$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$page_url")
    echo "(From another machine: ssh -L $page_port:127.0.0.1:$page_port" \
      "-L ${broker_origin##*:}:127.0.0.1:${broker_origin##*:} to this one first.)"
    echo "(Press Enter to let headless Chromium click instead; the demo gives up after 10 minutes.)"
    for _ in $(seq 600); do
      request_id=$(sed -nE 's/^POST \/api\/payments\/process  X-Request-ID: ([^ ]+).*/\1/p' \
        "$runtime_root/app.log" | head -n 1)
      if [ -n "$request_id" ]; then
        browser_clicked=true
        echo "Clicked: the backend got X-Request-ID $request_id."
        break
      fi
      if read -r -t 1; then
        headless_click "$page_url" || true
        break
      elif [ $? -le 128 ]; then
        sleep 1  # the terminal's input ended (Ctrl-D): wait on for the click alone
      fi
    done
  else
    echo "No terminal: nobody to click."
    headless_click "$page_url" || true
  fi
  if [ -n "$request_id" ]; then
    # The backend's answer comes about 200 ms after the request.
    wait_for_line 50 '  -> ([0-9]+)' "$runtime_root/app.log" >/dev/null || true
    echo
    echo "What the backend printed:"
    sed -n '2,$p' "$runtime_root/app.log"
  fi
fi

if [ -z "$request_id" ]; then
  step "The backend (api-server, on the C++ producer library) handles POST /api/payments/process by itself"
  [ -n "$broker_origin" ] || echo "(This broker serves no HTTP, so no page: the backend's side only.)"
  "$bin/logwire-demo-payment" --runtime-dir "$runtime"
  request_id="req-12345"
fi

# The broker drains the backend's ring asynchronously: wait for its four records.
for _ in $(seq 100); do
  count=$("$bin/logwire" --runtime-dir "$runtime" query --request-id "$request_id" |
    jq '.totalCount' 2>/dev/null || true)
  [ "${count:-0}" -ge 4 ] && break
  sleep 0.05
done

arguments="{\"what\":\"timeline\",\"requestId\":\"$request_id\"}"
reply=$(observe "$arguments")
if [ "$(jq -r '.result.isError // false' <<<"$reply")" = "true" ]; then
  # A bridge without the timeline: the request's backend records.
  echo
  echo "(This logwire-mcp has no timeline: $(jq -r '.result.content[0].text' <<<"$reply" | head -n 1))"
  arguments="{\"what\":\"backend-logs\",\"requestId\":\"$request_id\"}"
  reply=$(observe "$arguments")
elif $browser_clicked; then
  # The page's events reach the broker in batches: ask until its request is in.
  for _ in $(seq 50); do
    jq -e '[.result.structuredContent.entries[]? | select(.kind == "request-answered")] |
      length > 0' <<<"$reply" >/dev/null && break
    sleep 0.1
    reply=$(observe "$arguments")
  done
fi

step "The agent asks, through logwire-mcp (MCP over stdio):"
echo "observe($arguments)"

step "What the agent sees:"
text=$(jq -r '.result.content[0].text' <<<"$reply")
head -n 1 <<<"$text"
tail -n +2 <<<"$text" | jq .

bold "Broker log"
cat "$runtime_root/broker.log"
