// Properties of the storage under every counter, gauge and histogram, whatever its layout: it
// holds a million histogram series without running out, stays exact while threads come and go by
// the thousand, while 512 threads share series, while words wrap past 2^64 and while threads
// migrate between CPUs, and renders stay valid throughout. Also run with VITALS_PERCPU=atomic
// (tests/meson.build), so the fallback path is held to the same properties.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "support/exposition_reader.hpp"
#include "support/sanitizers.hpp"
#include "support/process_memory.hpp"

using namespace vitals;
using namespace std::chrono_literals;

namespace {

using vitals_test::under_asan;
using vitals_test::under_sanitizer;
using vitals_test::under_tsan;

// Loop counts: full size in plain builds; ThreadSanitizer makes every shared access and thread
// start tens of times dearer, AddressSanitizer a few times, and the suite must stay quick on two
// CPUs under both.
constexpr std::uint64_t scaled(std::uint64_t plain, std::uint64_t asan, std::uint64_t tsan) {
    return under_tsan ? tsan : under_asan ? asan : plain;
}

__extension__ typedef unsigned __int128 u128;

u128 as_u128(const counter_value& v) { return (static_cast<u128>(v.high) << 64) | v.low; }

std::string u128_string(u128 x) {
    if (x == 0) return "0";
    std::string s;
    while (x) {
        s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(x % 10)));
        x /= 10;
    }
    return s;
}

const vitals_test::parsed_family* find_family(const vitals_test::parse_result& p, const std::string& name) {
    for (const auto& f : p.families)
        if (f.name == name) return &f;
    return nullptr;
}

double sum_of(const vitals_test::parsed_family* f) {
    double s = 0;
    if (f)
        for (const auto& x : f->samples) s += x.value;
    return s;
}

// Renders `r` until stopped; every `parse_every`-th render is parsed and `check` called with it
// (check returns an empty string when it is fine, else what is wrong). Used by the tests that
// need a scrape running through everything they do.
class renderer {
public:
    template <class Check>
    renderer(const registry& r, int parse_every, Check check)
        : thread_([this, &r, parse_every, check] {
              std::string body;
              for (int i = 0; !stop_.load(std::memory_order_relaxed); ++i) {
                  body.clear();
                  render_text(r, body);
                  renders_.fetch_add(1, std::memory_order_relaxed);
                  if (i % parse_every != 0) continue;
                  const auto parsed = vitals_test::read_text_exposition(body);
                  std::string why = parsed.ok() ? check(parsed) : "render did not parse: " + parsed.error;
                  if (!why.empty() && first_error_.empty()) first_error_ = why;
              }
          }) {}
    ~renderer() { stop(); }
    void stop() {
        stop_.store(true);
        if (thread_.joinable()) thread_.join();
    }
    // Only after stop().
    [[nodiscard]] const std::string& first_error() const { return first_error_; }
    [[nodiscard]] std::uint64_t renders() const { return renders_.load(); }

private:
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> renders_{0};
    std::string first_error_;
    std::thread thread_;
};

// The label value of series i; fixed width, so families render in a predictable size.
std::string key(int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "s%06d", i);
    return buf;
}

}  // namespace

