// vitals — the hash used to find a series by its label values.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

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

/// Hashes one value eight bytes at a time and folds it into `h`; the length goes in too, so
/// ("ab","c") and ("a","bc") differ.
inline std::uint64_t hash_append(std::uint64_t h, std::string_view v) noexcept {
    constexpr std::uint64_t k = 0x9E3779B97F4A7C15ULL;
    h = (h ^ v.size()) * k;
    std::size_t i = 0;
    for (; i + 8 <= v.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, v.data() + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    if (i < v.size()) {
        std::uint64_t w = 0;
        std::memcpy(&w, v.data() + i, v.size() - i);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    return h;
}

}  // namespace vitals::detail
