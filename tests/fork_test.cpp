// fork() safety of the storage: a child forked at any instant of a busy parent can use every
// metric, render and exit; the child starts from the parent's values at the fork and counts on
// alone. Every child runs under a deadline: one that hangs (a lock some vanished thread held) is
// killed and reported, so a regression fails the test instead of stalling the suite.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/exposition_reader.hpp"
#include "support/sanitizers.hpp"

using namespace vitals;
using namespace std::chrono_literals;

namespace {

using vitals_test::under_asan;
using vitals_test::under_sanitizer;
using vitals_test::under_tsan;

using clock_type = std::chrono::steady_clock;
__extension__ typedef unsigned __int128 u128;

u128 as_u128(const counter_value& v) { return (static_cast<u128>(v.high) << 64) | v.low; }

// How long a child may take. Its work is a few renders of at most ~12k series; sanitizers and two
// busy CPUs shared with the parent's threads make that seconds at worst, never this long.
constexpr auto child_deadline = under_sanitizer ? 8s : 5s;
// Forking stops after this many hung children: each further one would only add its deadline to
// the test's time, and one hung child already fails it.
constexpr std::size_t hung_children_to_give_up = 1;

// Exit codes of a child, so the parent can say what went wrong.
enum child_code : int {
    child_ok = 0,
    child_bad_counter = 10,
    child_bad_series = 11,
    child_bad_remove = 12,
    child_bad_render = 13,
    child_bad_values = 14,
    child_bad_threads = 15,
    child_no_go = 16,
    child_exception = 20,
    child_unknown_exception = 21,
};

const char* describe_code(int code) {
    switch (code) {
        case child_bad_counter:
            return "a counter increment was not exact";
        case child_bad_series:
            return "a new series was missing or wrong";
        case child_bad_remove:
            return "remove() failed or the series was still rendered";
        case child_bad_render:
            return "the render did not parse";
        case child_bad_values:
            return "rendered or read values were wrong";
        case child_bad_threads:
            return "totals from the child's own threads were wrong";
        case child_no_go:
            return "the parent's go-ahead never came";
        case child_exception:
            return "an exception escaped";
        case child_unknown_exception:
            return "an unknown exception escaped";
        default:
            return "unexpected exit code";
    }
}

// The child's stderr is the test's: say why before exiting, so a failure log explains itself.
int child_failed(int code, const std::string& why) {
    const std::string line = "[fork child " + std::to_string(getpid()) + "] " + why + "\n";
    [[maybe_unused]] const ssize_t n = write(STDERR_FILENO, line.data(), line.size());
    return code;
}

const vitals_test::parsed_family* find_family(const vitals_test::parse_result& p, const std::string& name) {
    for (const auto& f : p.families)
        if (f.name == name) return &f;
    return nullptr;
}

const std::string* label_of(const vitals_test::parsed_sample& s, const std::string& name) {
    for (const auto& [k, v] : s.labels)
        if (k == name) return &v;
    return nullptr;
}

// Forks children and watches them: each must exit 0 before its deadline, or it is SIGKILLed and
// counted as hung. Children run concurrently with the parent, so one slow child does not delay
// the next fork; the parent polls instead of blocking in waitpid, which a hung child would turn
// into a hung test.
class child_watch {
public:
    ~child_watch() {
        // An early return from the test (a failed ASSERT) must not leave children behind.
        for (const auto& c : running_) {
            kill(c.pid, SIGKILL);
            waitpid(c.pid, nullptr, 0);
        }
    }

    // Forks; the child runs `body` (returning its exit code) and _exits, never returning here.
    template <class Body>
    bool spawn(const std::string& what, Body&& body) {
        const pid_t pid = fork();
        if (pid < 0) {
            failures_.push_back(what + ": fork failed: " + std::strerror(errno));
            return false;
        }
        if (pid == 0) {
            int code = child_unknown_exception;
            try {
                code = body();
            } catch (const std::exception& e) {
                code = child_failed(child_exception, std::string("exception: ") + e.what());
            } catch (...) {
                code = child_failed(child_unknown_exception, "unknown exception");
            }
            // _exit: no atexit handlers, no flushing of the parent's stdio buffers, no leak check
            // of a process image that was never meant to be torn down.
            _exit(code);
        }
        running_.push_back({pid, what, clock_type::now() + child_deadline});
        ++spawned_;
        return true;
    }

