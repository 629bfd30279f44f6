// vitals — request_timer: a scope guard that times one HTTP request in any framework.
//
// Make one when the request begins, tell it the status when known, and let it go: its destructor
// records latency, the request count and, for 4xx/5xx, the failure. An exception leaving the
// scope is recorded as status 500 with error_type "exception" and continues untouched, so the
// framework still answers the client the way it always does.
#pragma once

#include <chrono>
#include <exception>
#include <string_view>

#include "instrumentation.hpp"

namespace vitals::http {

/// Times one request on one route; records when destroyed. Movable (not copyable), so an
/// asynchronous handler can carry it across its waits in a lambda capture or a session member;
/// a moved-from timer records nothing.
class request_timer {
public:
    /// Starts timing a request on `route` and counts it in flight. No lock, no allocation.
    explicit request_timer(route_metrics& route) noexcept
        : route_(&route), start_(std::chrono::steady_clock::now()), exceptions_(std::uncaught_exceptions()) {
        try {
            route_->begin();
        } catch (...) {  // a thread's first metric may allocate its cells; losing the gauge beats failing
            counted_ = false;
        }
    }

    /// Starts timing `method` on `route_template`. Looks the route up (a lock); prefer the
    /// route_metrics overload on hot paths.
    request_timer(instrumentation& inst, string_ref method, string_ref route_template)
        : request_timer(inst.route(method, route_template)) {}

    request_timer(const request_timer&) = delete;
    request_timer& operator=(const request_timer&) = delete;
    /// Takes over `o`'s request (start time, status, marks); `o` records nothing.
    request_timer(request_timer&& o) noexcept
        : route_(o.route_),
          start_(o.start_),
          exceptions_(o.exceptions_),
          status_(o.status_),
          marked_(o.marked_),
          counted_(o.counted_) {
        o.route_ = nullptr;
    }
    request_timer& operator=(request_timer&&) = delete;  // would have to record the request it holds

    /// Records the request. A failure to record (out of memory on a route's first status) is
    /// swallowed: metrics must never turn a served request into a crash.
    ~request_timer() {
        if (!route_) return;  // moved from
        if (std::uncaught_exceptions() > exceptions_) {
            status_ = 500;
            marked_ = error_type::exception;
        }
        try {
            const std::chrono::duration<double> d = std::chrono::steady_clock::now() - start_;
            route_->record(status_, marked_, d.count());
        } catch (...) {}
        if (counted_) route_->end();
    }

    /// Sets the response status (default 200). Keeps an error type marked before.
    void set_status(int status) noexcept { status_ = status; }

    /// Marks the request timed out; it is recorded with `status` and error_type "timeout".
    void mark_timeout(int status = 504) noexcept {
        status_ = status;
        marked_ = error_type::timeout;
    }

    /// Marks the request abandoned by its client; recorded with `status` (499, as nginx logs it)
    /// and error_type "cancelled".
    void mark_cancelled(int status = 499) noexcept {
        status_ = status;
        marked_ = error_type::cancelled;
    }

    /// Records the request as one that threw (500, "exception") for adapters that must catch the
    /// exception inside the timer's scope (a C framework cannot let it through).
    void mark_exception() noexcept {
        status_ = 500;
        marked_ = error_type::exception;
    }

    /// The status recorded so far.
    [[nodiscard]] int status() const noexcept { return status_; }
    /// The error type marked so far (none unless marked).
    [[nodiscard]] error_type marked() const noexcept { return marked_; }
    /// Time since the request began.
    [[nodiscard]] std::chrono::steady_clock::duration elapsed() const noexcept {
        return std::chrono::steady_clock::now() - start_;
    }
    /// The route being timed (not on a moved-from timer).
    [[nodiscard]] route_metrics& route() const noexcept { return *route_; }

private:
    route_metrics* route_;  // null once moved from
    std::chrono::steady_clock::time_point start_;
    int exceptions_;
    int status_ = 200;
    error_type marked_ = error_type::none;
    bool counted_ = true;
};

}  // namespace vitals::http
