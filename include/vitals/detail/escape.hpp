// vitals — UTF-8 repair and escaping of label values and help texts. Apart from the number
// formatting in text.hpp (and its <charconv>): a series escapes its label values once, when it is
// created, so every file that updates a series parses this, while only renders need numbers.
#pragma once

#include <cstdint>
#include <cstring>

#include "../base/string_ref.hpp"
#include "../base/text_buffer.hpp"

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

/// Appends `v` with backslash and line feed escaped, and the double quote too when `Quote`: the
/// text formats' two escaping rules (label values escape all three; 0.0.4 HELP text leaves quotes).
template <bool Quote, class Out>
void append_escaped(Out& out, string_ref v) {
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (Quote && c == '"')
            out += "\\\"";
        else
            out += c;
    }
}

/// Appends a label value escaped for the text formats (0.0.4 and OpenMetrics agree):
/// backslash, double quote and line feed are escaped; the value must already be valid UTF-8.
template <class Out>
void append_escaped_label_value(Out& out, string_ref v) {
    append_escaped<true>(out, v);
}

/// Appends HELP text escaped for text format 0.0.4: backslash and line feed only.
template <class Out>
void append_escaped_help_004(Out& out, string_ref v) {
    append_escaped<false>(out, v);
}

}  // namespace vitals::detail
