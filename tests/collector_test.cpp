// Tests for vitals/core/collector.hpp: custom collectors produce series at scrape time, in every
// format, under the same validity rules as every other family.
#include <vitals/core/collector.hpp>
#include <vitals/core/registry_set.hpp>
#include <vitals/exposition/render.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/openmetrics.hpp"
#include "support/promtool.hpp"
#include "support/protobuf_decode.hpp"

using namespace vitals;
namespace pb = vitals_test::pb;

namespace {

// Another system's state: a cache whose statistics are plain atomics, updated by its own threads.
struct cache_stats {
    std::atomic<std::uint64_t> hits{0}, misses{0}, entries{0};
    std::atomic<std::uint64_t> load_le_01{0}, load_le_1{0}, loads{0};
    std::atomic<double> load_seconds{0};
};

class cache_collector final : public collector {
public:
    explicit cache_collector(const cache_stats& s) : s_(s) {}
    void describe(collector_description& d) const override {
        d.counter("cache_requests_total", "Cache lookups, by result.", {"cache", "result"});
        d.gauge("cache_entries", "Entries held.", {"cache"});
        d.histogram("cache_load_seconds", "Time to load a missing entry.", {"cache"}, std::vector<double>{0.1, 1});
        d.summary("cache_lookup_seconds", "Lookup time.", {"cache"});
        d.info("cache_build_info", "The cache library.", {"version"});
        d.stateset("cache_state", "Whether the cache serves.", {"cache"}, {"warming", "serving"});
    }
    void collect(collector_output& out) const override {
        calls.fetch_add(1, std::memory_order_relaxed);
        out.counter("cache_requests_total", {"users", "hit"}, static_cast<double>(s_.hits.load()));
        out.counter("cache_requests_total", {"users", "miss"}, static_cast<double>(s_.misses.load()));
        out.gauge("cache_entries", {"users"}, static_cast<double>(s_.entries.load()));
        if (out.wants("cache_load_seconds")) {  // the costly read only when it is wanted
            const std::uint64_t cumulative[] = {s_.load_le_01.load(), s_.load_le_1.load(), s_.loads.load()};
            out.histogram("cache_load_seconds", {"users"}, cumulative, s_.load_seconds.load());
        }
        const quantile_value q[] = {{0.5, 0.001}, {0.99, 0.004}};
        out.summary("cache_lookup_seconds", {"users"}, q, 0.25, 100);
        out.info("cache_build_info", {"4.1.0"});
        const bool state[] = {false, true};
        out.stateset("cache_state", {"users"}, state);
    }
    mutable std::atomic<int> calls{0};

private:
    const cache_stats& s_;
};

// Everything a collector can get wrong, each next to one sample done right.
class lying_collector final : public collector {
public:
    void describe(collector_description& d) const override {
        d.counter("lies_total", "Counters that are not.", {"k"});
        d.histogram("lies_seconds", "Histograms that are not.", {"k"}, std::vector<double>{1, 2});
        d.gauge("lies_level", "Gauges with too few labels.", {"a", "b"});
        d.summary("lies_summary_seconds", "Bad quantiles.");
        d.stateset("lies_state", "Wrong number of states.", {}, {"a", "b"});
    }
    void collect(collector_output& out) const override {
        out.counter("lies_total", {"ok"}, 1);
        out.counter("lies_total", {"negative"}, -1);
        out.counter("lies_total", {"nan"}, __builtin_nan(""));
        out.counter("lies_total", {"inf"}, __builtin_inf());
        out.counter("lies_total", {"ok"}, 2);         // the same label set again
        out.counter("lies_total", {"a", "b"}, 1);     // two values for one label
        out.gauge("lies_total", {"x"}, 1);            // the wrong kind for the family
        out.counter("not_declared_total", {"x"}, 1);  // no such family: ignored
        const std::uint64_t good[] = {1, 2, 3}, down[] = {3, 2, 3}, short_list[] = {1, 2};
        out.histogram("lies_seconds", {"ok"}, good, 1.5);
        out.histogram("lies_seconds", {"down"}, down, 1.5);
        out.histogram("lies_seconds", {"short"}, short_list, 1.5);
        out.histogram("lies_seconds", {"nan_sum"}, good, __builtin_nan(""));
        out.gauge("lies_level", {"only_one"}, 1);
        out.gauge("lies_level", {"x", "y"}, __builtin_nan(""));  // a gauge may be NaN
        const quantile_value unordered[] = {{0.9, 1}, {0.5, 2}}, outside[] = {{1.5, 1}};
        out.summary("lies_summary_seconds", {}, unordered, 1, 1);
        out.summary("lies_summary_seconds", {}, outside, 1, 1);
        const bool three[] = {true, false, true};
        out.stateset("lies_state", {}, three);
    }
};

void expect_every_consumer_accepts(const metric_source& src) {
    const std::string text = render_text(src);
    const auto check = vitals_test::promtool_check(text);
    EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
    const std::string om = render_openmetrics(src);
    const auto p = vitals_test::openmetrics_check(om);
    EXPECT_FALSE(p.parser_missing) << "install Debian's python3-prometheus-client: " << p.output;
    EXPECT_TRUE(p.ok) << p.output << "\n--- OpenMetrics ---\n" << om;
    EXPECT_NO_THROW(pb::decode_families(render_protobuf(src)));
}

}  // namespace

