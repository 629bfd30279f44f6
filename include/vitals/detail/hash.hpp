// vitals — the hash used to find a series by its label values, and the byte comparison that
// confirms a match. Both sit on the lookup hot path (`family.labels(...)`), so short values (the
// usual label value is under 16 bytes) are read with a few fixed-size loads and no library call.
#pragma once

#include <cstdint>
#include <cstring>

#include "../base/string_ref.hpp"

namespace vitals::detail {

inline std::uint64_t mix64(std::uint64_t h) noexcept {
    // The MurmurHash3 finalizer: every input bit affects every output bit.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

inline std::uint64_t load8(const char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
}
inline std::uint64_t load4(const char* p) noexcept {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    return w;
}

/// The last 1 to 7 bytes of a value as one word (distinct tails of one length give distinct words).
/// Two fixed-size loads instead of a variable-length memcpy, which would be a library call and a
/// store-forwarding stall.
inline std::uint64_t load_tail(const char* p, std::size_t r) noexcept {
    if (r >= 4) return load4(p) | (load4(p + r - 4) << 32);
    return std::uint64_t{static_cast<unsigned char>(p[0])} |
           (std::uint64_t{static_cast<unsigned char>(p[r / 2])} << 8) |
           (std::uint64_t{static_cast<unsigned char>(p[r - 1])} << 16);
}

/// 64x64 -> 128-bit multiply, halves folded: one multiply mixes both inputs thoroughly.
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
    __extension__ typedef unsigned __int128 u128;
    const u128 r = static_cast<u128>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline constexpr std::uint64_t hash_k0 = 0xa0761d6478bd642fULL;
inline constexpr std::uint64_t hash_k1 = 0xe7037ed1a0b428dbULL;
inline constexpr std::uint64_t hash_k2 = 0x8ebc6af09c88c6e3ULL;

/// Hashes one value. Every byte of `v` is also OR-ed into `seen` (in some byte lane), so that
/// `seen & 0x8080808080808080` tells whether `v` is plain ASCII without a second pass. The length
/// goes into the hash, so that ("ab","c") and ("a","bc") differ once values are combined.
inline std::uint64_t hash_bytes(string_ref v, std::uint64_t& seen) noexcept {
    const char* p = v.data();
    const std::size_t n = v.size();
    std::uint64_t a, b;
    if (n <= 16) {
        if (n >= 8) {
            a = load8(p);
            b = load8(p + n - 8);
        } else if (n > 0) {
            a = load_tail(p, n);
            b = 0;
        } else {
            a = b = 0;
        }
        seen |= a | b;
        return fold_multiply(a ^ hash_k0, b ^ hash_k1 ^ n);
    }
    std::uint64_t h = hash_k2 ^ n;
    std::size_t i = 0;
    for (; i + 16 < n; i += 16) {
        a = load8(p + i);
        b = load8(p + i + 8);
        seen |= a | b;
        h = fold_multiply(a ^ hash_k0, b ^ h);
    }
    a = load8(p + n - 16);  // the last 16 bytes, overlapping the previous block when n % 16 != 0
    b = load8(p + n - 8);
    seen |= a | b;
    return fold_multiply(a ^ hash_k1 ^ h, b ^ hash_k0);
}

/// Folds one value's hash into a running hash of a value list (order matters). The per-value
/// hashes do not depend on each other, so the CPU computes them in parallel.
inline std::uint64_t hash_combine(std::uint64_t h, std::uint64_t value_hash) noexcept {
    return fold_multiply(h ^ value_hash, hash_k2);
}

/// True when the `n` bytes at `a` and `b` are equal; inline word compares for short values.
inline bool bytes_equal(const char* a, const char* b, std::size_t n) noexcept {
    if (n > 32) return std::memcmp(a, b, n) == 0;
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 < n; i += 8)
            if (load8(a + i) != load8(b + i)) return false;
        return load8(a + n - 8) == load8(b + n - 8);
    }
    if (n == 0) return true;
    return load_tail(a, n) == load_tail(b, n);
}

}  // namespace vitals::detail
