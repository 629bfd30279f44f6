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
//
// instrumentation_options chooses the latency buckets (per instrumentation; route_options per
// route template), whether the metrics and probe endpoints count as routes, and the metric names:
// vitals' own (above) or OpenTelemetry's HTTP semantic conventions.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <vector>

#include "../core/gauge.hpp"
#include "../core/registry.hpp"
#include "layered_histogram.hpp"
#include "operational.hpp"

namespace vitals::http {

/// The request methods that get a label value of their own; everything else is `other`.
enum class method_id : std::uint8_t { get, head, post, put, delete_, patch, options, connect, trace, other };

/// Number of method_id values.
inline constexpr std::size_t method_count = 10;

/// The `method` label value of `id`.
[[nodiscard]] constexpr string_ref method_name(method_id id) noexcept {
    constexpr string_ref names[method_count] = {"GET",   "HEAD",    "POST",    "PUT",   "DELETE",
                                                "PATCH", "OPTIONS", "CONNECT", "TRACE", "other"};
    return names[static_cast<std::size_t>(id)];
}

/// Maps a request method to its label: exact, case-sensitive match, `other` otherwise.
[[nodiscard]] constexpr method_id parse_method(string_ref m) noexcept {
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
[[nodiscard]] constexpr string_ref error_type_name(error_type e) noexcept {
    constexpr string_ref names[error_type_count] = {"",          "client_error", "server_error",
                                                    "exception", "timeout",      "cancelled"};
    return names[static_cast<std::size_t>(e)];
}

/// The `endpoint` label of requests that matched no route.
inline constexpr string_ref unmatched_endpoint = "unmatched";
/// The `status` label of codes outside 100–599.
inline constexpr string_ref invalid_status = "invalid";

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
[[nodiscard]] constexpr string_ref status_label(int status) noexcept {
    const std::size_t i = detail::status_index(status);
    return i == 0 ? invalid_status : string_ref(detail::status_texts[i].data(), 3);
}

/// The error type a status implies when nothing else was marked.
[[nodiscard]] constexpr error_type error_type_for_status(int status) noexcept {
    if (status >= 400 && status <= 499) return error_type::client_error;
    if (status >= 500 && status <= 599) return error_type::server_error;
    return error_type::none;
}

/// Which names the HTTP metrics get.
enum class metric_names : std::uint8_t {
    /// vitals' (the seed service's): `http_request_duration_seconds{method,endpoint}`,
    /// `http_requests_total{method,endpoint,status}`,
    /// `http_requests_failed_total{method,endpoint,status,error_type}`, `http_requests_in_flight`.
    vitals,
    /// OpenTelemetry's HTTP server semantic conventions as Prometheus exporters name them:
    /// `http_server_request_duration_seconds{http_request_method,http_route,http_response_status_code}`
    /// (its `_count` counts requests) and `http_server_active_requests`. Unknown methods are
    /// `_OTHER` and requests that matched no route have an empty `http_route`, as there.
    opentelemetry,
};

/// The bucket boundaries OpenTelemetry advises for `http.server.request.duration` (5 ms to 10 s).
inline constexpr fixed_buckets otel_duration_buckets{
    {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}};

/// Settings of one route template, given when it is registered.
struct route_options {
    /// Latency bucket upper bounds for this template's series (+Inf implied); empty: the
    /// instrumentation's. A 0.5 ms route wants finer ones than the 10 ms default's first bucket,
    /// which would make it read p50 = 5 ms by interpolation.
    std::vector<double> buckets = {};
};

/// Settings of an instrumentation.
struct instrumentation_options {
    /// Latency bucket upper bounds of every route that sets none (+Inf implied); empty:
    /// http_duration_buckets (10 ms to 10 s).
    std::vector<double> buckets = {};
    /// Whether the metrics endpoint and the health probes an adapter serves (its metrics() and
    /// health()) are recorded like other routes. Off by default: scrapes and probes arrive every
    /// few seconds whatever the traffic, and would dominate request rates.
    bool count_service_endpoints = false;
    /// The metric and label names.
    metric_names names = metric_names::vitals;
};

class instrumentation;

namespace detail {
using otel_duration_family =
    layered_histogram_family<labels<"http_request_method", "http_route", "http_response_status_code">>;
using vitals_duration_family = layered_histogram_family<labels<"method", "endpoint">>;

// The `http_request_method` value of OpenTelemetry's conventions.
[[nodiscard]] constexpr string_ref otel_method_name(method_id id) noexcept {
    return id == method_id::other ? string_ref("_OTHER") : method_name(id);
}

[[nodiscard]] inline bool same_bounds(span<const double> a, span<const double> b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!(a[i] == b[i])) return false;
    return true;
}

// Where a route's series come from: one histogram family layer (chosen by the route's buckets)
// and, under vitals' names, the counter families of the operational metrics.
struct route_sinks {
    operational_metrics* ops = nullptr;
    histogram_family<labels<"method", "endpoint">>* duration = nullptr;  // vitals' names
    otel_duration_family::layer_type* otel = nullptr;                    // OpenTelemetry's names
};
}  // namespace detail

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
        if (histogram_table* p = by_status_.load(std::memory_order_relaxed)) {
            for (auto& h : p->slots) delete h.load(std::memory_order_relaxed);
            delete p;
        }
    }

    /// The `method` label value.
    [[nodiscard]] string_ref method() const noexcept { return method_name(method_); }
    /// The route template, or `unmatched`.
    [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

    /// Records one finished request. `marked` overrides the error type the status implies (an
    /// exception, a timeout); a request fails when its status is 4xx/5xx or something was marked.
    /// Costs no lock or allocation once this status (and error type) has been seen on this route.
    /// Under OpenTelemetry's names only the status is recorded (their duration histogram has no
    /// error type), so an exception counts as a 500.
    // Flattened so that the observation and increments are inlined whatever else calls them (the
    // inliner keeps a function with several callers out of line); the first-use paths stay out.
    [[gnu::flatten]] void record(int status, error_type marked, double seconds) {
        if (sinks_.otel) [[unlikely]]
            return record_otel(status, seconds);
        duration_->observe(seconds);
        counter_for(0, status).inc();
        const error_type e = marked != error_type::none ? marked : error_type_for_status(status);
        if (e != error_type::none) counter_for(static_cast<std::size_t>(e), status).inc();
    }

    /// Counts a request as started (the in-flight gauge).
    void begin() const { in_flight_.inc(); }
    /// Counts a started request as finished.
    void end() const { in_flight_.dec(); }

private:
    friend class endpoint_metrics;

    struct table {
        std::array<std::atomic<counter*>, detail::status_slots> slots{};
    };
    struct histogram_table {
        std::array<std::atomic<histogram*>, detail::status_slots> slots{};
    };

    route_metrics(const detail::route_sinks& sinks, const gauge& in_flight, method_id m, std::string endpoint,
                  std::string_view label)
        : sinks_(sinks), in_flight_(in_flight), method_(m), endpoint_(std::move(endpoint)), label_(label) {
        if (!sinks_.otel) duration_.emplace(sinks_.duration->with(method_name(m), label_));
    }

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
            if (tables_[t].compare_exchange_strong(p, fresh.get(), std::memory_order_acq_rel)) p = fresh.release();
        }
        auto& slot = p->slots[detail::status_index(status)];
        counter* c = slot.load(std::memory_order_acquire);
        if (c) return *c;
        const std::string_view st = status_label(status);
        auto made =
            std::make_unique<counter>(t == 0 ? sinks_.ops->requests_total.with(method(), label_, st)
                                             : sinks_.ops->requests_failed_total.with(
                                                   method(), label_, st, error_type_name(static_cast<error_type>(t))));
        if (slot.compare_exchange_strong(c, made.get(), std::memory_order_acq_rel)) return *made.release();
        return *c;
    }

    // Out of line, so that vitals' names (the default) keep record() as small as it was.
    [[gnu::noinline]] void record_otel(int status, double seconds) { histogram_for(status).observe(seconds); }

    // OpenTelemetry's names: one duration series per status, made on the status's first request.
    const histogram& histogram_for(int status) {
        const std::size_t i = detail::status_index(status);
        if (const histogram_table* p = by_status_.load(std::memory_order_acquire)) [[likely]]
            if (const histogram* h = p->slots[i].load(std::memory_order_acquire)) [[likely]]
                return *h;
        return create_histogram(status);
    }

    [[gnu::noinline]] const histogram& create_histogram(int status) {
        histogram_table* p = by_status_.load(std::memory_order_acquire);
        if (!p) {
            auto fresh = std::make_unique<histogram_table>();
            if (by_status_.compare_exchange_strong(p, fresh.get(), std::memory_order_acq_rel)) p = fresh.release();
        }
        auto& slot = p->slots[detail::status_index(status)];
        histogram* h = slot.load(std::memory_order_acquire);
        if (h) return *h;
        auto made = std::make_unique<histogram>(
            sinks_.otel->with(detail::otel_method_name(method_), label_, status_label(status)));
        if (slot.compare_exchange_strong(h, made.get(), std::memory_order_acq_rel)) return *made.release();
        return *h;
    }

    detail::route_sinks sinks_;
    const gauge& in_flight_;
    method_id method_;
    std::string endpoint_;
    std::string label_;                  // the endpoint's label value (empty for unmatched under OpenTelemetry's names)
    std::optional<histogram> duration_;  // vitals' names
    std::array<std::atomic<table*>, error_type_count> tables_{};
    std::atomic<histogram_table*> by_status_{};  // OpenTelemetry's names
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

    /// The route template, or `unmatched`.
    [[nodiscard]] const std::string& endpoint() const noexcept { return endpoint_; }

    /// The latency bucket upper bounds of this template's series.
    [[nodiscard]] span<const double> buckets() const noexcept {
        if (sinks_.otel) return sinks_.otel->params().layout->bounds();
        return sinks_.duration->params().layout->bounds();
    }

    /// The route for request method `method` (unknown methods share `other`).
    route_metrics& for_method(string_ref method) { return for_method(parse_method(method)); }

    /// The route for `m`.
    route_metrics& for_method(method_id m) {
        auto& slot = routes_[static_cast<std::size_t>(m)];
        if (route_metrics* r = slot.load(std::memory_order_acquire)) [[likely]]
            return *r;
        return create(slot, m);
    }