TEST(Collector, EveryKindRendersInEveryFormat) {
    cache_stats stats;
    stats.hits = 40;
    stats.misses = 2;
    stats.entries = 17;
    stats.load_le_01 = 1;
    stats.load_le_1 = 2;
    stats.loads = 2;
    stats.load_seconds = 0.6;
    registry r;
    auto own = r.counter<"app_requests_total">("The application's own.");
    own.inc();
    auto c = std::make_shared<cache_collector>(stats);
    const collector_registration reg = register_collector(r, c);
    EXPECT_EQ(reg.names().size(), 6u);
    EXPECT_EQ(r.family_count(), 7u);

    const std::string text = render_text(r);
    for (const char* line :
         {"cache_requests_total{cache=\"users\",result=\"hit\"} 40\n", "cache_entries{cache=\"users\"} 17\n",
          "cache_load_seconds_bucket{cache=\"users\",le=\"0.1\"} 1\n", "cache_load_seconds_count{cache=\"users\"} 2\n",
          "cache_lookup_seconds{cache=\"users\",quantile=\"0.99\"} 0.004\n", "cache_build_info{version=\"4.1.0\"} 1\n",
          "cache_state{cache=\"users\",cache_state=\"serving\"} 1\n", "app_requests_total 1\n"})
        EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
    const std::string om = render_openmetrics(r);
    EXPECT_NE(om.find("# TYPE cache_requests counter\n"), std::string::npos) << om;
    EXPECT_NE(om.find("# TYPE cache_build info\n"), std::string::npos) << om;
    EXPECT_NE(om.find("# TYPE cache_state stateset\n"), std::string::npos) << om;
    const auto families = pb::decode_families(render_protobuf(r));
    EXPECT_EQ(pb::find(families, "cache_load_seconds").metrics.size(), 1u);
    expect_every_consumer_accepts(r);
    EXPECT_EQ(reg.dropped_samples(), 0u);

    // Live values: the next scrape reads the cache again.
    stats.hits = 41;
    EXPECT_NE(render_text(r).find("cache_requests_total{cache=\"users\",result=\"hit\"} 41\n"), std::string::npos);
    // One collect() call per family per render.
    const int before = c->calls.load();
    (void)render_text(r);
    EXPECT_EQ(c->calls.load() - before, 6);
}

