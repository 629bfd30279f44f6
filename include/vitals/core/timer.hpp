// vitals — timing any code: a scope guard that observes a duration into a histogram or summary,
// one that counts work in progress on a gauge, and a function wrapper. The HTTP layer's
// request_timer does the same for requests, with statuses; these are for everything else (a
// database call, a cache refill, a job), as the Python client's `Histogram.time()` and
// `Gauge.track_inprogress()` are.
//
// Both guards are movable, so one can travel across an asynchronous wait inside a lambda capture
// without a shared_ptr; a moved-from guard does nothing.
#pragma once

#include <chrono>
#include <concepts>
#include <functional>
#include <type_traits>
#include <utility>

namespace vitals {

namespace detail {
// What a moved guard takes from the one it replaces: a copy of the handle where it has one (a
// reference count), so the moved-from guard keeps a valid handle it will never use. (Moving
// would leave it null, and GCC 12 then warns about the update it can prove is never reached.)
template <class T>
T take_handle(T& from) {
    if constexpr (std::is_copy_constructible_v<T>)
        return T(from);
    else
        return T(std::move(from));
}
}  // namespace detail

/// Anything a duration in seconds can be observed into: a histogram, summary or native histogram
/// handle (or a reference a family's labels() returns).
template <class T>
concept duration_observer = requires(const T& t, double seconds) { t.observe(seconds); };

/// Anything work in progress can be counted on: a gauge handle.
template <class T>
concept inprogress_gauge = requires(const T& t) {
    t.inc();
    t.dec();
};

/// Observes the seconds from construction to stop() (or destruction) into a histogram or
/// summary, once: `vitals::scoped_timer t(db_latency);`. Holds a copy of the handle (a reference
/// count), so the series outlives the timer's scope if need be. The duration is observed on
/// every way out of the scope, exceptions included; cancel() drops it.
template <duration_observer Observer>
class scoped_timer {
public:
    /// Starts timing now.
    explicit scoped_timer(Observer o) noexcept(std::is_nothrow_move_constructible_v<Observer>)
        : observer_(std::move(o)), start_(std::chrono::steady_clock::now()) {}

    scoped_timer(const scoped_timer&) = delete;
    scoped_timer& operator=(const scoped_timer&) = delete;
    /// Takes over `o`'s measurement; `o` observes nothing.
    scoped_timer(scoped_timer&& o) noexcept(noexcept(detail::take_handle(o.observer_)))
        : observer_(detail::take_handle(o.observer_)), start_(o.start_), active_(std::exchange(o.active_, false)) {}
    scoped_timer& operator=(scoped_timer&&) = delete;  // would have to observe the one it holds

    /// Observes the duration unless stopped or cancelled already.
    ~scoped_timer() { (void)stop(); }

    /// Observes the duration now and returns it in seconds; 0 (and nothing observed) when it was
    /// stopped, cancelled or moved from before.
    double stop() noexcept {
        if (!active_) return 0;
        active_ = false;
        const double s = elapsed();
        try {
            (void)observer_.observe(s);
        } catch (...) {  // a metric must never turn timed code into a crash
        }
        return s;
    }

    /// Drops the measurement: nothing is observed.
    void cancel() noexcept { active_ = false; }

    /// Seconds since the timer started.
    [[nodiscard]] double elapsed() const noexcept {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    Observer observer_;
    std::chrono::steady_clock::time_point start_;
    bool active_ = true;
};

template <class Observer>
scoped_timer(Observer) -> scoped_timer<Observer>;

/// Counts one unit of work in progress on a gauge for its lifetime: inc() at construction,
/// dec() at destruction (or done()), on every way out of the scope.
template <inprogress_gauge Gauge>
class inprogress_guard {
public:
    /// Counts the work in (gauge.inc()).
    explicit inprogress_guard(Gauge g) : gauge_(std::move(g)) { (void)gauge_.inc(); }

    inprogress_guard(const inprogress_guard&) = delete;
    inprogress_guard& operator=(const inprogress_guard&) = delete;
    /// Takes over `o`'s unit of work; `o` counts nothing out.
    inprogress_guard(inprogress_guard&& o) noexcept(noexcept(detail::take_handle(o.gauge_)))
        : gauge_(detail::take_handle(o.gauge_)), active_(std::exchange(o.active_, false)) {}
    inprogress_guard& operator=(inprogress_guard&&) = delete;

    ~inprogress_guard() { done(); }

    /// Counts the work out now (gauge.dec()), once.
    void done() noexcept {
        if (!active_) return;
        active_ = false;
        try {
            (void)gauge_.dec();
        } catch (...) {}
    }

private:
    Gauge gauge_;
    bool active_ = true;
};

template <class Gauge>
inprogress_guard(Gauge) -> inprogress_guard<Gauge>;

/// Calls `f(args...)` and observes how long it took into `o` (also when it throws); returns what
/// `f` returns: `auto rows = vitals::timed(query_seconds, run_query, sql);`.
template <duration_observer Observer, class F, class... Args>
    requires std::invocable<F&&, Args&&...>
decltype(auto) timed(const Observer& o, F&& f, Args&&... args) {
    scoped_timer<Observer> t(o);
    return std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
}

}  // namespace vitals
