#!/bin/sh
# Runs one browser test script with the packages install.sh put in <install dir>; when
# install.sh skipped, this test skips too (exit 77) and says why. The scripts are copied
# into <install dir> (CMakeLists.txt), where Node resolves their imports.
#
#   run.sh <install dir> <test script> [arguments...]
set -u
install_dir=$1
shift
if [ -f "$install_dir/skip-reason" ]; then
  cat "$install_dir/skip-reason"
  exit 77
fi
if ! command -v node >/dev/null 2>&1; then
  echo "skipped: node not found; tools/install-deps.sh installs it (Debian package nodejs)"
  exit 77
fi
if [ ! -d "$install_dir/node_modules/playwright-core" ]; then
  echo "playwright-core is not installed in $install_dir: run the fixture test" \
    "browser.install_from_lockfile (ctest runs it first) or tests/browser/install.sh" >&2
  exit 1
fi
exec node "$@"
