#!/usr/bin/env bash
# Installs, from Debian's archive, the packages the build and the whole test suite use, when any
# is missing (needs root). Used by .ci/run and by scripts/test.sh, so the README's test command
# works on a fresh Debian 12 machine.
set -euo pipefail
packages=(
  meson ninja-build pkg-config cmake g++ clang libclang-rt-14-dev clang-format-16
  libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev
  prometheus prometheus-pushgateway python3-prometheus-client python3-yaml
  redis-server postgresql
  libcpp-httplib-dev libboost-dev libcivetweb-dev wrk procps ca-certificates
  # gRPC (include/vitals/grpc, examples/grpc_service, suite grpc)
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc grpc-proto python3-grpcio python3-grpc-tools
)
# The status page's browser test (issue 21): headless Chromium loads the demo's page.
packages+=(chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
