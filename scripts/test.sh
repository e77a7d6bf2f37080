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
# run_suite DIR "CTEST ARGS" CMAKE ARGS...
run_suite() {
  local dir=$1 ctest_args=$2; shift 2
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  # shellcheck disable=SC2086
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900 $ctest_args
}

start=$(date +%s)
echo "== normal build: every test =="
run_suite build "" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${PHALANX_SKIP_SANITIZE:-0}" != 1 ]; then
  # The sanitizer pass runs every unit and simulation test; the multi-process
  # integration and chaos tests (labels "integration", "chaos") run in the
  # normal pass only, to keep the suite's time in bounds.
  echo "== ASan/UBSan build: unit and simulation tests =="
  export PHALANX_SANITIZED=1
  export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
  run_suite build-asan "-LE integration|chaos" -DCMAKE_BUILD_TYPE=Debug -DPHALANX_SANITIZE=ON \
    -DPHALANX_BUILD_BENCH=OFF
fi
echo "test.sh: all suites passed in $(( $(date +%s) - start ))s"
