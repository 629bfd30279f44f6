// vitals — what happens to the library's locks when the process forks.
//
// fork() copies only the calling thread. A lock another thread held at that instant would stay
// held for good in the child, and the child's first render or series creation would deadlock.
// So, before the fork, the calling thread takes every lock of every registry this copy of the code
// made (registry, then its families, then their series, in the order every other path takes
// them), and the pool's; after it, the parent releases them and the child resets them, together
// with state that the vanished threads left half done (reader counts, wrap locks, exemplar writes).
// The child keeps every value the parent had at the fork (its memory is a copy) and counts on
// from there: what a daemon that forks into the background needs, and harmless for prefork
// workers, whose rates are per process.
//
// Each copy of the code in a process (a plugin built with hidden visibility) registers its own
// handlers for its own registries: a registry is handled by the copy that made it, its families
// through it, so every lock is taken exactly once and in one order.
#pragma once

#include <pthread.h>

#include "cell_pool.hpp"
#include "mutex.hpp"
#include "pod_vector.hpp"

namespace vitals::detail {

/// Something whose locks must be taken across fork().
class fork_participant {
public:
    /// Takes every lock (called in the parent, before fork).
    virtual void fork_prepare() noexcept = 0;
    /// Releases them (parent, after fork).
    virtual void fork_parent() noexcept = 0;
    /// Resets them and repairs what other threads left half done (child, after fork).
    virtual void fork_child() noexcept = 0;

protected:
    ~fork_participant() = default;
};

class fork_hooks {
public:
    static fork_hooks& instance() {
        if (fork_hooks* h = current().load(detail::memory_order_acquire)) [[likely]]
            return *h;
        return make();
    }

    void add(fork_participant* p) {
        lock_guard lock(mu_);
        list_.push_back(p);
    }
    void remove(fork_participant* p) noexcept {
        bool last = false;
        {
            lock_guard lock(mu_);
            list_.remove(p);
            last = list_.empty() && orphaned_;
        }
        if (last) delete this;
    }

private:
    fork_hooks() = default;

    // Like cell_pool's: no destructor, constant-initialized, usable during static destruction.
    static detail::atomic<fork_hooks*>& current() noexcept {
        static constinit detail::atomic<fork_hooks*> hooks{nullptr};
        return hooks;
    }
    [[gnu::noinline]] static fork_hooks& make() {
        static const bool registered = [] {
            // glibc drops these when this copy of the code is unloaded (dlclose).
            pthread_atfork(&prepare, &parent, &child);
            return true;
        }();
        (void)registered;
        static const orphan_at_unload reaper;
        (void)reaper;
        auto* fresh = new fork_hooks;
        fork_hooks* seen = nullptr;
        if (current().compare_exchange_strong(seen, fresh, detail::memory_order_acq_rel)) return *fresh;
        delete fresh;
        return *seen;
    }
    // At unload or exit: freed now when nothing is registered, else with the last removal.
    struct orphan_at_unload {
        ~orphan_at_unload() {
            fork_hooks* h = current().exchange(nullptr, detail::memory_order_acq_rel);
            if (!h) return;
            bool empty = false;
            {
                lock_guard lock(h->mu_);
                h->orphaned_ = true;
                empty = h->list_.empty();
            }
            if (empty) delete h;
        }
    };

    // A participant removes itself from the hooks it joined (see fork_link), which stay alive
    // until it has, even past unload.
    static void prepare() noexcept {
        fork_hooks& h = instance();
        h.mu_.lock();
        for (fork_participant* p : h.list_) p->fork_prepare();
        cell_pool::instance().fork_lock().lock();
    }
    static void parent() noexcept {
        fork_hooks& h = instance();
        cell_pool::instance().fork_lock().unlock();
        for (std::size_t i = h.list_.size(); i-- > 0;) h.list_[i]->fork_parent();
        h.mu_.unlock();
    }
    static void child() noexcept {
        fork_hooks& h = instance();
        cell_pool::instance().fork_lock().reset_after_fork();
        for (std::size_t i = h.list_.size(); i-- > 0;) h.list_[i]->fork_child();
        h.mu_.reset_after_fork();
    }

    mutex mu_;
    pod_vector<fork_participant*> list_;
    bool orphaned_ = false;
};

}  // namespace vitals::detail
