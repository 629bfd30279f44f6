// Module tests: plugins opened with dlopen(RTLD_NOW | RTLD_LOCAL), one built with default and one
// with hidden symbol visibility, update the executable's registry: their own families and the
// executable's, from threads of their own, interleaved and concurrently with the executable's
// updates. Every series must hold exactly what was added to it, whichever module added it and
// whichever module reads it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "exact.hpp"
#include "host.hpp"
#include "plugin_loader.hpp"
#include "workload.hpp"

using namespace modules_test;

namespace {

constexpr unsigned threads = 4;
constexpr unsigned per_thread = 2500;

// Opened once per process and never closed: a registry of this file's tests may hold the
// plugin's families until the test ends, and those run the plugin's code. (unload_test closes.)
const plugin& loaded(const std::string& variable) {
    static std::map<std::string, std::unique_ptr<plugin>> open;
    auto& p = open[variable];
    if (!p) p = std::make_unique<plugin>(module_path(variable.c_str()));
    return *p;
}

std::string prefix_of(const std::string& variable) {
    return variable == "PLUGIN_DEFAULT" ? "plugin_default" : "plugin_hidden";
}

class Plugin : public ::testing::TestWithParam<std::string> {};

std::string visibility_name(const ::testing::TestParamInfo<std::string>& info) {
    return info.param == "PLUGIN_DEFAULT" ? "DefaultVisibility" : "HiddenVisibility";
}

// The module's families read by the executable through handles of its own (the registry returns
// the existing family for the same definition): the executable's code reading series the
// plugin's code created.
void expect_read_from_host(host& h, const std::string& prefix, std::uint64_t events) {
    const std::uint64_t all = std::uint64_t{threads} * per_thread;
    auto& requests = h.module_requests(prefix);
    EXPECT_EQ(exact_u64(h.module_events(prefix).exact_value()), events) << prefix << "_events_total";
    EXPECT_EQ(exact_u64(requests.with("lookup").exact_value()), all) << prefix << "_requests_total{kind=lookup}";
    EXPECT_EQ(exact_u64(requests.with("kept").exact_value()), all) << prefix << "_requests_total{kind=kept}";
    EXPECT_EQ(exact_u64(h.shared.with(prefix).exact_value()), all) << "shared_total{origin=" << prefix << "}";
    const auto sizes = h.sizes.with(prefix).snapshot();
    EXPECT_EQ(sizes.count(), all) << "shared_size_count{origin=" << prefix << "}";
}

}  // namespace

TEST_P(Plugin, EverySeriesExactAfterInterleavedUpdates) {
    const plugin& p = loaded(GetParam());
    const std::string prefix = prefix_of(GetParam());
    host h;
    h.main_total.inc();
    h.main_total.inc();
    for (int i = 0; i < 4; ++i) h.shared.labels("main").inc();

    ASSERT_EQ(p.run(h.registry, {prefix.c_str(), threads, per_thread}), "");

    const auto events = h.module_events(prefix);
    interleave_host_updates(h, prefix, events);

    const exposition x(h.registry);
    ASSERT_EQ(x.validity(), "") << x.text();
    const auto want = expected_host(5, 4) + expected_module(prefix, threads, per_thread, 3, 7);
    EXPECT_EQ(x.actual_block(want), expected_block(want)) << "full render:\n" << x.text();

    EXPECT_EQ(exact_u64(h.main_total.exact_value()), 5u);
    EXPECT_EQ(h.main_total.value(), 5.0);
    expect_read_from_host(h, prefix, std::uint64_t{threads} * per_thread + 7);

    modules_reading got{};
    ASSERT_EQ(p.read(h.registry, prefix.c_str(), got), "");
    EXPECT_EQ(reading_block(got), reading_block(expected_reading(threads, per_thread, 3, 7, 5)))
        << "as the plugin reads them";
    EXPECT_EQ(p.cleanup(h.registry, prefix.c_str(), false), "");
}

