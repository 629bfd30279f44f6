// vitals — content negotiation: which exposition format answers a scrape, from its Accept header.
//
// Prometheus lists every format it can parse, with q-values; 2.42 sends
//   application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,
//   text/plain;version=0.0.4;q=0.5,*/*;q=0.1
// and, with native histograms enabled, puts the delimited protobuf format first. The header comes
// from the network, so parsing never throws, never allocates and reads a bounded prefix.
#pragma once

#include <cstddef>
#include <string_view>

#include "../base/string_ref.hpp"

namespace vitals {

/// The exposition formats vitals can write.
enum class exposition_format {
    text_0_0_4,          ///< Prometheus text format 0.0.4: understood by every consumer.
    openmetrics_1_0_0,   ///< OpenMetrics 1.0 text: units, info, stateset, exemplars, `# EOF`.
    protobuf_delimited,  ///< io.prometheus.client.MetricFamily, length-delimited: native histograms.
};

/// Content-Type of OpenMetrics 1.0.0 text.
inline constexpr string_ref openmetrics_content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content-Type of the length-delimited protobuf format.
inline constexpr string_ref protobuf_content_type =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The Content-Type to send with a format.
[[nodiscard]] constexpr string_ref content_type_of(exposition_format f) noexcept {
    switch (f) {
        case exposition_format::openmetrics_1_0_0:
            return openmetrics_content_type;
        case exposition_format::protobuf_delimited:
            return protobuf_content_type;
        case exposition_format::text_0_0_4:
            break;
    }
    return "text/plain; version=0.0.4; charset=utf-8";
}

/// The outcome of negotiation: the format to render and the exact Content-Type to send.
struct negotiated_format {
    exposition_format format = exposition_format::text_0_0_4;                  ///< What to render.
    string_ref content_type = content_type_of(exposition_format::text_0_0_4);  ///< Static string.
};

/// Which formats a server is willing to offer (all by default).
struct format_offer {
    bool openmetrics = true;  ///< Offer OpenMetrics text.
    bool protobuf = true;     ///< Offer protobuf (needed for native histograms).
};

namespace detail {

inline constexpr std::size_t max_accept_bytes = 4096;  // far above anything Prometheus sends
inline constexpr std::size_t max_accept_ranges = 64;

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A q-value as thousandths (RFC 9110: "0", "0.xxx", "1", "1.000"); -1 when malformed.
constexpr int parse_qvalue(std::string_view v) noexcept {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.empty() || (v[0] != '0' && v[0] != '1')) return -1;
    int q = (v[0] - '0') * 1000;
    if (v.size() == 1) return q;
    if (v[1] != '.' || v.size() > 5) return -1;
    int scale = 100;
    for (std::size_t i = 2; i < v.size(); ++i, scale /= 10) {
        if (v[i] < '0' || v[i] > '9') return -1;
        q += (v[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

// What one media range of the header asks for.
struct media_range {
    std::string_view type, subtype, version, proto, encoding;
    int q = 1000;
    bool valid = false;
};

constexpr media_range parse_media_range(std::string_view r) noexcept {
    media_range m;
    std::size_t semi = r.find(';');
    const std::string_view full = trim_ows(r.substr(0, semi));
    const std::size_t slash = full.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == full.size()) return m;
    m.type = trim_ows(full.substr(0, slash));
    m.subtype = trim_ows(full.substr(slash + 1));
    while (semi != std::string_view::npos) {
        r.remove_prefix(semi + 1);
        semi = r.find(';');
        const std::string_view param = trim_ows(r.substr(0, semi));
        const std::size_t eq = param.find('=');
        if (eq == std::string_view::npos) continue;
        const std::string_view key = trim_ows(param.substr(0, eq));
        std::string_view value = trim_ows(param.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        if (iequals(key, "q")) {
            m.q = parse_qvalue(value);
            if (m.q < 0) return m;  // a malformed q makes the whole range unusable
        } else if (iequals(key, "version")) {
            m.version = value;
        } else if (iequals(key, "proto")) {
            m.proto = value;
        } else if (iequals(key, "encoding")) {
            m.encoding = value;
        }
    }
    m.valid = true;
    return m;
}

// The format a media range names, if vitals offers it; `specific` is false for wildcards.
constexpr bool match_range(const media_range& m, const format_offer& offer, exposition_format& out,
                           bool& specific) noexcept {
    specific = true;
    if (iequals(m.type, "application") && iequals(m.subtype, "openmetrics-text")) {
        // 0.0.1 is the pre-1.0 name of the same format; Prometheus parses our 1.0.0 output for it.
        if (!offer.openmetrics) return false;
        if (!m.version.empty() && m.version != "1.0.0" && m.version != "0.0.1") return false;
        out = exposition_format::openmetrics_1_0_0;
        return true;
    }
    if (iequals(m.type, "application") && iequals(m.subtype, "vnd.google.protobuf")) {
        if (!offer.protobuf || m.proto != "io.prometheus.client.MetricFamily" || m.encoding != "delimited")
            return false;
        out = exposition_format::protobuf_delimited;
        return true;
    }
    if (iequals(m.type, "text") && iequals(m.subtype, "plain")) {
        if (!m.version.empty() && m.version != "0.0.4") return false;
        out = exposition_format::text_0_0_4;
        return true;
    }
    if ((m.type == "*" && m.subtype == "*") || (iequals(m.type, "text") && m.subtype == "*")) {
        specific = false;
        out = exposition_format::text_0_0_4;
        return true;
    }
    return false;
}

}  // namespace detail

/// Picks the format for a scrape's `Accept` header (empty when the request had none). The range
/// with the highest q-value that names an offered format wins; among equal q-values a specific
/// type beats a wildcard, then the earlier range wins. Anything else (no header, unknown types,
/// garbage, q=0 everywhere) gets text 0.0.4, which every consumer reads.
[[nodiscard]] constexpr negotiated_format negotiate(string_ref accept_header, format_offer offer = {}) noexcept {
    std::string_view accept = accept_header;
    if (accept.size() > detail::max_accept_bytes) accept = accept.substr(0, detail::max_accept_bytes);
    exposition_format best = exposition_format::text_0_0_4;
    int best_q = 0;
    bool best_specific = false;
    std::size_t ranges = 0;
    while (!accept.empty() && ranges++ < detail::max_accept_ranges) {
        const std::size_t comma = accept.find(',');
        const std::string_view range = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
        const detail::media_range m = detail::parse_media_range(range);
        if (!m.valid || m.q <= 0) continue;
        exposition_format f{};
        bool specific = false;
        if (!detail::match_range(m, offer, f, specific)) continue;
        if (m.q > best_q || (m.q == best_q && specific && !best_specific)) {
            best = f;
            best_q = m.q;
            best_specific = specific;
        }
    }
    return {best, content_type_of(best)};
}

}  // namespace vitals
