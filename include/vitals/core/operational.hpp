// vitals — the operational metrics of a service, ready-made: uptime and starts per logical
// service, and HTTP request latency, totals and failures. One declaration registers them all.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

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
        const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
        std::lock_guard lock(mu_);
        auto it = clocks_.find(service);
        if (it == clocks_.end()) {
            auto clock = std::make_shared<std::atomic<std::int64_t>>(now);
            it = clocks_.emplace(std::string(service), clock).first;
            uptime_.set(
                [clock] {
                    const auto start = std::chrono::steady_clock::time_point(
                        std::chrono::steady_clock::duration(clock->load(std::memory_order_relaxed)));
                    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                },
                service);
        } else {
            it->second->store(now, std::memory_order_relaxed);
        }
        starts_.labels(service).inc();
    }

    /// Seconds since `service` last started; negative if it never started.
    [[nodiscard]] double uptime(std::string_view service) const {
        std::lock_guard lock(mu_);
        auto it = clocks_.find(service);
        if (it == clocks_.end()) return -1;
        const auto start = std::chrono::steady_clock::time_point(
            std::chrono::steady_clock::duration(it->second->load(std::memory_order_relaxed)));
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }

private:
    callback_family<metric_type::gauge, labels<"service">>& uptime_;
    counter_family<labels<"service">>& starts_;
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<std::atomic<std::int64_t>>, std::less<>> clocks_;

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
