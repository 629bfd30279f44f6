// MD5 (RFC 1321), for PostgreSQL's legacy "md5" password authentication,
// which the server may still ask for. MD5 is broken as a collision-resistant
// hash; it is here only because that protocol is defined in terms of it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vitals::health::detail {

/// Incremental MD5: update() any number of times, then finish() once.
class md5 {
public:
    /// Size of a digest in bytes.
    static constexpr std::size_t digest_size = 16;
    /// A finished digest.
    using digest = std::array<std::uint8_t, digest_size>;

    /// Appends `data` to the message.
    void update(std::string_view data) noexcept {
        for (char c : data) {
            block_[used_++] = static_cast<std::uint8_t>(c);
            if (used_ == block_.size()) {
                compress();
                used_ = 0;
            }
        }
        total_ += data.size();
    }

    /// Pads the message and returns its digest. The object must not be used
    /// again afterwards.
    digest finish() noexcept {
        const std::uint64_t bits = total_ * 8;
        block_[used_++] = 0x80;
        if (used_ > block_.size() - 8) {
            while (used_ < block_.size()) block_[used_++] = 0;
            compress();
            used_ = 0;
        }
        while (used_ < block_.size() - 8) block_[used_++] = 0;
        for (int i = 0; i < 8; ++i) block_[used_++] = static_cast<std::uint8_t>(bits >> (8 * i));
        compress();
        digest out{};
        for (std::size_t i = 0; i < 4; ++i)
            for (std::size_t j = 0; j < 4; ++j) out[4 * i + j] = static_cast<std::uint8_t>(state_[i] >> (8 * j));
        return out;
    }

private:
    static constexpr std::uint32_t rotl(std::uint32_t x, unsigned n) noexcept { return (x << n) | (x >> (32 - n)); }

    void compress() noexcept {
        // floor(2^32 * |sin(i + 1)|) (RFC 1321, 3.4).
        static constexpr std::uint32_t t[64] = {
            0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
            0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
            0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
            0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
            0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
            0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
            0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
            0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
        };
        // Per-round rotation amounts, four per round.
        static constexpr unsigned s[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
        std::uint32_t x[16];
        for (std::size_t i = 0; i < 16; ++i)
            x[i] = std::uint32_t{block_[4 * i]} | (std::uint32_t{block_[4 * i + 1]} << 8) |
                   (std::uint32_t{block_[4 * i + 2]} << 16) | (std::uint32_t{block_[4 * i + 3]} << 24);
        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
        for (std::size_t i = 0; i < 64; ++i) {
            const std::size_t round = i / 16;
            std::uint32_t f = 0;
            std::size_t g = 0;
            switch (round) {
                case 0:
                    f = (b & c) | (~b & d);
                    g = i;
                    break;
                case 1:
                    f = (b & d) | (c & ~d);
                    g = (5 * i + 1) % 16;
                    break;
                case 2:
                    f = b ^ c ^ d;
                    g = (3 * i + 5) % 16;
                    break;
                default:
                    f = c ^ (b | ~d);
                    g = (7 * i) % 16;
                    break;
            }
            const std::uint32_t next = b + rotl(a + f + x[g] + t[i], s[round][i % 4]);
            a = d;
            d = c;
            c = b;
            b = next;
        }
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
    }

    std::array<std::uint32_t, 4> state_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    std::array<std::uint8_t, 64> block_{};
    std::size_t used_ = 0;
    std::uint64_t total_ = 0;
};

/// MD5 of `data` as 32 lowercase hex digits, the form PostgreSQL's md5
/// authentication exchanges.
inline std::string md5_hex(std::string_view data) {
    md5 h;
    h.update(data);
    const auto d = h.finish();
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * d.size());
    for (auto b : d) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0xF]);
    }
    return out;
}

}  // namespace vitals::health::detail
