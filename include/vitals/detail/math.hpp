// vitals — the few floating-point functions the core needs, as compiler builtins: <cmath> pulls
// the C++17 special functions into every translation unit that includes it.
#pragma once

#include <cstdint>

namespace vitals::detail {

inline bool is_nan(double v) noexcept { return __builtin_isnan(v); }
inline bool is_inf(double v) noexcept { return __builtin_isinf(v); }
inline bool is_finite(double v) noexcept { return __builtin_isfinite(v); }
inline double floor_of(double v) noexcept { return __builtin_floor(v); }
/// v * 2^e.
inline double ldexp_of(double v, int e) noexcept { return __builtin_ldexp(v, e); }
inline double pow_of(double base, double e) noexcept { return __builtin_pow(base, e); }
/// A quiet NaN.
inline constexpr double quiet_nan = __builtin_nan("");

__extension__ typedef unsigned __int128 uint128;

/// n + f (f >= 0) correctly rounded to a double (to nearest, ties to even): the double a consumer
/// gets from parsing the exact decimal value. Adding the rounded halves instead can be off by an
/// ulp past 2^53.
inline double exact_sum_to_double(uint128 n, double f) noexcept {
    if (f == 0) return static_cast<double>(n);  // the conversion itself rounds correctly
    if (n == 0 || !is_finite(f)) return f;
    int e = 0;
    const double fr = __builtin_frexp(f, &e);  // f = fr * 2^e, fr in [0.5, 1)
    const auto mf = static_cast<std::uint64_t>(ldexp_of(fr, 53));
    const int ef = e - 53;    // f = mf * 2^ef exactly
    if (ef >= 129) return f;  // n < 2^128 is less than half an ulp of f
    // The exact sum as M + phi: M an integer of up to 182 bits (hi:lo), phi in [0, 1).
    uint128 lo = n, hi = 0;
    double phi = 0;
    auto add = [&](uint128 v_lo, uint128 v_hi) {
        const uint128 old = lo;
        lo += v_lo;
        hi += v_hi + (lo < old ? 1 : 0);
    };
    if (ef >= 0) {
        const uint128 m = mf;
        add(ef >= 128 ? 0 : m << ef, ef == 0 ? 0 : ef >= 128 ? m << (ef - 128) : m >> (128 - ef));
    } else {
        const std::uint64_t whole = -ef >= 64 ? 0 : mf >> -ef;
        phi = f - static_cast<double>(whole);  // exact: the bits of f below the unit
        add(whole, 0);
    }
    int bits = 0;  // bit length of M
    if (hi) {
        bits = 128;
        for (uint128 x = hi; x; x >>= 1) ++bits;
    } else {
        for (uint128 x = lo; x; x >>= 1) ++bits;
    }
    if (bits <= 53) return static_cast<double>(static_cast<std::uint64_t>(lo)) + phi;  // both exact
    const int k = bits - 53;                                                           // bits below the significand
    auto shifted = [&](int by) -> uint128 {
        return by >= 128 ? hi >> (by - 128) : (lo >> by) | (by ? hi << (128 - by) : 0);
    };
    const auto t = static_cast<std::uint64_t>(shifted(k));
    // The k dropped bits against half of 2^k: compare the top one, then the rest.
    const bool half_bit = ((shifted(k - 1)) & 1) != 0;
    bool below_half_nonzero = phi > 0;
    for (int i = 0; i < k - 1 && !below_half_nonzero; i += 64) {
        const int width = k - 1 - i < 64 ? k - 1 - i : 64;
        const auto chunk = static_cast<std::uint64_t>(shifted(i));
        const std::uint64_t mask = width == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << width) - 1;
        below_half_nonzero = (chunk & mask) != 0;
    }
    const bool up = half_bit && (below_half_nonzero || (t & 1));
    return ldexp_of(static_cast<double>(t + (up ? 1 : 0)), k);
}

}  // namespace vitals::detail
