// vitals — health check outcomes exported as operational metrics, in the same registry as the
// rest: `health_check_up{check}` (1 while the check passes, degraded included; 0 when unhealthy)
// and `health_check_duration_seconds{check}` (how long each fresh run took).
#pragma once

#include <chrono>
#include <string_view>

#include "vitals/core/registry.hpp"
#include "vitals/health/probe.hpp"

namespace vitals::health {

/// Buckets for check durations: 1 ms to 10 s.
inline constexpr fixed_buckets check_duration_buckets{{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};

/// Registers the health metrics in `r` and returns the observer to put in
/// `probe_options::on_result`. The observer only touches the registry's families, which live as
/// long as the registry: keep the registry alive as long as the probe.
///
///     vitals::health::probe ready({.on_result = vitals::health::export_metrics(registry)});
inline result_observer export_metrics(registry& r) {
    auto& up = r.gauge<"health_check_up", labels<"check">>(
        "1 when the dependency check last passed (healthy or degraded), 0 when it failed.");
    auto& duration = r.histogram<"health_check_duration_seconds", labels<"check">>(
        "Duration of dependency checks in seconds.", check_duration_buckets);
    return [&up, &duration](std::string_view name, const check_result& result) {
        up.labels(name).set(result.ok() ? 1.0 : 0.0);
        duration.labels(name).observe(std::chrono::duration<double>(result.latency).count());
    };
}

}  // namespace vitals::health
