// vitals — health check outcomes exported as operational metrics, in the same registry as the
// rest, updated by every background run (no probe traffic needed):
//   health_check_up{check}                              1 while the check passes (degraded
//                                                       included), 0 when it fails or is pending
//   health_check_duration_seconds{check}                how long each run took (timeouts at
//                                                       their timeout)
//   health_check_last_success_timestamp_seconds{check}  Unix time of the last passing run
//                                                       (absent until one has passed)
#pragma once

#include <chrono>
#include <string_view>

#include "../core/registry.hpp"
#include "../detail/clock.hpp"
#include "probe.hpp"

namespace vitals::health {

/// Buckets for check durations: 1 ms to 10 s.
inline constexpr fixed_buckets check_duration_buckets{{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};

namespace detail {
struct health_families {
    explicit health_families(registry& r)
        : up(r.gauge<"health_check_up", labels<"check">>(
              "1 when the dependency check last passed (healthy or degraded), 0 when it failed or has not "
              "completed yet.")),
          duration(r.histogram<"health_check_duration_seconds", labels<"check">>(
              "Duration of dependency checks in seconds.", check_duration_buckets)),
          last_success(r.gauge<"health_check_last_success_timestamp_seconds", labels<"check">>(
              "Unix time of the last dependency check that passed.")) {}

    void record(std::string_view name, const check_result& result) const {
        up.labels(name).set(result.ok() ? 1.0 : 0.0);
        duration.labels(name).observe(std::chrono::duration<double>(result.latency).count());
        if (result.ok()) last_success.labels(name).set(vitals::detail::unix_now());
    }

    gauge_family<labels<"check">>& up;
    histogram_family<labels<"check">>& duration;
    gauge_family<labels<"check">>& last_success;
};
}  // namespace detail

/// Registers the health metrics in `r` and sets `o.on_result` and `o.on_added` to keep them
/// current: a check's `health_check_up` exists, at 0, from its registration on, so a restart
/// cannot clear a readiness alert before the first run has passed. The hooks only touch the
/// registry's families, which live as long as the registry: keep it alive as long as the probe.
///
///     vitals::health::probe_options o;
///     vitals::health::export_metrics(registry, o);
///     vitals::health::probe ready(std::move(o));
inline void export_metrics(registry& r, probe_options& o) {
    const detail::health_families f(r);
    o.on_result = [f](std::string_view name, const check_result& result) { f.record(name, result); };
    o.on_added = [f](std::string_view name) {
        f.up.labels(name).set(0);
        (void)f.duration.labels(name);
    };
}

/// The result hook alone, for `probe_options::on_result` (the series then appear with the first
/// completed run).
inline result_observer export_metrics(registry& r) {
    const detail::health_families f(r);
    return [f](std::string_view name, const check_result& result) { f.record(name, result); };
}

}  // namespace vitals::health
