// Tests for exemplars (core/exemplar.hpp, core/exemplar_store.hpp): recorded without locks on
// counters and histogram buckets, limited to 128 code points, rendered in OpenMetrics.
#include <vitals/exposition/render.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/openmetrics.hpp"

using namespace vitals;

TEST(Exemplar, CounterKeepsTheLatest) {
    registry r;
    auto c = r.counter<"requests_total">("Requests.");
    EXPECT_TRUE(c.inc(1, exemplar_labels{{"trace_id", "aaa"}}));
    EXPECT_TRUE(c.inc(2, exemplar_labels{{"trace_id", "bbb"}, {"span_id", "s1"}}));
    EXPECT_FALSE(c.inc(-1, exemplar_labels{{"trace_id", "ccc"}}));  // refused: no exemplar either
    EXPECT_EQ(c.value(), 3);
    std::string out;
    render_openmetrics(r, out);
    EXPECT_NE(out.find("requests_total 3 # {trace_id=\"bbb\",span_id=\"s1\"} 2 "), std::string::npos) << out;
    EXPECT_EQ(out.find("ccc"), std::string::npos);
    const auto parsed = vitals_test::openmetrics_check(out);
    EXPECT_TRUE(parsed.ok) << parsed.output << "\n" << out;
}

TEST(Exemplar, HistogramKeepsOnePerBucket) {
    registry r;
    auto h = r.histogram<"latency_seconds">("Latency.", std::vector<double>{0.1, 1});
    h.observe(0.05, exemplar_labels{{"trace_id", "fast1"}});
    h.observe(0.07, exemplar_labels{{"trace_id", "fast2"}});
    h.observe(0.5, exemplar_labels{{"trace_id", "mid"}});
    h.observe(7.0);  // no exemplar in +Inf
    std::string out;
    render_openmetrics(r, out);
    EXPECT_NE(out.find("latency_seconds_bucket{le=\"0.1\"} 2 # {trace_id=\"fast2\"} 0.07 "), std::string::npos) << out;
    EXPECT_NE(out.find("latency_seconds_bucket{le=\"1.0\"} 3 # {trace_id=\"mid\"} 0.5 "), std::string::npos) << out;
    EXPECT_NE(out.find("latency_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("fast1"), std::string::npos);
    const auto parsed = vitals_test::openmetrics_check(out);
    EXPECT_TRUE(parsed.ok) << parsed.output << "\n" << out;
    // Text 0.0.4 has no exemplars: the render is unchanged by them.
    EXPECT_EQ(render_text(r).find("trace_id"), std::string::npos);
}

TEST(Exemplar, LabelLimitIs128CodePoints) {
    const std::string id(120, 'a');
    EXPECT_NO_THROW(exemplar_labels({{"trace_id", id}}));  // 8 + 120 = 128
    EXPECT_THROW(exemplar_labels({{"trace_id", id + "b"}}), invalid_argument_error);
    const std::string wide(60, 'x');
    std::string accents;
    for (int i = 0; i < 64; ++i) accents += "\xC3\xA9";                // 64 code points, 128 bytes
    EXPECT_NO_THROW(exemplar_labels({{"ab", accents}, {"c", wide}}));  // 2 + 64 + 1 + 60 = 127
    EXPECT_THROW(exemplar_labels({{"bad-name", "x"}}), invalid_argument_error);
    try {
        exemplar_labels({{"trace_id", std::string(200, 'z')}});
    } catch (const invalid_argument_error& e) {
        EXPECT_NE(std::string(e.what()).find("128"), std::string::npos);
    }
}

// Stress (TSan in CI): several threads attach exemplars to the same buckets while renders read
// them; every render must parse and show exemplars that some thread really stored.
TEST(Exemplar, ConcurrentStoresAndRenders) {
    registry r;
    auto h = r.histogram<"op_seconds">("Ops.", std::vector<double>{0.5});
    auto c = r.counter<"ops_total">("Ops.");
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 3; ++t)
        writers.emplace_back([&, t] {
            const std::string id = "thread" + std::to_string(t);
            const exemplar_labels ex{{"trace_id", id}};
            for (int i = 0; i < 20000; ++i) {
                h.observe(i % 2 ? 0.25 : 0.75, ex);
                c.inc(1, ex);
            }
        });
    std::vector<std::string> renders;
    std::thread reader([&] {
        do {  // at least once, however fast the writers are
            std::string out;
            render_openmetrics(r, out);
            if (renders.size() < 3) renders.push_back(std::move(out));
        } while (!stop.load());
    });
    for (auto& w : writers) w.join();
    stop = true;
    reader.join();
    EXPECT_EQ(c.value(), 60000);
    for (const auto& out : renders) {
        const auto parsed = vitals_test::openmetrics_check(out);
        EXPECT_TRUE(parsed.ok) << parsed.output << "\n" << out;
    }
    std::string last;
    render_openmetrics(r, last);
    EXPECT_NE(last.find("# {trace_id=\"thread"), std::string::npos) << last;
}
