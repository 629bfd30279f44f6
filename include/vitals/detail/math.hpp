// vitals — the few floating-point functions the core needs, as compiler builtins: <cmath> pulls
// the C++17 special functions into every translation unit that includes it.
#pragma once

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

}  // namespace vitals::detail