// Threads that come and go by the thousand, eight at a time, each touching 100 to 1000 series,
// while a scrape runs continuously: no update is lost or counted twice when a thread exits, and
// no render ever shows a total going down (an exited thread's counts vanishing for a moment) or
// past what was added.
TEST(Storage, ThreadChurnWithAContinuousRenderer) {
    registry r;
    auto& touched = r.counter<"churn_touches_total", labels<"series">>("Touches.");
    auto& timing = r.histogram<"churn_seconds", labels<"series">>("Timing.", std::vector<double>{0.25, 0.5, 0.75});
    constexpr int series = 1000, window = 8;
    const int threads = static_cast<int>(scaled(3000, 1500, 800));
    std::vector<std::string> keys;
    for (int i = 0; i < series; ++i) keys.push_back(key(i));

    // What each thread does, fixed up front so the expected totals are known exactly.
    auto span_of = [](int t) { return 100 + (t * 7919) % 901; };
    auto first_of = [](int t) { return (t * 31) % series; };
    std::vector<std::uint64_t> expected(series, 0), expected_hist(series / 10, 0);
    double grand_total = 0;
    for (int t = 0; t < threads; ++t)
        for (int j = 0; j < span_of(t); ++j) {
            const int s = (first_of(t) + j) % series;
            ++expected[static_cast<std::size_t>(s)];
            ++grand_total;
            if (s % 10 == 0) ++expected_hist[static_cast<std::size_t>(s / 10)];
        }

    double last_seen = 0;
    renderer scrape(r, 4, [&](const vitals_test::parse_result& p) -> std::string {
        const double now = sum_of(find_family(p, "churn_touches_total"));
        std::string why;
        if (now < last_seen) why = "total went down: " + std::to_string(last_seen) + " -> " + std::to_string(now);
        if (now > grand_total) why = "total past what was added: " + std::to_string(now);
        last_seen = now;
        return why;
    });

    std::vector<std::thread> slots(window);
    for (int t = 0; t < threads; ++t) {
        std::thread& slot = slots[static_cast<std::size_t>(t % window)];
        if (slot.joinable()) slot.join();
        slot = std::thread([&, t] {
            for (int j = 0; j < span_of(t); ++j) {
                const int s = (first_of(t) + j) % series;
                touched.labels(keys[static_cast<std::size_t>(s)]).inc();
                if (s % 10 == 0) timing.labels(keys[static_cast<std::size_t>(s)]).observe(0.5);
            }
        });
    }
    for (auto& t : slots)
        if (t.joinable()) t.join();
    scrape.stop();
    EXPECT_EQ(scrape.first_error(), "");
    EXPECT_GT(scrape.renders(), 0u);

    std::size_t wrong = 0;
    for (int s = 0; s < series; ++s) {
        wrong += touched.with(keys[static_cast<std::size_t>(s)]).value() !=
                 static_cast<double>(expected[static_cast<std::size_t>(s)]);
        if (s % 10 == 0)
            wrong += timing.with(keys[static_cast<std::size_t>(s)]).snapshot().count() !=
                     expected_hist[static_cast<std::size_t>(s / 10)];
    }
    EXPECT_EQ(wrong, 0u);
    const auto parsed = vitals_test::read_text_exposition(render_text(r));
    ASSERT_TRUE(parsed.ok()) << parsed.error;
    EXPECT_EQ(sum_of(find_family(parsed, "churn_touches_total")), grand_total);
}

