// Module tests: the workload a module runs against the executable's registry. workload.cpp is
// compiled into every plugin and library under test; the inline parts below are compiled into the
// executable too, so that both sides run the same code, each its own copy of it.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <vitals/core/registry.hpp>

#include "modules.hpp"

// Only the shared library exports these; a plugin exports its C entry points instead, and a
// hidden-visibility plugin must keep the rest of its code to itself.
#if defined(MODULES_TEST_EXPORT)
#define MODULES_TEST_API __attribute__((visibility("default")))
#else
#define MODULES_TEST_API
#endif

namespace modules_test {

/// Registers the module's own families for `w.prefix` (both counters, the histogram, the gauge),
/// finds the executable's, and updates all of them from `w.threads` threads; keeps a few handles
/// until cleanup(). Throws std::runtime_error when anything goes wrong.
MODULES_TEST_API void run(vitals::registry& r, const modules_work& w);

/// Reads back, through the module's own code, what run() and the executable did.
MODULES_TEST_API modules_reading read(vitals::registry& r, const char* prefix);

/// hammer_thread() on `h.threads` threads of the module.
MODULES_TEST_API void hammer(vitals::registry& r, const modules_hammer& h);

/// Drops the handles run() kept for `prefix`; with `unregister`, removes the module's families too
/// (throws when one of them was not there).
MODULES_TEST_API void cleanup(vitals::registry& r, const char* prefix, bool unregister);

/// A handle to <prefix>_events_total made by the module, for the executable to keep and use.
MODULES_TEST_API vitals::counter events_handle(vitals::registry& r, const char* prefix);

/// Adds one to the start line and waits until every party has: the module's threads and the
/// executable's then update the same series at the same time. Gives up after ten seconds, so a
/// party that never arrives slows the test down instead of hanging it.
inline void wait_at_start_line(std::atomic<unsigned>* line, unsigned parties) {
    if (!line) return;
    line->fetch_add(1);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line->load() < parties && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
}

/// One thread's share of a hammer: per iteration, shared_total{origin} once through labels() and
/// once through a kept handle, one of the race_series series shared_total{origin="race<k>"} (which
/// every thread of every module may be the first to create), and one observation into
/// shared_size{origin}.
inline void hammer_thread(vitals::registry& r, const char* origin, unsigned per_thread) {
    auto& shared = r.counter<"shared_total", vitals::labels<"origin">>(shared_help);
    auto& sizes = r.histogram<"shared_size", vitals::labels<"origin">>(shared_size_help, size_buckets);
    const auto kept = shared.with(origin);
    const char* race[race_series] = {"race0", "race1", "race2", "race3"};
    for (unsigned i = 0; i < per_thread; ++i) {
        shared.labels(origin).inc();
        kept.inc();
        shared.labels(race[i % race_series]).inc();
        sizes.labels(origin).observe(static_cast<double>(i % observation_cycle));
    }
}

}  // namespace modules_test
