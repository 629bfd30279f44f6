// Concurrency stress (run under ThreadSanitizer in CI) and long-run edge cases: threads that come
// and go, several scrapes at once, counters and sums at the edges of their ranges.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "support/exposition_reader.hpp"
#include "support/process_memory.hpp"

using namespace vitals;

using vitals_test::rss_bytes;

// Threads that start, count and exit continuously: no count is lost, and what each thread
// allocated for its cells is returned when it exits.
TEST(Stress, ThreadChurnLosesNothingAndReturnsMemory) {
    registry r;
    auto& f = r.counter<"jobs_total", labels<"queue">>("Jobs.");
    auto h = r.histogram<"job_seconds">("Job time.", std::vector<double>{0.1, 1});

    std::size_t rss_after_warmup = 0;
    constexpr int rounds = 200, per_round = 4, per_thread = 500;
    for (int round = 0; round < rounds; ++round) {
        std::vector<std::thread> ts;
        for (int t = 0; t < per_round; ++t)
            ts.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) {
                    f.labels(t % 2 ? "a" : "b").inc();
                    h.observe(0.5);
                }
            });
        for (auto& t : ts) t.join();
        if (round == 20) rss_after_warmup = rss_bytes();
    }

    EXPECT_EQ(f.with("a").value() + f.with("b").value(), double{rounds} * per_round * per_thread);
    EXPECT_EQ(h.snapshot().count(), std::uint64_t{rounds} * per_round * per_thread);
    // 180 more rounds of 4 threads, each with ~40 KiB of cells: without returning them that is
    // ~29 MiB; allow a little allocator noise.
    if (vitals_test::rss_reflects_frees) {
        EXPECT_LT(rss_bytes(), rss_after_warmup + 8 * 1024 * 1024);
    }
}

// Several scrapes at once while writers run: every render is valid and none blocks the others.
TEST(Stress, ConcurrentScrapesWhileWriting) {
    registry r({{"service", "api"}});
    auto& req = r.counter<"http_requests_total", labels<"endpoint", "status">>("Requests.");
    auto& lat = r.histogram<"http_request_duration_seconds", labels<"endpoint">>("Latency.", http_duration_buckets);
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 2; ++t)
        writers.emplace_back([&, t] {
            for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
                const std::string ep = "/e" + std::to_string((i + t) % 50);
                req.labels(ep, i % 7 ? "200" : "500").inc();
                lat.labels(ep).observe((i % 100) * 0.01);
            }
        });
    std::atomic<int> invalid{0}, scrapes{0};
    std::vector<std::thread> scrapers;
    for (int s = 0; s < 3; ++s)
        scrapers.emplace_back([&] {
            std::string buf;
            for (int i = 0; i < 40; ++i) {
                buf.clear();
                render_text(r, buf);
                if (!vitals_test::read_text_exposition(buf).ok()) ++invalid;
                ++scrapes;
            }
        });
    for (auto& s : scrapers) s.join();
    stop = true;
    for (auto& w : writers) w.join();
    EXPECT_EQ(invalid.load(), 0);
    EXPECT_EQ(scrapes.load(), 120);
}

// Documented edge: the fractional part of a counter is a double; past ~1.8e308 it is +Inf and
// stays there (the integer part is exact to 2^128 and is never affected by it).
TEST(Stress, VeryLargeFloatingSums) {
    registry r;
    auto c = r.counter<"energy_joules_total">("Energy.");
    EXPECT_TRUE(c.inc(1e308));
    EXPECT_TRUE(c.inc(1e308));
    EXPECT_EQ(c.value(), std::numeric_limits<double>::infinity());
    auto h = r.histogram<"size_bytes">("Sizes.", std::vector<double>{1});
    h.observe(1.7e308);
    h.observe(1.7e308);
    EXPECT_EQ(h.snapshot().sum(), std::numeric_limits<double>::infinity());
    EXPECT_EQ(h.snapshot().count(), 2u);
    const auto parsed = vitals_test::read_text_exposition(render_text(r));
    EXPECT_TRUE(parsed.ok()) << parsed.error;
}

// Documented edge: a counter is exact past 2^64; many threads pushing it there lose nothing.
TEST(Stress, CountersPast2To64FromManyThreads) {
    registry r;
    auto c = r.counter<"bytes_total">("Bytes.");
    constexpr std::uint64_t chunk = std::numeric_limits<std::uint64_t>::max() / 4 + 1;  // 2^62
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < 3; ++i) c.inc(chunk);
        });
    for (auto& t : ts) t.join();
    const auto v = c.exact_value();  // 12 * 2^62 = 3 * 2^64
    EXPECT_EQ(v.high, 3u);
    EXPECT_EQ(v.low, 0u);
    EXPECT_NE(render_text(r).find("bytes_total 55340232221128654848\n"), std::string::npos);
}
