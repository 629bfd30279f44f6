// Readiness probe: dependency checks run in the background on their own schedule, and answers
// read the latest results without ever waiting on a dependency.
//
// Execution model (why it looks like this):
//  * An answer (check(), check_one(), handle_ready()) takes the probe's lock just long enough to
//    copy the latest results. It never starts a run and never waits for one, so a dependency that
//    accepts a connection and never answers cannot stall a request thread or an event loop.
//  * One scheduler thread starts each check on its interval (jittered, so a fleet does not probe
//    a shared database in step) and keeps the time: a run still going at its deadline is reported
//    as "timeout" at that moment, without waiting for it to return. A bounded pool of worker
//    threads (probe_options::max_workers) runs the checks; at most one run per check is in flight,
//    so a permanently hung dependency holds one worker, not one per request. No thread is started
//    per run.
//  * A result older than its check's max_age counts as failed, and until a check's first run has
//    completed the service is not ready, with a reason that says so.
//  * Threads share ownership of the probe's state, so stopping the probe while a check is hung
//    waits at most probe_options::shutdown_grace; the hung run is left to finish on its own.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../base/error.hpp"
#include "checker.hpp"

namespace vitals::health {

/// Per-check registration settings.
struct check_options {
    /// A failing critical check makes the service not ready; a failing non-critical one only
    /// degrades it.
    bool critical = true;
    /// Longest time a run may take before it is reported as "timeout".
    clock::duration timeout = std::chrono::seconds(2);
    /// Time from the end of one run to the start of the next, jittered by ±10 %.
    clock::duration interval = std::chrono::seconds(5);
    /// A result older than this counts as failed ("stale"). Zero means interval + timeout plus
    /// the interval again: one run may be late before the result goes stale.
    clock::duration max_age = clock::duration::zero();
};

/// One check's entry in a readiness report.
struct check_report {
    /// Registered name of the check.
    std::string name;
    /// Whether the check was registered as critical.
    bool critical = true;
    /// The outcome; `result.message` is "timeout" when `timed_out`, and says so when the result is
    /// pending or stale.
    check_result result;
    /// The last run exceeded its timeout (or the run in flight has passed it).
    bool timed_out = false;
    /// No run has completed yet: the check counts as unhealthy.
    bool pending = false;
    /// The last result is older than max_age: the check counts as unhealthy.
    bool stale = false;
    /// Time since the result was obtained (zero when pending).
    clock::duration age = clock::duration::zero();
};

/// Aggregated outcome of a readiness evaluation.
struct readiness_report {
    /// healthy; degraded when any check is degraded or a non-critical check is unhealthy;
    /// unhealthy when a critical check is unhealthy.
    health::status status = health::status::healthy;
    /// False exactly when a critical check is unhealthy (pending and stale count as unhealthy).
    bool ready = true;
    /// Evaluated checks in registration order (excluded ones are absent).
    std::vector<check_report> checks;
    /// Names of the checks left out by the request's exclusions, in registration order.
    std::vector<std::string> excluded;

    /// The entry for `name`, or nullptr.
    [[nodiscard]] const check_report* find(string_ref name) const noexcept {
        for (const auto& c : checks)
            if (c.name == name) return &c;
        return nullptr;
    }
};

/// Called once per completed run of a check, timeouts included (a hung run is reported when its
/// deadline passes), on a probe thread. Intended for exporting metrics. Exceptions thrown by the
/// observer are swallowed.
using result_observer = std::function<void(string_ref name, const check_result& result)>;

/// Called once when a check is registered, before its first run (so that metrics exist, and
/// say "not up", from the start).
using check_added_observer = std::function<void(string_ref name)>;

/// Called with a report; see probe::async_run.
using report_callback = std::function<void(readiness_report)>;

/// Probe-wide settings.
struct probe_options {
    /// Hook invoked with each completed result.
    result_observer on_result{};
    /// Hook invoked when a check is registered.
    check_added_observer on_added{};
    /// Most threads that run checks at once (at least 1). Checks beyond that wait their turn; a
    /// hung check holds one of them until it returns.
    std::size_t max_workers = 4;
    /// How long stopping the probe waits for runs in flight before leaving them behind.
    clock::duration shutdown_grace = std::chrono::milliseconds(200);
};

/// Message used for results of runs that exceeded their timeout.
inline constexpr string_ref timeout_message = "timeout";

/// Readiness probe over a set of named dependency checks. Thread-safe: checks may be added and
/// answers read from any thread at any time.
class probe {
public:
    /// Creates an empty probe (which is ready: no dependency can fail). Threads start with the
    /// first check.
    explicit probe(probe_options options = {}) : s_(std::make_shared<state>(std::move(options))) {}

