// vitals — the status page's memory: a small ring of per-route counts, one slot per interval, from
// which latency quantiles, request and error rates over the last minutes are computed.
//
// Slots are filled by sample() — called by a render or by a timer thread (status_page's sampler)
// — never by an observation: a slot is a copy of the cumulative counts one registry render gives,
// so the update path pays nothing for the history. A window's numbers are the difference between
// the newest counts and the slot the window's length back, which is what PromQL's increase() and
// histogram_quantile(rate()) compute from a scraped series.
//
// Memory: per route and slot, 8 bytes per bucket (+Inf included) and 8 bytes per error type seen on
// the route, plus 56 bytes of bookkeeping (a route id and two vector headers). With the HTTP
// layer's 10 default buckets (11 counts) and the five error types that is 184 bytes; the defaults
// (16 slots, at most 200 routes) bound the history at about 580 KiB, and a service with 50 routes
// keeps about 150 KiB. Routes past max_routes are left out (and counted), never evicted.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/metric_source.hpp"
#include "detail/collect.hpp"
#include "quantile.hpp"

namespace vitals::status {

/// How much history is kept, and of what.
struct history_options {
    /// Time between slots, in seconds (a render or the sampler takes a slot once this has passed).
    double interval_seconds = 60;
    /// Slots kept (the oldest is dropped): 16 one-minute slots cover a 15-minute window.
    std::size_t slots = 16;
    /// Routes kept at most.
    std::size_t max_routes = 200;
    /// The families and labels read.
    metric_names names{};
};

/// One route's numbers over one window.
struct window_stats {
    /// The window asked for, in intervals.
    unsigned intervals = 0;
    /// Seconds actually covered (less than asked while the process is younger than the window).
    double seconds = 0;
    /// Requests per second.
    double requests_per_second = std::numeric_limits<double>::quiet_NaN();
    /// Failed requests over requests (NaN without requests).
    double error_ratio = std::numeric_limits<double>::quiet_NaN();
    /// Failed requests per second, by `error_type`.
    std::vector<std::pair<std::string, double>> errors_per_second;
    /// Latency quantiles in seconds, histogram_quantile over the window's counts (NaN: none).
    double p50 = std::numeric_limits<double>::quiet_NaN();
    double p95 = std::numeric_limits<double>::quiet_NaN();  ///< 95th percentile.
    double p99 = std::numeric_limits<double>::quiet_NaN();  ///< 99th percentile.
};

/// One route (method and route template) with its windows and its sparkline points.
struct route_stats {
    std::string method;                 ///< The `method` label.
    std::string endpoint;               ///< The route template.
    std::vector<window_stats> windows;  ///< One per window asked for, in that order.
    /// p99 (seconds) per interval over the history, oldest first, the last one the interval in
    /// progress; NaN where an interval had no requests.
    std::vector<double> spark_p99;
    /// Requests per second per interval, aligned with spark_p99.
    std::vector<double> spark_rate;
};

/// What the history yields for one render.
struct history_view {
    reading latest;                   ///< The newest counts (service, build, uptime…).
    std::vector<route_stats> routes;  ///< Sorted by route template, then method.
    double slot_span_seconds = 0;     ///< Time from the oldest slot to the newest counts.
};

/// The ring of per-route counts behind the status page. Thread-safe.
class history {
public:
    /// Keeps the history of `source`'s routes; takes the first slot now (at `now`, monotonic
    /// seconds), so that the first window starts at construction.
    history(const metric_source& source, history_options options, double now)
        : source_(source), opt_(std::move(options)) {
        if (!(opt_.interval_seconds > 0)) opt_.interval_seconds = 60;
        if (opt_.slots < 2) opt_.slots = 2;
        sample(now, true);
    }

    /// Renders the source and keeps its counts as a slot when the newest slot is an interval old
    /// (or `force`). Returns the counts read.
    std::shared_ptr<const reading> sample(double now, bool force = false) {
        auto s = std::make_shared<reading>();
        detail::collector c(opt_.names, opt_.max_routes, *s);
        source_.collect(c);
        std::lock_guard lock(mu_);
        if (force || ring_.empty() || now - ring_.back().time >= opt_.interval_seconds * 0.999) {
            ring_.push_back(compact(*s, now));
            while (ring_.size() > opt_.slots) ring_.pop_front();
        }
        return s;
    }