// Increments near 2^64 from several threads, so every word that holds a part of the count (per
// thread or per CPU) wraps again and again, while other threads read the exact value without
// pause: each reader's successive values never decrease (a wrap is never seen half done: the
// carried 2^64 without the wrapped word, or the reverse), and the final value is the exact
// 128-bit sum.
TEST(Storage, CounterWrapsPast2To64WithConcurrentReaders) {
    registry r;
    auto c = r.counter<"wrapping_bytes_total">("Bytes.");
    auto& by_writer = r.counter<"wrapping_by_writer_total", labels<"writer">>("Bytes by writer.");
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    // Large steps take the checked add; 1 and 2^20 the add that moves a word out past 2^63.
    constexpr std::uint64_t steps[] = {max, max / 3, max / 5 + 12345, std::uint64_t{1} << 63, std::uint64_t{1} << 20};
    constexpr std::uint64_t n_steps = std::size(steps);
    constexpr int writers = 4, readers = 2;
    const std::uint64_t iterations = scaled(2000000, 600000, 100000);

    u128 expected = 0;
    for (int w = 0; w < writers; ++w)
        for (std::uint64_t i = 0; i < iterations; ++i)
            expected += static_cast<u128>(steps[(i + static_cast<std::uint64_t>(w)) % n_steps]) + 1;

    std::atomic<int> writing{writers};
    std::atomic<std::uint64_t> reads{0}, decreases{0}, fractions{0};
    std::string first_decrease;  // written by the first reader that sees one
    std::atomic<bool> have_first{false};
    std::vector<std::thread> ts;
    for (int k = 0; k < readers; ++k)
        ts.emplace_back([&] {
            u128 last = 0;
            while (writing.load(std::memory_order_acquire) > 0) {
                const counter_value v = c.exact_value();
                const u128 now = as_u128(v);
                if (v.fraction != 0) fractions.fetch_add(1);
                if (now < last) {
                    if (decreases.fetch_add(1) == 0 && !have_first.exchange(true))
                        first_decrease = u128_string(last) + " -> " + u128_string(now);
                }
                last = now;
                reads.fetch_add(1, std::memory_order_relaxed);
            }
        });
    for (int w = 0; w < writers; ++w)
        ts.emplace_back([&, w] {
            auto mine = by_writer.with(std::to_string(w));
            for (std::uint64_t i = 0; i < iterations; ++i) {
                const std::uint64_t step = steps[(i + static_cast<std::uint64_t>(w)) % n_steps];
                c.inc(step);
                c.inc(1);
                mine.inc(step);
            }
            writing.fetch_sub(1, std::memory_order_release);
        });
    for (auto& t : ts) t.join();

    EXPECT_EQ(decreases.load(), 0u) << "first decrease seen: " << first_decrease << " (of " << reads.load()
                                    << " reads)";
    EXPECT_EQ(fractions.load(), 0u);
    EXPECT_GT(reads.load(), 0u);
    const counter_value v = c.exact_value();
    EXPECT_EQ(u128_string(as_u128(v)), u128_string(expected));
    EXPECT_EQ(v.fraction, 0);
    u128 per_writer_sum = 0;
    for (int w = 0; w < writers; ++w) per_writer_sum += as_u128(by_writer.with(std::to_string(w)).exact_value());
    EXPECT_EQ(u128_string(per_writer_sum + static_cast<u128>(writers) * iterations), u128_string(expected));
    EXPECT_NE(render_text(r).find("wrapping_bytes_total " + u128_string(expected) + "\n"), std::string::npos);
}

// 512 threads alive at once, all updating the same 1000 series (created by whichever thread gets
// there first), while a scrape runs: every total is exact, and no render shows more than was
// added or a total going down.
TEST(Storage, FiveHundredTwelveThreadsOnTheSameSeries) {
    registry r;
    auto& hits = r.counter<"crowd_hits_total", labels<"series">>("Hits.");
    auto& sizes = r.histogram<"crowd_bytes", labels<"series">>("Sizes.", std::vector<double>{10, 100});
    constexpr int threads = 512, series = 1000;
    const int reps = static_cast<int>(scaled(50, 10, 2));
    std::vector<std::string> keys;
    for (int i = 0; i < series; ++i) keys.push_back(key(i));
    const double per_series = static_cast<double>(threads) * reps;

    double last_seen = 0;
    std::latch all_alive(threads + 1);
    renderer scrape(r, 2, [&](const vitals_test::parse_result& p) -> std::string {
        const double now = sum_of(find_family(p, "crowd_hits_total"));
        std::string why;
        if (now < last_seen) why = "total went down";
        if (now > per_series * series) why = "total past what was added";
        last_seen = now;
        return why;
    });
    std::vector<std::thread> ts;
    ts.reserve(threads);
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            all_alive.arrive_and_wait();  // every thread exists before any counts
            if (t % 2 == 0) {
                for (int k = 0; k < reps; ++k)
                    for (int i = 0; i < series; ++i)
                        hits.labels(keys[static_cast<std::size_t>((i + t) % series)]).inc();
            } else {
                std::vector<counter> mine;
                mine.reserve(series);
                for (int i = 0; i < series; ++i) mine.push_back(hits.with(keys[static_cast<std::size_t>(i)]));
                for (int k = 0; k < reps; ++k)
                    for (int i = series; i-- > 0;) mine[static_cast<std::size_t>(i)].inc();
            }
            sizes.labels(keys[static_cast<std::size_t>(t % 10)]).observe(static_cast<double>(t));
        });
    all_alive.arrive_and_wait();
    for (auto& t : ts) t.join();
    scrape.stop();
    EXPECT_EQ(scrape.first_error(), "");

    std::size_t wrong = 0;
    for (int i = 0; i < series; ++i) wrong += hits.with(keys[static_cast<std::size_t>(i)]).value() != per_series;
    EXPECT_EQ(wrong, 0u);
    std::uint64_t observed = 0;
    for (int i = 0; i < 10; ++i) observed += sizes.with(keys[static_cast<std::size_t>(i)]).snapshot().count();
    EXPECT_EQ(observed, static_cast<std::uint64_t>(threads));
    const auto parsed = vitals_test::read_text_exposition(render_text(r));
    ASSERT_TRUE(parsed.ok()) << parsed.error;
    const auto* f = find_family(parsed, "crowd_hits_total");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->samples.size(), static_cast<std::size_t>(series));
    for (const auto& s : f->samples) EXPECT_EQ(s.value, per_series);
}

