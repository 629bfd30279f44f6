// Readiness probe: runs registered dependency checks concurrently, each under
// its own timeout, with result caching and single-flight execution.
//
// Execution model (why it looks like this):
//  * Every run of a check happens on its own detached thread. The caller only
//    waits on a condition variable until the check's deadline, so a check
//    that hangs forever can never delay an answer past its timeout.
//  * At most one run per check is in flight. A caller arriving while a run is
//    in flight waits for that run instead of starting another (single-flight),
//    and a run that is stuck past its deadline is reported as "timeout"
//    without starting a new one, so a permanently hung dependency costs one
//    blocked thread, not one per probe request.
//  * Finished results are cached per check for `probe_options::cache_ttl`, so
//    a storm of probe requests does not turn into a storm of dependency calls.
//  * Check threads share ownership of their check's state, so destroying the
//    probe while a check is stuck is safe; the check object dies when its last
//    run returns.
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
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "vitals/core/error.hpp"
#include "vitals/health/checker.hpp"

namespace vitals::health {

/// Per-check registration settings.
struct check_options {
  /// A failing critical check makes the service not ready; a failing
  /// non-critical one only degrades it.
  bool critical = true;
  /// Longest time a run may take before it is reported as "timeout".
  clock::duration timeout = std::chrono::seconds(2);
};

/// One check's entry in a readiness report.
struct check_report {
  /// Registered name of the check.
  std::string name;
  /// Whether the check was registered as critical.
  bool critical = true;
  /// The outcome; `result.message` is "timeout" when `timed_out`.
  check_result result;
  /// The run exceeded its timeout (or a previous run is still stuck).
  bool timed_out = false;
  /// The result came from the cache rather than from a run for this request.
  bool cached = false;
};

/// Aggregated outcome of a readiness evaluation.
struct readiness_report {
  /// healthy; degraded when any check is degraded or a non-critical check is
  /// unhealthy; unhealthy when a critical check is unhealthy.
  health::status status = health::status::healthy;
  /// False exactly when a critical check is unhealthy.
  bool ready = true;
  /// Evaluated checks in registration order (excluded ones are absent).
  std::vector<check_report> checks;

  /// The entry for `name`, or nullptr.
  [[nodiscard]] const check_report* find(std::string_view name) const noexcept {
    for (const auto& c : checks)
      if (c.name == name) return &c;
    return nullptr;
  }
};

/// Called once per completed run of a check (not for cache hits), on the
/// thread that requested the run, with the final result (timeouts included).
/// Intended for exporting metrics such as an "up" gauge and a duration
/// histogram. Exceptions thrown by the observer are swallowed.
using result_observer = std::function<void(std::string_view name, const check_result& result)>;

/// Probe-wide settings.
struct probe_options {
  /// How long a finished result is reused; zero disables caching (concurrent
  /// requests still share an in-flight run).
  clock::duration cache_ttl = std::chrono::seconds(1);
  /// Optional hook invoked with each fresh result.
  result_observer on_result;
};

/// Message used for results of runs that exceeded their timeout.
inline constexpr std::string_view timeout_message = "timeout";

/// Readiness probe over a set of named dependency checks. Thread-safe: checks
/// may be added and evaluated from any thread at any time.
class probe {
 public:
  /// Creates an empty probe (which is ready: no dependency can fail).
  explicit probe(probe_options options = {}) : options_(std::move(options)) {}

  probe(const probe&) = delete;
  probe& operator=(const probe&) = delete;

  /// Registers a checker under its own name. Throws vitals::invalid_argument_error if
  /// the name is empty, contains '/' or is already registered.
  template <checker C>
  void add(C c, check_options opts = {}) {
    std::string name(std::as_const(c).name());
    auto shared = std::make_shared<C>(std::move(c));
    add_entry(std::move(name), opts,
              [shared](deadline_t d) { return check_result(shared->check(d)); });
  }

  /// Registers a callable (see `check_function`) under `name`.
  template <class F>
    requires check_function<std::decay_t<F>>
  void add(std::string name, F&& fn, check_options opts = {}) {
    add(make_checker(std::move(name), std::forward<F>(fn)), opts);
  }

