#!/bin/sh
# The setup of the browser tests (the ctest fixture browser_npm): installs playwright-core,
# pinned by package-lock.json, with `npm ci` into the build tree, never the source tree. The
# browser itself is Debian's chromium (/usr/bin/chromium, tools/install-deps.sh); nothing
# here downloads one.
#
#   install.sh <dir of package.json and package-lock.json> <install dir>
#
# Exits 0 when the packages are installed (or already were, from the same lockfile), 77 when
# they cannot be (no node, npm or chromium, or the registry cannot be reached), with the
# reason on stdout and in <install dir>/skip-reason, which the tests repeat when they skip;
# any other failure (a lockfile out of step with package.json, say) is an error, exit 1.
set -u
source_dir=$(cd "$1" && pwd) || exit 1
mkdir -p "$2" && install_dir=$(cd "$2" && pwd) || exit 1
rm -f "$install_dir/skip-reason"
chromium=${LOGWIRE_CHROMIUM:-/usr/bin/chromium}

skip() {
  echo "skipped: $*" | tee "$install_dir/skip-reason"
  exit 77
}

command -v node >/dev/null 2>&1 ||
  skip "node not found; tools/install-deps.sh installs it (Debian package nodejs)"
command -v npm >/dev/null 2>&1 ||
  skip "npm not found; tools/install-deps.sh installs it (Debian package npm)"
[ -x "$chromium" ] ||
  skip "$chromium not found; tools/install-deps.sh installs it (Debian package chromium)"

# Installed before from the same files: nothing to fetch.
if [ -d "$install_dir/node_modules/playwright-core" ] &&
  cmp -s "$source_dir/package.json" "$install_dir/installed-package.json" &&
  cmp -s "$source_dir/package-lock.json" "$install_dir/installed-package-lock.json"; then
  echo "playwright-core already installed in $install_dir from this package-lock.json"
  exit 0
fi
rm -f "$install_dir/installed-package.json" "$install_dir/installed-package-lock.json"
cp "$source_dir/package.json" "$source_dir/package-lock.json" "$install_dir/" || exit 1

# One request first, so that a registry that cannot be reached costs seconds: npm ci asks
# for every package's metadata, each with its own timeout, and takes minutes to give up.
version=$(node -p "require('$install_dir/package.json').dependencies['playwright-core']")
registry=$(npm config get registry 2>/dev/null)
probe=$(cd "$install_dir" && CI=true timeout 60 npm view "playwright-core@$version" \
  version --fetch-timeout=10000 --fetch-retries=0 </dev/null 2>&1)
if ! echo "$probe" | grep -qx "$version"; then
  # npm's most telling line: the failed request, else its first error lines.
  reason=$(echo "$probe" | grep -E -m1 'FetchError|network|Not Found|Forbidden|E[0-9]{3} ')
  [ -n "$reason" ] || reason=$(echo "$probe" | grep -E '^npm (error|ERR)' | head -n 2 | tr '\n' ' ')
  skip "npm cannot fetch playwright-core@$version from $registry: $reason"
fi

log="$install_dir/npm-ci.log"
echo "npm ci in $install_dir from $registry (node $(node --version), npm $(npm --version))"
# --ignore-scripts: playwright-core has no install script; nothing may download a browser.
CI=true PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 240 sh -c 'cd "$1" && exec npm ci \
  --no-audit --no-fund --ignore-scripts --fetch-timeout=10000 --fetch-retries=1 \
  --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=2000' sh "$install_dir" \
  </dev/null >"$log" 2>&1
status=$?
cat "$log"
if [ "$status" -eq 0 ]; then
  cp "$source_dir/package.json" "$install_dir/installed-package.json"
  cp "$source_dir/package-lock.json" "$install_dir/installed-package-lock.json"
  exit 0
fi
if [ "$status" -eq 124 ]; then
  skip "npm ci did not finish within 240 s: the npm registry ($registry) is too slow"
fi
# npm's words for a registry it cannot reach (connection refused, no DNS, timeouts, a
# registry that answers 5xx); the first such line is the reason given.
network=$(grep -E -m1 'ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ESOCKETTIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|network|E50[0-4]' "$log")
if [ -n "$network" ]; then
  skip "npm cannot reach its registry ($registry): $network"
fi
echo "npm ci failed (exit $status), and not for want of a network; see above" >&2
exit 1
