#!/usr/bin/env bash
# Runs every fuzz target for a bounded time with libFuzzer (Clang), starting from the committed
# seed corpora (new finds go to a scratch copy, not into the repository).
#   FUZZ_SECONDS  time per target (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-fuzz}
[ -f "$build/build.ninja" ] || CXX=clang++ meson setup "$build" -Dfuzz=true -Dtests=false -Dexamples=false -Dbench=false -Dwerror=true >/dev/null
ninja -C "$build" -j"$(nproc)"
# A smaller quarantine keeps RSS well under the limit on long runs.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for corpus in fuzz/corpus/*/; do
  name=$(basename "$corpus")
  target="$build/fuzz/${name}_fuzz"
  mkdir -p "$scratch/$name"
  cp "$corpus"* "$scratch/$name/" 2>/dev/null || true
  echo "fuzzing $name for ${FUZZ_SECONDS:-30}s"
  rc=0
  "$target" -max_total_time="${FUZZ_SECONDS:-30}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$scratch/$name-" "$scratch/$name" > "$scratch/$name.log" 2>&1 || rc=$?
  grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)|runtime error" \
    "$scratch/$name.log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz target $name failed (exit $rc); the input that failed:"
    ls "$scratch/$name-"* 2>/dev/null | head -3 | while read -r f; do od -c "$f" | head -8; done
    tail -40 "$scratch/$name.log"
    exit 1
  fi
done
echo "fuzzing: all targets ran clean"