  /// Whether a check named `name` is registered.
  [[nodiscard]] bool contains(std::string_view name) const {
    std::shared_lock lock(registry_mutex_);
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const auto& e) { return e->name == name; });
  }

  /// Names of all registered checks in registration order.
  [[nodiscard]] std::vector<std::string> names() const {
    std::shared_lock lock(registry_mutex_);
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e->name);
    return out;
  }

  /// Evaluates all checks except those named in `exclude`; excluded checks
  /// are not run at all. Returns within roughly the largest check timeout.
  [[nodiscard]] readiness_report check(const std::vector<std::string>& exclude = {}) {
    std::vector<std::shared_ptr<entry>> selected;
    {
      std::shared_lock lock(registry_mutex_);
      for (const auto& e : entries_)
        if (std::find(exclude.begin(), exclude.end(), e->name) == exclude.end())
          selected.push_back(e);
    }
    return evaluate(selected);
  }

  /// Evaluates the single check `name`; nullopt if no such check exists.
  [[nodiscard]] std::optional<check_report> check_one(std::string_view name) {
    std::shared_ptr<entry> found;
    {
      std::shared_lock lock(registry_mutex_);
      for (const auto& e : entries_)
        if (e->name == name) found = e;
    }
    if (!found) return std::nullopt;
    return std::move(evaluate({found}).checks.front());
  }

  /// Forgets cached results so the next evaluation runs every check again
  /// (in-flight runs are still shared).
  void invalidate() {
    std::shared_lock lock(registry_mutex_);
    for (const auto& e : entries_) {
      std::lock_guard el(e->mutex);
      e->last.reset();
    }
  }

 private:
  struct entry {
    std::string name;
    check_options opts;
    std::function<check_result(deadline_t)> run;

    std::mutex mutex;
    std::condition_variable done;
    bool running = false;
    std::uint64_t started = 0;   // runs started so far
    std::uint64_t finished = 0;  // runs finished so far
    clock::time_point run_started{};
    clock::time_point run_deadline{};
    std::optional<check_result> last;  // last finished run, timeouts applied
    bool last_timed_out = false;
    clock::time_point last_at{};
  };

  // How the current request obtained (or will obtain) a check's result.
  struct pending {
    std::shared_ptr<entry> e;
    check_report report;
    bool wait = false;       // must wait for run number `target`
    bool owner = false;      // this request started the run: it notifies
    std::uint64_t target = 0;
  };

  void add_entry(std::string name, check_options opts, std::function<check_result(deadline_t)> run) {
    if (name.empty()) throw vitals::invalid_argument_error("vitals::health::probe: empty check name");
    if (name.find('/') != std::string::npos)
      throw vitals::invalid_argument_error("vitals::health::probe: check name contains '/': " + name);
    auto e = std::make_shared<entry>();
    e->name = std::move(name);
    e->opts = opts;
    e->run = std::move(run);
    std::unique_lock lock(registry_mutex_);
    for (const auto& x : entries_)
      if (x->name == e->name)
        throw vitals::invalid_argument_error("vitals::health::probe: duplicate check name: " + e->name);
    entries_.push_back(std::move(e));
  }

  static check_result timeout_result(clock::duration elapsed) {
    check_result r = unhealthy(std::string(timeout_message));
    r.latency = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed);
    return r;
  }

  // Body of a check thread. Converts exceptions and late completion into
  // unhealthy results so callers only ever see a plain check_result.
  static void run_check(const std::shared_ptr<entry>& e, deadline_t deadline) {
    const auto t0 = clock::now();
    check_result r;
    try {
      r = e->run(deadline);
    } catch (const std::exception& ex) {
      r = unhealthy(ex.what());
    } catch (...) {
      r = unhealthy("unknown exception");
    }
    const auto t1 = clock::now();
    // A result that arrives after the caller gave up must not be cached as a
    // success: the dependency is too slow for the configured bound.
    const bool late = t1 > deadline;
    if (late) r = timeout_result(t1 - t0);
    r.latency = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0);
    {
      std::lock_guard lock(e->mutex);
      e->last = std::move(r);
      e->last_timed_out = late;
      e->last_at = t1;
      e->running = false;
      ++e->finished;
    }
    e->done.notify_all();
  }

  // Decides, under the entry lock, whether to use the cache, join an
  // in-flight run, report a stuck run, or start a new run.
  pending acquire(const std::shared_ptr<entry>& e) {
    pending p;
    p.e = e;
    p.report.name = e->name;
    p.report.critical = e->opts.critical;
    std::unique_lock lock(e->mutex);
    const auto now = clock::now();
    if (e->running) {
      if (now >= e->run_deadline) {
        p.report.result = timeout_result(now - e->run_started);
        p.report.timed_out = true;
      } else {
        p.wait = true;
        p.target = e->started;
      }
      return p;
    }
    if (e->last && options_.cache_ttl > clock::duration::zero() && now - e->last_at < options_.cache_ttl) {
      p.report.result = *e->last;
      p.report.timed_out = e->last_timed_out;
      p.report.cached = true;
      return p;
    }
    e->running = true;
    e->run_started = now;
    e->run_deadline = now + e->opts.timeout;
    const std::uint64_t run_number = ++e->started;
    const deadline_t deadline = e->run_deadline;
    try {
      std::thread([e, deadline] { run_check(e, deadline); }).detach();
    } catch (const std::system_error& ex) {
      e->running = false;
      ++e->finished;
      e->last.reset();
      p.report.result = unhealthy(std::string("could not start check thread: ") + ex.what());
      p.owner = true;
      return p;
    }
    p.wait = true;
    p.owner = true;
    p.target = run_number;
    return p;
  }

  static void await(pending& p) {
    entry& e = *p.e;
    std::unique_lock lock(e.mutex);
    const bool finished = e.done.wait_until(lock, e.run_deadline, [&] { return e.finished >= p.target; });
    if (finished && e.last) {
      p.report.result = *e.last;
      p.report.timed_out = e.last_timed_out;
    } else {
      p.report.result = timeout_result(clock::now() - e.run_started);
      p.report.timed_out = true;
    }
  }

  readiness_report evaluate(const std::vector<std::shared_ptr<entry>>& selected) {
    std::vector<pending> work;
    work.reserve(selected.size());
    // Start everything first, then wait: the waits overlap, so the total time
    // is bounded by the slowest check rather than the sum.
    for (const auto& e : selected) work.push_back(acquire(e));
    for (auto& p : work)
      if (p.wait) await(p);

    readiness_report out;
    out.checks.reserve(work.size());
    for (auto& p : work) {
      if (p.owner && options_.on_result) {
        try {
          options_.on_result(p.report.name, p.report.result);
        } catch (...) {
          // Metrics export must never break the probe.
        }
      }
      const auto s = p.report.result.status;
      if (s == status::unhealthy) {
        if (p.report.critical) {
          out.ready = false;
          out.status = worst(out.status, status::unhealthy);
        } else {
          out.status = worst(out.status, status::degraded);
        }
      } else {
        out.status = worst(out.status, s);
      }
      out.checks.push_back(std::move(p.report));
    }
    return out;
  }

  probe_options options_;
  mutable std::shared_mutex registry_mutex_;
  std::vector<std::shared_ptr<entry>> entries_;
};

}  // namespace vitals::health
