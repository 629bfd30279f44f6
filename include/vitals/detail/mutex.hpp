// vitals — a mutex and its guards on POSIX threads.
//
// Why not std::mutex: in C++20, <mutex> brings in <chrono>, <system_error> and the thread
// headers, a large share of the compile time of every translation unit that includes vitals.
// None of the core's locks is timed or recursive, so a pthread mutex is all it needs.
#pragma once

#include <pthread.h>

namespace vitals::detail {

/// A non-recursive mutex (BasicLockable and Lockable, so the std guards work with it too).
class mutex {
public:
    constexpr mutex() noexcept = default;
    ~mutex() { pthread_mutex_destroy(&m_); }
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;

    // pthread_mutex_lock fails only for errors a default mutex cannot have (EINVAL on a
    // destroyed mutex, EDEADLK only for error-checking ones): there is nothing to report.
    void lock() noexcept { pthread_mutex_lock(&m_); }
    [[nodiscard]] bool try_lock() noexcept { return pthread_mutex_trylock(&m_) == 0; }
    void unlock() noexcept { pthread_mutex_unlock(&m_); }
    /// In a forked child only, for a mutex the forking thread took in a pthread_atfork prepare
    /// handler: unlocks it (the child's thread is that thread; POSIX's rationale for
    /// pthread_atfork describes exactly this, and ThreadSanitizer then sees the unlock).
    void reset_after_fork() noexcept { pthread_mutex_unlock(&m_); }

private:
    pthread_mutex_t m_ = PTHREAD_MUTEX_INITIALIZER;
};

/// Holds a lock for its scope (std::lock_guard).
template <class Mutex>
class lock_guard {
public:
    explicit lock_guard(Mutex& m) noexcept : m_(m) { m_.lock(); }
    ~lock_guard() { m_.unlock(); }
    lock_guard(const lock_guard&) = delete;
    lock_guard& operator=(const lock_guard&) = delete;

private:
    Mutex& m_;
};

/// A lock that can be released and taken again within its scope (the part of std::unique_lock
/// the core uses).
template <class Mutex>
class unique_lock {
public:
    explicit unique_lock(Mutex& m) noexcept : m_(m) { lock(); }
    ~unique_lock() {
        if (owns_) m_.unlock();
    }
    unique_lock(const unique_lock&) = delete;
    unique_lock& operator=(const unique_lock&) = delete;

    void lock() noexcept {
        m_.lock();
        owns_ = true;
    }
    void unlock() noexcept {
        m_.unlock();
        owns_ = false;
    }
    [[nodiscard]] bool owns_lock() const noexcept { return owns_; }

private:
    Mutex& m_;
    bool owns_ = false;
};

}  // namespace vitals::detail