    probe(const probe&) = delete;
    probe& operator=(const probe&) = delete;

    /// Stops the probe (see stop()).
    ~probe() { stop(); }

    /// Registers a checker under its own name; its first run starts at once. Throws
    /// vitals::invalid_argument_error if the name is empty, contains '/' or is already registered,
    /// or if the timeout or interval is not positive.
    template <checker C>
    void add(C c, check_options opts = {}) {
        std::string name(std::as_const(c).name());
        auto shared = std::make_shared<C>(std::move(c));
        add_entry(std::move(name), opts, [shared](deadline_t d) { return run_checker(*shared, d); });
    }

    /// Registers a callable (see `check_function`) under `name`.
    template <class F>
        requires check_function<std::decay_t<F>>
    void add(std::string name, F&& fn, check_options opts = {}) {
        add(make_checker(std::move(name), std::forward<F>(fn)), opts);
    }

    /// Whether a check named `name` is registered.
    [[nodiscard]] bool contains(string_ref name) const {
        std::lock_guard lock(s_->mu);
        return s_->find(name) != nullptr;
    }

    /// Names of all registered checks in registration order.
    [[nodiscard]] std::vector<std::string> names() const {
        std::lock_guard lock(s_->mu);
        std::vector<std::string> out;
        out.reserve(s_->entries.size());
        for (const auto& e : s_->entries) out.push_back(e->name);
        return out;
    }

    /// The latest results of all checks except those named in `exclude`. Returns at once: it
    /// never runs a check or waits for one.
    [[nodiscard]] readiness_report check(const std::vector<std::string>& exclude = {}) const {
        std::lock_guard lock(s_->mu);
        return s_->report(exclude, clock::now());
    }

    /// The latest result of the single check `name`; nullopt if no such check exists. Returns at
    /// once.
    [[nodiscard]] std::optional<check_report> check_one(string_ref name) const {
        std::lock_guard lock(s_->mu);
        const entry* e = s_->find(name);
        if (!e) return std::nullopt;
        return s_->report_of(*e, clock::now());
    }

    /// Runs every selected check now (a check whose run is in flight is not started again: its
    /// current run counts, and a run already past its deadline counts as its timeout) and calls
    /// `done` with the report once each has completed or timed out.
    /// `done` runs on the probe's scheduler thread, or at once on this thread when nothing is
    /// selected or the probe is stopped: keep it short, or post the work elsewhere
    /// (<vitals/health/asio.hpp> posts it to an executor).
    void async_run(report_callback done, std::vector<std::string> exclude = {}) {
        std::unique_lock lock(s_->mu);
        if (s_->stopping) {
            readiness_report r = s_->report(exclude, clock::now());
            lock.unlock();
            done(std::move(r));
            return;
        }
        waiter w;
        w.done = std::move(done);
        w.exclude = std::move(exclude);
        const auto now = clock::now();
        for (const auto& e : s_->entries) {
            if (std::find(w.exclude.begin(), w.exclude.end(), e->name) != w.exclude.end()) continue;
            if (!e->running) e->next_due = now;
            // A run already reported as timed out is hung: its timeout is the answer, rather than a
            // wait for a run that cannot start until it returns.
            const bool hung = e->running && e->timeout_reported;
            w.targets.emplace_back(e, e->completions + (hung ? 0 : 1));
        }
        if (w.targets.empty()) {
            readiness_report r = s_->report(w.exclude, now);
            lock.unlock();
            w.done(std::move(r));
            return;
        }
        s_->waiters.push_back(std::move(w));
        lock.unlock();
        s_->wake.notify_all();
    }

    /// Runs every selected check now and waits for the results (at most the largest timeout, plus
    /// the time a run waits for a free worker). For tools and tests; request handlers should use
    /// check(), which never waits.
    readiness_report run_now(const std::vector<std::string>& exclude = {}) {
        struct rendezvous {
            std::mutex mu;
            std::condition_variable cv;
            std::optional<readiness_report> report;
        };
        auto r = std::make_shared<rendezvous>();
        async_run(
            [r](readiness_report rep) {
                std::lock_guard lock(r->mu);
                r->report = std::move(rep);
                r->cv.notify_all();
            },
            exclude);
        std::unique_lock lock(r->mu);
        r->cv.wait(lock, [&] { return r->report.has_value(); });
        return std::move(*r->report);
    }

