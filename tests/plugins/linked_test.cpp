// Module tests: the workload in a library linked at build time. meson.build links this same source
// once against a hidden-visibility shared library and once against a static library of the same
// code: the static build is the control (one module), so a difference between the two is the
// module boundary's doing.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "exact.hpp"
#include "host.hpp"
#include "workload.hpp"

using namespace modules_test;

namespace {
constexpr unsigned threads = 4;
constexpr unsigned per_thread = 2500;
constexpr const char* prefix = "linked";
}  // namespace

TEST(Linked, EverySeriesExactAfterInterleavedUpdates) {
    host h;
    h.main_total.inc();
    h.main_total.inc();
    for (int i = 0; i < 4; ++i) h.shared.labels("main").inc();

    ASSERT_NO_THROW(modules_test::run(h.registry, {prefix, threads, per_thread}));

    // A handle the library made, kept and used by the executable.
    const vitals::counter events = modules_test::events_handle(h.registry, prefix);
    interleave_host_updates(h, prefix, events);
    auto& requests = h.module_requests(prefix);

    const exposition x(h.registry);
    ASSERT_EQ(x.validity(), "") << x.text();
    const auto want = expected_host(5, 4) + expected_module(prefix, threads, per_thread, 3, 7);
    EXPECT_EQ(x.actual_block(want), expected_block(want)) << "full render:\n" << x.text();

    EXPECT_EQ(exact_u64(h.main_total.exact_value()), 5u);
    EXPECT_EQ(h.main_total.value(), 5.0);
    EXPECT_EQ(exact_u64(events.exact_value()), std::uint64_t{threads} * per_thread + 7);
    EXPECT_EQ(exact_u64(h.module_events(prefix).exact_value()), std::uint64_t{threads} * per_thread + 7);
    EXPECT_EQ(exact_u64(requests.with("lookup").exact_value()), std::uint64_t{threads} * per_thread);
    EXPECT_EQ(exact_u64(h.shared.with(prefix).exact_value()), std::uint64_t{threads} * per_thread);

    EXPECT_EQ(reading_block(modules_test::read(h.registry, prefix)),
              reading_block(expected_reading(threads, per_thread, 3, 7, 5)))
        << "as the library reads them";
    modules_test::cleanup(h.registry, prefix, false);
}

TEST(Linked, SameSeriesHammeredFromLibraryAndExecutable) {
    host h;
    constexpr unsigned library_threads = 3, host_threads = 3, n = 100000;
    constexpr unsigned parties = library_threads + host_threads;
    constexpr std::uint64_t all = std::uint64_t{parties} * n;
    std::atomic<unsigned> start_line{0};
    std::thread library_side([&] {
        modules_test::hammer(h.registry, {"hammer", library_threads, n, &start_line, parties});
    });
    std::vector<std::thread> host_side;
    for (unsigned t = 0; t < host_threads; ++t)
        host_side.emplace_back([&] {
            wait_at_start_line(&start_line, parties);
            hammer_thread(h.registry, "hammer", n);
        });
    library_side.join();
    for (auto& t : host_side) t.join();

    const exposition x(h.registry);
    ASSERT_EQ(x.validity(), "") << x.text();
    auto want = expected_host(0, 0);
    expect_integer(want, "shared_total{origin=\"hammer\"}", 2 * all);
    for (unsigned k = 0; k < race_series; ++k)
        expect_integer(want, "shared_total{origin=\"race" + std::to_string(k) + "\"}", all / race_series);
    expect_histogram(want, "shared_size", "origin=\"hammer\"", parties, n);
    EXPECT_EQ(x.actual_block(want), expected_block(want)) << "full render:\n" << x.text();
}

// What a library that can be unloaded does before it is: drop its handles, remove its families.
TEST(Linked, LibraryRemovesItsFamilies) {
    host h;
    ASSERT_NO_THROW(modules_test::run(h.registry, {prefix, 2, 100}));
    h.main_total.inc(5);
    ASSERT_NO_THROW(modules_test::cleanup(h.registry, prefix, true));

    const exposition x(h.registry);
    ASSERT_EQ(x.validity(), "") << x.text();
    EXPECT_EQ(x.samples_starting_with("linked_"), 0u) << x.text();
    const auto want = expected_host(5, 0) + expected_share(prefix, 2, 100);
    EXPECT_EQ(x.actual_block(want), expected_block(want)) << "full render:\n" << x.text();

    // The names are free again: registering them anew starts from zero.
    ASSERT_NO_THROW(modules_test::run(h.registry, {prefix, 2, 100}));
    const exposition again(h.registry);
    const auto want_again = expected_own(prefix, 2, 100) + expected_share(prefix, 4, 100);
    EXPECT_EQ(again.actual_block(want_again), expected_block(want_again)) << "full render:\n" << again.text();
    modules_test::cleanup(h.registry, prefix, false);
}
