#!/bin/sh
# Build-must-fail check, used by Meson tests with should_fail: true.
#   compile_fail.sh EXPECTED_MESSAGE SOURCE INCLUDE_DIR COMPILER...
# Exits 1 (the expected outcome) only when the compile fails AND the diagnostic contains
# EXPECTED_MESSAGE, so a test cannot pass because of an unrelated error. With CONTROL=1 it compiles
# the file's valid variant (-DVITALS_CONTROL) and exits 0 when that compiles.
expected=$1; src=$2; inc=$3; shift 3
out=$("$@" -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror -I"$inc" ${CONTROL:+-DVITALS_CONTROL} "$src" 2>&1)
rc=$?
if [ -n "$CONTROL" ]; then
  [ $rc -eq 0 ] || { echo "control variant failed to compile:"; echo "$out"; }
  exit $rc
fi
if [ $rc -eq 0 ]; then echo "compiled, but must not"; exit 0; fi
if printf '%s' "$out" | grep -qF -- "$expected"; then echo "failed as expected: $expected"; exit 1; fi
echo "failed for another reason than '$expected':"; echo "$out"; exit 0
