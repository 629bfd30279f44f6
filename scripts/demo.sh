#!/usr/bin/env bash
# Builds and starts the demo service (examples/service). Extra arguments go to the service,
# e.g. ./scripts/demo.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
command -v c++ >/dev/null || need+=(g++)
[ -f /usr/include/httplib.h ] || need+=(libcpp-httplib-dev)
dpkg -s libgtest-dev >/dev/null 2>&1 || need+=(libgtest-dev libgmock-dev)
dpkg -s pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
build=${BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" -Dbench=false >/dev/null
ninja -C "$build" examples/service >/dev/null
exec "$build/examples/service" "$@"
