// Liveness state: "is this process still able to make progress?".
//
// Deliberately independent of dependencies: an orchestrator restarts a pod
// whose liveness fails, and restarting because the database is down would
// only add load to the database. Only the application itself decides that it
// is broken (deadlocked worker, corrupted state) by calling mark_unhealthy().
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>

#include "checker.hpp"

namespace vitals::health {

/// Process liveness flag plus uptime. Thread-safe.
class liveness {
public:
    /// Starts the uptime clock now.
    liveness() : started_(clock::now()) {}
    /// Starts the uptime clock at `started` (e.g. captured early in main()).
    explicit liveness(clock::time_point started) : started_(started) {}

    /// Reports the process as unhealthy from now on, with a reason that is only
    /// shown when details are exposed.
    void mark_unhealthy(std::string reason) {
        std::lock_guard lock(mutex_);
        reason_ = std::move(reason);
        healthy_.store(false, std::memory_order_release);
    }

    /// Clears a previous mark_unhealthy().
    void mark_healthy() {
        std::lock_guard lock(mutex_);
        reason_.clear();
        healthy_.store(true, std::memory_order_release);
    }

    /// Whether the process currently considers itself alive and well.
    [[nodiscard]] bool healthy() const noexcept { return healthy_.load(std::memory_order_acquire); }

    /// The reason given to the last mark_unhealthy() (empty when healthy).
    [[nodiscard]] std::string reason() const {
        std::lock_guard lock(mutex_);
        return reason_;
    }

    /// Time since construction.
    [[nodiscard]] std::chrono::duration<double> uptime() const noexcept { return clock::now() - started_; }

private:
    clock::time_point started_;
    std::atomic<bool> healthy_{true};
    mutable std::mutex mutex_;
    std::string reason_;
};

}  // namespace vitals::health
