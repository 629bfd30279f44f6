// vitals — a status page for one instance: service, build, uptime and restarts, readiness with each
// check, and per route request rate, error rate by type and p50/p95/p99 over the last 1, 5 and 15
// minutes, with sparklines. For the operator of one instance (an incident, a laptop, a pod with no
// dashboard yet), as Envoy's admin page or zPages are; Prometheus and Grafana answer for a fleet.
//
// The page is plain HTML5 with inline SVG and one inline <style>: no script, no external asset, so
// it works offline and under `Content-Security-Policy: default-src 'none'; style-src
// 'unsafe-inline'; img-src data:`, which the handler sends. `?format=json` gives the same numbers
// for tools. Every value written into the page is escaped after UTF-8 repair (label values are
// arbitrary bytes). Check failure reasons are withheld unless expose_details is set, as the health
// handlers do.
//
// Numbers come from the registry's families by name (see status/history.hpp): the HTTP layer's
// http_request_duration_seconds and http_requests_failed_total, operational_metrics' uptime and
// starts, process_start_time_seconds and any *_build_info gauge. A render reads the registry once;
// the history keeps one slot of counts per interval (status/history.hpp states its memory).
//
// Not in the umbrella header (it pulls in the exposer and the probe): include
// <vitals/status/status_page.hpp>.
#pragma once

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../detail/clock.hpp"
#include "../health/probe.hpp"
#include "../http/exposer.hpp"
#include "detail/text.hpp"
#include "history.hpp"

namespace vitals::status {

/// Settings of a status page.
struct status_options {
    /// The history: interval (60 s), slots (16), routes kept (200), families read.
    history_options history{};
    /// The windows shown, in intervals (each at most slots − 1): 1, 5 and 15 minutes by default.
    std::vector<unsigned> windows = {1, 5, 15};
    /// A render within this many seconds of the last one reuses its counts (so that a page and
    /// its JSON fetched together agree, and a reload storm costs one registry render a second).
    double refresh_seconds = 1;
    /// Show check failure messages (they may name hosts and errors).
    bool expose_details = false;
    /// Shown when the registry has no `service` const label.
    std::string service = "service";
    /// Monotonic seconds; tests give their own clock.
    std::function<double()> clock = [] { return ::vitals::detail::monotonic_now(); };
};

/// One check as the page shows it.
struct check_stats {
    std::string name;                                 ///< Registered name.
    bool critical = true;                             ///< Registered as critical.
    health::status status = health::status::healthy;  ///< The last result's status.
    std::string state;           ///< "healthy", "degraded", "unhealthy", "timeout", "pending", "stale".
    double latency_seconds = 0;  ///< How long the last run took.
    double age_seconds = 0;      ///< Time since the last result.
    std::string message;         ///< The reason (only with expose_details).
};

/// Everything the page shows, computed once per render; html() and json() write the same one.
struct status_data {
    std::string service;          ///< The `service` const label, or status_options::service.
    std::string environment;      ///< The `environment` const label (may be empty).
    double as_of = 0;             ///< Unix seconds of the counts shown.
    double interval_seconds = 0;  ///< The history's interval.
    double process_uptime_seconds = std::numeric_limits<double>::quiet_NaN();  ///< From the start time.
    std::vector<build_sample> build;                                           ///< *_build_info series.
    std::vector<service_sample> services;             ///< Uptime and starts per logical service.
    bool has_probe = false;                           ///< A probe was given.
    bool ready = true;                                ///< The probe's verdict.
    health::status status = health::status::healthy;  ///< The probe's overall status.
    std::vector<check_stats> checks;                  ///< In registration order.
    std::vector<route_stats> routes;                  ///< Sorted by route, then method.
    std::size_t routes_dropped = 0;                   ///< Series past history_options::max_routes.
};

/// An answer of the status page, for any HTTP server.
struct page_response {
    int status = 200;                                          ///< 200, or 405 for a method other than GET/HEAD.
    std::string content_type;                                  ///< text/html or application/json.
    std::string body;                                          ///< The page.
    std::vector<std::pair<std::string, std::string>> headers;  ///< CSP, nosniff, no-store.
};

/// The Content-Security-Policy the page is written to pass (and that handle() sends).
inline constexpr string_ref content_security_policy =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

/// The status page of one registry (or registry_set) and optionally a readiness probe. Both must
/// outlive it. Thread-safe: render from any number of server threads.
class status_page {
public:
    /// A page over `source` and `probe` (null: no readiness section).
    explicit status_page(const metric_source& source, const health::probe* probe = nullptr, status_options options = {})
        : opt_(std::move(options)),
          probe_(probe),
          history_(source, opt_.history, opt_.clock()),
          sampler_(std::make_shared<sampler_state>()) {}
    ~status_page() { stop_sampler(); }
    status_page(const status_page&) = delete;
    status_page& operator=(const status_page&) = delete;