private:
    friend class instrumentation;
    endpoint_metrics(const detail::route_sinks& sinks, const gauge& in_flight, std::string endpoint, std::string label)
        : sinks_(sinks), in_flight_(in_flight), endpoint_(std::move(endpoint)), label_(std::move(label)) {}

    [[gnu::noinline]] route_metrics& create(std::atomic<route_metrics*>& slot, method_id m) {
        std::unique_ptr<route_metrics> made(new route_metrics(sinks_, in_flight_, m, endpoint_, label_));
        route_metrics* expected = nullptr;
        if (slot.compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel)) return *made.release();
        return *expected;
    }

    detail::route_sinks sinks_;
    const gauge& in_flight_;
    std::string endpoint_;
    std::string label_;
    std::array<std::atomic<route_metrics*>, method_count> routes_{};
};

/// HTTP instrumentation for one registry: the request families, the in-flight gauge, and the
/// routes made so far.
///
/// Call route() or endpoint() when handlers are registered (that takes a lock and allocates);
/// request_timer and instrument() then use the returned objects without either.
class instrumentation {
public:
    /// Registers the operational metrics (owning them), the in-flight gauge and, under
    /// OpenTelemetry's names, their duration histogram in `r`. Throws invalid_argument_error for
    /// bad buckets, registration_error when `r` already has these names defined otherwise.
    explicit instrumentation(registry& r, instrumentation_options options = {})
        : options_(std::move(options)),
          owned_(make_operational(r)),
          ops_(*owned_),
          in_flight_(make_in_flight(r)),
          unmatched_(sinks_for(bounds()), in_flight_, std::string(unmatched_endpoint), unmatched_label()) {}