    /// Asks for a new run of every idle check as soon as a worker is free, without waiting.
    void invalidate() {
        {
            std::lock_guard lock(s_->mu);
            const auto now = clock::now();
            for (const auto& e : s_->entries)
                if (!e->running) e->next_due = now;
        }
        s_->wake.notify_all();
    }

    /// Stops scheduling runs and ends the probe's threads. Waits at most
    /// probe_options::shutdown_grace for runs in flight; a run still going then (a hung
    /// dependency) is left to finish on its own thread, which owns what it uses. Pending
    /// async_run callbacks are called with the latest results. Idempotent.
    void stop() {
        std::vector<std::thread> threads;
        std::vector<waiter> waiters;
        readiness_report last;
        {
            std::unique_lock lock(s_->mu);
            if (s_->stopping && s_->threads.empty()) return;
            s_->stopping = true;
            waiters.swap(s_->waiters);
            threads.swap(s_->threads);
        }
        s_->wake.notify_all();
        s_->work.notify_all();
        for (auto& w : waiters) s_->deliver(w);
        std::vector<bool> exited;
        {
            std::unique_lock lock(s_->mu);
            s_->exit_cv.wait_for(lock, s_->options.shutdown_grace, [&] { return s_->alive == 0; });
            exited = s_->exited;  // by thread index
        }
        for (std::size_t i = 0; i < threads.size(); ++i) {
            if (i < exited.size() && exited[i])
                threads[i].join();
            else
                threads[i].detach();  // it holds a reference to the state and ends when its run returns
        }
    }

private:
    struct entry {
        std::string name;
        check_options opts;
        std::function<check_result(deadline_t)> run;

        bool running = false;
        bool timeout_reported = false;  // the run in flight passed its deadline and was reported
        clock::time_point run_started{};
        clock::time_point run_deadline{};
        clock::time_point next_due{};
        std::uint64_t completions = 0;  // runs completed, a timeout counting as a completion
        std::optional<check_result> last;
        bool last_timed_out = false;
        clock::time_point last_at{};

        [[nodiscard]] clock::duration max_age() const noexcept {
            return opts.max_age > clock::duration::zero() ? opts.max_age : 2 * opts.interval + opts.timeout;
        }
    };

    struct waiter {
        report_callback done;
        std::vector<std::string> exclude;
        std::vector<std::pair<std::shared_ptr<entry>, std::uint64_t>> targets;  // completions to reach
    };

    struct state {
        explicit state(probe_options o) : options(std::move(o)), jitter(std::random_device{}()) {
            if (options.max_workers == 0) options.max_workers = 1;
        }

        probe_options options;
        std::mutex mu;
        std::condition_variable wake;     // the scheduler: something is due or changed
        std::condition_variable work;     // workers: a run is queued
        std::condition_variable exit_cv;  // stop(): a thread ended
        std::vector<std::shared_ptr<entry>> entries;
        std::vector<std::shared_ptr<entry>> queue;  // runs handed to workers
        std::vector<waiter> waiters;
        std::vector<std::thread> threads;
        std::vector<bool> exited;  // per thread index
        std::size_t alive = 0;
        std::size_t workers = 0, idle_workers = 0;
        bool stopping = false;
        bool scheduler_started = false;
        std::minstd_rand jitter;

        const entry* find(std::string_view name) const {
            for (const auto& e : entries)
                if (e->name == name) return e.get();
            return nullptr;
        }

        static check_result timeout_result(clock::duration elapsed) {
            check_result r = unhealthy(std::string(timeout_message));
            r.latency = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed);
            return r;
        }

