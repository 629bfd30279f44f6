// Framework-agnostic HTTP rendering of readiness and liveness.
//
// The functions here take the request's path remainder and query string and
// return status, content type and body; wiring them into any HTTP server is a
// few lines. Two output styles are supported:
//
// JSON (default, compatible with the seed service):
//   readiness  {"status":"ready"|"not-ready","degraded":bool,
//               "checks":{"<name>":{"name":…,"healthy":bool,"status":"healthy"|
//               "degraded"|"unhealthy","critical":bool,"latency_ms":1.23,"age_ms":420.5,
//               "message":…},…}}
//     - "healthy" is false only for unhealthy checks (degraded still works).
//     - "degraded" is true when the service is ready but some check is
//       degraded or a non-critical check failed.
//     - "message" is present for non-healthy checks (see expose_details).
//   liveness   {"status":"healthy"|"unhealthy","uptime_seconds":12.5}
//
// Plain text (Kubernetes /readyz conventions), chosen with `?verbose`,
// `?format=text` or handler_options::default_format:
//   [+]database ok
//   [-]redis failed: reason withheld
//   readyz check failed
//
// Query parameters: `verbose` (list every check), `exclude=<name>`
// (repeatable; the check is left out of the answer), `format=json|text`.
// Path suffix: empty or "/" for the aggregate, "/<name>" for one check
// (404 if unknown). Status codes: 200 ready/healthy (degraded included),
// 503 not ready/unhealthy.
//
// Failure messages often contain hosts, user names or driver errors, so they
// are withheld by default: JSON shows "timeout" for timeouts, "failed" for
// other failures and "degraded" for degraded checks; text shows
// "reason withheld" or "timeout". Set expose_details to show real messages.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detail/json.hpp"
#include "liveness.hpp"
#include "probe.hpp"

