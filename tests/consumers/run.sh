#!/usr/bin/env bash
# Builds and runs a tiny consumer program (consumer.cpp) against vitals in every way a C++ project
# takes it in, and checks what each prints:
#   1. Meson subproject: subprojects/vitals.wrap (a wrap-file whose source archive is the tree)
#   2. Meson dependency('vitals') on an installed vitals, through pkg-config
#   3. CMake find_package(vitals CONFIG) + vitals::vitals, from a relocated Meson installation
#   4. pkg-config --cflags/--libs on a plain compiler line
#   5. A plain compiler line: -I include -pthread
#   6. CMake add_subdirectory, FetchContent (SOURCE_DIR, and URL of the release archive), and
#      find_package after a CMake install of the release archive
#   Every way but 5 also builds the consumer in compiled mode (dependency('vitals-compiled'),
#   vitals-compiled.pc, vitals::compiled), whose cold code comes from vitals' static library:
#   built by the consumer's build where vitals is a part of it, installed (libvitals.a) otherwise.
# Everything happens in a temporary directory that is removed at the end. CXX picks the compiler.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tests/consumers"
export CXX=${CXX:-c++}
warnings=(-std=c++20 -Wall -Wextra -Wpedantic -Werror)
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$root/meson.build" | head -1)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vitals-consumers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() { echo "consumers: FAIL: $*" >&2; exit 1; }

# Runs a consumer binary and checks the lines every consumer must print.
check() {
  local way=$1 binary=$2 out="$tmp/$1.out"
  "$binary" "$way" >"$out" || fail "$way: the consumer exited with $?"
  grep -qx "http_requests_total{consumer=\"$way\",method=\"GET\",endpoint=\"/v1/health\",status=\"200\"} 1" "$out" ||
    fail "$way: no http_requests_total line in:$(printf '\n'; cat "$out")"
  grep -q "^vitals_build_info{consumer=\"$way\",version=\"$version\",revision=\"unknown\",compiler=\"[^\"]*\"} 1\$" "$out" ||
    fail "$way: no vitals_build_info line in:$(printf '\n'; cat "$out")"
  grep -q "^process_resident_memory_bytes{consumer=\"$way\"} [1-9]" "$out" ||
    fail "$way: no process_resident_memory_bytes line in:$(printf '\n'; cat "$out")"
  local mode=header-only
  [[ $way == *-compiled ]] && mode=compiled
  grep -qx "# vitals mode: $mode" "$out" || fail "$way: not built in $mode mode:$(printf '\n'; tail -1 "$out")"
  echo "consumers: $way ok"
}

# A project directory in the temporary folder: the given project files plus consumer.cpp.
project() {
  mkdir -p "$tmp/$1"
  [ -d "$here/$1" ] && cp -R "$here/$1/." "$tmp/$1/"
  cp "$here/consumer.cpp" "$tmp/$1/"
}

echo "consumers: vitals $version, CXX=$CXX"

# --- 1. Meson subproject through a wrap-file ------------------------------------------------------
# The source archive is what a release would ship: every file git knows or would add (outside a git
# checkout: every file but build directories). It is put in packagecache, where Meson takes it
# (after checking the hash) instead of downloading source_url.
source_files() {
  if command -v git >/dev/null && git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$root" ls-files -co --exclude-standard -z
  else
    (cd "$root" && find . \( -path './build*' -o -path ./.git -o -path ./subprojects \) -prune -o -type f -printf '%P\0')
  fi
}
project meson_subproject
mkdir -p "$tmp/meson_subproject/subprojects/packagecache"
archive="$tmp/meson_subproject/subprojects/packagecache/vitals-$version.tar.gz"
(cd "$root" && source_files | xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh |
  tar -czf "$archive" --null -T - --transform "s,^,vitals-$version/,")
cat >"$tmp/meson_subproject/subprojects/vitals.wrap" <<WRAP
[wrap-file]
directory = vitals-$version
source_url = https://example.invalid/vitals-$version.tar.gz
source_filename = vitals-$version.tar.gz
source_hash = $(sha256sum "$archive" | cut -d' ' -f1)
WRAP
meson setup --wrap-mode=nodownload "$tmp/meson_subproject/build" "$tmp/meson_subproject" >"$tmp/log" 2>&1 ||
  { cat "$tmp/log"; fail "meson subproject: setup"; }
