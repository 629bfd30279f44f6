#!/bin/sh
# Every header of the core, the formats and the internals compiles on its own, first in a
# translation unit: none relies on another header (or a standard one) being included before it.
# This matters more since <vitals/vitals.hpp> stopped bringing <string>, <vector> and friends in.
#   headers_standalone.sh INCLUDE_DIR COMPILER...
inc=$1; shift
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0
count=0
for h in "$inc"/vitals/vitals.hpp "$inc"/vitals/version.hpp "$inc"/vitals/base/*.hpp "$inc"/vitals/core/*.hpp "$inc"/vitals/exposition/*.hpp \
         "$inc"/vitals/detail/*.hpp \
         "$inc"/vitals/status/*.hpp "$inc"/vitals/status/detail/*.hpp; do  # status/: the status page (issue 21)
  rel=${h#"$inc"/}
  printf '#include <%s>\n#include <%s>\n' "$rel" "$rel" > "$tmp/tu.cpp"  # twice: include guards work
  if ! out=$("$@" -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror -I"$inc" "$tmp/tu.cpp" 2>&1); then
    echo "FAIL: <$rel> does not compile on its own:"; echo "$out" | head -20
    failed=$((failed + 1))
  fi
  count=$((count + 1))
done
echo "$count headers, $failed failed"
[ "$failed" -eq 0 ] && [ "$count" -gt 30 ]
