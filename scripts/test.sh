#!/usr/bin/env bash
# The one test command: installs dependencies, builds, and runs every test,
# first in a normal build and then in an ASan/UBSan build.
#
#   scripts/test.sh            # everything
#   CI=true scripts/test.sh    # CI-sized runs of the long tests (fewer seeds)
#   PHALANX_LONG=1 scripts/test.sh   # long mode: many more simulation seeds
#   PHALANX_SKIP_SANITIZE=1 scripts/test.sh  # normal build only
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

jobs=$(nproc)
run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900
}

echo "== normal build =="
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${PHALANX_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== ASan/UBSan build =="
  PHALANX_SANITIZED=1 run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DPHALANX_SANITIZE=ON -DPHALANX_BUILD_BENCH=OFF
fi