    // Reaps children that exited and kills those past their deadline.
    void poll() {
        for (std::size_t i = running_.size(); i-- > 0;) {
            int status = 0;
            const pid_t r = waitpid(running_[i].pid, &status, WNOHANG);
            if (r == running_[i].pid) {
                record(running_[i], status);
            } else if (clock_type::now() > running_[i].deadline) {
                kill(running_[i].pid, SIGKILL);
                waitpid(running_[i].pid, nullptr, 0);
                ++hung_;
                failures_.push_back(running_[i].what + ": hung (no exit within the deadline; killed)");
            } else {
                continue;
            }
            running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }

    // Waits until fewer than `n` children run (at most one deadline).
    void wait_below(std::size_t n) {
        while (running_.size() >= n) {
            poll();
            if (running_.size() >= n) std::this_thread::sleep_for(1ms);
        }
    }
    void wait_all() { wait_below(1); }

    [[nodiscard]] bool should_give_up() const { return hung_ >= hung_children_to_give_up; }
    [[nodiscard]] std::size_t spawned() const { return spawned_; }
    [[nodiscard]] std::size_t succeeded() const { return succeeded_; }
    [[nodiscard]] std::size_t hung() const { return hung_; }
    [[nodiscard]] std::string report() const {
        std::string out;
        for (const auto& f : failures_) out += "  " + f + "\n";
        return out;
    }

private:
    struct child {
        pid_t pid;
        std::string what;
        clock_type::time_point deadline;
    };

    void record(const child& c, int status) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            ++succeeded_;
        } else if (WIFEXITED(status)) {
            failures_.push_back(c.what + ": exit code " + std::to_string(WEXITSTATUS(status)) + " (" +
                                describe_code(WEXITSTATUS(status)) + ")");
        } else if (WIFSIGNALED(status)) {
            failures_.push_back(c.what + ": killed by signal " + std::to_string(WTERMSIG(status)));
        } else {
            failures_.push_back(c.what + ": status " + std::to_string(status));
        }
    }

    std::vector<child> running_;
    std::vector<std::string> failures_;
    std::size_t spawned_ = 0, succeeded_ = 0, hung_ = 0;
};

// Under AddressSanitizer the runtime's own allocator (GCC 12's libasan, LLVM 14's) holds no lock
// across fork(): a child whose parent had another thread inside malloc or free at that instant
// hangs in its first allocation, whatever vitals does. LLVM 14's ThreadSanitizer allocator does
// the same, more rarely: a child of a loaded machine was caught waiting forever in
// SizeClassAllocator64::GetFromAllocator, called from this test's own exposition parser. Under
// either, the parent's threads that allocate stop at a safe point (between two operations) for
// each fork; the allocation-free ones (renders into a buffer reserved up front, updates of
// existing series) keep running through it, so forks still land inside renders. Plain builds
// pause nothing.
class fork_pause {
public:
    explicit fork_pause(bool enabled) : enabled_(enabled) {}
    // A thread that allocates: it calls checkpoint() between operations.
    void enlist() { ++members_; }
    void checkpoint() {
        if (!enabled_ || !requested_.load()) return;
        ++parked_;
        while (requested_.load()) std::this_thread::sleep_for(50us);
        --parked_;
    }
    // Until every enlisted thread is parked (bounded: a thread that already stopped never parks).
    void hold() {
        if (!enabled_) return;
        requested_.store(true);
        const auto give_up_at = clock_type::now() + 2s;
        while (parked_.load() < members_.load() && clock_type::now() < give_up_at) std::this_thread::sleep_for(50us);
    }
    void release() { requested_.store(false); }
    [[nodiscard]] bool enabled() const { return enabled_; }

private:
    bool enabled_;
    std::atomic<int> members_{0}, parked_{0};
    std::atomic<bool> requested_{false};
};

