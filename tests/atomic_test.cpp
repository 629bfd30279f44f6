// detail/atomic.hpp and detail/mutex.hpp: the core's atomics on compiler builtins and its pthread
// mutex. The concurrent cases run under ThreadSanitizer in CI, which checks that they really
// synchronise (a data race is reported as a failure).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

#include <vitals/detail/atomic.hpp>
#include <vitals/detail/mutex.hpp>

namespace d = vitals::detail;

namespace {

TEST(atomic, load_store_exchange_and_compare_exchange) {
    d::atomic<std::uint64_t> a{5};
    EXPECT_EQ(a.load(), 5u);
    a.store(7, d::memory_order_relaxed);
    EXPECT_EQ(a.load(d::memory_order_acquire), 7u);
    EXPECT_EQ(a.exchange(9), 7u);
    std::uint64_t expected = 1;
    EXPECT_FALSE(a.compare_exchange_strong(expected, 2));
    EXPECT_EQ(expected, 9u);  // a failed exchange reports what it found
    EXPECT_TRUE(a.compare_exchange_strong(expected, 2, d::memory_order_acq_rel));
    EXPECT_EQ(a.load(), 2u);
    expected = 2;
    while (!a.compare_exchange_weak(expected, 3, d::memory_order_release, d::memory_order_relaxed)) {}
    EXPECT_EQ(a.load(), 3u);
    EXPECT_EQ(a.fetch_add(10), 3u);
    EXPECT_EQ(a.fetch_sub(1), 13u);
    EXPECT_EQ(a.load(), 12u);
    a.store(std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(a.fetch_add(1), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(a.load(), 0u);  // unsigned wrap-around, as std::atomic
}

TEST(atomic, doubles_pointers_and_bools_round_trip_bit_for_bit) {
    d::atomic<double> x{-0.0};
    EXPECT_TRUE(std::signbit(x.load()));
    const double nan = std::bit_cast<double>(std::uint64_t{0x7ff8000000000123});
    x.store(nan);
    EXPECT_EQ(std::bit_cast<std::uint64_t>(x.load()), 0x7ff8000000000123u);
    int target = 0;
    d::atomic<int*> p{nullptr};
    EXPECT_EQ(p.exchange(&target), nullptr);
    EXPECT_EQ(p.load(), &target);
    d::atomic<bool> b{false};
    bool want = false;
    EXPECT_TRUE(b.compare_exchange_strong(want, true));
    EXPECT_TRUE(b.load());
}

TEST(atomic, concurrent_fetch_add_loses_nothing) {
    d::atomic<std::uint64_t> n{0};
    constexpr int threads = 4, per_thread = 100000;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) n.fetch_add(1, d::memory_order_relaxed);
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(n.load(), std::uint64_t{threads} * per_thread);
}

TEST(atomic, release_store_publishes_plain_data_to_an_acquire_load) {
    int payload = 0;
    d::atomic<bool> ready{false};
    std::thread writer([&] {
        payload = 42;
        ready.store(true, d::memory_order_release);
    });
    while (!ready.load(d::memory_order_acquire)) std::this_thread::yield();
    EXPECT_EQ(payload, 42);  // TSan reports a race here if release/acquire do not order it
    writer.join();
}

TEST(mutex, guards_plain_data_across_threads) {
    d::mutex m;
    long total = 0;
    constexpr int threads = 4, per_thread = 20000;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                d::lock_guard lock(m);
                ++total;
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(total, long{threads} * per_thread);
}

// Whether another thread could take `m` right now (it gives it back at once).
bool free_for_another_thread(d::mutex& m) {
    bool taken = false;
    std::thread([&] {
        taken = m.try_lock();
        if (taken) m.unlock();
    }).join();
    return taken;
}

TEST(mutex, unique_lock_releases_and_retakes_and_try_lock_sees_the_owner) {
    d::mutex m;
    {
        d::unique_lock lock(m);
        EXPECT_TRUE(lock.owns_lock());
        EXPECT_FALSE(free_for_another_thread(m));
        lock.unlock();
        EXPECT_FALSE(lock.owns_lock());
        EXPECT_TRUE(free_for_another_thread(m));
        lock.lock();
        EXPECT_TRUE(lock.owns_lock());
        EXPECT_FALSE(free_for_another_thread(m));
    }  // released by the destructor
    EXPECT_TRUE(free_for_another_thread(m));
}

}  // namespace