// Concurrent increments of the same series from the plugin's threads and the executable's,
// through labels() lookups and kept handles, including series that either side may create first;
// a scraper renders meanwhile and must never see more than will finally be there.
TEST_P(Plugin, SameSeriesHammeredFromPluginAndExecutable) {
    const plugin& p = loaded(GetParam());
    host h;
    constexpr unsigned plugin_threads = 3, host_threads = 3, n = 100000;
    constexpr unsigned parties = plugin_threads + host_threads;
    constexpr std::uint64_t all = std::uint64_t{parties} * n;
    const std::string hammered = "shared_total{origin=\"hammer\"}";

    std::atomic<unsigned> start_line{0};
    std::atomic<bool> done{false};
    std::string plugin_error, scrape_problem;
    std::size_t scrapes = 0;
    std::thread scraper([&] {
        std::uint64_t last = 0;
        while (!done.load()) {
            const exposition x(h.registry);
            ++scrapes;
            if (scrape_problem.empty() && !x.validity().empty()) scrape_problem = "invalid render: " + x.validity();
            const std::uint64_t now = x.integer(hammered).value_or(0);
            if (scrape_problem.empty() && (now < last || now > 2 * all))
                scrape_problem = hammered + " read " + std::to_string(now) + " after " + std::to_string(last) +
                                 " (final value " + std::to_string(2 * all) + ")";
            last = now;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    std::thread plugin_side([&] {
        plugin_error = p.hammer(h.registry, {"hammer", plugin_threads, n, &start_line, parties});
    });
    std::vector<std::thread> host_side;
    for (unsigned t = 0; t < host_threads; ++t)
        host_side.emplace_back([&] {
            wait_at_start_line(&start_line, parties);
            hammer_thread(h.registry, "hammer", n);
        });
    plugin_side.join();
    for (auto& t : host_side) t.join();
    done.store(true);
    scraper.join();

    ASSERT_EQ(plugin_error, "");
    EXPECT_EQ(scrape_problem, "") << "after " << scrapes << " scrapes";
    const exposition x(h.registry);
    ASSERT_EQ(x.validity(), "") << x.text();
    auto want = expected_host(0, 0);
    expect_integer(want, hammered, 2 * all);
    for (unsigned k = 0; k < race_series; ++k)
        expect_integer(want, "shared_total{origin=\"race" + std::to_string(k) + "\"}", all / race_series);
    expect_histogram(want, "shared_size", "origin=\"hammer\"", parties, n);
    EXPECT_EQ(x.actual_block(want), expected_block(want)) << "full render:\n" << x.text();
    EXPECT_EQ(exact_u64(h.shared.with("hammer").exact_value()), 2 * all);
    EXPECT_EQ(exact_u64(h.main_total.exact_value()), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modules, Plugin, ::testing::Values("PLUGIN_DEFAULT", "PLUGIN_HIDDEN"), visibility_name);

// Both builds in one registry at once, run concurrently while the executable updates its own
// series: each plugin reads the other's families too.
TEST(Plugins, BothBuildsShareOneRegistry) {
    const plugin& a = loaded("PLUGIN_DEFAULT");
    const plugin& b = loaded("PLUGIN_HIDDEN");
    host h;
    std::string error_a, error_b;
    std::thread ta([&] { error_a = a.run(h.registry, {"plugin_default", threads, per_thread}); });
    std::thread tb([&] { error_b = b.run(h.registry, {"plugin_hidden", threads, per_thread}); });
    for (int i = 0; i < 5; ++i) {
        h.main_total.inc();
        h.shared.labels("main").inc();
        std::this_thread::yield();
    }
    ta.join();
    tb.join();
    ASSERT_EQ(error_a, "");
    ASSERT_EQ(error_b, "");

    const exposition x(h.registry);
    ASSERT_EQ(x.validity(), "") << x.text();
    const auto want = expected_host(5, 5) + expected_module("plugin_default", threads, per_thread) +
                      expected_module("plugin_hidden", threads, per_thread);
    EXPECT_EQ(x.actual_block(want), expected_block(want)) << "full render:\n" << x.text();

    const std::string expected = reading_block(expected_reading(threads, per_thread, 0, 0, 5));
    for (const plugin* reader : {&a, &b})
        for (const char* prefix : {"plugin_default", "plugin_hidden"}) {
            modules_reading got{};
            ASSERT_EQ(reader->read(h.registry, prefix, got), "");
            EXPECT_EQ(reading_block(got), expected) << reader->path() << " reading " << prefix;
        }
    EXPECT_EQ(a.cleanup(h.registry, "plugin_default", false), "");
    EXPECT_EQ(b.cleanup(h.registry, "plugin_hidden", false), "");
}
