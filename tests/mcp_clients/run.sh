#!/bin/sh
# Runs one MCP client test script with the clients install.sh put in <install dir>; when
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
if [ ! -d "$install_dir/node_modules/@modelcontextprotocol" ]; then
  echo "the MCP clients are not installed in $install_dir: run the fixture test" \
    "mcp_clients.install (ctest runs it first) or tests/mcp_clients/install.sh" >&2
  exit 1
fi
exec node "$@"
