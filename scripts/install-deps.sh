#!/usr/bin/env bash
# Installs every Debian 12 package Phalanx needs to build, test and benchmark.
# Idempotent: when everything is present it only checks and returns.
# Runs as root, or through sudo when not root. Nothing else is downloaded.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libwiredtiger-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libhiredis-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev
  redis-tools redis-server python3 python3-redis
  clang  # libFuzzer for the RESP parser fuzz target (tests/resp/fuzz)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The Debian redis-server package starts a system service on :6379; tests pick
# their own free ports, but leave the default port to the user's own cluster.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  "${sudo_cmd[@]}" systemctl stop redis-server || true
  "${sudo_cmd[@]}" systemctl disable redis-server || true
fi
