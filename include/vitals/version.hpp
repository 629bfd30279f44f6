// vitals — the library's version, for code that must adapt to it at compile time and for the
// build-info metric. Kept equal to the version in meson.build (tests/build_info_test checks it).
#pragma once

/// Major version: changes when a release breaks source compatibility.
#define VITALS_VERSION_MAJOR 0
/// Minor version: changes when a release adds features.
#define VITALS_VERSION_MINOR 1
/// Patch version: changes for fixes only.
#define VITALS_VERSION_PATCH 0
/// "MAJOR.MINOR.PATCH", as a string literal.
#define VITALS_VERSION_STRING "0.1.0"

namespace vitals {

/// The version as a string, for code that prefers a constant to a macro.
inline constexpr const char* version_string = VITALS_VERSION_STRING;

}  // namespace vitals