    /// Uses operational metrics the caller already has (registered in `r`), so that one
    /// `operational_metrics` serves service_started() and the HTTP families alike. Under vitals'
    /// names every route then has the buckets of `ops.request_duration`: buckets in `options` or
    /// in a route's options that differ from those throw invalid_argument_error.
    instrumentation(registry& r, operational_metrics& ops, instrumentation_options options = {})
        : options_(std::move(options)),
          ops_(ops),
          in_flight_(make_in_flight(r)),
          unmatched_((register_otel(r), sinks_for(bounds())), in_flight_, std::string(unmatched_endpoint),
                     unmatched_label()) {}

    instrumentation(const instrumentation&) = delete;
    instrumentation& operator=(const instrumentation&) = delete;

    /// The operational metrics (service_started(), uptime, the request families).
    [[nodiscard]] operational_metrics& operational() noexcept { return ops_; }
    /// The in-flight gauge (`http_requests_in_flight`, or `http_server_active_requests` under
    /// OpenTelemetry's names): requests begun and not yet finished.
    [[nodiscard]] const gauge& in_flight() const noexcept { return in_flight_; }
    /// The settings this instrumentation was made with.
    [[nodiscard]] const instrumentation_options& options() const noexcept { return options_; }

    /// The routes of `route_template` (made on first use; the reference stays valid). `route`
    /// sets its buckets the first time; asking again with other non-empty buckets throws
    /// invalid_argument_error, since one template's series have one layout.
    endpoint_metrics& endpoint(string_ref route_template, const route_options& route = {}) {
        if (route_template == unmatched_endpoint) return unmatched_;
        std::lock_guard lock(mu_);
        auto it = endpoints_.find(std::string_view(route_template));
        if (it != endpoints_.end()) {
            if (!route.buckets.empty() &&
                !detail::same_bounds(it->second->buckets(), {route.buckets.data(), route.buckets.size()}))
                throw invalid_argument_error("vitals: route template '", route_template,
                                             "' is already registered with other buckets");
            return *it->second;
        }
        const auto sinks =
            route.buckets.empty() ? sinks_for(bounds()) : sinks_for({route.buckets.data(), route.buckets.size()});
        std::unique_ptr<endpoint_metrics> e(
            new endpoint_metrics(sinks, in_flight_, std::string(route_template), std::string(route_template)));
        return *endpoints_.emplace(std::string(route_template), std::move(e)).first->second;
    }

