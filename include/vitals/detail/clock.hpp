// vitals — clock readings without <chrono> (a costly include for every user of the core).
#pragma once

#include <ctime>

namespace vitals::detail {

/// Seconds since the Unix epoch (wall clock).
inline double unix_now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Seconds on a clock that never jumps (for uptimes and durations).
inline double monotonic_now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// A std::chrono::duration (or anything shaped like one) in seconds, without naming <chrono>.
template <class D>
concept duration_like = requires(const D& d) {
    d.count();
    D::period::num;
    D::period::den;
};
template <duration_like D>
double to_seconds(const D& d) noexcept {
    return static_cast<double>(d.count()) * static_cast<double>(D::period::num) / static_cast<double>(D::period::den);
}

}  // namespace vitals::detail
