#!/usr/bin/env bash
# Runs promtool over ops/prometheus: `ops_promtool.sh PROMTOOL check-rules|test-rules|check-config DIR`.
# A missing promtool is a failure, not a skip: CI installs Debian's prometheus package for it.
set -euo pipefail
promtool=$1 what=$2 dir=$3
if [ -z "$promtool" ] || ! [ -x "$promtool" ]; then
  echo "ops: promtool not found (install the 'prometheus' package); cannot check $dir" >&2
  exit 1
fi
cd "$dir"
case "$what" in
  check-rules) exec "$promtool" check rules rules.yml ;;
  test-rules) exec "$promtool" test rules rules_test.yml ;;
  check-config) exec "$promtool" check config scrape.yml ;;
  *) echo "ops_promtool.sh: unknown check '$what'" >&2; exit 2 ;;
esac
