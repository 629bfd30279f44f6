// vitals — text helpers shared by all exposition formats: UTF-8 repair, escaping, number formatting.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>

#include "../core/string_ref.hpp"
#include "../core/text_buffer.hpp"
#include "math.hpp"

namespace vitals::detail {

// Returns the length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid
// (overlong forms, surrogates and code points past U+10FFFF are invalid, as in Go's utf8 package).
inline std::size_t utf8_sequence_length(string_ref s, std::size_t i) noexcept {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return 1;
    auto cont = [&](std::size_t k) {
        return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    };
    const auto b1 = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (b0 == 0xE0 && b1 < 0xA0) return 0;  // overlong
        if (b0 == 0xED && b1 > 0x9F) return 0;  // surrogate
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (b0 == 0xF0 && b1 < 0x90) return 0;  // overlong
        if (b0 == 0xF4 && b1 > 0x8F) return 0;  // past U+10FFFF
        return 4;
    }
    return 0;
}

/// True when every byte of `s` is ASCII; the common case, checked eight bytes at a time.
inline bool is_ascii(string_ref s) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s.data() + i, 8);
        if (w & 0x8080808080808080ULL) return false;
    }
    for (; i < s.size(); ++i)
        if (static_cast<unsigned char>(s[i]) & 0x80) return false;
    return true;
}

/// True when `s` is valid UTF-8.
inline bool is_valid_utf8(string_ref s) noexcept {
    if (is_ascii(s)) return true;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

/// Appends `s` to `out` with every invalid UTF-8 sequence replaced by U+FFFD, so that exposition
/// consumers (which reject invalid UTF-8 and would fail the whole scrape) always get valid text.
template <class Out>
void append_valid_utf8(Out& out, string_ref s) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) {
            out.append("\xEF\xBF\xBD", 3);
            ++i;
        } else {
            out.append(s.data() + i, n);
            i += n;
        }
    }
}

/// `s` made valid UTF-8 (see append_valid_utf8).
inline text_buffer to_valid_utf8(string_ref s) {
    if (is_valid_utf8(s)) return text_buffer(s);
    text_buffer out;
    out.reserve(s.size() + 8);
    append_valid_utf8(out, s);
    return out;
}

/// Appends a label value escaped for the text formats (0.0.4 and OpenMetrics agree):
/// backslash, double quote and line feed are escaped; the value must already be valid UTF-8.
template <class Out>
void append_escaped_label_value(Out& out, string_ref v) {
    for (char c : v) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '"': out += "\\\""; break;
            case '\n': out += "\\n"; break;
            default: out += c;
        }
    }
}

/// Appends HELP text escaped for text format 0.0.4: backslash and line feed only.
template <class Out>
void append_escaped_help_004(Out& out, string_ref v) {
    for (char c : v) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            default: out += c;
        }
    }
}

/// Longest output of format_double: sign, 17 digits, point, exponent.
inline constexpr std::size_t max_double_chars = 32;

/// Writes `v` in the shortest form that reads back to the same double, with Prometheus' spellings
/// for the special values: `NaN`, `+Inf`, `-Inf`. Returns the number of characters written.
inline std::size_t format_double(char* buf, double v) noexcept {
    if (is_nan(v)) {
        std::memcpy(buf, "NaN", 3);
        return 3;
    }
    if (is_inf(v)) {
        std::memcpy(buf, v > 0 ? "+Inf" : "-Inf", 4);
        return 4;
    }
    const auto r = std::to_chars(buf, buf + max_double_chars, v);
    return static_cast<std::size_t>(r.ptr - buf);
}

/// Appends `v` as format_double writes it.
template <class Out>
void append_double(Out& out, double v) {
    char buf[max_double_chars];
    out.append(buf, format_double(buf, v));
}

/// Appends an unsigned integer in decimal.
template <class Out>
void append_uint(Out& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

/// Writes a double the way OpenMetrics wants canonical `le`/`quantile` values: always with a
/// fractional part or exponent (`1.0`, `0.25`, `1e+06`), and `+Inf`/`-Inf`/`NaN`.
inline std::size_t format_double_canonical(char* buf, double v) noexcept {
    std::size_t n = format_double(buf, v);
    if (is_finite(v)) {
        bool plain_integer = true;
        for (std::size_t i = 0; i < n; ++i)
            if (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E') plain_integer = false;
        if (plain_integer) {
            buf[n++] = '.';
            buf[n++] = '0';
        }
    }
    return n;
}

}  // namespace vitals::detail
