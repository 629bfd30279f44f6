// vitals — the status page's writers: HTML text and attribute escaping, JSON strings and numbers,
// and the fixed number formats both forms of the page share.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

#include "../../detail/text.hpp"
#include "../../base/string_ref.hpp"

namespace vitals::status::detail {

// `s` when it is valid UTF-8 (the common case, no copy), else its repair, kept in `repaired`.
inline std::string_view as_valid_utf8(std::string_view s, std::string& repaired) {
    const string_ref r(s.data(), s.size());
    if (::vitals::detail::is_valid_utf8(r)) return s;
    ::vitals::detail::append_valid_utf8(repaired, r);
    return repaired;
}

// Appends `s` for HTML text or a quoted attribute value. Label values are arbitrary bytes: they
// are made valid UTF-8 first (invalid sequences become U+FFFD, as in every exposition), then the
// five characters that can end text or an attribute are written as character references. NUL
// and other C0 controls but tab and line feed become U+FFFD too: HTML parsers treat them as
// errors and browsers differ on them.
inline void append_html(std::string& out, std::string_view raw) {
    std::string repaired;
    const std::string_view valid = as_valid_utf8(raw, repaired);
    for (const char c : valid) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n')
                    out += "\xEF\xBF\xBD";
                else
                    out += c;
        }
    }
}

// Appends `s` as a JSON string (quotes included), made valid UTF-8 first; `<`, `>` and `&` are
// escaped too, so the text stays inert if someone pastes it into a page.
inline void append_json_string(std::string& out, std::string_view raw) {
    std::string repaired;
    const std::string_view valid = as_valid_utf8(raw, repaired);
    out += '"';
    for (const char c : valid) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || c == '<' || c == '>' || c == '&') {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}

// Appends `v` as a JSON number, shortest round-trip form; NaN and infinities (which JSON lacks)
// as null.
inline void append_json_number(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    char buf[32];  // the shortest round-trip form, which JSON parsers read back exactly
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    if (r.ec == std::errc()) out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// The page's one number format: fixed decimals, three by default (what printf's %.3f and Python's
// '%.3f' give too, so a tool can check the page against the JSON form), and an en dash for no
// value. std::to_chars: exact like printf, several times faster, and a page has thousands.
inline void append_fixed(std::string& out, double v, int decimals = 3) {
    if (!std::isfinite(v)) {
        out += "\xE2\x80\x93";
        return;
    }
    char buf[400];  // DBL_MAX in %.3f: 309 digits, the point and three decimals
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
    if (r.ec == std::errc()) out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// Unix seconds as an operator reads a time: "2026-12-03 06:27:12 UTC" (whole seconds, rounded
// down); an en dash for no value or one outside what the C library can convert.
inline void append_utc(std::string& out, double unix_seconds) {
    std::tm tm{};
    const double whole = std::floor(unix_seconds);
    const auto t = static_cast<std::time_t>(whole);
    char buf[64];
    std::size_t n = 0;
    if (std::isfinite(unix_seconds) && std::fabs(whole) < 1e15 && gmtime_r(&t, &tm))
        n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (n == 0) {
        out += "\xE2\x80\x93";
        return;
    }
    out.append(buf, n);
}

}  // namespace vitals::status::detail
