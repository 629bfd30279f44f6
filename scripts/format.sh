#!/usr/bin/env bash
# Formats the tree's C++ (include/, src/, tests/, examples/, fuzz/, bench/) with clang-format 16, the
# style in .clang-format (Debian 12: apt-get install clang-format-16; clang-format 14 mangles
# requires-clauses). With --check, changes nothing and fails when a file is not formatted; the
# `clang_format` test runs that.
#   scripts/format.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
  for c in clang-format-16 clang-format; do
    if command -v "$c" >/dev/null && "$c" --version | grep -qE 'version 1[6-9]\.'; then cf=$c; break; fi
  done
fi
if [ -z "$cf" ]; then
  echo "clang-format 16 or later not found (Debian 12: apt-get install clang-format-16)" >&2
  exit 77
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- include src tests examples fuzz bench | grep -E '\.(hpp|cpp|h)$')
else  # an unpacked release: every C++ file in those folders
  mapfile -t files < <(find include src tests examples fuzz bench -regextype egrep -regex '.*\.(hpp|cpp|h)$' | sort)
fi
if [ "${1:-}" = "--check" ]; then
  "$cf" --dry-run -Werror "${files[@]}"
  echo "clang-format: ${#files[@]} files formatted"
else
  "$cf" -i "${files[@]}"
  echo "formatted ${#files[@]} files; if an example changed, copy its new lines into the docs' cpp blocks (test docs_samples_check)"
fi
