// vitals — stripes of lock-protected state, for series whose state is not a few words
// (summaries' windows, native histograms' sparse buckets).
//
// A writer takes the stripe of its CPU if it is free and otherwise the next free one, so it never
// waits for a reader or for a writer that was preempted holding a stripe: there are more stripes
// than CPUs. A reader takes the stripes one at a time. Memory is per stripe, so it grows with the
// CPU count, never with the thread count.
#pragma once

#include <cstdint>
#include <new>
#include <sched.h>

#include "atomic.hpp"
#include "percpu.hpp"

namespace vitals::detail {

template <class State>
class striped {
public:
    /// `make(State*)` constructs one stripe's state in place.
    template <class Make>
    explicit striped(Make&& make) : n_(count()) {
        stripes_ = static_cast<stripe*>(::operator new(sizeof(stripe) * n_, std::align_val_t{alignof(stripe)}));
        std::uint32_t built = 0;
        try {
            for (; built < n_; ++built) {
                new (&stripes_[built].lock) detail::atomic<std::uint32_t>(0);
                make(&stripes_[built].state);
            }
        } catch (...) {
            destroy(built);
            throw;
        }
    }
    ~striped() { destroy(n_); }
    striped(const striped&) = delete;
    striped& operator=(const striped&) = delete;

    /// Runs f(State&) with a stripe held.
    template <class F>
    decltype(auto) update(F&& f) {
        const std::uint32_t first = current_cpu_hint() % n_;
        for (std::uint32_t k = 0;; ++k) {
            stripe& s = stripes_[(first + k) % n_];
            if (s.lock.load(detail::memory_order_relaxed) == 0 &&
                s.lock.exchange(1, detail::memory_order_acquire) == 0) {
                struct unlock {
                    stripe& s;
                    ~unlock() { s.lock.store(0, detail::memory_order_release); }
                } guard{s};
                return f(s.state);
            }
            if (k >= n_ && k % n_ == 0) sched_yield();  // every stripe busy: let their holders run
        }
    }

    /// Runs f(State&) for every stripe in turn, each held while f runs.
    template <class F>
    void for_each(F&& f) {
        for (std::uint32_t i = 0; i < n_; ++i) {
            stripe& s = stripes_[i];
            for (int spins = 0; s.lock.exchange(1, detail::memory_order_acquire) != 0; ++spins)
                if (spins > 64) sched_yield();
            struct unlock {
                stripe& s;
                ~unlock() { s.lock.store(0, detail::memory_order_release); }
            } guard{s};
            f(s.state);
        }
    }

    /// In a forked child: stripes held by threads that did not survive the fork are freed (their
    /// update, half done, is the parent's).
    void reset_in_child() noexcept {
        for (std::uint32_t i = 0; i < n_; ++i) stripes_[i].lock.store(0, detail::memory_order_relaxed);
    }

private:
    struct alignas(64) stripe {
        detail::atomic<std::uint32_t> lock;
        State state;
    };

    static std::uint32_t count() noexcept {
        const std::uint32_t cpus = percpu_layout_now().cpus;
        return cpus + 1 < 2 ? 2 : cpus + 1;
    }
    void destroy(std::uint32_t built) noexcept {
        for (std::uint32_t i = 0; i < built; ++i) stripes_[i].state.~State();
        ::operator delete(stripes_, std::align_val_t{alignof(stripe)});
    }

    stripe* stripes_;
    std::uint32_t n_;
};

}  // namespace vitals::detail
