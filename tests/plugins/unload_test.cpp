// Module tests: a plugin loaded, used, cleaned up and unloaded again and again while the
// executable's threads keep counting. Each load registers the plugin's families afresh (same names
// as the last load's, which unregister freed), so every load must start them at zero, and what the
// plugin added to the executable's series must accumulate exactly across loads.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "exact.hpp"
#include "host.hpp"
#include "plugin_loader.hpp"

using namespace modules_test;

namespace {

constexpr unsigned loads = 20;
constexpr unsigned plugin_threads = 2, per_thread = 1000;
constexpr unsigned host_threads = 4;
constexpr const char* prefix = "unload";  // also the plugin's origin in shared_total/shared_size

// Plugin calls run on a thread that ends before dlclose. Thread-local state the plugin's code
// sets up on a calling thread (with a destructor) keeps glibc from unmapping the plugin until
// that thread exits, and then the next dlopen would find the old copy, statics and all.
template <class F>
auto on_short_lived_thread(F f) {
    decltype(f()) result{};
    std::thread([&] { result = f(); }).join();
    return result;
}

class Unload : public ::testing::TestWithParam<std::string> {};

std::string visibility_name(const ::testing::TestParamInfo<std::string>& info) {
    return info.param == "PLUGIN_DEFAULT" ? "DefaultVisibility" : "HiddenVisibility";
}

}  // namespace

TEST_P(Unload, LoadUseUnloadRepeatedlyWhileExecutableCounts) {
    const std::string path = module_path(GetParam().c_str());
    // Only the hidden build is sure to be unmapped by dlclose: g++ gives the default build's
    // inline statics STB_GNU_UNIQUE binding, and glibc never unloads an object that has them.
    const bool must_unmap = GetParam() == "PLUGIN_HIDDEN";
    ASSERT_FALSE(module_is_loaded(path)) << path << " is already loaded: the test could not tell a reload";

    host h;
    // The plugin's updates of the executable's families go to series the executable made: a series
    // the plugin's code made would be freed after dlclose, by code that is gone.
    const auto plugin_share = h.shared.with(prefix);
    const auto plugin_sizes = h.sizes.with(prefix);

    // Each counting thread publishes how many increments it has made, after making them.
    std::vector<std::unique_ptr<std::atomic<std::uint64_t>>> counted;
    for (unsigned t = 0; t < host_threads; ++t) counted.push_back(std::make_unique<std::atomic<std::uint64_t>>(0));
    auto total_counted = [&] {
        std::uint64_t n = 0;
        for (const auto& c : counted) n += c->load();
        return n;
    };
    std::atomic<bool> stop{false};
    std::vector<std::thread> counters;
    for (unsigned t = 0; t < host_threads; ++t)
        counters.emplace_back([&, t] {
            std::uint64_t mine = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                h.main_total.inc();
                counted[t]->store(++mine);
                if (mine % 64 == 0) std::this_thread::yield();
            }
        });
    // Stops and joins the counters on every way out, ASSERTs included.
    struct joiner {
        std::atomic<bool>& stop;
        std::vector<std::thread>& threads;
        ~joiner() {
            stop.store(true);
            for (auto& t : threads)
                if (t.joinable()) t.join();
        }
    } join_counters{stop, counters};

    const std::string own_families[] = {std::string(prefix) + "_events_total", std::string(prefix) + "_requests_total",
                                        std::string(prefix) + "_batch_size", std::string(prefix) + "_in_flight"};
    for (unsigned load = 1; load <= loads; ++load) {
        SCOPED_TRACE("load " + std::to_string(load));
        std::unique_ptr<plugin> p;
        ASSERT_NO_THROW(p = std::make_unique<plugin>(path));
        ASSERT_EQ(on_short_lived_thread([&] { return p->run(h.registry, {prefix, plugin_threads, per_thread}); }), "");

        const std::uint64_t before = total_counted();
        const exposition loaded(h.registry);
        const std::uint64_t after = total_counted();
        ASSERT_EQ(loaded.validity(), "") << loaded.text();
        // This load's families start from zero; the executable's series hold every load's share.
        const auto want = expected_own(prefix, plugin_threads, per_thread) +
                          expected_share(prefix, std::uint64_t{load} * plugin_threads, per_thread);
        EXPECT_EQ(loaded.actual_block(want), expected_block(want)) << "full render:\n" << loaded.text();
        const std::uint64_t main_now = loaded.integer("main_total").value_or(0);
        EXPECT_GE(main_now, before) << "main_total lost increments the executable had made";
        // A counting thread may have made one increment it has not published yet.
        EXPECT_LE(main_now, after + host_threads) << "main_total shows increments nobody made";

        // Drops the plugin's handles and unregisters its families; after a failure the plugin
        // stays loaded, since its families may still be in the registry.
        const std::string cleaned = on_short_lived_thread([&] { return p->cleanup(h.registry, prefix, true); });
        ASSERT_EQ(cleaned, "") << "the plugin could not remove its families; not unloading it";
        const exposition unloaded(h.registry);
        ASSERT_EQ(unloaded.validity(), "") << unloaded.text();
        for (const auto& name : own_families) EXPECT_FALSE(unloaded.has_family(name)) << name << " still rendered";
        EXPECT_EQ(unloaded.samples_starting_with(std::string(prefix) + "_"), 0u) << unloaded.text();
        expectations kept;
        expect_integer(kept, "shared_total{origin=\"unload\"}", std::uint64_t{load} * plugin_threads * per_thread);
        EXPECT_EQ(unloaded.actual_block(kept), expected_block(kept));

        ASSERT_EQ(p->close(), "");
        if (must_unmap) {
            ASSERT_FALSE(module_is_loaded(path)) << "dlclose left " << path << " mapped";
        }
    }

    stop.store(true);
    for (auto& t : counters) t.join();
    const std::uint64_t counted_total = total_counted();
    EXPECT_GT(counted_total, 0u);
    const exposition last(h.registry);
    ASSERT_EQ(last.validity(), "") << last.text();
    const auto want =
        expected_host(counted_total, 0) + expected_share(prefix, std::uint64_t{loads} * plugin_threads, per_thread);
    EXPECT_EQ(last.actual_block(want), expected_block(want)) << "full render:\n" << last.text();
    EXPECT_EQ(exact_u64(h.main_total.exact_value()), counted_total);
    EXPECT_EQ(exact_u64(plugin_share.exact_value()), std::uint64_t{loads} * plugin_threads * per_thread);
    EXPECT_EQ(plugin_sizes.snapshot().count(), std::uint64_t{loads} * plugin_threads * per_thread);
}

INSTANTIATE_TEST_SUITE_P(Modules, Unload, ::testing::Values("PLUGIN_DEFAULT", "PLUGIN_HIDDEN"), visibility_name);