// Runs each started function in a loop on a thread of its own until stop() (or destruction).
class background {
public:
    ~background() { stop(); }
    template <class F>
    void start(F fn, fork_pause* pause = nullptr) {
        if (pause) pause->enlist();
        threads_.emplace_back([this, fn, pause]() mutable {
            for (std::uint64_t i = 0; !stop_.load(std::memory_order_relaxed); ++i) {
                if (pause) pause->checkpoint();
                fn(i);
            }
        });
    }
    void stop() {
        stop_.store(true);
        for (auto& t : threads_)
            if (t.joinable()) t.join();
        threads_.clear();
    }

private:
    std::atomic<bool> stop_{false};
    std::vector<std::thread> threads_;
};

// Waits (bounded) until `count` has moved on by `n`.
void wait_for_progress(const std::atomic<std::uint64_t>& count, std::uint64_t n, std::chrono::milliseconds limit) {
    const std::uint64_t from = count.load();
    const auto give_up_at = clock_type::now() + limit;
    while (count.load() < from + n && clock_type::now() < give_up_at) std::this_thread::sleep_for(100us);
}

}  // namespace

// The parent is as busy as a service gets: scrapes, series created and removed, updates, threads
// coming and going, families registered. Forks land in the middle of all of it; every child must
// still be able to update, create, remove and render on its own, promptly. The parent's own
// count of forks must not include anything its children counted.
TEST(Fork, ChildOfABusyProcessCanUseEveryMetric) {
    registry r({{"service", "forktest"}});
    auto& requests = r.counter<"fork_requests_total", labels<"worker">>("Requests by worker.");
    auto& churn = r.counter<"fork_churn_total", labels<"key">>("Series that come and go.");
    auto& latency = r.histogram<"fork_latency_seconds", labels<"key">>("Latency.", std::vector<double>{0.01, 0.1, 1});
    auto& stable = r.gauge<"fork_stable", labels<"id">>("Series nobody changes.");
    auto forks = r.counter<"fork_children_total">("Children forked by this process.");
    constexpr int stable_series = 100;
    for (int i = 0; i < stable_series; ++i) stable.labels(std::to_string(i)).set(i);

    // ThreadSanitizer's deadlock detector follows at most 64 locks held by one thread at once (a
    // CHECK failure ends the process past that), and the fork handlers hold every registry's and
    // family's locks together, three per family today: past ~20 families the tool, not the
    // library, would fail, so fewer are registered there.
    const std::uint64_t dynamic_families = under_tsan ? 8 : 200;

    std::atomic<std::uint64_t> renders{0};
    fork_pause pause(under_asan || under_tsan);
    background activity;
    activity.start([&, body = std::string()](std::uint64_t) mutable {
        if (body.capacity() < (1u << 20)) body.reserve(1u << 20);  // warm renders then allocate nothing
        body.clear();
        render_text(r, body);
        renders.fetch_add(1, std::memory_order_relaxed);
    });
    activity.start(
        [&](std::uint64_t i) {
            // Keeps ~50 live series in each family while creating and removing one per iteration.
            const std::string key = "c" + std::to_string(i);
            churn.labels(key).inc();
            latency.labels(key).observe(0.05);
            if (i >= 50) {
                const std::string old = "c" + std::to_string(i - 50);
                churn.remove(old);
                latency.remove(old);
            }
        },
        &pause);
    activity.start(
        [&](std::uint64_t i) {
            requests.labels("w" + std::to_string(i % 8)).inc();
            latency.labels("hot").observe(static_cast<double>(i % 100) * 0.01);
            if (i % 512 == 0 && i / 512 < dynamic_families)  // families registered while forks happen
                r.counter("fork_dynamic_" + std::to_string(i / 512) + "_total", "Registered late.").inc();
        },
        &pause);
    activity.start(
        [&](std::uint64_t) {
            std::thread t([&] {
                for (int k = 0; k < 100; ++k) {
                    requests.labels("short").inc();
                    latency.labels("short").observe(0.2);
                }
            });
            t.join();
        },
        &pause);

    constexpr int fork_count = 50;
    std::mt19937 rng(12345);
    child_watch children;
    int forked = 0;
    for (int n = 0; n < fork_count && !children.should_give_up(); ++n) {
        // Spread the forks over the activity: at least one more render between two forks, then a
        // random pause so that forks hit every phase of it.
        const std::uint64_t seen = renders.load();
        const auto give_up_at = clock_type::now() + 200ms;
        while (renders.load() == seen && clock_type::now() < give_up_at) std::this_thread::sleep_for(100us);
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
        children.wait_below(4);
        if (children.should_give_up()) break;
        forks.inc();
        ++forked;
        const std::string name = "child " + std::to_string(n);
        pause.hold();
        // Paused, the churn thread's removals are freed by the next renders: let that happen
        // before the fork, so that no free() is in flight in the renderer either.
        if (pause.enabled()) wait_for_progress(renders, 2, 500ms);
        children.spawn(name, [&]() -> int {
            const u128 before = as_u128(forks.exact_value());
            forks.inc();
            if (as_u128(forks.exact_value()) != before + 1) return child_failed(child_bad_counter, "forks counter");
            const double w0 = requests.with("w0").value();
            requests.labels("w0").inc();
            if (requests.with("w0").value() != w0 + 1) return child_failed(child_bad_counter, "w0 counter");

            requests.labels("child").inc(3);
            if (requests.with("child").value() != 3) return child_failed(child_bad_series, "new series not at 3");
            latency.labels("child").observe(0.5);
            if (latency.with("child").snapshot().count() != 1) return child_failed(child_bad_series, "new histogram");

            if (!stable.remove("7")) return child_failed(child_bad_remove, "stable series 7 missing");
            if (!requests.remove("child")) return child_failed(child_bad_remove, "new series missing");

            // Twice: the second render checks that the first left nothing locked or half done.
            for (int pass = 0; pass < 2; ++pass) {
                std::string body;
                render_text(r, body);
                const auto parsed = vitals_test::read_text_exposition(body);
                if (!parsed.ok()) return child_failed(child_bad_render, parsed.error);
                const auto* st = find_family(parsed, "fork_stable");
                if (!st || st->samples.size() != stable_series - 1)
                    return child_failed(child_bad_values, "fork_stable has the wrong series count");
                for (const auto& s : st->samples) {
                    const std::string* id = label_of(s, "id");
                    if (!id || *id == "7" || s.value != std::stod(*id))
                        return child_failed(child_bad_remove, "fork_stable sample wrong or removed one present");
                }
                const auto* fc = find_family(parsed, "fork_children_total");
                if (!fc || fc->samples.size() != 1 || fc->samples[0].value != static_cast<double>(before + 1))
                    return child_failed(child_bad_values, "fork_children_total not what the child counted");
                const auto* rq = find_family(parsed, "fork_requests_total");
                if (!rq) return child_failed(child_bad_values, "fork_requests_total missing");
                bool saw_child2 = false;
                for (const auto& s : rq->samples) {
                    const std::string* w = label_of(s, "worker");
                    if (!w || *w == "child") return child_failed(child_bad_remove, "removed series rendered");
                    if (*w == "w0" && s.value != w0 + 1) return child_failed(child_bad_values, "w0 rendered wrong");
                    saw_child2 |= *w == "child2" && s.value == 1;
                }
                if (saw_child2 != (pass == 1)) return child_failed(child_bad_series, "child2 rendered wrong");
                if (!find_family(parsed, "fork_latency_seconds")) return child_failed(child_bad_values, "no histogram");
                // Created between the passes: only the second render may show it.
                if (pass == 0) requests.labels("child2").inc();
            }
            return child_ok;
        });
        pause.release();
    }
    children.wait_all();
    activity.stop();

    EXPECT_EQ(children.hung(), 0u) << children.report();
    EXPECT_EQ(children.succeeded(), static_cast<std::size_t>(forked)) << children.report();
    EXPECT_EQ(forked, fork_count) << "gave up forking after " << children.hung() << " hung children";
    EXPECT_GT(renders.load(), 0u);
    // The parent still works, and counted only its own increments.
    EXPECT_EQ(forks.exact_value().low, static_cast<std::uint64_t>(forked));
    EXPECT_EQ(forks.exact_value().high, 0u);
    const auto parsed = vitals_test::read_text_exposition(render_text(r));
    EXPECT_TRUE(parsed.ok()) << parsed.error;
    EXPECT_EQ(stable.size(), static_cast<std::size_t>(stable_series));  // the children's removals stayed theirs
    const auto* rq = find_family(parsed, "fork_requests_total");
    ASSERT_NE(rq, nullptr);
    for (const auto& s : rq->samples) EXPECT_NE(*label_of(s, "worker"), "child2");
}

