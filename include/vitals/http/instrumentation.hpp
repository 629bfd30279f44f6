// vitals — HTTP request metrics with per-route handles prepared ahead of the request path.
//
// Why handles per route: looking a series up by label values hashes and compares strings on every
// request. A route (method + route template) is known when the handler is registered, so its
// latency series is fetched once, and its counter series the first time each status is seen;
// after that, recording a request is a few relaxed loads and stores: no lock, no allocation.
//
// Label values are drawn from closed sets so that no client can grow the number of series:
// - `method`: GET HEAD POST PUT DELETE PATCH OPTIONS CONNECT TRACE, or `other` (methods are
//   case-sensitive, RFC 9110 §9.1, so `get` is `other`);
// - `endpoint`: the route template, or `unmatched` for requests that matched no route;
// - `status`: the decimal code for 100–599, `invalid` for anything else;
// - `error_type` (failures only): see error_type below.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "../core/gauge.hpp"
#include "../core/operational.hpp"
#include "../core/registry.hpp"

namespace vitals::http {

/// The request methods that get a label value of their own; everything else is `other`.
enum class method_id : std::uint8_t { get, head, post, put, delete_, patch, options, connect, trace, other };

/// Number of method_id values.
inline constexpr std::size_t method_count = 10;

/// The `method` label value of `id`.
[[nodiscard]] constexpr std::string_view method_name(method_id id) noexcept {
    constexpr std::string_view names[method_count] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                      "PATCH",   "OPTIONS", "CONNECT", "TRACE", "other"};
    return names[static_cast<std::size_t>(id)];
}

/// Maps a request method to its label: exact, case-sensitive match, `other` otherwise.
[[nodiscard]] constexpr method_id parse_method(std::string_view m) noexcept {
    for (std::size_t i = 0; i + 1 < method_count; ++i)
        if (m == method_name(static_cast<method_id>(i))) return static_cast<method_id>(i);
    return method_id::other;
}

/// Why a request counts as failed: the `error_type` label of `http_requests_failed_total`.
enum class error_type : std::uint8_t {
    none,          ///< Not failed (status below 400 and nothing marked).
    client_error,  ///< `client_error`: the handler answered 4xx.
    server_error,  ///< `server_error`: the handler answered 5xx.
    exception,     ///< `exception`: an exception left the handler; recorded as status 500.
    timeout,       ///< `timeout`: the request was marked timed out (default status 504).
    cancelled,     ///< `cancelled`: the client went away first (default status 499, as nginx).
};

/// Number of error_type values.
inline constexpr std::size_t error_type_count = 6;

/// The `error_type` label value of `e` (empty for none).
[[nodiscard]] constexpr std::string_view error_type_name(error_type e) noexcept {
    constexpr std::string_view names[error_type_count] = {"", "client_error", "server_error",
                                                          "exception", "timeout", "cancelled"};
    return names[static_cast<std::size_t>(e)];
}

/// The `endpoint` label of requests that matched no route.
inline constexpr std::string_view unmatched_endpoint = "unmatched";
/// The `status` label of codes outside 100–599.
inline constexpr std::string_view invalid_status = "invalid";

namespace detail {
// Index 0 is the out-of-range code, 1..500 are 100..599.
inline constexpr std::size_t status_slots = 501;

[[nodiscard]] constexpr std::size_t status_index(int status) noexcept {
    return status >= 100 && status <= 599 ? static_cast<std::size_t>(status - 99) : 0;
}

// Formatted at compile time so that a request never formats a number.
inline constexpr auto status_texts = [] {
    std::array<std::array<char, 3>, status_slots> t{};
    for (int s = 100; s <= 599; ++s) {
        auto& e = t[status_index(s)];
        e[0] = static_cast<char>('0' + s / 100);
        e[1] = static_cast<char>('0' + s / 10 % 10);
        e[2] = static_cast<char>('0' + s % 10);
    }
    return t;
}();
}  // namespace detail

/// The `status` label value of `status`: "200", or `invalid` outside 100–599. Never allocates.
[[nodiscard]] constexpr std::string_view status_label(int status) noexcept {
    const std::size_t i = detail::status_index(status);
    return i == 0 ? invalid_status : std::string_view(detail::status_texts[i].data(), 3);
}

