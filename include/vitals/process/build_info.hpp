// vitals — build information as info-style gauges: one series whose labels carry the facts and
// whose value is always 1. Joining on it (`* on(instance) group_left(version) ..._build_info`)
// puts the running version next to any other series, which is how a dashboard shows a rollout.
#pragma once

#include <string>

#include "../core/registry.hpp"
#include "../version.hpp"

/// The source revision vitals was built from; define it (e.g. `-DVITALS_BUILD_REVISION="\"abc123\""`)
/// to have it rendered in `vitals_build_info`. Left at "unknown" because a header-only library
/// cannot know which checkout a user compiled.
#ifndef VITALS_BUILD_REVISION
#define VITALS_BUILD_REVISION "unknown"
#endif

namespace vitals {

/// The compiler that compiled this translation unit, e.g. "gcc 12.2.0" or "clang 14.0.6".
inline std::string compiler_description() {
#if defined(__clang__)
    std::string s = "clang " __clang_version__;
#elif defined(__GNUC__)
    std::string s = "gcc " __VERSION__;
#elif defined(_MSC_FULL_VER)
    std::string s = "msvc " + std::to_string(_MSC_FULL_VER);
#else
    std::string s = "unknown";
#endif
    // Clang's version string ends in a space on some distributions.
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

/// Registers `name{version, revision} 1`, the application's own build information, in `r`.
/// The name is checked at run time (invalid_argument_error when bad); by convention it ends in
/// `_build_info`. Calling it again with other values adds another series: pass each build once.
inline void register_build_info(registry& r, string_ref name, string_ref version, string_ref revision,
                                string_ref help = "Build information; the value is always 1.") {
    r.gauge<labels<"version", "revision">>(name, help).labels(version, revision).set(1);
}

/// Registers `vitals_build_info{version, revision, compiler} 1`: which vitals, from which revision
/// (VITALS_BUILD_REVISION), built by which compiler.
inline void register_vitals_build_info(registry& r) {
    r.gauge<"vitals_build_info", labels<"version", "revision", "compiler">>(
         "Build information of the vitals library; the value is always 1.")
        .labels(VITALS_VERSION_STRING, VITALS_BUILD_REVISION, compiler_description())
        .set(1);
}

}  // namespace vitals