namespace {

void ignore_signal(int) {}

}  // namespace

// Threads hop between CPUs between (and, through signals, in the middle of) their updates: each
// pins itself to the next allowed CPU or yields, and a signal thread interrupts them without
// pause, so per-CPU updates are cut short, retried or moved to the fallback. Totals stay exact.
// With one allowed CPU only yields and signals remain (the test says so).
TEST(Storage, ExactWhileThreadsMigrate) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    ASSERT_FALSE(cpus.empty());
    if (cpus.size() == 1) std::printf("[   info   ] one allowed CPU: threads yield instead of moving\n");

    struct sigaction quiet {
    }, previous{};
    quiet.sa_handler = ignore_signal;
    quiet.sa_flags = SA_RESTART;
    sigemptyset(&quiet.sa_mask);
    ASSERT_EQ(sigaction(SIGUSR1, &quiet, &previous), 0);

    registry r;
    auto shared = r.counter<"migrating_events_total">("Events.");
    auto bytes = r.counter<"migrating_bytes_total">("Bytes, wrapping.");
    auto& mine = r.counter<"migrating_by_thread_total", labels<"thread">>("Events by thread.");
    auto hist = r.histogram<"migrating_seconds">("Durations.", std::vector<double>{0.5, 1.5});
    auto level = r.gauge<"migrating_level">("A level.");
    constexpr int threads = 4;
    const std::uint64_t iterations = scaled(10000, 10000, 5000);
    constexpr std::uint64_t half = (std::uint64_t{1} << 63) + 1;  // two of them wrap a word

    std::atomic<bool> signalling{true};
    std::atomic<int> moved{0}, failed_pins{0}, finished{0};
    std::latch started(threads + 1);
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            started.arrive_and_wait();
            int last_cpu = sched_getcpu();
            for (std::uint64_t i = 0; i < iterations; ++i) {
                if (cpus.size() > 1 && i % 2 == 0) {
                    cpu_set_t one;
                    CPU_ZERO(&one);
                    CPU_SET(cpus[(i / 2 + static_cast<std::uint64_t>(t)) % cpus.size()], &one);
                    if (sched_setaffinity(0, sizeof one, &one) != 0)
                        failed_pins.fetch_add(1, std::memory_order_relaxed);
                } else {
                    sched_yield();
                }
                const int cpu = sched_getcpu();
                if (cpu != last_cpu) moved.fetch_add(1, std::memory_order_relaxed);
                last_cpu = cpu;
                shared.inc();
                bytes.inc(half);
                mine.labels(std::to_string(t)).inc();
                hist.observe(static_cast<double>(i % 3));
                level.inc(1.0);
                level.dec(0.5);
            }
            finished.fetch_add(1);
            // pthread_kill needs the thread alive: stay until the signals stop.
            while (signalling.load()) std::this_thread::sleep_for(1ms);
        });
    std::thread signaller([&] {
        started.arrive_and_wait();
        while (signalling.load()) {
            for (auto& t : ts) pthread_kill(t.native_handle(), SIGUSR1);
            std::this_thread::sleep_for(50us);
        }
    });
    while (finished.load() < threads) std::this_thread::sleep_for(1ms);
    signalling.store(false);
    signaller.join();
    for (auto& t : ts) t.join();
    sigaction(SIGUSR1, &previous, nullptr);

    const std::uint64_t total = threads * iterations;
    EXPECT_EQ(failed_pins.load(), 0);
    if (cpus.size() > 1) {
        EXPECT_GT(moved.load(), 0) << "no thread ever ran on another CPU";
    }
    std::printf("[   info   ] %zu allowed CPUs, %d observed moves\n", cpus.size(), moved.load());
    EXPECT_EQ(shared.exact_value().low, total);
    EXPECT_EQ(shared.exact_value().high, 0u);
    EXPECT_EQ(u128_string(as_u128(bytes.exact_value())), u128_string(static_cast<u128>(half) * total));
    for (int t = 0; t < threads; ++t) EXPECT_EQ(mine.with(std::to_string(t)).value(), static_cast<double>(iterations));
    const auto s = hist.snapshot();
    ASSERT_EQ(s.cumulative().size(), 3u);
    // i % 3 is 0, 1, 2 in turn: buckets le=0.5, le=1.5, +Inf.
    std::uint64_t zeros = 0, ones = 0;
    for (std::uint64_t i = 0; i < iterations; ++i) {
        if (i % 3 == 0) ++zeros;
        if (i % 3 == 1) ++ones;
    }
    EXPECT_EQ(s.cumulative()[0], zeros * threads);
    EXPECT_EQ(s.cumulative()[1], (zeros + ones) * threads);
    EXPECT_EQ(s.cumulative()[2], total);
    EXPECT_EQ(s.sum(), static_cast<double>(threads) * static_cast<double>(ones + 2 * (iterations - zeros - ones)));
    EXPECT_EQ(level.value(), 0.5 * threads * static_cast<double>(iterations));
    const auto parsed = vitals_test::read_text_exposition(render_text(r));
    EXPECT_TRUE(parsed.ok()) << parsed.error;
}