ninja -C "$tmp/meson_subproject/build" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "meson subproject: build"; }
check meson-subproject "$tmp/meson_subproject/build/consumer"
check meson-subproject-compiled "$tmp/meson_subproject/build/consumer_compiled"

# --- install once, for the next three ---------------------------------------------------------------
meson setup "$tmp/vitals-build" "$root" --prefix "$tmp/prefix" -Dtests=false -Dexamples=false -Dbench=false \
  >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "vitals: meson setup"; }
meson install -C "$tmp/vitals-build" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "vitals: meson install"; }
pc=$(find "$tmp/prefix" -name vitals.pc | head -1)
[ -n "$pc" ] || fail "meson install wrote no vitals.pc"
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
[ "$(pkg-config --modversion vitals)" = "$version" ] || fail "vitals.pc: version $(pkg-config --modversion vitals)"
pkg-config --cflags vitals | grep -q -- "-I$tmp/prefix/include" || fail "vitals.pc: Cflags $(pkg-config --cflags vitals)"
pkg-config --libs vitals | grep -q -- "-pthread" || fail "vitals.pc: Libs $(pkg-config --libs vitals)"
lib=$(find "$tmp/prefix" -name libvitals.a | head -1)
[ -n "$lib" ] || fail "meson install wrote no libvitals.a"
[ "$(pkg-config --modversion vitals-compiled)" = "$version" ] || fail "vitals-compiled.pc: version"
pkg-config --cflags vitals-compiled | grep -q -- "-DVITALS_COMPILED" ||
  fail "vitals-compiled.pc: Cflags $(pkg-config --cflags vitals-compiled)"
pkg-config --libs vitals-compiled | grep -q -- "-lvitals" || fail "vitals-compiled.pc: Libs $(pkg-config --libs vitals-compiled)"

# --- 2. Meson dependency('vitals') through pkg-config ----------------------------------------------
project meson_installed
meson setup "$tmp/meson_installed/build" "$tmp/meson_installed" >"$tmp/log" 2>&1 ||
  { cat "$tmp/log"; fail "meson installed: setup"; }
ninja -C "$tmp/meson_installed/build" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "meson installed: build"; }
check meson-installed "$tmp/meson_installed/build/consumer"
check meson-installed-compiled "$tmp/meson_installed/build/consumer_compiled"

# --- 4. pkg-config on a plain compiler line ----------------------------------------------------------
project pkg_config
# shellcheck disable=SC2046  # pkg-config prints several words on purpose
"$CXX" "${warnings[@]}" $(pkg-config --cflags vitals) "$tmp/pkg_config/consumer.cpp" -o "$tmp/pkg_config/consumer" \
  $(pkg-config --libs vitals) || fail "pkg-config: compile"
check pkg-config "$tmp/pkg_config/consumer"
# shellcheck disable=SC2046
"$CXX" "${warnings[@]}" $(pkg-config --cflags vitals-compiled) "$tmp/pkg_config/consumer.cpp" \
  -o "$tmp/pkg_config/consumer_compiled" $(pkg-config --libs vitals-compiled) || fail "pkg-config compiled: compile"
check pkg-config-compiled "$tmp/pkg_config/consumer_compiled"

# --- 3. CMake find_package, from a moved installation ---------------------------------------------------
# Moving the prefix proves the package files locate the headers relative to themselves.
mv "$tmp/prefix" "$tmp/relocated"
project cmake
cmake -S "$tmp/cmake" -B "$tmp/cmake/build" -DCMAKE_PREFIX_PATH="$tmp/relocated" >"$tmp/log" 2>&1 ||
  { cat "$tmp/log"; fail "cmake: configure"; }
cmake --build "$tmp/cmake/build" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake: build"; }
check cmake "$tmp/cmake/build/consumer"
check cmake-compiled "$tmp/cmake/build/consumer_compiled"
# A component vitals does not have is refused with a message that names it.
if cmake -S "$tmp/cmake" -B "$tmp/cmake/build-bad-component" -DCMAKE_PREFIX_PATH="$tmp/relocated" \
     -DVITALS_COMPONENTS="compiled;shared" >"$tmp/log" 2>&1; then
  fail "cmake: an unknown component was accepted"