    /// Takes a slot of the history if one is due. A page that is rendered less than once an
    /// interval needs this called on a timer: start_sampler() does that. The counts a render
    /// shows are not replaced (they change only with a render past refresh_seconds).
    void sample() { (void)history_.sample(opt_.clock()); }

    /// Starts a thread that calls sample() every interval, until stop_sampler() or destruction.
    void start_sampler() {
        std::lock_guard lock(sampler_->mu);
        if (sampler_->thread.joinable()) return;
        sampler_->stop = false;
        const auto period = std::chrono::duration<double>(history_.options().interval_seconds);
        sampler_->thread = std::thread([this, period] {
            std::unique_lock l(sampler_->mu);
            while (!sampler_->cv.wait_for(l, period, [this] { return sampler_->stop; })) {
                l.unlock();
                sample();
                l.lock();
            }
        });
    }
    /// Stops the sampler thread (idempotent).
    void stop_sampler() {
        std::thread t;
        {
            std::lock_guard lock(sampler_->mu);
            sampler_->stop = true;
            t = std::move(sampler_->thread);
        }
        sampler_->cv.notify_all();
        if (t.joinable()) t.join();
    }

    /// The numbers of a render now.
    [[nodiscard]] status_data data() {
        const counts_at now = latest();
        history_view v = history_.view(now.counts, now.at, opt_.windows);
        status_data d;
        d.service = v.latest.service.empty() ? opt_.service : v.latest.service;
        d.environment = v.latest.environment;
        d.as_of = now.as_of;
        d.interval_seconds = history_.options().interval_seconds;
        if (std::isfinite(v.latest.process_start)) d.process_uptime_seconds = d.as_of - v.latest.process_start;
        d.build = std::move(v.latest.build);
        d.services = std::move(v.latest.services);
        d.routes = std::move(v.routes);
        d.routes_dropped = v.latest.routes_dropped;
        if (now.readiness) {
            d.has_probe = true;
            const health::readiness_report& r = *now.readiness;
            d.ready = r.ready;
            d.status = r.status;
            for (const auto& c : r.checks) {
                check_stats s;
                s.name = c.name;
                s.critical = c.critical;
                s.status = c.result.status;
                s.state = c.pending     ? "pending"
                          : c.timed_out ? "timeout"
                          : c.stale     ? "stale"
                                        : std::string(health::to_string(c.result.status));
                s.latency_seconds = std::chrono::duration<double>(c.result.latency).count();
                s.age_seconds = std::chrono::duration<double>(c.age).count();
                if (opt_.expose_details && !c.result.message.empty()) s.message = c.result.message;
                d.checks.push_back(std::move(s));
            }
        }
        return d;
    }

    /// The page as HTML.
    [[nodiscard]] std::string html() { return render_html(data()); }
    /// The page's numbers as JSON.
    [[nodiscard]] std::string json() { return render_json(data()); }

    /// Answers a request for the page: `method` GET or HEAD (else 405), `query` the text after
    /// '?' (`format=json` for JSON, HTML otherwise).
    [[nodiscard]] page_response handle(string_ref method, string_ref query) {
        page_response r;
        r.headers = {{"Content-Security-Policy", std::string(content_security_policy)},
                     {"X-Content-Type-Options", "nosniff"},
                     {"Cache-Control", "no-store"}};
        if (method != "GET" && method != "HEAD") {
            r.status = 405;
            r.content_type = "text/plain; charset=utf-8";
            r.body = "method not allowed\n";
            r.headers.emplace_back("Allow", "GET, HEAD");
            return r;
        }
        if (wants_json(query)) {
            r.content_type = "application/json";
            r.body = json();
        } else {
            r.content_type = "text/html; charset=utf-8";
            r.body = html();
        }
        return r;
    }

