// vitals — the operational metrics of a service, ready-made: uptime and starts per logical
// service, and HTTP request latency, totals and failures. One declaration registers them all.
// Part of the HTTP layer (it names HTTP's families), so the core umbrella leaves it out.
#pragma once

#include "../detail/atomic.hpp"
#include "../detail/clock.hpp"
#include "../detail/fork_hooks.hpp"
#include "../detail/mutex.hpp"
#include "../detail/owning.hpp"
#include "../detail/pod_vector.hpp"
#include "../core/histogram.hpp"
#include "../core/registry.hpp"
#include "../base/string_ref.hpp"
#include "../base/text_buffer.hpp"

namespace vitals {

namespace detail {
// T, made to depend on D: what a class template names through it is only instantiated with it.
template <class T, class D>
struct dependent {
    using type = T;
};
template <class T, class D>
using dependent_t = typename dependent<T, D>::type;
}  // namespace detail

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
    using duration_family = detail::dependent_t<histogram_family<labels<"method", "endpoint">>, Registry>;
    using requests_family = detail::dependent_t<counter_family<labels<"method", "endpoint", "status">>, Registry>;
    using failures_family =
        detail::dependent_t<counter_family<labels<"method", "endpoint", "status", "error_type">>, Registry>;

    explicit basic_operational_metrics(Registry& r)
        : uptime_(r.template callback_gauge<"uptime_seconds", labels<"service">>(
              "Seconds since the service last started.")),
          starts_(r.template counter<"service_starts_total", labels<"service">>(
              "Number of times the service has started.")),
          request_duration(r.template histogram<"http_request_duration_seconds", labels<"method", "endpoint">>(
              "HTTP request latency in seconds.", http_duration_buckets)),
          requests_total(r.template counter<"http_requests_total", labels<"method", "endpoint", "status">>(
              "HTTP requests handled, by method, route template and status code.")),
          requests_failed_total(
              r.template counter<"http_requests_failed_total", labels<"method", "endpoint", "status", "error_type">>(
                  "HTTP requests that failed (4xx and 5xx), by error type.")) {}

    /// Registers the same families except the latency histogram: `durations` is used
    /// instead (same name, labels and help, made by the caller; vitals::http::instrumentation
    /// passes one that renders several bucket layouts under one name).
    basic_operational_metrics(Registry& r, duration_family& durations)
        : uptime_(r.template callback_gauge<"uptime_seconds", labels<"service">>(
              "Seconds since the service last started.")),
          starts_(r.template counter<"service_starts_total", labels<"service">>(
              "Number of times the service has started.")),
          request_duration(durations),
          requests_total(r.template counter<"http_requests_total", labels<"method", "endpoint", "status">>(
              "HTTP requests handled, by method, route template and status code.")),
          requests_failed_total(
              r.template counter<"http_requests_failed_total", labels<"method", "endpoint", "status", "error_type">>(
                  "HTTP requests that failed (4xx and 5xx), by error type.")) {}

    ~basic_operational_metrics() {
        fork_link_.hooks->remove(&fork_link_);
        for (service_clock* c : clocks_) delete c;
    }
    basic_operational_metrics(const basic_operational_metrics&) = delete;
    basic_operational_metrics& operator=(const basic_operational_metrics&) = delete;

    /// Records that `service` (re)started now: counts a start and restarts its uptime.
    void service_started(string_ref service) {
        const double now = detail::monotonic_now();
        service_clock* fresh = nullptr;
        {
            // A leaf lock: nothing else is taken while it is held (see detail/fork_hooks.hpp).
            detail::lock_guard lock(mu_);
            if (auto* start = find_locked(service)) {
                start->store(now, detail::memory_order_relaxed);
            } else {
                auto clock = detail::unique<service_clock>(
                    new service_clock{text_buffer(service), detail::shared<detail::atomic<double>>::make(now)});
                clocks_.reserve(clocks_.size() + 1);  // so that the push_back below cannot throw
                fresh = clock.release();
                clocks_.push_back(fresh);
            }
        }
        if (fresh) {
            // Shared with the uptime callback, which the registry may call after this object is gone.
            uptime_.set(
                [start = fresh->start] { return detail::monotonic_now() - start->load(detail::memory_order_relaxed); },
                service);
        }
        starts_.labels(service).inc();
    }

    /// Seconds since `service` last started; negative if it never started.
    [[nodiscard]] double uptime(string_ref service) const {
        detail::lock_guard lock(mu_);
        const auto* start = find_locked(service);
        return start ? detail::monotonic_now() - start->load(detail::memory_order_relaxed) : -1;
    }

private:
    detail::dependent_t<callback_family<metric_type::gauge, labels<"service">>, Registry>& uptime_;
    detail::dependent_t<counter_family<labels<"service">>, Registry>& starts_;
    // A process has a handful of logical services: a list is all the index they need.
    detail::atomic<double>* find_locked(string_ref service) const {
        for (service_clock* c : clocks_)
            if (c->name == service) return c->start.get();
        return nullptr;
    }

    mutable detail::mutex mu_;
    struct service_clock {
        text_buffer name;
        detail::shared<detail::atomic<double>> start;  // monotonic seconds
    };
    detail::pod_vector<service_clock*> clocks_;  // owned
    // fork(): the child must not inherit mu_ taken by a thread it does not have.
    struct fork_link final : detail::fork_participant {
        detail::mutex& mu;
        detail::fork_hooks* hooks;  // the hooks joined, left in the destructor
        explicit fork_link(detail::mutex& m) : mu(m), hooks(&detail::fork_hooks::instance()) { hooks->add(this); }
        void fork_prepare() noexcept override { mu.lock(); }
        void fork_parent() noexcept override { mu.unlock(); }
        void fork_child() noexcept override { mu.reset_after_fork(); }
    } fork_link_{mu_};

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
