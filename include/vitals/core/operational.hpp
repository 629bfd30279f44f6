// vitals — the operational metrics of a service, ready-made: uptime and starts per logical
// service, and HTTP request latency, totals and failures. One declaration registers them all.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/clock.hpp"
#include "../detail/owning.hpp"
#include "histogram.hpp"
#include "registry.hpp"

namespace vitals {

/// The seed service's latency buckets: 10 ms to 10 s.
inline constexpr fixed_buckets http_duration_buckets{{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};

/// Registers, in `r`:
/// - `uptime_seconds{service}` (gauge, computed at render from the service's last start),
/// - `service_starts_total{service}` (counter),
/// - `http_request_duration_seconds{method,endpoint}` (histogram, http_duration_buckets),
/// - `http_requests_total{method,endpoint,status}` (counter),
/// - `http_requests_failed_total{method,endpoint,status,error_type}` (counter).
/// Several logical services (api, event-writer, observer, watchdog) can live in one process;
/// each call of service_started() counts a start and restarts that service's uptime clock.
///
/// A class template only so that including this header costs no template instantiation: use the
/// alias `vitals::operational_metrics`.
template <class Registry>
class basic_operational_metrics {
public:
    using duration_family = histogram_family<labels<"method", "endpoint">>;
    using requests_family = counter_family<labels<"method", "endpoint", "status">>;
    using failures_family = counter_family<labels<"method", "endpoint", "status", "error_type">>;

    explicit basic_operational_metrics(Registry& r)
        : uptime_(r.template callback_gauge<"uptime_seconds", labels<"service">>("Seconds since the service last started.")),
          starts_(r.template counter<"service_starts_total", labels<"service">>("Number of times the service has started.")),
          request_duration(r.template histogram<"http_request_duration_seconds", labels<"method", "endpoint">>(
              "HTTP request latency in seconds.", http_duration_buckets)),
          requests_total(r.template counter<"http_requests_total", labels<"method", "endpoint", "status">>(
              "HTTP requests handled, by method, route template and status code.")),
          requests_failed_total(r.template counter<"http_requests_failed_total", labels<"method", "endpoint", "status", "error_type">>(
              "HTTP requests that failed (4xx and 5xx), by error type.")) {}

    /// Records that `service` (re)started now: counts a start and restarts its uptime.
    void service_started(std::string_view service) {
        const double now = detail::monotonic_now();
        std::lock_guard lock(mu_);
        if (auto* start = find_locked(service)) {
            start->store(now, std::memory_order_relaxed);
        } else {
            auto clock = detail::shared<std::atomic<double>>::make(now);
            clocks_.reserve(clocks_.size() + 1);  // so that the push_back below cannot throw
            uptime_.set([clock] { return detail::monotonic_now() - clock->load(std::memory_order_relaxed); },
                        service);
            clocks_.emplace_back(std::string(service), std::move(clock));
        }
        starts_.labels(service).inc();
    }

    /// Seconds since `service` last started; negative if it never started.
    [[nodiscard]] double uptime(std::string_view service) const {
        std::lock_guard lock(mu_);
        const auto* start = find_locked(service);
        return start ? detail::monotonic_now() - start->load(std::memory_order_relaxed) : -1;
    }

private:
    callback_family<metric_type::gauge, labels<"service">>& uptime_;
    counter_family<labels<"service">>& starts_;
    // A process has a handful of logical services: a list is all the index they need.
    std::atomic<double>* find_locked(std::string_view service) const {
        for (const auto& [name, start] : clocks_)
            if (name == service) return start.get();
        return nullptr;
    }

    mutable std::mutex mu_;
    std::vector<std::pair<std::string, detail::shared<std::atomic<double>>>> clocks_;  // start, monotonic s

public:
    /// `http_request_duration_seconds{method,endpoint}`.
    duration_family& request_duration;
    /// `http_requests_total{method,endpoint,status}`.
    requests_family& requests_total;
    /// `http_requests_failed_total{method,endpoint,status,error_type}`.
    failures_family& requests_failed_total;
};

/// The operational metrics of a service in a vitals::registry.
using operational_metrics = basic_operational_metrics<registry>;

}  // namespace vitals