// The documented semantics, exactly: the child starts with the parent's values at the instant of
// the fork (not at any later instant), counts on alone, and the parent never sees the child's
// updates. Values were written by several threads, one of which is still alive (idle) at the
// fork, and one counter is past 2^64. Three rounds, so each fork starts from a parent that
// already forked.
TEST(Fork, ChildStartsFromTheParentsValuesAndCountsAlone) {
    registry r;
    auto events = r.counter<"semantic_events_total">("Events.");
    auto big = r.counter<"semantic_bytes_total">("Bytes, past 2^64.");
    auto& by_key = r.counter<"semantic_requests_total", labels<"key">>("Requests by key.");
    auto hist = r.histogram<"semantic_seconds">("Durations.", std::vector<double>{1, 2, 4});
    auto level = r.gauge<"semantic_level">("A level.");

    // Written by a thread that exits, a thread that stays (idle) across the forks, and this one.
    std::thread([&] {
        events.inc(40);
        big.inc(std::numeric_limits<std::uint64_t>::max());
    }).join();
    std::mutex mu;
    std::condition_variable cv;
    bool wrote = false, release = false;
    std::thread idle([&] {
        by_key.labels("a").inc(5);
        big.inc(std::numeric_limits<std::uint64_t>::max());
        hist.observe(1.5);
        {
            std::lock_guard<std::mutex> lock(mu);
            wrote = true;
        }
        cv.notify_all();
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return release; });
    });
    {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return wrote; });
    }
    // Lets the idle thread go and joins it on every way out, a failed ASSERT included (a joinable
    // std::thread destroyed would terminate the test binary).
    struct idle_release {
        std::mutex& mu;
        std::condition_variable& cv;
        bool& release;
        std::thread& idle;
        ~idle_release() {
            {
                std::lock_guard<std::mutex> lock(mu);
                release = true;
            }
            cv.notify_all();
            idle.join();
        }
    } release_idle{mu, cv, release, idle};
    events.inc();
    big.inc(5);
    by_key.labels("b").inc(7);
    hist.observe(0.5);
    hist.observe(3);
    hist.observe(10);
    level.set(2.5);

    // What the parent holds; every round's child checks against it and the parent moves it on.
    struct model {
        u128 events, big;
        double a, b, level;
        std::uint64_t buckets[4];  // cumulative: le=1, 2, 4, +Inf
        double sum;
    };
    model m{41, (static_cast<u128>(2) << 64) + 3, 5, 7, 2.5, {1, 2, 3, 4}, 15};

    auto matches = [&](const model& x, std::string& why) {
        if (as_u128(events.exact_value()) != x.events) return why = "events", false;
        if (as_u128(big.exact_value()) != x.big) return why = "big", false;
        if (by_key.with("a").value() != x.a) return why = "a", false;
        if (by_key.with("b").value() != x.b) return why = "b", false;
        if (level.value() != x.level) return why = "level", false;
        const auto s = hist.snapshot();
        if (s.cumulative().size() != 4) return why = "bucket count", false;
        for (std::size_t i = 0; i < 4; ++i)
            if (s.cumulative()[i] != x.buckets[i]) return why = "bucket " + std::to_string(i), false;
        if (s.sum() != x.sum) return why = "sum", false;
        return true;
    };
    std::string why;
    ASSERT_TRUE(matches(m, why)) << why;

    for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        int go[2];
        ASSERT_EQ(pipe(go), 0);
        const model at_fork = m;
        child_watch children;
        children.spawn("semantics child", [&]() -> int {
            close(go[1]);
            // Wait until the parent has updated everything after the fork: those updates must
            // not show here.
            pollfd p{go[0], POLLIN, 0};
            char byte = 0;
            if (::poll(&p, 1, 4000) != 1 || read(go[0], &byte, 1) != 1) return child_failed(child_no_go, "no go");
            std::string bad;
            if (!matches(at_fork, bad)) return child_failed(child_bad_values, "at fork: " + bad);
            const std::string body = render_text(r);
            if (!vitals_test::read_text_exposition(body).ok()) return child_failed(child_bad_render, "render");
            const std::string events_line =
                "semantic_events_total " + std::to_string(static_cast<std::uint64_t>(at_fork.events)) + "\n";
            if (body.find(events_line) == std::string::npos)
                return child_failed(child_bad_values, "render: " + events_line);

            events.inc();
            big.inc(std::numeric_limits<std::uint64_t>::max());
            by_key.labels("a").inc();
            hist.observe(3);
            level.set(-7);
            model after = at_fork;
            after.events += 1;
            after.big += std::numeric_limits<std::uint64_t>::max();
            after.a += 1;
            after.level = -7;
            after.buckets[2] += 1;
            after.buckets[3] += 1;
            after.sum += 3;
            if (!matches(after, bad)) return child_failed(child_bad_counter, "after the child's updates: " + bad);
            return child_ok;
        });
        close(go[0]);
        // The parent moves on at once; then lets the child look.
        events.inc(1000);
        big.inc(std::uint64_t{1} << 63);
        by_key.labels("a").inc(1000);
        for (int i = 0; i < 1000; ++i) hist.observe(0.5);
        level.set(100 + round);
        m.events += 1000;
        m.big += std::uint64_t{1} << 63;
        m.a += 1000;
        for (auto& b : m.buckets) b += 1000;
        m.sum += 500;
        m.level = 100 + round;
        ASSERT_EQ(write(go[1], "g", 1), 1);
        close(go[1]);
        children.wait_all();
        EXPECT_EQ(children.succeeded(), 1u) << children.report();
        EXPECT_TRUE(matches(m, why)) << "the parent's values changed with the child's: " << why;
    }
}

