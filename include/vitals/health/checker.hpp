// Health check vocabulary: results, the `checker` concept and adapters that
// turn plain callables into checkers.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "../base/string_ref.hpp"

namespace vitals::health {

/// Clock used for all deadlines and latencies; monotonic so that wall-clock
/// adjustments cannot fire or suppress timeouts.
using clock = std::chrono::steady_clock;

/// Point in time by which a check should have produced its result.
using deadline_t = clock::time_point;

/// Outcome of a check, ordered from best to worst so `worst()` is a max.
enum class status : std::uint8_t {
    healthy,    ///< Dependency works.
    degraded,   ///< Dependency works with reduced quality; still serving.
    unhealthy,  ///< Dependency unusable.
};

/// Lower-case name of a status ("healthy", "degraded", "unhealthy").
constexpr string_ref to_string(status s) noexcept {
    switch (s) {
        case status::healthy:
            return "healthy";
        case status::degraded:
            return "degraded";
        case status::unhealthy:
            return "unhealthy";
    }
    return "unhealthy";
}

/// The more severe of two statuses.
constexpr status worst(status a, status b) noexcept { return a < b ? b : a; }

/// What one run of a check observed.
struct check_result {
    /// Overall verdict.
    health::status status = health::status::healthy;
    /// Human-readable reason; may contain internal details (hosts, errors), so
    /// HTTP handlers withhold it unless configured otherwise.
    std::string message;
    /// Time the check took. The probe overwrites this with its own measurement
    /// so that all checks are timed the same way.
    std::chrono::nanoseconds latency{0};

    /// True unless the status is unhealthy (degraded still counts as usable).
    [[nodiscard]] bool ok() const noexcept { return status != health::status::unhealthy; }
};

/// A healthy result with an optional note.
inline check_result healthy(std::string message = {}) { return check_result{status::healthy, std::move(message), {}}; }
/// A degraded result explaining what is reduced.
inline check_result degraded(std::string message) { return check_result{status::degraded, std::move(message), {}}; }
/// An unhealthy result explaining what failed.
inline check_result unhealthy(std::string message) { return check_result{status::unhealthy, std::move(message), {}}; }

namespace detail {
template <class R>
concept check_return = std::convertible_to<R, check_result> || std::same_as<std::remove_cvref_t<R>, bool>;

template <class R>
check_result to_result(R&& r) {
    if constexpr (std::same_as<std::remove_cvref_t<R>, bool>) {
        return r ? healthy() : unhealthy("check returned false");
    } else {
        return check_result(std::forward<R>(r));
    }
}
// Separate concepts (not one boolean expression) so that invoke_result_t is
// only formed once invocability is established.
template <class F>
concept deadline_check_function = std::invocable<F&, deadline_t> && check_return<std::invoke_result_t<F&, deadline_t>>;

template <class F>
concept plain_check_function = std::invocable<F&> && check_return<std::invoke_result_t<F&>>;
}  // namespace detail

/// Something that can be probed: it has a stable name and a `check` that
/// returns within (roughly) the given deadline. `check` takes the deadline or
/// nothing and returns a `check_result` or a `bool` (false means unhealthy).
///
/// The probe never runs one checker object concurrently with itself, but
/// successive runs may happen on different threads. A check that ignores its
/// deadline is still reported as a timeout on time; it merely keeps one
/// background thread busy until it returns.
template <class C>
concept checker =
    requires(const C& cc) {
        { cc.name() } -> std::convertible_to<string_ref>;
    } &&
    (
        requires(C& c, deadline_t d) {
            { c.check(d) } -> detail::check_return;
        } ||
        requires(C& c) {
            { c.check() } -> detail::check_return;
        });

/// Runs a checker's `check`, passing the deadline only if it takes one.
template <checker C>
check_result run_checker(C& c, deadline_t deadline) {
    if constexpr (requires { c.check(deadline); }) {
        return detail::to_result(c.check(deadline));
    } else {
        return detail::to_result(c.check());
    }
}

/// A callable usable as a check body: invocable with a deadline or with no
/// arguments, returning a `check_result` or `bool` (false means unhealthy).
template <class F>
concept check_function = detail::deadline_check_function<F> || detail::plain_check_function<F>;

/// Invokes a check function, passing the deadline only if it accepts one.
template <check_function F>
check_result invoke_check(F& fn, deadline_t deadline) {
    if constexpr (detail::deadline_check_function<F>) {
        return detail::to_result(fn(deadline));
    } else {
        return detail::to_result(fn());
    }
}

/// Adapts a name plus a callable into a `checker`.
template <check_function F>
class function_checker {
public:
    /// Wraps `fn` under `name`.
    function_checker(std::string name, F fn) : name_(std::move(name)), fn_(std::move(fn)) {}

    /// The check's name.
    [[nodiscard]] string_ref name() const noexcept { return name_; }

    /// Runs the wrapped callable.
    check_result check(deadline_t deadline) { return invoke_check(fn_, deadline); }

private:
    std::string name_;
    F fn_;
};

/// Makes a checker from a name and a lambda, e.g.
/// `make_checker("cache", [] { return cache.ping(); })`.
template <class F>
    requires check_function<std::decay_t<F>>
function_checker<std::decay_t<F>> make_checker(std::string name, F&& fn) {
    return function_checker<std::decay_t<F>>(std::move(name), std::forward<F>(fn));
}

}  // namespace vitals::health
