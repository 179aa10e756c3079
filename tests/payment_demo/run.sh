#!/bin/sh
# Runs the payment demo's end-to-end test in headless Chromium, with the playwright-core
# the browser tests' fixture (browser_npm) installed; when it cannot run here, it skips
# (exit 77) and says why.
#
#   run.sh <browser install dir> <test script> <dir of the binaries>
set -u
install_dir=$1
script=$2
bin_dir=$3
chromium=${LOGWIRE_CHROMIUM:-/usr/bin/chromium}
skip() {
  echo "skipped: $*"
  exit 77
}
if [ -f "$install_dir/skip-reason" ]; then
  skip "$(cat "$install_dir/skip-reason")"
fi
command -v node >/dev/null 2>&1 ||
  skip "node not found; tools/install-deps.sh installs it (Debian package nodejs)"
[ -x "$chromium" ] ||
  skip "no Chromium at $chromium; tools/install-deps.sh installs it (Debian package chromium)"
[ -d "$install_dir/node_modules/playwright-core" ] ||
  skip "playwright-core is not installed in $install_dir: the browser_npm fixture" \
    "(tests/browser) did not install it"
"$bin_dir/logwire-broker" --help 2>/dev/null | grep -q -- '--http' ||
  skip "logwire-broker has no --http: the broker's HTTP server (/logwire.js, /events) is missing"
exec node "$script" "$install_dir" "$bin_dir"
