#!/usr/bin/env bash
# Builds and runs the whole test suite. The README's test command.
#   BUILD_DIR  build directory (default: build)
#   CXX        compiler (default: the system's c++)
#   SANITIZE   e.g. address,undefined or thread (default: none)
#   MESON_TEST_ARGS  extra arguments for `meson test` (e.g. --suite core)
#   SKIP_INSTALL     set to skip installing missing Debian packages (scripts/install-deps.sh)
#   WERROR     true (default) builds with -Werror, as CI does; false for a compiler newer than CI's
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${SKIP_INSTALL:-}" ] || ./scripts/install-deps.sh
build=${BUILD_DIR:-build}
# -g1 (line tables) keeps sanitizer reports readable at a fraction of full debug info's build time.
werror=-Dwerror=${WERROR:-true}
opts=(-Dbench=true -Doptimization=2 -Ddebug=false -Dcpp_args=-g1 "$werror")
if [ -n "${SANITIZE:-}" ]; then
  opts=(-Db_sanitize="$SANITIZE" -Db_lundef=false -Dbench=false -Doptimization=1 -Ddebug=false -Dcpp_args=-g1 "$werror")
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "${opts[@]}"
else
  meson configure "$build" "${opts[@]}" >/dev/null
fi
ninja -C "$build" -j"$(nproc)"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp"
set +e
# shellcheck disable=SC2086  # MESON_TEST_ARGS is a list of words on purpose
meson test -C "$build" --print-errorlogs --num-processes "$(nproc)" --timeout-multiplier "${TIMEOUT_MULTIPLIER:-3}" \
  ${MESON_TEST_ARGS:-} \
  2>&1 | tee "$build/test-output.txt"
rc=${PIPESTATUS[0]}
set -e
# One plain closing line: expected failures are the build-must-fail tests doing their job.
count() { grep -E "^$1: " "$build/test-output.txt" | tail -1 | awk '{print $NF}'; }
ok=$(( $(count Ok) + $(count 'Expected Fail') ))
failed=$(( $(count Fail) + $(count 'Unexpected Pass') + $(count Timeout) ))
echo "$ok passed, $failed failed, $(count Skipped) skipped"
[ -z "${SUMMARY_FILE:-}" ] || echo "$ok $failed" >> "$SUMMARY_FILE"
exit "$rc"