namespace {

// A sink that is slow to take each piece of a render, so that a render of many series lasts long
// enough for a fork to land inside it (with every lock a render takes held), and that says when
// it is inside.
struct slow_sink {
    std::string* out;
    std::atomic<std::uint64_t>* appends;
    void append(const char* p, std::size_t n) {
        appends->fetch_add(1, std::memory_order_relaxed);
        out->append(p, n);
        std::this_thread::sleep_for(50us);
    }
};

}  // namespace

// Forks, from a thread other than main, while another thread is deep inside something long: a
// render of 10k series stalled in its sink, or a family being filled with thousands of series and
// cleared. The child must render everything and create and remove series of its own.
TEST(Fork, ForkFromAThreadInTheMiddleOfALongRender) {
    registry r;
    auto& big = r.counter<"long_series_total", labels<"id">>("Many series.");
    auto& hist = r.histogram<"long_seconds", labels<"id">>("Some histograms.", std::vector<double>{0.1, 1});
    auto& scratch = r.counter<"long_scratch_total", labels<"id">>("Filled and cleared.");
    constexpr int series = 10000, histograms = 500;
    for (int i = 0; i < series; ++i) big.labels(std::to_string(i)).inc(static_cast<std::uint64_t>(i) + 1);
    for (int i = 0; i < histograms; ++i) hist.labels(std::to_string(i)).observe(0.5);

    std::atomic<std::uint64_t> appends{0}, fills{0}, renders{0};
    std::atomic<bool> in_fill{false};
    fork_pause pause(under_asan || under_tsan);  // the fill thread allocates; the renderer does not once warm
    background activity;
    activity.start([&, body = std::string()](std::uint64_t) mutable {
        if (body.capacity() < (4u << 20)) body.reserve(4u << 20);
        body.clear();
        slow_sink sink{&body, &appends};
        render_text(r, sink);
        renders.fetch_add(1);
    });
    activity.start(
        [&](std::uint64_t round) {
            in_fill.store(true);
            for (int i = 0; i < 2000; ++i) scratch.labels(std::to_string(round) + "-" + std::to_string(i)).inc();
            scratch.clear();
            in_fill.store(false);
            fills.fetch_add(1);
        },
        &pause);

    constexpr int fork_count = under_sanitizer ? 12 : 24;
    std::size_t spawned = 0, succeeded = 0, hung = 0;
    std::string report;
    std::thread forker([&] {
        std::mt19937 rng(777);
        child_watch children;
        for (int n = 0; n < fork_count && !children.should_give_up(); ++n) {
            children.wait_below(3);
            if (children.should_give_up()) break;
            // Alternate the target: inside the render's sink, or inside the fill/clear loop (which
            // is paused for every fork under a sanitizer, see fork_pause).
            const bool during_render = n % 2 == 0 || pause.enabled();
            const std::string name =
                "child " + std::to_string(n) + (during_render ? " (during render)" : " (during fill)");
            pause.hold();
            if (pause.enabled()) wait_for_progress(renders, 1, 1s);  // frees what the last clear() left
            const auto give_up_at = clock_type::now() + 500ms;
            if (during_render) {
                const std::uint64_t a = appends.load();
                while (appends.load() == a && clock_type::now() < give_up_at) std::this_thread::yield();
            } else {
                while (!in_fill.load() && clock_type::now() < give_up_at) std::this_thread::yield();
                std::this_thread::sleep_for(std::chrono::microseconds(rng() % 500));
            }
            children.spawn(name, [&]() -> int {
                std::string body;
                render_text(r, body);
                const auto parsed = vitals_test::read_text_exposition(body);
                if (!parsed.ok()) return child_failed(child_bad_render, parsed.error);
                const auto* f = find_family(parsed, "long_series_total");
                if (!f || f->samples.size() != static_cast<std::size_t>(series))
                    return child_failed(child_bad_values, "long_series_total count");
                for (const auto& s : f->samples)
                    if (s.value != std::stod(*label_of(s, "id")) + 1)
                        return child_failed(child_bad_values, "long_series_total value");
                const auto* h = find_family(parsed, "long_seconds");
                if (!h || h->samples.size() != static_cast<std::size_t>(histograms) * 5)
                    return child_failed(child_bad_values, "long_seconds count");
                // The family is at its cap: removal first makes room for the child's series.
                if (!big.remove("0")) return child_failed(child_bad_remove, "remove an inherited series");
                big.labels("child").inc();
                if (big.with("child").value() != 1 || !big.remove("child"))
                    return child_failed(child_bad_remove, "create and remove a series of the child's");
                scratch.labels("child").inc();
                scratch.clear();
                if (scratch.size() != 0) return child_failed(child_bad_remove, "clear");
                body.clear();
                render_text(r, body);
                const auto again = vitals_test::read_text_exposition(body);
                if (!again.ok()) return child_failed(child_bad_render, again.error);
                const auto* f2 = find_family(again, "long_series_total");
                if (!f2 || f2->samples.size() != static_cast<std::size_t>(series - 1))
                    return child_failed(child_bad_remove, "after remove");
                return child_ok;
            });
            pause.release();
        }
        children.wait_all();
        spawned = children.spawned();
        succeeded = children.succeeded();
        hung = children.hung();
        report = children.report();
    });
    forker.join();
    activity.stop();
    EXPECT_EQ(hung, 0u) << report;
    EXPECT_EQ(spawned, static_cast<std::size_t>(fork_count)) << "gave up forking after " << hung << " hung children";
    EXPECT_EQ(succeeded, spawned) << report;
    EXPECT_GT(appends.load(), 0u);
    EXPECT_GT(fills.load(), 0u);
    EXPECT_EQ(big.size(), static_cast<std::size_t>(series));
}