/// The error type a status implies when nothing else was marked.
[[nodiscard]] constexpr error_type error_type_for_status(int status) noexcept {
    if (status >= 400 && status <= 499) return error_type::client_error;
    if (status >= 500 && status <= 599) return error_type::server_error;
    return error_type::none;
}

class instrumentation;

/// The metrics of one route: one method on one route template. Made by instrumentation, which
/// keeps it alive (and at the same address) for its own lifetime.
class route_metrics {
public:
    route_metrics(const route_metrics&) = delete;
    route_metrics& operator=(const route_metrics&) = delete;
    ~route_metrics() {
        for (auto& t : tables_) {
            table* p = t.load(std::memory_order_relaxed);
            if (!p) continue;
            for (auto& c : p->slots) delete c.load(std::memory_order_relaxed);
            delete p;
        }
    }

    /// The `method` label value.
    [[nodiscard]] std::string_view method() const noexcept { return method_name(method_); }
    /// The `endpoint` label value (the route template, or `unmatched`).
    [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

    /// Records one finished request. `marked` overrides the error type the status implies (an
    /// exception, a timeout); a request fails when its status is 4xx/5xx or something was marked.
    /// Costs no lock or allocation once this status (and error type) has been seen on this route.
    void record(int status, error_type marked, double seconds) {
        duration_.observe(seconds);
        counter_for(0, status).inc();
        const error_type e = marked != error_type::none ? marked : error_type_for_status(status);
        if (e != error_type::none) counter_for(static_cast<std::size_t>(e), status).inc();
    }

    /// Counts a request as started (the `http_requests_in_flight` gauge).
    void begin() const { in_flight_.inc(); }
    /// Counts a started request as finished.
    void end() const { in_flight_.dec(); }

private:
    friend class endpoint_metrics;

    struct table {
        std::array<std::atomic<counter*>, detail::status_slots> slots{};
    };

    route_metrics(operational_metrics& ops, const gauge& in_flight, method_id m, std::string endpoint)
        : ops_(ops), in_flight_(in_flight), method_(m), endpoint_(std::move(endpoint)),
          duration_(ops.request_duration.with(method_name(m), endpoint_)) {}

    // Table 0 holds http_requests_total, table e the failures of error type e.
    const counter& counter_for(std::size_t t, int status) {
        const std::size_t i = detail::status_index(status);
        if (const table* p = tables_[t].load(std::memory_order_acquire)) [[likely]]
            if (const counter* c = p->slots[i].load(std::memory_order_acquire)) [[likely]]
                return *c;
        return create(t, status);
    }

    // The first request with a new status on this route: makes the handle, once.
    [[gnu::noinline]] const counter& create(std::size_t t, int status) {
        table* p = tables_[t].load(std::memory_order_acquire);
        if (!p) {
            auto fresh = std::make_unique<table>();
            if (tables_[t].compare_exchange_strong(p, fresh.get(), std::memory_order_acq_rel))
                p = fresh.release();
        }
        auto& slot = p->slots[detail::status_index(status)];
        counter* c = slot.load(std::memory_order_acquire);
        if (c) return *c;
        const std::string_view st = status_label(status);
        auto made = std::make_unique<counter>(
            t == 0 ? ops_.requests_total.with(method(), endpoint_, st)
                   : ops_.requests_failed_total.with(method(), endpoint_, st,
                                                     error_type_name(static_cast<error_type>(t))));
        if (slot.compare_exchange_strong(c, made.get(), std::memory_order_acq_rel)) return *made.release();
        return *c;
    }

    operational_metrics& ops_;
    const gauge& in_flight_;
    method_id method_;
    std::string endpoint_;
    histogram duration_;
    std::array<std::atomic<table*>, error_type_count> tables_{};
};

/// The routes of one route template, one per method, each made on its first request. Lets an
/// adapter learn the method at request time (a HEAD to a GET route, a handler for all methods)
/// and still find its handles without a lock.
class endpoint_metrics {
public:
    endpoint_metrics(const endpoint_metrics&) = delete;
    endpoint_metrics& operator=(const endpoint_metrics&) = delete;
    ~endpoint_metrics() {
        for (auto& r : routes_) delete r.load(std::memory_order_relaxed);
    }

