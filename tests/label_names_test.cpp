// Tests for vitals/core/label_names.hpp: families whose label names are given at run time
// (dynamic_labels), for every kind. The reference for what they must render is the same workload
// on families declared with labels<...>: the two expositions must be identical.
#include <vitals/core/info.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/exposition/render.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/promtool.hpp"

using namespace vitals;

namespace {

std::string error_of(auto&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no exception)";
}

// The same updates, once through compile-time families and once through run-time ones.
void fill_static(registry& r) {
    auto& c = r.counter<"jobs_total", labels<"queue", "result">>("Jobs.");
    c.labels("mail", "ok").inc(3);
    c.with("sms", "failed").inc();
    auto& g = r.gauge<"depth", labels<"queue">>("Depth.");
    g.labels("mail").set(7);
    auto& h = r.histogram<"wait_seconds", labels<"pool">>("Wait.", std::vector<double>{0.1, 1});
    for (double v : {0.05, 0.5, 2.0}) h.labels("db").observe(v);
    auto& s = r.summary<"latency_seconds", labels<"op">>("Latency.");
    for (int i = 1; i <= 100; ++i) s.labels("get").observe(i / 100.0);
    auto& n = r.native_histogram<"size_bytes", labels<"op">>("Size.");
    for (double v : {1.0, 10.0, 100.0}) n.labels("put").observe(v);
    r.callback_gauge<"temperature_celsius", labels<"sensor">>("Temperature.").set([] { return 21.5; }, "a");
    r.callback_counter<"reads_total", labels<"disk">>("Reads.").set([] { return 42.0; }, "sda");
    r.info<"build_info", labels<"version", "commit">>("Build.").set("1.2.3", "abc");
    r.stateset<"mode", labels<"unit">>("Mode.", std::vector<std::string>{"on", "off"}).labels("u1").set_only("on");
}

void fill_dynamic(registry& r) {
    const std::vector<std::string> job_labels = {"queue", "result"};  // as read from a configuration
    auto& c = r.counter("jobs_total", "Jobs.", job_labels);
    c.labels("mail", "ok").inc(3);
    const std::vector<std::string> values = {"sms", "failed"};
    c.with(values).inc();
    auto& g = r.gauge("depth", "Depth.", {"queue"});
    const string_ref mail[] = {"mail"};
    g.labels(span<const string_ref>(mail)).set(7);
    auto& h = r.histogram("wait_seconds", "Wait.", {"pool"}, std::vector<double>{0.1, 1});
    for (double v : {0.05, 0.5, 2.0}) h.labels("db").observe(v);
    auto& s = r.summary("latency_seconds", "Latency.", {"op"});
    for (int i = 1; i <= 100; ++i) s.labels("get").observe(i / 100.0);
    auto& n = r.native_histogram("size_bytes", "Size.", {"op"});
    for (double v : {1.0, 10.0, 100.0}) n.labels("put").observe(v);
    r.callback_gauge("temperature_celsius", "Temperature.", {"sensor"}).set([] { return 21.5; }, "a");
    r.callback_counter("reads_total", "Reads.", {"disk"}).set([] { return 42.0; }, "sda");
    r.info("build_info", "Build.", {"version", "commit"}).set("1.2.3", "abc");
    r.stateset("mode", "Mode.", {"on", "off"}, {"unit"}).labels("u1").set_only("on");
}

}  // namespace