    /// The numbers over `windows` (each in intervals) from `latest`, the counts read at `now`.
    [[nodiscard]] history_view view(std::shared_ptr<const reading> latest, double now,
                                    const std::vector<unsigned>& windows) const {
        history_view out;
        std::lock_guard lock(mu_);
        const slot live = compact(*latest, now);
        out.latest.service = latest->service;
        out.latest.environment = latest->environment;
        out.latest.build = latest->build;
        out.latest.services = latest->services;
        out.latest.process_start = latest->process_start;
        out.latest.routes_dropped = latest->routes_dropped;  // the routes themselves are below
        if (!ring_.empty()) out.slot_span_seconds = now - ring_.front().time;
        for (std::size_t id = 0; id < routes_.size(); ++id) {
            const counts* now_counts = find(live, id);
            if (!now_counts) continue;
            route_stats r{routes_[id].method, routes_[id].endpoint, {}, {}, {}};
            for (const unsigned w : windows) r.windows.push_back(window(id, live, base_for(now, w), w));
            // Sparkline: consecutive slots, then the newest slot to now.
            // Slots taken after `now` (the sampler ran since these counts were read) are left out.
            const slot* prev = nullptr;
            for (const slot& s : ring_) {
                if (s.time > now) break;
                if (prev) point(r, id, *prev, s);
                prev = &s;
            }
            if (prev && now > prev->time) point(r, id, *prev, live);
            out.routes.push_back(std::move(r));
        }
        std::sort(out.routes.begin(), out.routes.end(), [](const route_stats& a, const route_stats& b) {
            return a.endpoint != b.endpoint ? a.endpoint < b.endpoint : a.method < b.method;
        });
        return out;
    }

    /// The options in force (with out-of-range values replaced by defaults).
    [[nodiscard]] const history_options& options() const noexcept { return opt_; }

private:
    struct counts {
        std::uint32_t route;
        std::vector<std::uint64_t> cumulative;
        std::vector<double> failures;  // by error type id
    };
    struct slot {
        double time;
        std::vector<counts> routes;  // by route id, ascending
    };
    struct route_entry {
        std::string method, endpoint;
        std::vector<double> bounds;
    };

    // Interns routes and error types (under mu_): ids are stable, and bounded by max_routes.
    slot compact(const reading& s, double now) const {
        slot out{now, {}};
        for (const auto& r : s.routes) {
            if (r.cumulative.empty()) continue;  // failures seen, no histogram
            key_.assign(r.method);
            key_ += '\0';
            key_ += std::to_string(r.method.size());
            key_ += '\0';
            key_ += r.endpoint;
            std::uint32_t id = 0;
            if (const auto it = route_ids_.find(key_); it != route_ids_.end()) {
                id = it->second;
            } else {
                if (routes_.size() >= opt_.max_routes) continue;
                id = static_cast<std::uint32_t>(routes_.size());
                routes_.push_back(route_entry{r.method, r.endpoint, r.bounds});
                route_ids_.emplace(key_, id);
            }
            if (routes_[id].bounds != r.bounds) continue;  // re-registered with other buckets
            counts c{id, r.cumulative, std::vector<double>(error_types_.size(), 0.0)};
            for (const auto& f : r.failures) {
                std::size_t e = 0;
                while (e < error_types_.size() && error_types_[e] != f.first) ++e;
                if (e == error_types_.size()) {
                    if (error_types_.size() >= max_error_types) continue;
                    error_types_.push_back(f.first);
                }
                if (c.failures.size() <= e) c.failures.resize(e + 1, 0.0);
                c.failures[e] += f.second;
            }
            out.routes.push_back(std::move(c));
        }
        std::sort(out.routes.begin(), out.routes.end(),
                  [](const counts& a, const counts& b) { return a.route < b.route; });
        return out;
    }

    static const counts* find(const slot& s, std::size_t id) {
        auto it = std::lower_bound(s.routes.begin(), s.routes.end(), id,
                                   [](const counts& c, std::size_t v) { return c.route < v; });
        return it != s.routes.end() && it->route == id ? &*it : nullptr;
    }