    /// The `endpoint` label value.
    [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

    /// The route for request method `method` (unknown methods share `other`).
    route_metrics& for_method(std::string_view method) { return for_method(parse_method(method)); }

    /// The route for `m`.
    route_metrics& for_method(method_id m) {
        auto& slot = routes_[static_cast<std::size_t>(m)];
        if (route_metrics* r = slot.load(std::memory_order_acquire)) [[likely]]
            return *r;
        return create(slot, m);
    }

private:
    friend class instrumentation;
    endpoint_metrics(operational_metrics& ops, const gauge& in_flight, std::string endpoint)
        : ops_(ops), in_flight_(in_flight), endpoint_(std::move(endpoint)) {}

    [[gnu::noinline]] route_metrics& create(std::atomic<route_metrics*>& slot, method_id m) {
        std::unique_ptr<route_metrics> made(new route_metrics(ops_, in_flight_, m, endpoint_));
        route_metrics* expected = nullptr;
        if (slot.compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel)) return *made.release();
        return *expected;
    }

    operational_metrics& ops_;
    const gauge& in_flight_;
    std::string endpoint_;
    std::array<std::atomic<route_metrics*>, method_count> routes_{};
};

/// HTTP instrumentation for one registry: the operational request families plus
/// `http_requests_in_flight` (gauge), and the routes made so far.
///
/// Call route() or endpoint() when handlers are registered (that takes a lock and allocates);
/// request_timer and instrument() then use the returned objects without either.
class instrumentation {
public:
    /// Registers the operational metrics and the in-flight gauge in `r`, owning the former.
    explicit instrumentation(registry& r)
        : owned_(std::make_unique<operational_metrics>(r)), ops_(*owned_), in_flight_(make_in_flight(r)),
          unmatched_(ops_, in_flight_, std::string(unmatched_endpoint)) {}

    /// Uses operational metrics the caller already has (registered in `r`), so that one
    /// `operational_metrics` serves service_started() and the HTTP families alike.
    instrumentation(registry& r, operational_metrics& ops)
        : ops_(ops), in_flight_(make_in_flight(r)), unmatched_(ops_, in_flight_, std::string(unmatched_endpoint)) {}

    instrumentation(const instrumentation&) = delete;
    instrumentation& operator=(const instrumentation&) = delete;

    /// The operational metrics (service_started(), uptime, the request families).
    [[nodiscard]] operational_metrics& operational() noexcept { return ops_; }
    /// `http_requests_in_flight`: requests begun and not yet finished.
    [[nodiscard]] const gauge& in_flight() const noexcept { return in_flight_; }

    /// The routes of `route_template` (made on first use; the reference stays valid).
    endpoint_metrics& endpoint(std::string_view route_template) {
        if (route_template == unmatched_endpoint) return unmatched_;
        std::lock_guard lock(mu_);
        auto it = endpoints_.find(route_template);
        if (it == endpoints_.end()) {
            std::unique_ptr<endpoint_metrics> e(new endpoint_metrics(ops_, in_flight_, std::string(route_template)));
            it = endpoints_.emplace(std::string(route_template), std::move(e)).first;
        }
        return *it->second;
    }

    /// The route of `method` on `route_template`; its latency series exists from now on.
    route_metrics& route(std::string_view method, std::string_view route_template) {
        return endpoint(route_template).for_method(method);
    }

    /// The shared routes of requests that matched no route (endpoint `unmatched`); lock-free.
    [[nodiscard]] endpoint_metrics& unmatched() noexcept { return unmatched_; }

private:
    static gauge make_in_flight(registry& r) {
        return r.gauge<"http_requests_in_flight">("HTTP requests being handled right now.");
    }

    std::unique_ptr<operational_metrics> owned_;
    operational_metrics& ops_;
    gauge in_flight_;
    endpoint_metrics unmatched_;
    std::mutex mu_;
    std::map<std::string, std::unique_ptr<endpoint_metrics>, std::less<>> endpoints_;
};

}  // namespace vitals::http