TEST(Collector, BrokenSamplesAreLeftOutAndCounted) {
    registry r;
    const collector_registration reg = register_collector(r, std::make_shared<lying_collector>());
    const std::string text = render_text(r);
    EXPECT_NE(text.find("lies_total{k=\"ok\"} 1\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("negative"), std::string::npos) << text;
    EXPECT_EQ(text.find("lies_total{k=\"ok\"} 2"), std::string::npos) << text;
    EXPECT_NE(text.find("lies_seconds_bucket{k=\"ok\",le=\"2\"} 2\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("down"), std::string::npos) << text;
    EXPECT_EQ(text.find("short"), std::string::npos) << text;
    EXPECT_NE(text.find("lies_level{a=\"x\",b=\"y\"} NaN\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("lies_summary_seconds{"), std::string::npos) << text;
    EXPECT_EQ(text.find("lies_state{"), std::string::npos) << text;
    EXPECT_EQ(text.find("not_declared"), std::string::npos) << text;
    // Per render: 3 bad counters, a repeat, a wrong count, a wrong kind; 3 bad histograms; a
    // short gauge; 2 bad summaries; a bad stateset.
    EXPECT_EQ(reg.dropped_samples(), 13u);
    expect_every_consumer_accepts(r);
}

TEST(Collector, DeclarationsAreCheckedAllOrNothing) {
    struct declares final : collector {
        std::function<void(collector_description&)> fn;
        explicit declares(std::function<void(collector_description&)> f) : fn(std::move(f)) {}
        void describe(collector_description& d) const override { fn(d); }
        void collect(collector_output&) const override {}
    };
    auto error_of = [](registry& r, std::function<void(collector_description&)> fn) -> std::string {
        try {
            (void)register_collector(r, std::make_shared<declares>(std::move(fn)));
        } catch (const std::exception& e) {
            return e.what();
        }
        return "(no exception)";
    };
    registry r;
    auto taken = r.gauge<"taken">("Already here.");
    EXPECT_EQ(error_of(r, [](auto& d) { d.histogram("x_seconds", "X.", {"le"}, std::vector<double>{1}); }),
              "vitals: metric 'x_seconds': 'le' is reserved for this kind and cannot be a label");
    EXPECT_EQ(error_of(r, [](auto& d) { d.summary("y_seconds", "Y.", {"quantile"}); }),
              "vitals: metric 'y_seconds': 'quantile' is reserved for this kind and cannot be a label");
    EXPECT_EQ(error_of(r, [](auto& d) { d.stateset("mode", "M.", {"mode"}, {"a"}); }),
              "vitals: collector stateset 'mode': 'mode' is its state label and cannot be one of its labels");
    EXPECT_EQ(error_of(r, [](auto& d) { d.info("build", "B.", {}); }),
              "vitals: collector family 'build': an info family's name must end in '_info'");
    EXPECT_EQ(error_of(r, [](auto& d) { d.gauge("bad name", "B."); }).substr(0, 34),
              "vitals: invalid metric name 'bad n");
    EXPECT_EQ(error_of(r,
                       [](auto& d) {
                           d.histogram("h_seconds", "H.", {}, std::vector<double>{2, 1});
                       }),
              "vitals: histogram buckets must be 1 to 1000 finite values in strictly increasing order");
    // The first two would be fine, the third clashes: none of them stays.
    EXPECT_EQ(
        error_of(r,
                 [](auto& d) {
                     d.gauge("first", "F.");
                     d.counter("second_total", "S.");
                     d.counter("taken", "Clash.");
                 }),
        "vitals: metric 'taken' is already registered differently: kind gauge (registered) vs collector counter (new)");
    EXPECT_EQ(r.family_count(), 1u);
    taken.set(1);
    EXPECT_THROW((void)register_collector(r, nullptr), invalid_argument_error);
}

TEST(Collector, RegisteringTwiceFindsTheFamiliesAndRemoveUnregisters) {
    cache_stats stats;
    registry r;
    auto c = std::make_shared<cache_collector>(stats);
    collector_registration first = register_collector(r, c);
    const collector_registration again = register_collector(r, c);  // the same collector: found
    EXPECT_EQ(r.family_count(), 6u);
    EXPECT_THROW((void)register_collector(r, std::make_shared<cache_collector>(stats)), registration_error);
    first.remove();
    EXPECT_EQ(r.family_count(), 0u);
    EXPECT_EQ(render_text(r), "");
    EXPECT_EQ(first.names().size(), 0u);
    (void)again;
}

TEST(Collector, ThrowingCollectKeepsTheScrapeValid) {
    struct throws final : collector {
        void describe(collector_description& d) const override { d.gauge("flaky", "Flaky.", {"k"}); }
        void collect(collector_output& out) const override {
            out.gauge("flaky", {"before"}, 1);
            throw std::runtime_error("backend down");
        }
    };
    registry r;
    auto ok = r.gauge<"fine">("Fine.");
    ok.set(2);
    const collector_registration reg = register_collector(r, std::make_shared<throws>());
    const std::string text = render_text(r);
    EXPECT_NE(text.find("flaky{k=\"before\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("fine 2\n"), std::string::npos) << text;
    EXPECT_EQ(reg.dropped_samples(), 1u);
    expect_every_consumer_accepts(r);
}

// The cache updates from two threads while two renderers scrape the registry and a registry_set
// holding it, at once (TSan in CI): every render sees the counters go only up.
TEST(Collector, ConcurrentRendersWhileTheSourceChanges) {
    cache_stats stats;
    registry r, other({{"part", "b"}});
    const collector_registration reg = register_collector(r, std::make_shared<cache_collector>(stats));
    other.counter<"other_total">("Other.").inc();
    const registry_set both(r, other);
    std::atomic<bool> done{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 2; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < 20000; ++i) {
                stats.hits.fetch_add(1);
                if (i % 3 == 0) stats.misses.fetch_add(1);
                stats.entries.store(static_cast<std::uint64_t>(i % 100));
            }
        });
    std::atomic<int> decreases{0}, renders{0};
    for (int t = 0; t < 2; ++t)
        ts.emplace_back([&, t] {
            double last = 0;
            const std::string key = "cache_requests_total{cache=\"users\",result=\"hit\"} ";
            while (!done.load(std::memory_order_acquire) || renders.load() < 10) {
                const std::string text = t == 0 ? render_text(r) : render_text(both);
                renders.fetch_add(1);
                const auto at = text.find(key);
                if (at == std::string::npos) continue;
                const double v = std::stod(text.substr(at + key.size()));
                if (v < last) decreases.fetch_add(1);
                last = v;
            }
        });
    ts[0].join();
    ts[1].join();
    done.store(true, std::memory_order_release);
    ts[2].join();
    ts[3].join();
    EXPECT_EQ(decreases.load(), 0);
    EXPECT_GE(renders.load(), 10);
    EXPECT_EQ(reg.dropped_samples(), 0u);
    EXPECT_NE(render_text(r).find("cache_requests_total{cache=\"users\",result=\"hit\"} 40000\n"), std::string::npos);
    expect_every_consumer_accepts(both);
}