    // The newest slot at least `w` intervals before `now`; the oldest when none is that old.
    const slot* base_for(double now, unsigned w) const {
        const double target = now - w * opt_.interval_seconds * 0.999;
        const slot* best = ring_.empty() ? nullptr : &ring_.front();
        for (const slot& s : ring_)
            if (s.time <= target) best = &s;
        return best;
    }

    // The difference of two counts of one route; a decrease (a series removed and made again)
    // counts the newer counts from zero, as PromQL's counter resets do.
    // `failures` null: the buckets only. The outputs are scratch vectors reused across calls.
    static void difference(const counts& now, const counts* then, std::vector<std::uint64_t>& cum,
                           std::vector<double>* failures) {
        cum.assign(now.cumulative.begin(), now.cumulative.end());
        if (failures) failures->assign(now.failures.begin(), now.failures.end());
        if (!then || then->cumulative.size() != cum.size()) return;
        for (std::size_t i = 0; i < cum.size(); ++i)
            if (cum[i] < then->cumulative[i]) return;
        for (std::size_t i = 0; i < cum.size(); ++i) cum[i] -= then->cumulative[i];
        if (!failures) return;
        for (std::size_t i = 0; i < failures->size() && i < then->failures.size(); ++i)
            (*failures)[i] = std::max(0.0, (*failures)[i] - then->failures[i]);
    }

    window_stats window(std::size_t id, const slot& live, const slot* base, unsigned w) const {
        window_stats out;
        out.intervals = w;
        if (!base) return out;
        out.seconds = live.time - base->time;
        std::vector<std::uint64_t>& cum = scratch_cum_;
        std::vector<double>& failures = scratch_failures_;
        difference(*find(live, id), find(*base, id), cum, &failures);
        const span<const double> bounds(routes_[id].bounds.data(), routes_[id].bounds.size());
        const span<const std::uint64_t> c(cum.data(), cum.size());
        out.p50 = histogram_quantile(0.5, bounds, c);
        out.p95 = histogram_quantile(0.95, bounds, c);
        out.p99 = histogram_quantile(0.99, bounds, c);
        if (!(out.seconds > 0)) return out;
        const double requests = static_cast<double>(cum.back());
        out.requests_per_second = requests / out.seconds;
        double failed = 0;
        for (std::size_t e = 0; e < failures.size(); ++e) {
            if (failures[e] <= 0) continue;
            failed += failures[e];
            out.errors_per_second.emplace_back(error_types_[e], failures[e] / out.seconds);
        }
        std::sort(out.errors_per_second.begin(), out.errors_per_second.end());
        if (requests > 0) out.error_ratio = failed / requests;
        return out;
    }

    void point(route_stats& r, std::size_t id, const slot& from, const slot& to) const {
        const counts* b = find(to, id);
        const double seconds = to.time - from.time;
        if (!(seconds > 0)) return;
        if (!b) {
            r.spark_p99.push_back(std::numeric_limits<double>::quiet_NaN());
            r.spark_rate.push_back(0);
            return;
        }
        std::vector<std::uint64_t>& cum = scratch_cum_;
        difference(*b, find(from, id), cum, nullptr);
        r.spark_p99.push_back(
            histogram_quantile(0.99, {routes_[id].bounds.data(), routes_[id].bounds.size()}, {cum.data(), cum.size()}));
        r.spark_rate.push_back(static_cast<double>(cum.back()) / seconds);
    }

    static constexpr std::size_t max_error_types = 16;

    const metric_source& source_;
    history_options opt_;
    mutable std::mutex mu_;
    std::deque<slot> ring_;
    mutable std::vector<route_entry> routes_;
    mutable std::unordered_map<std::string, std::uint32_t> route_ids_;  // method, endpoint -> id
    mutable std::string key_;
    mutable std::vector<std::uint64_t> scratch_cum_;  // for difference(), under mu_
    mutable std::vector<double> scratch_failures_;
    mutable std::vector<std::string> error_types_;
};

}  // namespace vitals::status
