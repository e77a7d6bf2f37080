#!/usr/bin/env bash
# The one test command: installs dependencies, lints, builds, and runs the
# tests in four passes, every build with -Werror (PHALANX_WERROR):
#
#   1. lint       clang-format --dry-run --Werror over the tree (scripts/lint.sh format)
#   2. normal     RelWithDebInfo build, every test (unit, simulation, integration, chaos),
#                 then clang-tidy on the files scripts/lint.sh names (needs this build)
#   3. ASan/UBSan Debug build, every test but the multi-process ones
#                 (labels "integration", "chaos")
#   4. TSan       RelWithDebInfo build of the threaded test binaries only
#                 (resp, engine storage, membership's UDP driver, consensus
#                 Payload; nothing that links gRPC, see tests/tsan.supp),
#                 run with tests/tsan.supp
#
#   scripts/test.sh            # everything
#   CI=true scripts/test.sh    # CI-sized runs of the long tests (fewer seeds)
#   PHALANX_LONG=1 scripts/test.sh   # long mode: many more simulation seeds
#   PHALANX_SKIP_SANITIZE=1 scripts/test.sh  # lint and normal build only
#   PHALANX_SKIP_LINT=1 scripts/test.sh      # no clang-format / clang-tidy
#
# Time on the 2-core CI machine: see README.md's "Testing" section.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

jobs=$(nproc)
start=$(date +%s)
pass_start=$start
timings=()
# pass_done NAME: records how long the pass since the last call took.
pass_done() {
  local now
  now=$(date +%s)
  timings+=("$1: $((now - pass_start))s")
  echo "== $1 done in $((now - pass_start))s =="
  pass_start=$now
}

# configure DIR CMAKE ARGS...
configure() {
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DPHALANX_WERROR=ON "$@" >/dev/null
}
# run_tests DIR CTEST ARGS...
run_tests() {
  local dir=$1; shift
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 900 "$@"
}

lint=1
[ "${PHALANX_SKIP_LINT:-0}" = 1 ] && lint=0

if [ $lint = 1 ]; then
  echo "== lint: clang-format =="
  scripts/lint.sh format
  pass_done lint-format
fi

echo "== normal build: every test =="
configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
run_tests build
pass_done normal

if [ $lint = 1 ]; then
  echo "== lint: clang-tidy =="
  scripts/lint.sh tidy build
  pass_done lint-tidy
fi

if [ "${PHALANX_SKIP_SANITIZE:-0}" != 1 ]; then
  export PHALANX_SANITIZED=1
  # The sanitizer passes run the unit and simulation tests; the multi-process
  # integration and chaos tests run in the normal pass only, to keep the
  # suite's time in bounds.
  echo "== ASan/UBSan build: unit and simulation tests =="
  export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
  configure build-asan -DCMAKE_BUILD_TYPE=Debug -DPHALANX_SANITIZE=ON -DPHALANX_BUILD_BENCH=OFF
  cmake --build build-asan -j "$jobs"
  run_tests build-asan -LE "integration|chaos"
  pass_done asan

  # ThreadSanitizer: only the binaries that run threads of ours and link no
  # gRPC (tests/tsan.supp says why gRPC's are left out). tsan_tests must match
  # only tests of binaries in tsan_targets: ctest fails on the "_NOT_BUILT"
  # placeholder of a matched test whose binary was not built.
  echo "== TSan build: threaded tests =="
  tsan_targets=(
    resp_tests                                   # event loops, worker threads, real clients
    engine_kv_store_test engine_log_store_test   # concurrent readers, appender
    engine_snapshot_test engine_crash_test       # snapshotter beside Apply
    engine_crash_child engine_command_test engine_open_error_test engine_write_error_test
    membership_udp_driver_test                   # the UDP driver's receive thread
    types_test                                   # Payload copies across threads
  )
  tsan_tests='^(resp\.|engine\.|membership_UdpDriver|Payload\.)'
  export TSAN_OPTIONS="suppressions=$(pwd)/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1:print_suppressions=0"
  configure build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPHALANX_TSAN=ON -DPHALANX_BUILD_BENCH=OFF
  cmake --build build-tsan -j "$jobs" --target "${tsan_targets[@]}"
  run_tests build-tsan -R "$tsan_tests" -E 'parser_fuzz'
  pass_done tsan
fi
printf '  %s\n' "${timings[@]}"
echo "test.sh: all suites passed in $(( $(date +%s) - start ))s"