fi
grep -q "component 'shared' is unknown" "$tmp/log" || { cat "$tmp/log"; fail "cmake: unknown component: no message"; }
# SameMajorVersion: an older request of the same major is met; a newer one or another major is not.
major=${version%%.*}
minor=$(echo "$version" | cut -d. -f2)
for request in "$major.0" "$version"; do
  cmake -S "$tmp/cmake" -B "$tmp/cmake/build-$request" -DCMAKE_PREFIX_PATH="$tmp/relocated" \
    -DVITALS_REQUEST="$request" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake: request $request refused"; }
done
for request in "$major.$(( minor + 1 ))" "$(( major + 1 )).0"; do
  if cmake -S "$tmp/cmake" -B "$tmp/cmake/build-$request" -DCMAKE_PREFIX_PATH="$tmp/relocated" \
       -DVITALS_REQUEST="$request" >"$tmp/log" 2>&1; then
    fail "cmake: request $request accepted by vitals $version"
  fi
done
echo "consumers: cmake version checks ok"

# --- 6. CMake: add_subdirectory, FetchContent, find_package after a CMake install ------------------
# All from the release archive of step 1, unpacked: what a project vendors or downloads.
mkdir -p "$tmp/src"
tar -xzf "$archive" -C "$tmp/src"
src="$tmp/src/vitals-$version"
project cmake_embed
for how in subdirectory fetch_source fetch_url; do
  b="$tmp/cmake_embed/build-$how"
  cmake -S "$tmp/cmake_embed" -B "$b" -DVITALS_HOW="$how" -DVITALS_SOURCE="$src" -DVITALS_ARCHIVE="$archive" \
    -DVITALS_ARCHIVE_SHA256="$(sha256sum "$archive" | cut -d' ' -f1)" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log"; fail "cmake $how: configure"; }
  # Taken in by another project, vitals builds nothing of its own and installs nothing.
  if cmake --build "$b" --target help | grep -q vitals_example; then fail "cmake $how: vitals' examples are built"; fi
  grep -rqs --include=cmake_install.cmake "vitalsTargets" "$b" && fail "cmake $how: vitals installs itself into the consumer"
  cmake --build "$b" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake $how: build"; }
  check "cmake-$how" "$b/consumer"
  check "cmake-$how-compiled" "$b/consumer_compiled"
done
# vitals as the top-level CMake project: its examples build and run (ctest), then it installs.
cmake -S "$src" -B "$tmp/vitals-cmake-build" -DCMAKE_INSTALL_PREFIX="$tmp/cmake-prefix" \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "vitals: cmake configure"; }
cmake --build "$tmp/vitals-cmake-build" -j "$(nproc)" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "vitals: cmake build"; }
(cd "$tmp/vitals-cmake-build" && ctest --output-on-failure) >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "vitals: ctest"; }
echo "consumers: vitals as a top-level CMake project: examples built and run"
cmake --install "$tmp/vitals-cmake-build" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "vitals: cmake install"; }
cmake -S "$tmp/cmake" -B "$tmp/cmake/build-cmake-installed" -DCMAKE_PREFIX_PATH="$tmp/cmake-prefix" >"$tmp/log" 2>&1 ||
  { cat "$tmp/log"; fail "cmake installed by cmake: configure"; }
cmake --build "$tmp/cmake/build-cmake-installed" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake installed by cmake: build"; }
check cmake-find-package-cmake-install "$tmp/cmake/build-cmake-installed/consumer"
check cmake-find-package-cmake-install-compiled "$tmp/cmake/build-cmake-installed/consumer_compiled"
# The CMake install's version file also keeps to SameMajorVersion.
if cmake -S "$tmp/cmake" -B "$tmp/cmake/build-cmake-next" -DCMAKE_PREFIX_PATH="$tmp/cmake-prefix" \
     -DVITALS_REQUEST="$(( ${version%%.*} + 1 )).0" >"$tmp/log" 2>&1; then
  fail "cmake install: a request for the next major version was accepted"
fi

# --- 5. A plain compiler line -----------------------------------------------------------------------------
project plain
(cd "$root" && "$CXX" "${warnings[@]}" -I include -pthread "$tmp/plain/consumer.cpp" -o "$tmp/plain/consumer") ||
  fail "plain: compile"
check plain "$tmp/plain/consumer"

echo "consumers: all ways ok"