namespace vitals::health {

/// An HTTP response, independent of any server framework.
struct response {
    /// HTTP status code (200, 404 or 503).
    int status = 200;
    /// Value for the Content-Type header.
    std::string content_type;
    /// Response body.
    std::string body;
};

/// Output style of the handlers.
enum class format : std::uint8_t {
    json,  ///< Seed-compatible JSON.
    text,  ///< Kubernetes-style plain text.
};

/// Handler settings.
struct handler_options {
    /// Show check failure messages instead of generic words.
    bool expose_details = false;
    /// Style used when the query does not ask for one.
    format default_format = format::json;
    /// Word used in text summaries ("<label> check passed").
    std::string ready_label = "readyz";
    /// Word used in liveness text summaries.
    std::string live_label = "livez";
};

/// Content-Type used for JSON bodies.
inline constexpr string_ref json_content_type = "application/json";
/// Content-Type used for plain-text bodies.
inline constexpr string_ref text_content_type = "text/plain; charset=utf-8";

/// Parsed query parameters understood by the handlers.
struct query_params {
    /// `verbose` present (and not "0"/"false").
    bool verbose = false;
    /// Values of every `exclude` parameter.
    std::vector<std::string> exclude;
    /// Explicit `format=` value, if any.
    std::optional<format> fmt;
};

namespace detail {

inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Form decoding ('+' is a space); malformed escapes are kept literally
// rather than rejected, since a probe endpoint should be forgiving.
inline std::string url_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out.push_back(' ');
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// Text output is line-oriented: a message with a newline could forge a
// "[+]" line, so control characters are flattened to spaces.
inline std::string one_line(std::string_view s) {
    std::string out = vitals::health::detail::json::repair_utf8(s);
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    return out;
}

inline double to_ms(std::chrono::nanoseconds d) {
    // Microsecond resolution is plenty for a probe and keeps bodies short.
    return std::round(static_cast<double>(d.count()) / 1000.0) / 1000.0;
}

inline std::string public_message(const check_report& r, bool expose) {
    if (expose) return r.result.message;
    switch (r.result.status) {
        case status::healthy:
            return {};
        case status::degraded:
            return "degraded";
        case status::unhealthy:
            if (r.pending) return "pending";
            if (r.stale) return "stale";
            return r.timed_out ? std::string(timeout_message) : "failed";
    }
    return "failed";
}

inline void write_check_json(vitals::health::detail::json::writer& w, const check_report& r, bool expose) {
    w.begin_object();
    w.key("name");
    w.value(r.name);
    w.key("healthy");
    w.value(r.result.ok());
    w.key("status");
    w.value(to_string(r.result.status));
    w.key("critical");
    w.value(r.critical);
    w.key("latency_ms");
    w.value(to_ms(r.result.latency));
    w.key("age_ms");
    w.value(to_ms(std::chrono::duration_cast<std::chrono::nanoseconds>(r.age)));
    if (r.result.status != status::healthy || (expose && !r.result.message.empty())) {
        w.key("message");
        w.value(public_message(r, expose));
    }
    w.end_object();
}

inline std::string text_reason(const check_report& r, bool expose) {
    if (expose && !r.result.message.empty()) return one_line(r.result.message);
    if (r.pending) return "pending";
    if (r.stale) return "stale";
    if (r.timed_out) return std::string(timeout_message);
    return "reason withheld";
}

inline void write_check_line(std::string& out, const check_report& r, bool expose) {
    switch (r.result.status) {
        case status::healthy:
            out += "[+]" + r.name + " ok\n";
            break;
        case status::degraded:
            out += "[+]" + r.name + " degraded: " + text_reason(r, expose) + "\n";
            break;
        case status::unhealthy:
            out += "[-]" + r.name + (r.critical ? " failed: " : " failed (non-critical): ") + text_reason(r, expose) +
                   "\n";
            break;
    }
}

inline format pick_format(const query_params& q, const handler_options& o) {
    if (q.fmt) return *q.fmt;
    if (q.verbose) return format::text;
    return o.default_format;
}

inline response make_response(int code, format f, std::string body) {
    return response{code, std::string(f == format::json ? json_content_type : text_content_type), std::move(body)};
}

}  // namespace detail

/// Parses a query string (with or without the leading '?').
inline query_params parse_query(string_ref query_string) {
    std::string_view query = query_string;
    query_params q;
    if (!query.empty() && query.front() == '?') query.remove_prefix(1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        const auto eq = item.find('=');
        const std::string key = detail::url_decode(item.substr(0, eq));
        const std::string value =
            eq == std::string_view::npos ? std::string{} : detail::url_decode(item.substr(eq + 1));
        if (key == "verbose") {
            q.verbose = value != "0" && value != "false";
        } else if (key == "exclude") {
            if (!value.empty()) q.exclude.push_back(value);
        } else if (key == "format") {
            if (value == "json") q.fmt = format::json;
            if (value == "text") q.fmt = format::text;
        }
    }
    return q;
}

// --- Renderers: public, so a report of your own (or one from async_run) is written exactly as
// the handlers write theirs. Messages are withheld unless options.expose_details.

/// A readiness report as the seed's JSON:
/// `{"status":"ready"|"not-ready","degraded":bool,"checks":{"<name>":{...},...}}`.
inline std::string readiness_json(const readiness_report& report, const handler_options& options = {}) {
    vitals::health::detail::json::writer w;
    w.begin_object();
    w.key("status");
    w.value(report.ready ? "ready" : "not-ready");
    w.key("degraded");
    w.value(report.ready && report.status != status::healthy);
    w.key("checks");
    w.begin_object();
    for (const auto& c : report.checks) {
        w.key(c.name);
        detail::write_check_json(w, c, options.expose_details);
    }
    w.end_object();
    w.end_object();
    return std::move(w).str();
}

/// One check's entry as JSON: `{"name":…,"healthy":bool,"status":…,"critical":bool,
/// "latency_ms":…,"age_ms":…,"message":…}` (message only when not healthy, or when exposed).
inline std::string check_json(const check_report& check, const handler_options& options = {}) {
    vitals::health::detail::json::writer w;
    detail::write_check_json(w, check, options.expose_details);
    return std::move(w).str();
}

/// A readiness report as Kubernetes' /readyz text: `ok` when ready and not verbose; otherwise one
/// `[+]name ok` / `[-]name failed: reason` line per check (excluded ones as `excluded: ok`) and a
/// summary line. Kubernetes prints the full list on failure even without verbose, so an operator
/// curling a failing endpoint sees what is wrong.
inline std::string readiness_text(const readiness_report& report, const handler_options& options = {},
                                  bool verbose = false) {
    if (!verbose && report.ready) return "ok\n";
    std::string body;
    for (const auto& c : report.checks) detail::write_check_line(body, c, options.expose_details);
    for (const auto& name : report.excluded) body += "[+]" + name + " excluded: ok\n";
    body += options.ready_label + (report.ready ? " check passed\n" : " check failed\n");
    return body;
}

/// One check as Kubernetes' per-check /readyz/<name> text: `ok` when it passes and not verbose.
inline std::string check_text(const check_report& check, const handler_options& options = {}, bool verbose = false) {
    if (!verbose && check.result.ok()) return "ok\n";
    std::string body;
    detail::write_check_line(body, check, options.expose_details);
    body += options.ready_label + (check.result.ok() ? " check passed\n" : " check failed\n");
    return body;
}

/// Liveness as JSON: `{"status":"healthy"|"unhealthy","uptime_seconds":12.5}`.
inline std::string liveness_json(const liveness& l, const handler_options& options = {}) {
    const bool ok = l.healthy();
    vitals::health::detail::json::writer w;
    w.begin_object();
    w.key("status");
    w.value(ok ? "healthy" : "unhealthy");
    w.key("uptime_seconds");
    w.value(std::round(l.uptime().count() * 1000.0) / 1000.0);
    if (!ok && options.expose_details) {
        w.key("message");
        w.value(l.reason());
    }
    w.end_object();
    return std::move(w).str();
}

/// Liveness as Kubernetes' /livez text.
inline std::string liveness_text(const liveness& l, const handler_options& options = {}, bool verbose = false) {
    if (l.healthy()) return verbose ? "[+]process ok\n" + options.live_label + " check passed\n" : "ok\n";
    return "[-]process failed: " +
           (options.expose_details ? detail::one_line(l.reason()) : std::string("reason withheld")) + "\n" +
           options.live_label + " check failed\n";
}

/// Answers readiness from a report (yours, or one from probe::async_run): status 200 when ready
/// (degraded included), 503 when not, in the format the query asks for.
inline response ready_response(const readiness_report& report, string_ref query, const handler_options& options = {}) {
    const query_params q = parse_query(query);
    const format fmt = detail::pick_format(q, options);
    const int code = report.ready ? 200 : 503;
    if (fmt == format::json) return detail::make_response(code, fmt, readiness_json(report, options));
    return detail::make_response(code, fmt, readiness_text(report, options, q.verbose));
}

/// Serves readiness from the probe's latest results; returns at once (it never runs a check or
/// waits for one). `path_suffix` is what follows the readiness route ("" or "/" for all checks,
/// "/database" for one, 404 if unknown); `query` is the raw query string (`verbose`,
/// `exclude=<name>`, `format=json|text`).
inline response handle_ready(const probe& p, string_ref path_suffix, string_ref query,
                             const handler_options& options = {}) {
    const query_params q = parse_query(query);
    const format fmt = detail::pick_format(q, options);
    while (!path_suffix.empty() && path_suffix.front() == '/') path_suffix.remove_prefix(1);
    while (!path_suffix.empty() && path_suffix.back() == '/') path_suffix.remove_suffix(1);
    if (!path_suffix.empty()) {
        const std::string name = detail::url_decode(path_suffix);
        auto one = p.check_one(name);
        if (!one) {
            if (fmt == format::json) return detail::make_response(404, fmt, R"({"error":"unknown check"})");
            return detail::make_response(404, fmt, "unknown check\n");
        }
        const int code = one->result.ok() ? 200 : 503;
        if (fmt == format::json) return detail::make_response(code, fmt, check_json(*one, options));
        return detail::make_response(code, fmt, check_text(*one, options, q.verbose));
    }
    const readiness_report report = p.check(q.exclude);
    const int code = report.ready ? 200 : 503;
    if (fmt == format::json) return detail::make_response(code, fmt, readiness_json(report, options));
    return detail::make_response(code, fmt, readiness_text(report, options, q.verbose));
}

/// Serves liveness; never touches dependencies, the probe or any lock it uses.
inline response handle_live(const liveness& l, string_ref query, const handler_options& options = {}) {
    const query_params q = parse_query(query);
    const format fmt = detail::pick_format(q, options);
    const int code = l.healthy() ? 200 : 503;
    if (fmt == format::json) return detail::make_response(code, fmt, liveness_json(l, options));
    return detail::make_response(code, fmt, liveness_text(l, options, q.verbose));
}

}  // namespace vitals::health
