// Module tests: what an executable and the modules it loads or links (plugins, shared and static
// libraries) agree on. Each side compiles this header into its own module, which is the point:
// nothing here may rely on being one object in the process.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <vitals/core/registry.hpp>

namespace modules_test {

// Families the executable registers. A module finds them by registering the identical definition
// again, so the help texts and buckets must be the same on both sides.
inline constexpr vitals::string_ref main_help = "Increments made by the executable only.";
inline constexpr vitals::string_ref shared_help = "Increments made from every module, by origin.";
inline constexpr vitals::string_ref shared_size_help = "Observations made from every module, by origin.";

// A module's own families, named <prefix><suffix>, so that several modules can share a registry.
inline constexpr vitals::string_ref events_suffix = "_events_total";      // counter, no labels
inline constexpr vitals::string_ref requests_suffix = "_requests_total";  // counter{kind}
inline constexpr vitals::string_ref batch_suffix = "_batch_size";         // histogram{kind}
inline constexpr vitals::string_ref in_flight_suffix = "_in_flight";      // gauge, no labels
inline constexpr vitals::string_ref events_help = "Events a module counted through a kept handle.";
inline constexpr vitals::string_ref requests_help = "Requests a module counted, by how it found the series.";
inline constexpr vitals::string_ref batch_help = "Batch sizes a module observed.";
inline constexpr vitals::string_ref in_flight_help = "Work a module has in flight.";

inline constexpr double size_buckets[] = {1, 2, 4};
// Observation i of a thread is i % observation_cycle: small integers, so that the sum is exact and
// every bucket, +Inf included, gets some.
inline constexpr unsigned observation_cycle = 6;
// hammer() spreads increments over this many series that both sides create on first use.
inline constexpr unsigned race_series = 4;

}  // namespace modules_test

extern "C" {

/// One run of a module's workload: `threads` threads, each doing `per_thread` iterations.
struct modules_work {
    const char* prefix;
    unsigned threads;
    unsigned per_thread;
};

/// Counter values as the module itself reads them. A counter whose value is not an exact 64-bit
/// integer reads as modules_not_exact.
struct modules_reading {
    std::uint64_t events;           // <prefix>_events_total
    std::uint64_t requests_lookup;  // <prefix>_requests_total{kind="lookup"}
    std::uint64_t requests_kept;    // <prefix>_requests_total{kind="kept"}
    std::uint64_t requests_main;    // <prefix>_requests_total{kind="main"} (the executable's share)
    std::uint64_t shared_mine;      // shared_total{origin="<prefix>"}
    std::uint64_t main_total;       // main_total
    std::uint64_t batch_count;      // <prefix>_batch_size{kind="own"}
    double batch_sum;
    double in_flight;  // <prefix>_in_flight
};
inline constexpr std::uint64_t modules_not_exact = ~std::uint64_t{0};

/// Concurrent updates of the executable's series: see modules_test::hammer.
struct modules_hammer {
    const char* origin;
    unsigned threads;
    unsigned per_thread;
    std::atomic<unsigned>* start_line;  // every party adds one, then waits for `parties`
    unsigned parties;
};

// The entry points of a plugin (dlsym names in quotes). Each returns 0, or nonzero with the reason
// in `error`; exceptions never cross the boundary.
using modules_run_fn = int(vitals::registry*, const modules_work*, char* error,
                           std::size_t error_size);  // "vitals_plugin_run"
using modules_read_fn = int(vitals::registry*, const char* prefix, modules_reading*, char* error,
                            std::size_t error_size);  // "vitals_plugin_read"
using modules_hammer_fn = int(vitals::registry*, const modules_hammer*, char* error,
                              std::size_t error_size);  // "vitals_plugin_hammer"
// Drops every handle the plugin keeps for `prefix`; with `unregister`, also removes the plugin's
// families from the registry, which must happen before the plugin is unloaded.
using modules_cleanup_fn = int(vitals::registry*, const char* prefix, int unregister, char* error,
                               std::size_t error_size);  // "vitals_plugin_cleanup"
}

namespace modules_test {
/// A counter's value as an exact 64-bit integer, or modules_not_exact.
inline std::uint64_t exact_u64(const vitals::counter_value& v) {
    return v.high == 0 && v.fraction == 0 ? v.low : modules_not_exact;
}
}  // namespace modules_test
