// Minimal JSON output helpers: string escaping and a small streaming writer.
//
// Only output is supported; vitals never parses JSON. Strings are treated as
// UTF-8 and repaired on the way out (invalid sequences become U+FFFD) because
// health messages often embed bytes received from remote peers.
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace vitals::health::detail::json {

/// Length of the well-formed UTF-8 sequence that starts at `s[i]`, or 0 when
/// it is ill-formed. `consumed` receives how many bytes to skip: the whole
/// sequence, or its maximal ill-formed prefix, so the byte that broke the
/// sequence is re-examined on its own (Unicode's recommended practice).
/// Requires `i < s.size()`.
inline std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t& consumed) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) {
        consumed = 1;
        return 1;
    }
    // The allowed range of the second byte depends on the lead byte; this is
    // what rules out overlong forms, surrogates and code points above U+10FFFF.
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    }
    if (len == 0) {  // stray continuation byte or never-valid lead byte
        consumed = 1;
        return 0;
    }
    std::size_t j = 1;
    for (; j < len && i + j < s.size(); ++j) {
        const unsigned char b = byte(i + j);
        if (b < (j == 1 ? lo : 0x80) || b > (j == 1 ? hi : 0xBF)) break;
    }
    consumed = j;
    return j == len ? len : 0;
}

/// UTF-8 encoding of U+FFFD REPLACEMENT CHARACTER.
inline constexpr std::string_view replacement_char = "\xEF\xBF\xBD";

/// Copy of `s` with every ill-formed UTF-8 sequence replaced by U+FFFD.
inline std::string repair_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        std::size_t consumed = 0;
        const std::size_t len = utf8_sequence(s, i, consumed);
        if (len != 0) {
            out.append(s.substr(i, len));
        } else {
            out += replacement_char;
        }
        i += consumed;
    }
    return out;
}

/// Appends `s` to `out` as a JSON string literal, quotes included.
inline void append_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.reserve(out.size() + s.size() + 2);
    out.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            std::size_t consumed = 0;
            const std::size_t len = utf8_sequence(s, i, consumed);
            if (len != 0) {
                out.append(s.substr(i, len));
            } else {
                out += replacement_char;
            }
            i += consumed;
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out.push_back(hex[c >> 4]);
                    out.push_back(hex[c & 0xF]);
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
        ++i;
    }
    out.push_back('"');
}

/// Returns `s` as a JSON string literal, quotes included.
inline std::string quote(std::string_view s) {
    std::string out;
    append_string(out, s);
    return out;
}

/// Appends a JSON number; NaN and infinities (not representable) become null.
inline void append_number(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    std::array<char, 64> buf{};
    // Shortest round-trip form keeps the output stable and compact.
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    if (ec != std::errc{}) {
        out += "null";
        return;
    }
    out.append(buf.data(), end);
}

/// Appends a JSON integer.
inline void append_number(std::string& out, std::int64_t v) {
    std::array<char, 24> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    (void)ec;  // 24 chars always fit an int64
    // A length, not an iterator pair: GCC 12 at -O3 warns falsely (-Wrestrict) on the latter.
    out.append(buf.data(), static_cast<std::size_t>(end - buf.data()));
}

/// Streaming writer that tracks commas so callers cannot produce
/// syntactically invalid JSON by forgetting separators.
///
/// Usage: `w.begin_object(); w.key("a"); w.value(1); w.end_object();`
/// The writer does not validate nesting; callers are trusted to balance calls.
class writer {
public:
    /// Opens an object (as a value or at top level).
    void begin_object() { open('{'); }
    /// Closes the innermost object.
    void end_object() { close('}'); }
    /// Opens an array (as a value or at top level).
    void begin_array() { open('['); }
    /// Closes the innermost array.
    void end_array() { close(']'); }

    /// Writes an object key; the next call must write its value.
    void key(std::string_view k) {
        separate();
        append_string(out_, k);
        out_.push_back(':');
        after_key_ = true;
    }

    /// Writes a string value.
    void value(std::string_view v) {
        separate();
        append_string(out_, v);
    }
    /// Writes a string value (avoids the bool overload for literals).
    void value(const char* v) { value(std::string_view(v)); }
    /// Writes a boolean value.
    void value(bool v) {
        separate();
        out_ += v ? "true" : "false";
    }
    /// Writes a floating-point value (non-finite values become null).
    void value(double v) {
        separate();
        append_number(out_, v);
    }
    /// Writes an integer value.
    void value(std::int64_t v) {
        separate();
        append_number(out_, v);
    }
    /// Writes an integer value.
    void value(int v) { value(static_cast<std::int64_t>(v)); }
    /// Writes null.
    void null() {
        separate();
        out_ += "null";
    }

    /// The text written so far.
    [[nodiscard]] const std::string& str() const& { return out_; }
    /// Moves the written text out of the writer.
    [[nodiscard]] std::string str() && { return std::move(out_); }

private:
    void separate() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (!first_.empty()) {
            if (!first_.back()) out_.push_back(',');
            first_.back() = false;
        }
    }
    void open(char c) {
        separate();
        out_.push_back(c);
        first_.push_back(true);
    }
    void close(char c) {
        out_.push_back(c);
        if (!first_.empty()) first_.pop_back();
    }

    std::string out_;
    std::vector<bool> first_;  // per open container: nothing written yet
    bool after_key_ = false;
};

}  // namespace vitals::health::detail::json
