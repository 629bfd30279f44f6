// vitals — number formatting shared by all exposition formats (UTF-8 repair and escaping, which
// these formats use too, are in escape.hpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "../base/string_ref.hpp"
#include "../base/text_buffer.hpp"
#include "../base/config.hpp"
#include "escape.hpp"
#include "math.hpp"

#if VITALS_COLD_DEFINED
#include <charconv>  // only where the double formatting below is defined
#endif

namespace vitals::detail {

/// Longest output of the format_double family: sign, 17 digits, point, exponent.
inline constexpr std::size_t max_double_chars = 32;
/// Longest output of format_uint: 2^64 - 1 has 20 digits.
inline constexpr std::size_t max_uint_chars = 20;

/// Writes `v` in decimal; returns the number of characters. Every bucket count of a render goes
/// through here, so it writes two digits a step instead of going through <charconv>, straight into
/// `buf` from the last digit back: a staging copy would cost a library memcpy per number.
inline std::size_t format_uint(char* buf, std::uint64_t v) noexcept {
    static constexpr char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    std::size_t n = 1;
    std::uint64_t x = v;
    for (; x >= 10000; x /= 10000) n += 4;
    n += static_cast<std::size_t>((x >= 10) + (x >= 100) + (x >= 1000));
    char* p = buf + n;
    while (v >= 100) {
        const auto i = static_cast<unsigned>(v % 100) * 2;
        v /= 100;
        *--p = pairs[i + 1];
        *--p = pairs[i];
    }
    if (v >= 10) {
        const auto i = static_cast<unsigned>(v) * 2;
        *--p = pairs[i + 1];
        *--p = pairs[i];
    } else {
        *--p = static_cast<char>('0' + v);
    }
    return n;
}

/// Writes `v` in the shortest form that reads back to the same double, with Prometheus' spellings
/// for the special values: `NaN`, `+Inf`, `-Inf`. Returns the number of characters written.
/// For sample values only: consumers parse them as numbers, so any round-trip form will do. Label
/// values are compared as strings and need format_double_label or format_double_canonical.
VITALS_COLD std::size_t format_double(char* buf, double v) noexcept;

/// Writes finite `v` as Go's strconv.FormatFloat(v, 'g', -1, 64) does, which is what client_golang
/// puts in `le` and `quantile` labels: the shortest round-trip digits, laid out as `%e` when the
/// decimal exponent is below -4 or at least 6 and as plain decimals otherwise (`0.0001`, `100000`,
/// `1e-05`, `1.5e+06`). Go fixes that switch point at 6 whatever the digit count; std::to_chars'
/// own shortest form instead picks whichever layout is shorter (`1e-04`, `1e+05`, `1500000`),
/// which would give a service moving between the two clients different series.
VITALS_COLD std::size_t format_double_go_g(char* buf, double v) noexcept;

/// Writes `v` as text format 0.0.4 `le` and `quantile` label values, byte for byte as
/// client_golang (prometheus/common expfmt) writes them: Prometheus stores `le` as a string, so
/// any other spelling of the same bound is a different series. `+Inf`, `-Inf`, `NaN`.
VITALS_COLD std::size_t format_double_label(char* buf, double v) noexcept;

/// Appends `v` as format_double writes it.
template <class Out>
void append_double(Out& out, double v) {
    char buf[max_double_chars];
    out.append(buf, format_double(buf, v));
}

/// Appends an unsigned integer in decimal.
template <class Out>
void append_uint(Out& out, std::uint64_t v) {
    char buf[max_uint_chars];
    out.append(buf, format_uint(buf, v));
}

/// Writes `v` as an OpenMetrics canonical number for `le`/`quantile` label values: the spec's
/// target is Go's %g with `.0` added when there is neither a point nor an exponent (`0.0001`,
/// `1.0`, `100000.0`, `1e+06`, `1.5e+06`), which is also what client_golang writes (expfmt's
/// writeOpenMetricsFloat, where -0 is `0.0` as well). `+Inf`, `-Inf`, `NaN`.
VITALS_COLD std::size_t format_double_canonical(char* buf, double v) noexcept;

#if VITALS_COLD_DEFINED

VITALS_COLD std::size_t format_double(char* buf, double v) noexcept {
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

VITALS_COLD std::size_t format_double_go_g(char* buf, double v) noexcept {
    // Scientific to_chars already has Go's %e spelling (one leading digit, the rest after a point
    // only when there are any, and an exponent of at least two digits), so it only needs parsing.
    char sci[max_double_chars];
    const char* const end = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific).ptr;
    const char* e = sci;
    while (*e != 'e') ++e;
    int exp = 0;
    for (const char* p = e + 2; p < end; ++p) exp = exp * 10 + (*p - '0');
    if (e[1] == '-') exp = -exp;
    const std::size_t sci_len = static_cast<std::size_t>(end - sci);
    if (exp < -4 || exp >= 6) {
        std::memcpy(buf, sci, sci_len);
        return sci_len;
    }
    const bool neg = sci[0] == '-';
    char digits[17];
    int nd = 0;
    for (const char* p = neg ? sci + 1 : sci; p < e; ++p)
        if (*p != '.') digits[nd++] = *p;
    std::size_t n = 0;
    if (neg) buf[n++] = '-';
    const int point = exp + 1;  // digits before the decimal point; <= 0 means leading zeros after it
    if (point <= 0) {
        buf[n++] = '0';
        buf[n++] = '.';
        for (int i = point; i < 0; ++i) buf[n++] = '0';
        std::memcpy(buf + n, digits, static_cast<std::size_t>(nd));
        return n + static_cast<std::size_t>(nd);
    }
    for (int i = 0; i < point; ++i) buf[n++] = i < nd ? digits[i] : '0';
    if (nd > point) {
        buf[n++] = '.';
        for (int i = point; i < nd; ++i) buf[n++] = digits[i];
    }
    return n;
}

VITALS_COLD std::size_t format_double_label(char* buf, double v) noexcept {
    if (!is_finite(v)) return format_double(buf, v);
    if (v == 0) {  // -0 too: expfmt tests f == 0 before formatting, so it never writes "-0"
        buf[0] = '0';
        return 1;
    }
    return format_double_go_g(buf, v);
}

VITALS_COLD std::size_t format_double_canonical(char* buf, double v) noexcept {
    std::size_t n = format_double_label(buf, v);
    if (is_finite(v) && !std::memchr(buf, '.', n) && !std::memchr(buf, 'e', n)) {
        buf[n++] = '.';
        buf[n++] = '0';
    }
    return n;
}

#endif  // VITALS_COLD_DEFINED

}  // namespace vitals::detail