TEST(DynamicLabels, EveryKindRendersAsItsCompileTimeTwin) {
    registry fixed, dynamic;
    fill_static(fixed);
    fill_dynamic(dynamic);
    for (auto f :
         {exposition_format::text_0_0_4, exposition_format::openmetrics_1_0_0, exposition_format::protobuf_delimited}) {
        std::string a, b;
        render(fixed, f, a);
        render(dynamic, f, b);
        EXPECT_EQ(a, b) << "format " << static_cast<int>(f);
    }
    const std::string text = render_text(dynamic);
    EXPECT_NE(text.find("jobs_total{queue=\"sms\",result=\"failed\"} 1\n"), std::string::npos) << text;
    const auto check = vitals_test::promtool_check(text);
    EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

TEST(DynamicLabels, NamesAreCheckedAtRegistration) {
    registry r;
    EXPECT_EQ(error_of([&] {
                  (void)r.counter("a_total", "A.", {"ok", "bad name"});
              }),
              "vitals: metric 'a_total': invalid label name 'bad name': label names must match "
              "[a-zA-Z_][a-zA-Z0-9_]* and must not start with '__'");
    EXPECT_EQ(error_of([&] { (void)r.counter("a_total", "A.", {"__reserved"}); }).substr(0, 51),
              "vitals: metric 'a_total': invalid label name '__res");
    EXPECT_EQ(error_of([&] {
                  (void)r.gauge("b", "B.", {"x", "y", "x"});
              }),
              "vitals: metric 'b': duplicate label name 'x'");
    EXPECT_EQ(error_of([&] { (void)r.histogram("c_seconds", "C.", {"le"}); }),
              "vitals: metric 'c_seconds': 'le' is reserved for this kind and cannot be a label");
    EXPECT_EQ(error_of([&] {
                  (void)r.native_histogram("d_seconds", "D.", {"pool", "le"});
              }),
              "vitals: metric 'd_seconds': 'le' is reserved for this kind and cannot be a label");
    EXPECT_EQ(error_of([&] { (void)r.summary("e_seconds", "E.", {"quantile"}); }),
              "vitals: metric 'e_seconds': 'quantile' is reserved for this kind and cannot be a label");
    EXPECT_EQ(error_of([&] { (void)r.stateset("mode", "M.", {"on"}, {"mode"}); }),
              "vitals: metric 'mode': 'mode' is reserved for this kind and cannot be a label");
    EXPECT_EQ(error_of([&] { (void)r.stateset("bad-name", "M.", {"on"}, {"unit"}); }).substr(0, 34),
              "vitals: invalid metric name 'bad-n");
    EXPECT_EQ(error_of([&] { (void)r.info("thing", "I.", {"version"}); }),
              "vitals: info metric 'thing': the name must end in '_info'");
    EXPECT_EQ(error_of([&] { (void)r.counter("9lives_total", "N.", {"a"}); }).substr(0, 34),
              "vitals: invalid metric name '9live");
    EXPECT_EQ(r.family_count(), 0u);  // nothing half-registered

    // Registering again: same names find the family; other names (or order) are a conflict.
    auto& f = r.counter("jobs_total", "Jobs.", {"queue", "result"});
    EXPECT_EQ(&r.counter("jobs_total", "Jobs.", {"queue", "result"}), &f);
    EXPECT_EQ(error_of([&] {
                  (void)r.counter("jobs_total", "Jobs.", {"result", "queue"});
              }),
              "vitals: metric 'jobs_total' is already registered differently: label names [queue, result] "
              "(registered) vs [result, queue] (new)");
    EXPECT_EQ(error_of([&] { (void)r.counter<"jobs_total", labels<"queue", "result">>("Jobs."); }),
              "vitals: metric 'jobs_total' is already registered differently: definition counter (registered) vs "
              "counter (new)");
}

TEST(DynamicLabels, ValueCountsAreCheckedOnEveryPath) {
    registry r;
    auto& f = r.counter("jobs_total", "Jobs.", {"queue", "result"});
    const std::string two = "vitals: metric 'jobs_total' has 2 labels [queue, result] but ";
    EXPECT_EQ(error_of([&] { f.labels("mail").inc(); }), two + "1 value was given");
    EXPECT_EQ(error_of([&] { (void)f.with("a", "b", "c"); }), two + "3 values were given");
    EXPECT_EQ(error_of([&] { (void)f.remove("a"); }), two + "1 value was given");
    const std::vector<std::string> none;
    EXPECT_EQ(error_of([&] { (void)f.with(none); }), two + "0 values were given");
    EXPECT_EQ(error_of([&] { r.callback_gauge("t", "T.", {"s"}).set([] { return 1.0; }); }),
              "vitals: metric 't' has 1 labels [s] but 0 values were given");
    EXPECT_EQ(error_of([&] {
                  r.info("x_info", "X.", {"a", "b"}).set("only");
              }),
              "vitals: metric 'x_info' has 2 labels [a, b] but 1 value was given");
    EXPECT_EQ(f.size(), 0u);  // no series made by a refused call

    // A family without labels is still a family: its one series is reached with no values.
    auto& plain = r.counter("plain_total", "P.", std::vector<std::string>{});
    plain.labels().inc();
    EXPECT_EQ(plain.with().value(), 1);
}

TEST(DynamicLabels, ListValuesAreRepairedAndRemovable) {
    registry r;
    auto& f = r.counter("paths_total", "Paths.", {"path"});
    const string_ref bad[] = {"/caf\xE9"};
    f.labels(span<const string_ref>(bad)).inc();
    EXPECT_EQ(f.with("/caf\xEF\xBF\xBD").value(), 1);  // the same repaired series as positional
    EXPECT_TRUE(f.remove(span<const string_ref>(bad)));
    EXPECT_EQ(f.size(), 0u);
}

TEST(DynamicLabels, TheSeriesCapHoldsAsForCompileTimeLabels) {
    registry r;
    auto& f = r.counter("users_total", "Users.", {"user", "plan"});
    f.set_series_limit(3);
    for (int i = 0; i < 10; ++i) f.labels("user" + std::to_string(i), "free").inc();
    EXPECT_EQ(f.size(), 4u);
    EXPECT_EQ(f.series_limit_rejections(), 7u);
    EXPECT_EQ(f.with("__overflow__", "__overflow__").value(), 7);
    const std::string text = render_text(r);
    EXPECT_NE(text.find("vitals_series_limit_rejections_total{metric=\"users_total\"} 7\n"), std::string::npos) << text;
    const auto check = vitals_test::promtool_check(text);
    EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

// Lookups, creations and removals from several threads while another renders (run under TSan in
// CI): the same lock-free table as labels<...>, so every increment lands.
TEST(DynamicLabels, ConcurrentLookupCreateRemoveAndRender) {
    registry r;
    auto& f = r.counter("hits_total", "Hits.", {"shard", "kind"});
    auto& kept = r.counter("kept_total", "Kept.", {"shard"});
    constexpr int threads = 4, per_thread = 20000;
    std::atomic<bool> done{false};
    std::thread renderer([&] {
        std::string out;
        while (!done.load(std::memory_order_acquire)) {
            out.clear();
            render_text(r, out);
        }
    });
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            const std::vector<std::string> mine = {std::to_string(t)};
            for (int i = 0; i < per_thread; ++i) {
                const std::string shard = std::to_string(i % 16);
                f.labels(shard, i % 2 ? "a" : "b").inc();
                if (i % 1000 == 999) f.remove(shard, "gone");  // removal of a series nobody counts
                if (i % 500 == 0) f.labels(shard, "gone").inc();
                kept.labels(mine).inc();
            }
        });
    for (auto& t : ts) t.join();
    done.store(true, std::memory_order_release);
    renderer.join();
    for (int t = 0; t < threads; ++t) EXPECT_EQ(kept.with(std::to_string(t)).value(), per_thread);
    std::uint64_t counted = 0;
    for (int s = 0; s < 16; ++s)
        for (const char* k : {"a", "b"}) counted += static_cast<std::uint64_t>(f.with(std::to_string(s), k).value());
    EXPECT_EQ(counted, static_cast<std::uint64_t>(threads) * per_thread);
}