    /// Serves the page at `path` of `e` (before e.start()).
    void serve(exposer& e, std::string path = "/status") {
        e.handle(std::move(path), [this](const exposer::request& req) {
            page_response p = handle(req.method, req.query);
            exposer::response out;
            out.status = p.status;
            out.content_type = std::move(p.content_type);
            out.body = std::move(p.body);
            out.headers = std::move(p.headers);
            return out;
        });
    }

    /// Whether a query string asks for JSON (`format=json` among its parameters).
    [[nodiscard]] static bool wants_json(string_ref query) noexcept {
        while (!query.empty()) {
            const auto amp = query.find('&');
            if (query.substr(0, amp) == "format=json") return true;
            if (amp == string_ref::npos) break;
            query.remove_prefix(amp + 1);
        }
        return false;
    }

    /// Writes `d` as the HTML page.
    [[nodiscard]] static std::string render_html(const status_data& d);
    /// Writes `d` as JSON.
    [[nodiscard]] static std::string render_json(const status_data& d);

private:
    // The counts to show: the last ones when younger than refresh_seconds, else a fresh render
    // (which the history keeps as a slot when one is due).
    // The probe's report is read with the counts and kept with them, so that every render of
    // one reading shows the same checks (their latency and age too).
    struct counts_at {
        std::shared_ptr<const reading> counts;
        double at;                                                  // monotonic
        double as_of;                                               // unix
        std::shared_ptr<const health::readiness_report> readiness;  // null without a probe
    };
    counts_at latest() {
        const double now = opt_.clock();
        {
            std::lock_guard lock(mu_);
            if (latest_.counts && now - latest_.at < opt_.refresh_seconds) return latest_;
        }
        counts_at fresh{history_.sample(now), now, ::vitals::detail::unix_now(), nullptr};
        if (probe_) fresh.readiness = std::make_shared<const health::readiness_report>(probe_->check());
        std::lock_guard lock(mu_);
        if (!latest_.counts || now >= latest_.at) latest_ = std::move(fresh);
        return latest_;
    }

    struct sampler_state {
        std::mutex mu;
        std::condition_variable cv;
        bool stop = false;
        std::thread thread;
    };

    status_options opt_;
    const health::probe* probe_;
    history history_;
    std::mutex mu_;
    counts_at latest_{nullptr, 0, 0, nullptr};
    std::shared_ptr<sampler_state> sampler_;
};

namespace detail {

// A sparkline of `v` (NaN: a gap) as one SVG path, scaled to its own maximum.
inline void append_sparkline(std::string& out, const std::vector<double>& v, std::string_view label,
                             std::string_view cls) {
    constexpr double w = 120, h = 28, pad = 2;
    double max = 0;
    for (const double x : v)
        if (std::isfinite(x) && x > max) max = x;
    out += "<svg class=\"spark ";
    out += cls;
    out += "\" width=\"120\" height=\"28\" viewBox=\"0 0 120 28\" role=\"img\" aria-label=\"";
    out += label;
    out += "\">";
    bool any = false;
    for (const double x : v) any = any || std::isfinite(x);
    if (!any) {  // no requests in any interval: a dashed zero line
        out += "<path fill=\"none\" stroke=\"#b8b8b8\" stroke-dasharray=\"3 3\" d=\"M0 26H120\"/></svg>";
        return;
    }
    out += "<path fill=\"none\" stroke=\"#2f6fd0\" stroke-width=\"1.5\" d=\"";
    bool pen = false;
    const std::size_t n = v.size();
    auto y_of = [&](double x) { return h - pad - (max > 0 ? x / max * (h - 2 * pad) : 0); };
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(v[i])) {
            pen = false;
            continue;
        }
        const double y = y_of(v[i]);
        if (n == 1) {  // one interval so far: a level line
            out += "M0 ";
            append_fixed(out, y, 1);
            out += "H120";
            continue;
        }
        out += pen ? 'L' : 'M';
        append_fixed(out, static_cast<double>(i) * w / static_cast<double>(n - 1), 1);
        out += ' ';
        append_fixed(out, y, 1);
        pen = true;
    }
    out += "\"/></svg>";
}