        check_report report_of(const entry& e, clock::time_point now) const {
            check_report r;
            r.name = e.name;
            r.critical = e.opts.critical;
            if (e.running && now >= e.run_deadline) {
                // A hung run is a timeout from its deadline on, whether or not the scheduler has
                // recorded it yet.
                r.result = e.timeout_reported && e.last ? *e.last : timeout_result(now - e.run_started);
                r.timed_out = true;
                r.age = now - e.run_deadline;
                return r;
            }
            if (!e.last) {
                r.result = unhealthy("pending: the first check has not completed");
                r.pending = true;
                return r;
            }
            r.result = *e.last;
            r.timed_out = e.last_timed_out;
            r.age = now - e.last_at;
            if (r.age > e.max_age()) {
                r.stale = true;
                const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.age).count();
                r.result = unhealthy("stale: the last result is " + std::to_string(ms) + " ms old");
            }
            return r;
        }

        readiness_report report(const std::vector<std::string>& exclude, clock::time_point now) const {
            readiness_report out;
            out.checks.reserve(entries.size());
            for (const auto& e : entries) {
                if (std::find(exclude.begin(), exclude.end(), e->name) != exclude.end()) {
                    out.excluded.push_back(e->name);
                    continue;
                }
                check_report c = report_of(*e, now);
                const auto s = c.result.status;
                if (s == status::unhealthy) {
                    if (c.critical) {
                        out.ready = false;
                        out.status = worst(out.status, status::unhealthy);
                    } else {
                        out.status = worst(out.status, status::degraded);
                    }
                } else {
                    out.status = worst(out.status, s);
                }
                out.checks.push_back(std::move(c));
            }
            return out;
        }

        // Calls a waiter's callback with the latest results (without the lock).
        void deliver(waiter& w) {
            readiness_report r;
            {
                std::lock_guard lock(mu);
                r = report(w.exclude, clock::now());
            }
            try {
                w.done(std::move(r));
            } catch (...) {
                // A callback's failure must not take the scheduler down.
            }
        }

        void notify(const std::vector<std::pair<std::string, check_result>>& results) {
            if (!options.on_result) return;
            for (const auto& [name, result] : results) {
                try {
                    options.on_result(name, result);
                } catch (...) {
                    // Metrics export must never break the probe.
                }
            }
        }

        clock::duration jittered(clock::duration interval) {
            std::uniform_real_distribution<double> u(0.9, 1.1);
            return std::chrono::duration_cast<clock::duration>(interval * u(jitter));
        }

