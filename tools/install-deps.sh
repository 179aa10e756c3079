#!/usr/bin/env bash
# Installs the Debian packages logwire needs that are missing, and nothing else.
# The list is the one in README.md ("Dependencies"); keep the two in step.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libboost1.81-dev
  flatbuffers-compiler libflatbuffers-dev
  libzmq3-dev cppzmq-dev
  nlohmann-json3-dev
  libspdlog-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  jq
  python3 python3-zmq python3-flatbuffers python3-pytest
  chromium
)

# apt-get install <packages>, as root or through sudo.
install_packages() {
  echo "logwire: installing missing Debian packages: $*"
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "logwire: not root and no sudo; install them with:" >&2
    echo "  apt-get install $*" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"
}

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] || install_packages "${missing[@]}"

# Node.js and npm run the MCP client tests (tests/mcp_clients). Asked for by command, not
# by package, and npm only once node is there: NodeSource's nodejs package brings its own
# npm, which Debian's npm package conflicts with.
command -v node >/dev/null 2>&1 || install_packages nodejs
command -v npm >/dev/null 2>&1 || install_packages npm
exit 0