// Last in the file on purpose: a storage with a fixed, process-wide capacity that this exhausts
// would otherwise fail every later test for that reason alone.
//
// A million histogram series: the storage has no fixed capacity to run out of, so labels() never
// throws, the per-family cap still turns excess combinations into the overflow series, and
// families registered afterwards work.
//
// Sizes: 100 families x 10,000 ten-bucket series in plain builds. Under AddressSanitizer (shadow
// memory, redzones and quarantine on every allocation) and ThreadSanitizer (shadow and a history
// for every word touched) memory and time grow several times over, so there: 20 families x 2,000
// series with a cap of 2,000 set by set_series_limit. The per-CPU words of a series grow with the
// CPU count (12 words per CPU), so on a machine with many CPUs the family count shrinks to keep
// those words near 2 GiB.
TEST(Storage, AMillionHistogramSeriesAndTheCapStillHolds) {
    const long cpus = sysconf(_SC_NPROCESSORS_CONF) > 0 ? sysconf(_SC_NPROCESSORS_CONF) : 1;
    const std::size_t words_budget = std::size_t{2} << 30;  // bytes
    const std::size_t per_family = under_sanitizer ? 2000 : 10000;
    const std::size_t cap = under_sanitizer ? 2000 : family_base::default_series_limit;
    std::size_t families = under_sanitizer ? 20 : 100;
    const std::size_t family_bytes = per_family * 12 * 8 * static_cast<std::size_t>(cpus + 1);
    if (families * family_bytes > words_budget)
        families = words_budget / family_bytes < 2 ? 2 : words_budget / family_bytes;
    static_assert(family_base::default_series_limit == 10000, "the plain-build sizes assume the documented default");

    static constexpr fixed_buckets ten{{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0}};
    registry r;
    using family_type = histogram_family<labels<"shard">>;
    std::vector<family_type*> fams;
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < per_family; ++i) keys.push_back(key(static_cast<int>(i)));
    auto value_of = [](std::size_t i) { return static_cast<double>(i % 11) * 0.1 + 0.05; };  // bucket i % 11

    const auto start = std::chrono::steady_clock::now();
    ASSERT_NO_THROW({
        for (std::size_t f = 0; f < families; ++f) {
            auto& fam = r.histogram<labels<"shard">>("capacity_" + std::to_string(f) + "_seconds", "Capacity.", ten);
            if (cap != family_base::default_series_limit) fam.set_series_limit(cap);
            fams.push_back(&fam);
            for (std::size_t i = 0; i < per_family; ++i) fam.labels(keys[i]).observe(value_of(i));
        }
    });
    const auto created = std::chrono::steady_clock::now();
    std::printf("[   info   ] %zu histogram series in %zu families: %.2f s, RSS %.0f MiB\n", families * per_family,
                families, std::chrono::duration<double>(created - start).count(),
                static_cast<double>(vitals_test::rss_bytes()) / (1 << 20));

    // Every series exists once and holds exactly its one observation, in the right bucket.
    std::size_t wrong = 0;
    for (auto* fam : fams) {
        EXPECT_EQ(fam->size(), per_family);
        for (std::size_t i = 0; i < per_family; ++i) {
            const auto s = fam->labels(keys[i]).snapshot();
            const std::size_t b = i % 11;
            const bool ok = s.count() == 1 && s.sum() == value_of(i) && s.cumulative()[b] == 1 &&
                            (b == 0 || s.cumulative()[b - 1] == 0);
            wrong += !ok;
        }
    }
    EXPECT_EQ(wrong, 0u);

    // Past the cap: new combinations go to the overflow series, existing ones keep their own.
    family_type& full = *fams.front();
    ASSERT_EQ(full.size(), cap);
    constexpr int extra = 100, per_extra = 2;
    EXPECT_NO_THROW({
        for (int j = 0; j < extra; ++j)
            for (int k = 0; k < per_extra; ++k) full.labels("extra-" + std::to_string(j)).observe(0.05);
    });
    EXPECT_EQ(full.series_limit_rejections(), std::uint64_t{extra * per_extra});
    EXPECT_EQ(full.size(), cap + 1);  // the overflow series
    EXPECT_EQ(full.with(family_base::overflow_label_value).snapshot().count(), std::uint64_t{extra * per_extra});
    full.labels(keys[0]).observe(0.05);
    EXPECT_EQ(full.labels(keys[0]).snapshot().count(), 2u);
    EXPECT_EQ(full.series_limit_rejections(), std::uint64_t{extra * per_extra});

    // Families registered after all that: label-less counters and a labelled gauge.
    auto register_late = [&] {
        for (int k = 0; k < 100; ++k) {
            auto c = r.counter("late_" + std::to_string(k) + "_total", "Registered late.");
            c.inc(static_cast<std::uint64_t>(k));
            EXPECT_EQ(c.value(), k);
        }
        auto& g = r.gauge<"late_level", labels<"k">>("Registered late.");
        for (int k = 0; k < 100; ++k) g.labels(std::to_string(k)).set(k);
        EXPECT_EQ(g.size(), 100u);
    };
    EXPECT_NO_THROW(register_late());
}
