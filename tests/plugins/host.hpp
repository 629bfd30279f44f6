// Module tests, executable side: the executable's own registry and families, which the modules
// find again by their definitions.
#pragma once

#include <cstdint>
#include <string>

#include <vitals/core/registry.hpp>

#include "exact.hpp"
#include "modules.hpp"

namespace modules_test {

struct host {
    vitals::registry registry;
    vitals::counter main_total = registry.counter<"main_total">(main_help);
    vitals::counter_family<vitals::labels<"origin">>& shared =
        registry.counter<"shared_total", vitals::labels<"origin">>(shared_help);
    vitals::histogram_family<vitals::labels<"origin">>& sizes =
        registry.histogram<"shared_size", vitals::labels<"origin">>(shared_size_help, size_buckets);

    /// The executable's family for a module's requests (registered again here, from this side).
    vitals::counter_family<vitals::labels<"kind">>& module_requests(const std::string& prefix) {
        return registry.counter<vitals::labels<"kind">>(
            prefix + std::string(requests_suffix.data(), requests_suffix.size()), requests_help);
    }
    vitals::counter module_events(const std::string& prefix) {
        return registry.counter(prefix + std::string(events_suffix.data(), events_suffix.size()), events_help);
    }
};

/// The executable's updates that follow a module's run() in every test shape: 3 more main_total
/// (5 with the host's own 2), 3 of the module's requests{kind="main"}, 7 events through `events`
/// (a handle either side made). expected_module(prefix, threads, per_thread, 3, 7) and
/// expected_host(5, ...) describe the result.
inline void interleave_host_updates(host& h, const std::string& prefix, const vitals::counter& events) {
    h.main_total.inc(3);
    auto& requests = h.module_requests(prefix);
    for (int i = 0; i < 3; ++i) requests.labels("main").inc();
    for (int i = 0; i < 7; ++i) events.inc();
}

/// The executable's own series: `main_total` increments of main_total and `shared_main` of
/// shared_total{origin="main"}.
inline expectations expected_host(std::uint64_t main_total, std::uint64_t shared_main) {
    expectations out;
    expect_integer(out, "main_total", main_total);
    if (shared_main) expect_integer(out, "shared_total{origin=\"main\"}", shared_main);
    return out;
}

/// What a module's read() must report after its run() with `threads` x `per_thread`, given the
/// executable's increments (see expected_module) and `main_total`.
inline modules_reading expected_reading(unsigned threads, unsigned per_thread, std::uint64_t main_requests,
                                        std::uint64_t extra_events, std::uint64_t main_total) {
    const std::uint64_t t = threads, n = per_thread, all = t * n;
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < n; ++i) sum += i % observation_cycle;
    modules_reading r{};
    r.events = all + extra_events;
    r.requests_lookup = all;
    r.requests_kept = all;
    r.requests_main = main_requests;
    r.shared_mine = all;
    r.main_total = main_total;
    r.batch_count = all;
    r.batch_sum = static_cast<double>(t * sum);
    r.in_flight = static_cast<double>(t * (n - (n + 1) / 2));
    return r;
}

/// A reading, one value a line: compared whole, a mismatch shows every wrong value at once.
inline std::string reading_block(const modules_reading& r) {
    return "events " + std::to_string(r.events) + "\nrequests lookup " + std::to_string(r.requests_lookup) +
           "\nrequests kept " + std::to_string(r.requests_kept) + "\nrequests main " + std::to_string(r.requests_main) +
           "\nshared mine " + std::to_string(r.shared_mine) + "\nmain_total " + std::to_string(r.main_total) +
           "\nbatch count " + std::to_string(r.batch_count) + "\nbatch sum " + format_number(r.batch_sum) +
           "\nin_flight " + format_number(r.in_flight) + "\n";
}

}  // namespace modules_test
