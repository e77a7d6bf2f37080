#!/usr/bin/env bash
# Static checks: clang-format over the tree, clang-tidy over a stated set of
# files. scripts/test.sh runs `format` before building and `tidy` after the
# normal build (clang-tidy needs its compile_commands.json and the generated
# protobuf headers).
#
#   scripts/lint.sh              # format, then tidy if build/compile_commands.json exists
#   scripts/lint.sh format       # clang-format --dry-run --Werror on every tracked .h/.cc/.cpp
#   scripts/lint.sh format-fix   # clang-format -i on the same files
#   scripts/lint.sh tidy [DIR]   # clang-tidy -p DIR (default build) on the files below
#   scripts/lint.sh tidy-files   # print the files tidy would check, and exit
#
# What clang-tidy covers (it costs ~8-15 s of CPU per file; the gRPC and
# protobuf headers make engine/ files the slow ones):
#   - every .cc under consensus/, membership/ and resp/, always;
#   - every other tracked .cc (engine/, tests/, bench/) that differs from the
#     commit recorded in scripts/tidy-base, i.e. `git diff --name-only
#     $(cat scripts/tidy-base)` plus untracked-but-added files. Files under
#     engine/ and tests/ untouched since that commit are NOT checked. The
#     commit must be in the clone (a fresh full clone has it; a shallow one
#     fails here with a message saying so). Move the base forward only once
#     `scripts/lint.sh tidy` passes on the files it would drop.
# Only files in DIR/compile_commands.json are checked (e.g. the fuzz target,
# built by a custom command, is not). PHALANX_TIDY_ALL=1 checks every .cc.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)

sources() { git ls-files -- '*.h' '*.cc' '*.cpp'; }

lint_format() {
  local bad=()
  while IFS= read -r f; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done < <(sources)
  if [ ${#bad[@]} -gt 0 ]; then
    echo "lint: ${#bad[@]} file(s) not clang-formatted (fix: scripts/lint.sh format-fix," \
         "or clang-format -i FILE):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    return 1
  fi
  echo "lint: clang-format clean ($(sources | wc -l) files)"
}

tidy_files() {
  local dir=$1
  local all
  if [ "${PHALANX_TIDY_ALL:-0}" = 1 ]; then
    all=$(git ls-files -- '*.cc')
  else
    local base
    base=$(tr -d '[:space:]' < scripts/tidy-base)
    if ! git cat-file -e "${base}^{commit}" 2>/dev/null; then
      echo "lint: scripts/tidy-base names $base, which is not in this clone" \
           "(shallow clone? run: git fetch --unshallow)" >&2
      return 1
    fi
    all=$( { git ls-files -- 'consensus/*.cc' 'membership/*.cc' 'resp/*.cc'
             git diff --name-only --diff-filter=d "$base" -- '*.cc'; } | sort -u)
  fi
  # Keep the files the build knows how to compile.
  local f
  for f in $all; do
    [ -f "$f" ] || continue
    grep -q "\"file\": \"$(pwd)/$f\"" "$dir/compile_commands.json" && echo "$f"
  done
}

lint_tidy() {
  local dir=${1:-build}
  if [ ! -f "$dir/compile_commands.json" ]; then
    echo "lint: $dir/compile_commands.json missing; configure and build first" >&2
    return 1
  fi
  local files
  files=$(tidy_files "$dir")
  local n
  n=$(echo "$files" | grep -c . || true)
  echo "lint: clang-tidy on $n file(s), -j$jobs"
  local log
  log=$(mktemp)
  # --quiet drops the "N warnings generated" chatter; any diagnostic fails.
  # shellcheck disable=SC2086
  if ! echo "$files" | xargs -r -P "$jobs" -n 1 clang-tidy -p "$dir" --quiet \
        --warnings-as-errors='*' >"$log" 2>&1; then
    cat "$log" >&2
    echo "lint: clang-tidy found problems:" >&2
    grep -E '(warning|error):' "$log" | sort -u >&2 || true
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  echo "lint: clang-tidy clean"
}

case "${1:-all}" in
  format) lint_format ;;
  format-fix) sources | xargs -r clang-format -i ;;
  tidy) lint_tidy "${2:-build}" ;;
  tidy-files) tidy_files "${2:-build}" ;;
  all)
    lint_format
    if [ -f build/compile_commands.json ]; then lint_tidy build; fi
    ;;
  *) echo "usage: scripts/lint.sh [format|format-fix|tidy [DIR]|tidy-files [DIR]]" >&2; exit 2 ;;
esac