// A prefork server: the master (busy with threads of its own, except under ThreadSanitizer, see
// below) forks workers, and each worker starts threads that update shared and new series while
// another of its threads renders. Totals in each worker are exact: what it had at the fork plus
// what its own threads added.
TEST(Fork, PreforkWorkersRunThreadsOfTheirOwn) {
    registry r({{"service", "prefork"}});
    auto& jobs = r.counter<"prefork_jobs_total", labels<"worker", "kind">>("Jobs.");
    auto& seconds = r.histogram<"prefork_job_seconds", labels<"kind">>("Job time.", std::vector<double>{0.1, 1});
    for (int i = 0; i < 100; ++i) jobs.labels("master", std::to_string(i)).inc(static_cast<std::uint64_t>(i));

    // ThreadSanitizer cannot follow a child that starts threads after a multi-threaded fork (it
    // dies by design, die_after_fork): there the master's threads finish before the forks, which
    // still leaves their traces in the storage the workers inherit. Elsewhere they run through the
    // forks; once warm they allocate nothing (existing series, a reused buffer), which is what
    // AddressSanitizer's allocator needs to survive a fork (see fork_pause).
    background master;
    master.start([&](std::uint64_t i) {
        jobs.labels("master", "shared").inc();
        seconds.labels("shared").observe(static_cast<double>(i % 10) * 0.1);
    });
    master.start([&, body = std::string()](std::uint64_t) mutable {
        if (body.capacity() < (1u << 20)) body.reserve(1u << 20);
        body.clear();
        render_text(r, body);
    });
    std::this_thread::sleep_for(20ms);  // warm
    if (under_tsan) master.stop();

    constexpr int workers = 4, threads_per_worker = 4;
    constexpr std::uint64_t per_thread = under_sanitizer ? 2000 : 20000;
    child_watch children;
    for (int w = 0; w < workers; ++w) {
        if (!under_tsan) std::this_thread::sleep_for(5ms);
        children.spawn("worker " + std::to_string(w), [&, w]() -> int {
            const std::string me = "worker" + std::to_string(w);
            const double shared_start = jobs.with("master", "shared").value();
            const auto hist_start = seconds.with("shared").snapshot().count();
            std::atomic<bool> done{false};
            std::atomic<int> bad_renders{0}, renders{0};
            std::thread renderer([&] {
                std::string body;
                while (!done.load()) {
                    body.clear();
                    render_text(r, body);
                    if (!vitals_test::read_text_exposition(body).ok()) ++bad_renders;
                    ++renders;
                }
            });
            std::vector<std::thread> ts;
            for (int t = 0; t < threads_per_worker; ++t)
                ts.emplace_back([&, t] {
                    auto mine = jobs.with(me, "thread" + std::to_string(t));
                    // Start once the renderer has rendered: on a busy machine four threads could
                    // otherwise be done before it ran at all, and no render would overlap them.
                    while (renders.load() == 0) std::this_thread::yield();
                    for (std::uint64_t i = 0; i < per_thread; ++i) {
                        jobs.labels("master", "shared").inc();
                        mine.inc();
                        seconds.labels("shared").observe(0.5);
                        if (i % 1000 == 0) jobs.labels(me, "batch" + std::to_string(i / 1000)).inc();
                    }
                });
            for (auto& t : ts) t.join();
            done.store(true);
            renderer.join();
            if (bad_renders.load() != 0) return child_failed(child_bad_render, "a worker render did not parse");
            if (renders.load() == 0) return child_failed(child_bad_render, "no worker render");
            const double total = static_cast<double>(threads_per_worker * per_thread);
            if (jobs.with("master", "shared").value() != shared_start + total)
                return child_failed(child_bad_threads, "shared series total");
            if (seconds.with("shared").snapshot().count() != hist_start + threads_per_worker * per_thread)
                return child_failed(child_bad_threads, "histogram count");
            for (int t = 0; t < threads_per_worker; ++t)
                if (jobs.with(me, "thread" + std::to_string(t)).value() != static_cast<double>(per_thread))
                    return child_failed(child_bad_threads, "per-thread series");
            for (int i = 0; i < 100; ++i)
                if (jobs.with("master", std::to_string(i)).value() != i)
                    return child_failed(child_bad_values, "master's series at fork");
            const auto parsed = vitals_test::read_text_exposition(render_text(r));
            if (!parsed.ok()) return child_failed(child_bad_render, parsed.error);
            const auto* f = find_family(parsed, "prefork_jobs_total");
            if (!f) return child_failed(child_bad_render, "no jobs family");
            for (const auto& s : f->samples) {
                const std::string* wk = label_of(s, "worker");
                if (wk && wk->rfind("worker", 0) == 0 && *wk != me)
                    return child_failed(child_bad_values, "another worker's series in this one");
            }
            return child_ok;
        });
    }
    children.wait_all();
    master.stop();
    EXPECT_EQ(children.hung(), 0u) << children.report();
    EXPECT_EQ(children.succeeded(), static_cast<std::size_t>(workers)) << children.report();
    // The workers' series never reach the master.
    const auto parsed = vitals_test::read_text_exposition(render_text(r));
    ASSERT_TRUE(parsed.ok()) << parsed.error;
    const auto* f = find_family(parsed, "prefork_jobs_total");
    ASSERT_NE(f, nullptr);
    for (const auto& s : f->samples) EXPECT_EQ(*label_of(s, "worker"), "master");
}