inline const char* status_color(std::string_view state) {
    if (state == "healthy") return "#1b8a3e";
    if (state == "degraded") return "#c27c00";
    return "#c8262f";
}

}  // namespace detail

inline std::string status_page::render_html(const status_data& d) {
    using detail::append_fixed;
    using detail::append_html;
    using detail::append_utc;
    std::string o;
    o.reserve(4096 + d.routes.size() * 1600 + d.checks.size() * 400);
    o += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>";
    append_html(o, d.service);
    o += " \xE2\x80\x94 status</title><style>"
         "body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fff}"
         "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}"
         "table{border-collapse:collapse}th,td{padding:3px 9px;border-bottom:1px solid #e3e3e3;text-align:left;"
         "vertical-align:middle}th{font-weight:600;background:#f6f6f6}td.n{text-align:right;"
         "font-variant-numeric:tabular-nums}.meta{color:#555}.env{color:#555;font-weight:400}"
         ".healthy{color:#1b8a3e}.degraded{color:#c27c00}.unhealthy,.timeout,.pending,.stale{color:#c8262f}"
         "svg{display:block}"
         "</style></head><body>\n<h1>";
    append_html(o, d.service);
    if (!d.environment.empty()) {
        o += " <span class=\"env\">";
        append_html(o, d.environment);
        o += "</span>";
    }
    o += "</h1>\n<p class=\"meta\">As of <span class=\"as-of\">";
    append_utc(o, d.as_of);
    o += "</span>; process up <span class=\"process-uptime\">";
    append_fixed(o, d.process_uptime_seconds, 0);
    o += "</span> s; one slot every ";
    append_fixed(o, d.interval_seconds, 0);
    o += " s.</p>\n";

    o += "<h2>Build</h2>\n<table class=\"build\"><tr><th>metric</th><th>labels</th></tr>";
    for (const auto& b : d.build) {
        o += "<tr><td>";
        append_html(o, b.metric);
        o += "</td><td>";
        for (std::size_t i = 0; i < b.labels.size(); ++i) {
            if (i) o += ", ";
            append_html(o, b.labels[i].first);
            o += '=';
            append_html(o, b.labels[i].second);
        }
        o += "</td></tr>";
    }
    o += "</table>\n";

    o += "<h2>Services</h2>\n<table class=\"services\"><tr><th>service</th><th>uptime (s)</th><th>starts</th>"
         "<th>restarts</th></tr>";
    for (const auto& s : d.services) {
        o += "<tr><td>";
        append_html(o, s.name);
        o += "</td><td class=\"n\">";
        append_fixed(o, s.uptime, 0);
        o += "</td><td class=\"n\">";
        append_fixed(o, s.starts, 0);
        o += "</td><td class=\"n\">";
        append_fixed(o, s.starts > 0 ? s.starts - 1 : 0, 0);
        o += "</td></tr>";
    }
    o += "</table>\n";

    o += "<h2>Readiness: ";
    if (!d.has_probe) {
        o += "no probe</h2>\n";
    } else {
        o += d.ready ? "<span class=\"healthy\">ready</span>" : "<span class=\"unhealthy\">not ready</span>";
        o += " (";
        o += health::to_string(d.status);
        o += ")</h2>\n<table class=\"checks\"><tr><th>check</th><th>state</th><th>critical</th><th>latency (ms)</th>"
             "<th>age (s)</th><th>latency</th><th>reason</th></tr>";
        double max_latency = 1e-3;
        for (const auto& c : d.checks) max_latency = std::max(max_latency, c.latency_seconds);
        for (const auto& c : d.checks) {
            o += "<tr class=\"check\"><td class=\"name\">";
            append_html(o, c.name);
            o += "</td><td class=\"state ";
            o += c.state;
            o += "\">";
            o += c.state;
            o += "</td><td>";
            o += c.critical ? "yes" : "no";
            o += "</td><td class=\"n latency\">";
            append_fixed(o, c.latency_seconds * 1e3);
            o += "</td><td class=\"n age\">";
            append_fixed(o, c.age_seconds, 1);
            o += "</td><td><svg class=\"bar\" width=\"120\" height=\"12\" viewBox=\"0 0 120 12\" role=\"img\" "
                 "aria-label=\"latency\"><path fill=\"#ececec\" d=\"M0 0H120V12H0Z\"/><path fill=\"";
            o += detail::status_color(c.state);
            o += "\" d=\"M0 0H";
            append_fixed(o, std::max(1.0, std::min(120.0, c.latency_seconds / max_latency * 120)), 1);
            o += "V12H0Z\"/></svg></td><td class=\"reason\">";
            append_html(o, c.message);
            o += "</td></tr>";
        }
        o += "</table>\n";
    }

    o += "<h2>Routes</h2>\n<table class=\"routes\"><tr><th>method</th><th>route</th><th>window</th>"
         "<th>req/s</th><th>errors (%)</th><th>errors by type (/s)</th><th>p50 (ms)</th><th>p95 (ms)</th>"
         "<th>p99 (ms)</th><th>p99</th><th>req/s</th></tr>";
    for (const auto& r : d.routes) {
        for (std::size_t i = 0; i < r.windows.size(); ++i) {
            const auto& w = r.windows[i];
            o += "<tr class=\"window\">";
            if (i == 0) {
                char span[32];
                std::snprintf(span, sizeof span, "%zu", r.windows.size());
                o += "<td class=\"method\" rowspan=\"";
                o += span;
                o += "\">";
                append_html(o, r.method);
                o += "</td><td class=\"endpoint\" rowspan=\"";
                o += span;
                o += "\">";
                append_html(o, r.endpoint);
                o += "</td>";
            }
            o += "<td class=\"n intervals\">";
            const double window = w.intervals * d.interval_seconds;
            if (window >= 60 && std::fmod(window, 60) == 0) {  // 1, 5, 15 min: how operators say it
                append_fixed(o, window / 60, 0);
                o += " min";
            } else {
                append_fixed(o, window, 0);
                o += " s";
            }
            o += "</td><td class=\"n rate\">";
            append_fixed(o, w.requests_per_second);
            o += "</td><td class=\"n error-ratio\">";
            append_fixed(o, w.error_ratio * 100);
            o += "</td><td class=\"errors\">";
            for (std::size_t e = 0; e < w.errors_per_second.size(); ++e) {
                if (e) o += ", ";
                append_html(o, w.errors_per_second[e].first);
                o += ' ';
                append_fixed(o, w.errors_per_second[e].second);
            }
            o += "</td><td class=\"n p50\">";
            append_fixed(o, w.p50 * 1e3);
            o += "</td><td class=\"n p95\">";
            append_fixed(o, w.p95 * 1e3);
            o += "</td><td class=\"n p99\">";
            append_fixed(o, w.p99 * 1e3);
            o += "</td>";
            if (i == 0) {
                char span[32];
                std::snprintf(span, sizeof span, "%zu", r.windows.size());
                o += "<td rowspan=\"";
                o += span;
                o += "\">";
                detail::append_sparkline(o, r.spark_p99, "p99 per interval", "p99");
                o += "</td><td rowspan=\"";
                o += span;
                o += "\">";
                detail::append_sparkline(o, r.spark_rate, "requests per second per interval", "rate");
                o += "</td>";
            }
            o += "</tr>";
        }
    }
    o += "</table>\n";
    if (d.routes_dropped) {
        o += "<p class=\"meta\">Series left out past the route limit: ";
        append_fixed(o, static_cast<double>(d.routes_dropped), 0);
        o += "</p>\n";
    }
    o += "</body></html>\n";
    return o;
}