        // Records what a run produced; returns the result the observer should see.
        check_result finish_run(entry& e, check_result r, clock::time_point t0, clock::time_point t1) {
            const bool late = t1 > e.run_deadline;
            if (late) r = timeout_result(t1 - t0);
            r.latency = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0);
            const bool already_reported = e.timeout_reported;
            e.running = false;
            e.timeout_reported = false;
            e.next_due = t1 + jittered(e.opts.interval);
            if (already_reported) {
                // The scheduler reported this run as a timeout at its deadline; the late return only
                // updates the measured latency.
                if (e.last) e.last->latency = r.latency;
                return r;
            }
            e.last = r;
            e.last_timed_out = late;
            e.last_at = t1;
            ++e.completions;
            return r;
        }
    };

    void add_entry(std::string name, check_options opts, std::function<check_result(deadline_t)> run) {
        if (name.empty()) throw vitals::invalid_argument_error("vitals::health::probe: empty check name");
        if (name.find('/') != std::string::npos)
            throw vitals::invalid_argument_error("vitals::health::probe: check name contains '/': ", name);
        if (opts.timeout <= clock::duration::zero() || opts.interval <= clock::duration::zero())
            throw vitals::invalid_argument_error("vitals::health::probe: check '", name,
                                                 "' needs a positive timeout and interval");
        auto e = std::make_shared<entry>();
        e->name = std::move(name);
        e->opts = opts;
        e->run = std::move(run);
        {
            std::lock_guard lock(s_->mu);
            if (s_->stopping) throw vitals::invalid_argument_error("vitals::health::probe: the probe is stopped");
            if (s_->find(e->name))
                throw vitals::invalid_argument_error("vitals::health::probe: duplicate check name: ", e->name);
            if (!s_->scheduler_started) {
                spawn(s_, &scheduler);  // may throw std::system_error: nothing is registered then
                s_->scheduler_started = true;
            }
            e->next_due = clock::now();
            s_->entries.push_back(e);
        }
        if (s_->options.on_added) {
            try {
                s_->options.on_added(e->name);
            } catch (...) {}
        }
        s_->wake.notify_all();
    }

    // Starts a probe thread running `body` (with the lock held). The thread owns a reference to
    // the state, so a thread left behind by stop() never uses freed memory.
    static void spawn(const std::shared_ptr<state>& s, void (*body)(const std::shared_ptr<state>&)) {
        const std::size_t index = s->threads.size();
        s->exited.push_back(false);
        ++s->alive;
        try {
            s->threads.emplace_back([s, body, index] {
                body(s);
                std::lock_guard lock(s->mu);
                --s->alive;
                if (index < s->exited.size()) s->exited[index] = true;
                s->exit_cv.notify_all();
            });
        } catch (...) {
            s->exited.pop_back();
            --s->alive;
            throw;
        }
    }

    // The scheduler: hands due runs to workers (starting one while fewer than max_workers exist
    // and none is idle), reports runs that pass their deadline, and completes async_run waiters.
    static void scheduler(const std::shared_ptr<state>& s) {
        std::unique_lock lock(s->mu);
        while (!s->stopping) {
            const auto now = clock::now();
            std::vector<std::pair<std::string, check_result>> results;
            clock::time_point wake_at = clock::time_point::max();
            for (const auto& e : s->entries) {
                if (e->running) {
                    if (!e->timeout_reported && now >= e->run_deadline) {
                        e->timeout_reported = true;
                        e->last = state::timeout_result(now - e->run_started);
                        e->last_timed_out = true;
                        e->last_at = now;
                        ++e->completions;
                        results.emplace_back(e->name, *e->last);
                    } else if (!e->timeout_reported) {
                        wake_at = std::min(wake_at, e->run_deadline);
                    }
                    continue;
                }
                if (std::find(s->queue.begin(), s->queue.end(), e) != s->queue.end()) continue;
                if (e->next_due <= now) {
                    if (s->idle_workers <= s->queue.size() && s->workers < s->options.max_workers) {
                        try {
                            spawn(s, &worker);
                            ++s->workers;
                        } catch (...) {
                            // No thread could be started: the run waits for a worker to come free.
                        }
                    }
                    s->queue.push_back(e);
                    s->work.notify_one();
                } else {
                    wake_at = std::min(wake_at, e->next_due);
                }
            }
            // Waiters whose checks have all completed.
            std::vector<waiter> ready;
            for (std::size_t i = 0; i < s->waiters.size();) {
                const auto& t = s->waiters[i].targets;
                const bool complete =
                    std::all_of(t.begin(), t.end(), [](const auto& x) { return x.first->completions >= x.second; });
                if (complete) {
                    ready.push_back(std::move(s->waiters[i]));
                    s->waiters.erase(s->waiters.begin() + static_cast<std::ptrdiff_t>(i));
                } else {
                    ++i;
                }
            }
            if (!results.empty() || !ready.empty()) {
                lock.unlock();
                s->notify(results);
                for (auto& w : ready) s->deliver(w);
                lock.lock();
                continue;
            }
            if (wake_at == clock::time_point::max())
                s->wake.wait(lock);
            else
                s->wake.wait_until(lock, wake_at);
        }
    }

    // A worker: takes queued runs one at a time. Exceptions and late completion become unhealthy
    // results, so answers only ever see a plain check_result.
    static void worker(const std::shared_ptr<state>& s) {
        std::unique_lock lock(s->mu);
        for (;;) {
            ++s->idle_workers;
            s->work.wait(lock, [&] { return s->stopping || !s->queue.empty(); });
            --s->idle_workers;
            if (s->stopping) return;
            std::shared_ptr<entry> e = s->queue.front();
            s->queue.erase(s->queue.begin());
            const auto t0 = clock::now();
            e->running = true;
            e->timeout_reported = false;
            e->run_started = t0;
            e->run_deadline = t0 + e->opts.timeout;
            const deadline_t deadline = e->run_deadline;
            lock.unlock();
            s->wake.notify_all();  // the scheduler now watches this run's deadline

            check_result r;
            try {
                r = e->run(deadline);
            } catch (const std::exception& ex) {
                r = unhealthy(ex.what());
            } catch (...) {
                r = unhealthy("unknown exception");
            }
            const auto t1 = clock::now();

            lock.lock();
            const bool was_reported = e->timeout_reported;
            check_result seen = s->finish_run(*e, std::move(r), t0, t1);
            lock.unlock();
            if (!was_reported) s->notify({{e->name, seen}});
            s->wake.notify_all();
            lock.lock();
        }
    }

    std::shared_ptr<state> s_;
};

}  // namespace vitals::health