    /// The route of `method` on `route_template`; its latency series exists from now on.
    route_metrics& route(string_ref method, string_ref route_template, const route_options& route = {}) {
        return endpoint(route_template, route).for_method(method);
    }

    /// The shared routes of requests that matched no route (endpoint `unmatched`); lock-free.
    [[nodiscard]] endpoint_metrics& unmatched() noexcept { return unmatched_; }

private:
    // The instrumentation's buckets: the option, or the seed's default.
    [[nodiscard]] span<const double> bounds() const noexcept {
        if (!options_.buckets.empty()) return {options_.buckets.data(), options_.buckets.size()};
        return http_duration_buckets;
    }

    [[nodiscard]] bool otel() const noexcept { return options_.names == metric_names::opentelemetry; }

    [[nodiscard]] std::string unmatched_label() const {
        return otel() ? std::string() : std::string(unmatched_endpoint);
    }

    std::unique_ptr<operational_metrics> make_operational(registry& r) {
        if (register_otel(r)) return std::make_unique<operational_metrics>(r);
        // Under vitals' names the latency family is a layered one, so that routes may have
        // buckets of their own; operational_metrics records into its first layer.
        auto fresh = std::make_unique<detail::vitals_duration_family>(
            "http_request_duration_seconds", "HTTP request latency in seconds.", bounds(), r.labels().pairs());
        try {
            durations_ = &r.add_family(std::move(fresh));
        } catch (const registration_error&) {
            // Someone registered the plain family first (an operational_metrics of their own):
            // share it, as before, with its buckets for every route.
            if (!options_.buckets.empty()) throw;
            return std::make_unique<operational_metrics>(r);
        }
        return std::make_unique<operational_metrics>(r, durations_->first());
    }

    // Registers OpenTelemetry's duration histogram when those names are chosen; true then.
    bool register_otel(registry& r) {
        if (!otel()) return false;
        otel_ = &r.add_family(std::make_unique<detail::otel_duration_family>(
            "http_server_request_duration_seconds", "Duration of HTTP server requests.", bounds(), r.labels().pairs()));
        return true;
    }

    detail::route_sinks sinks_for(span<const double> b) {
        detail::route_sinks s;
        s.ops = &ops_;
        if (otel_) {
            s.otel = &otel_->layer(b);
        } else if (durations_) {
            s.duration = &durations_->layer(b);
        } else if (detail::same_bounds(b, ops_.request_duration.params().layout->bounds())) {
            s.duration = &ops_.request_duration;
        } else {
            throw invalid_argument_error(
                "vitals: buckets other than those of the operational metrics' http_request_duration_seconds need an "
                "instrumentation that registers its own (instrumentation(registry, options))");
        }
        return s;
    }

    gauge make_in_flight(registry& r) const {
        if (otel()) return r.gauge<"http_server_active_requests">("Number of active HTTP server requests.");
        return r.gauge<"http_requests_in_flight">("HTTP requests being handled right now.");
    }

    instrumentation_options options_;
    detail::vitals_duration_family* durations_ = nullptr;  // null: ops_.request_duration alone
    detail::otel_duration_family* otel_ = nullptr;         // OpenTelemetry's names only
    std::unique_ptr<operational_metrics> owned_;
    operational_metrics& ops_;
    gauge in_flight_;
    endpoint_metrics unmatched_;
    std::mutex mu_;
    std::map<std::string, std::unique_ptr<endpoint_metrics>, std::less<>> endpoints_;
};

}  // namespace vitals::http