inline std::string status_page::render_json(const status_data& d) {
    using detail::append_json_number;
    using detail::append_json_string;
    std::string o;
    o.reserve(1024 + d.routes.size() * 900 + d.checks.size() * 200);
    auto key = [&o](std::string_view k) {
        append_json_string(o, k);
        o += ':';
    };
    auto numbers = [&o](const std::vector<double>& v) {
        o += '[';
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) o += ',';
            append_json_number(o, v[i]);
        }
        o += ']';
    };
    o += '{';
    key("service");
    append_json_string(o, d.service);
    o += ',';
    key("environment");
    append_json_string(o, d.environment);
    o += ',';
    key("as_of");
    append_json_number(o, d.as_of);
    o += ',';
    key("interval_seconds");
    append_json_number(o, d.interval_seconds);
    o += ',';
    key("process_uptime_seconds");
    append_json_number(o, d.process_uptime_seconds);
    o += ',';
    key("build");
    o += '[';
    for (std::size_t i = 0; i < d.build.size(); ++i) {
        if (i) o += ',';
        o += '{';
        key("metric");
        append_json_string(o, d.build[i].metric);
        o += ',';
        key("labels");
        o += '{';
        for (std::size_t j = 0; j < d.build[i].labels.size(); ++j) {
            if (j) o += ',';
            key(d.build[i].labels[j].first);
            append_json_string(o, d.build[i].labels[j].second);
        }
        o += "}}";
    }
    o += "],";
    key("services");
    o += '[';
    for (std::size_t i = 0; i < d.services.size(); ++i) {
        const auto& s = d.services[i];
        if (i) o += ',';
        o += '{';
        key("name");
        append_json_string(o, s.name);
        o += ',';
        key("uptime_seconds");
        append_json_number(o, s.uptime);
        o += ',';
        key("starts");
        append_json_number(o, s.starts);
        o += ',';
        key("restarts");
        append_json_number(o, s.starts > 0 ? s.starts - 1 : 0);
        o += '}';
    }
    o += "],";
    key("readiness");
    if (!d.has_probe) {
        o += "null";
    } else {
        o += '{';
        key("ready");
        o += d.ready ? "true" : "false";
        o += ',';
        key("status");
        append_json_string(o, health::to_string(d.status));
        o += ',';
        key("checks");
        o += '[';
        for (std::size_t i = 0; i < d.checks.size(); ++i) {
            const auto& c = d.checks[i];
            if (i) o += ',';
            o += '{';
            key("name");
            append_json_string(o, c.name);
            o += ',';
            key("critical");
            o += c.critical ? "true" : "false";
            o += ',';
            key("state");
            append_json_string(o, c.state);
            o += ',';
            key("latency_seconds");
            append_json_number(o, c.latency_seconds);
            o += ',';
            key("age_seconds");
            append_json_number(o, c.age_seconds);
            if (!c.message.empty()) {
                o += ',';
                key("message");
                append_json_string(o, c.message);
            }
            o += '}';
        }
        o += "]}";
    }
    o += ',';
    key("routes");
    o += '[';
    for (std::size_t i = 0; i < d.routes.size(); ++i) {
        const auto& r = d.routes[i];
        if (i) o += ',';
        o += '{';
        key("method");
        append_json_string(o, r.method);
        o += ',';
        key("endpoint");
        append_json_string(o, r.endpoint);
        o += ',';
        key("windows");
        o += '[';
        for (std::size_t j = 0; j < r.windows.size(); ++j) {
            const auto& w = r.windows[j];
            if (j) o += ',';
            o += '{';
            key("intervals");
            append_json_number(o, w.intervals);
            o += ',';
            key("seconds");
            append_json_number(o, w.seconds);
            o += ',';
            key("requests_per_second");
            append_json_number(o, w.requests_per_second);
            o += ',';
            key("error_ratio");
            append_json_number(o, w.error_ratio);
            o += ',';
            key("errors_per_second");
            o += '{';
            for (std::size_t e = 0; e < w.errors_per_second.size(); ++e) {
                if (e) o += ',';
                key(w.errors_per_second[e].first);
                append_json_number(o, w.errors_per_second[e].second);
            }
            o += "},";
            key("p50_seconds");
            append_json_number(o, w.p50);
            o += ',';
            key("p95_seconds");
            append_json_number(o, w.p95);
            o += ',';
            key("p99_seconds");
            append_json_number(o, w.p99);
            o += '}';
        }
        o += "],";
        key("spark_p99_seconds");
        numbers(r.spark_p99);
        o += ',';
        key("spark_requests_per_second");
        numbers(r.spark_rate);
        o += '}';
    }
    o += "],";
    key("routes_dropped");
    append_json_number(o, static_cast<double>(d.routes_dropped));
    o += "}\n";
    return o;
}

}  // namespace vitals::status
