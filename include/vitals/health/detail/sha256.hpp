// SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and PBKDF2-HMAC-SHA-256
// (RFC 8018), for the health checks that authenticate to a server (SCRAM).
//
// Plain, portable code: no dependency beyond the standard library, no
// assumption about byte order. Not constant-time with respect to anything but
// its input lengths, which is what a client proving a password it already
// holds needs; it is not meant for general-purpose cryptography.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vitals::health::detail {

/// Incremental SHA-256: update() any number of times, then finish() once.
class sha256 {
public:
    /// Size of a digest in bytes.
    static constexpr std::size_t digest_size = 32;
    /// Size of the compression function's input block in bytes.
    static constexpr std::size_t block_size = 64;
    /// A finished digest.
    using digest = std::array<std::uint8_t, digest_size>;

    /// Appends `data` to the message.
    void update(std::string_view data) noexcept {
        const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
        std::size_t n = data.size();
        total_ += n;
        if (used_ > 0) {
            const std::size_t take = n < block_size - used_ ? n : block_size - used_;
            for (std::size_t i = 0; i < take; ++i) block_[used_ + i] = p[i];
            used_ += take;
            p += take;
            n -= take;
            if (used_ < block_size) return;
            compress(block_.data());
            used_ = 0;
        }
        for (; n >= block_size; n -= block_size, p += block_size) compress(p);
        for (std::size_t i = 0; i < n; ++i) block_[i] = p[i];
        used_ = n;
    }

    /// Pads the message and returns its digest. The object must not be used
    /// again afterwards (except by assigning a fresh one).
    digest finish() noexcept {
        const std::uint64_t bits = total_ * 8;
        block_[used_++] = 0x80;
        if (used_ > block_size - 8) {
            while (used_ < block_size) block_[used_++] = 0;
            compress(block_.data());
            used_ = 0;
        }
        while (used_ < block_size - 8) block_[used_++] = 0;
        for (int i = 7; i >= 0; --i) block_[used_++] = static_cast<std::uint8_t>(bits >> (8 * i));
        compress(block_.data());
        digest out{};
        for (std::size_t i = 0; i < 8; ++i) {
            out[4 * i] = static_cast<std::uint8_t>(state_[i] >> 24);
            out[4 * i + 1] = static_cast<std::uint8_t>(state_[i] >> 16);
            out[4 * i + 2] = static_cast<std::uint8_t>(state_[i] >> 8);
            out[4 * i + 3] = static_cast<std::uint8_t>(state_[i]);
        }
        return out;
    }

private:
    static constexpr std::uint32_t rotr(std::uint32_t x, int n) noexcept { return (x >> n) | (x << (32 - n)); }

    void compress(const std::uint8_t* p) noexcept {
        // First 32 bits of the fractional parts of the cube roots of the first
        // 64 primes (FIPS 180-4, 4.2.2).
        static constexpr std::uint32_t k[64] = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
            0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
            0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
            0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
            0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
            0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
            0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
        };
        std::uint32_t w[64];
        for (std::size_t t = 0; t < 16; ++t)
            w[t] = (std::uint32_t{p[4 * t]} << 24) | (std::uint32_t{p[4 * t + 1]} << 16) |
                   (std::uint32_t{p[4 * t + 2]} << 8) | std::uint32_t{p[4 * t + 3]};
        for (std::size_t t = 16; t < 64; ++t) {
            const std::uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
            const std::uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
        std::uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
        for (std::size_t t = 0; t < 64; ++t) {
            const std::uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[t] + w[t];
            const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
        state_[4] += e;
        state_[5] += f;
        state_[6] += g;
        state_[7] += h;
    }

    // First 32 bits of the fractional parts of the square roots of the first
    // 8 primes (FIPS 180-4, 5.3.3).
    std::array<std::uint32_t, 8> state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::array<std::uint8_t, block_size> block_{};
    std::size_t used_ = 0;
    std::uint64_t total_ = 0;
};

/// A digest's bytes as a string_view (valid while `d` lives).
inline std::string_view as_bytes(const sha256::digest& d) noexcept {
    return {reinterpret_cast<const char*>(d.data()), d.size()};
}

/// SHA-256 of `data` in one call.
inline sha256::digest sha256_of(std::string_view data) noexcept {
    sha256 h;
    h.update(data);
    return h.finish();
}

/// HMAC-SHA-256 with the key processed once, so that many MACs under the same
/// key (PBKDF2's iterations) cost two compressions each.
class hmac_sha256 {
public:
    /// Prepares the inner and outer hash states for `key` (any length).
    explicit hmac_sha256(std::string_view key) noexcept {
        std::array<std::uint8_t, sha256::block_size> k{};
        if (key.size() > sha256::block_size) {
            const auto d = sha256_of(key);
            for (std::size_t i = 0; i < d.size(); ++i) k[i] = d[i];
        } else {
            for (std::size_t i = 0; i < key.size(); ++i) k[i] = static_cast<std::uint8_t>(key[i]);
        }
        std::array<char, sha256::block_size> pad{};
        for (std::size_t i = 0; i < pad.size(); ++i) pad[i] = static_cast<char>(k[i] ^ 0x36);
        inner_.update({pad.data(), pad.size()});
        for (std::size_t i = 0; i < pad.size(); ++i) pad[i] = static_cast<char>(k[i] ^ 0x5c);
        outer_.update({pad.data(), pad.size()});
    }

    /// The MAC of `message` under this key.
    [[nodiscard]] sha256::digest mac(std::string_view message) const noexcept {
        sha256 in = inner_;
        in.update(message);
        const auto inner_digest = in.finish();
        sha256 out = outer_;
        out.update(as_bytes(inner_digest));
        return out.finish();
    }

private:
    sha256 inner_;
    sha256 outer_;
};

/// HMAC-SHA-256 of `message` under `key` in one call.
inline sha256::digest hmac_sha256_of(std::string_view key, std::string_view message) noexcept {
    return hmac_sha256(key).mac(message);
}

/// PBKDF2 with HMAC-SHA-256 as the PRF (RFC 8018, 5.2): `length` bytes
/// derived from `password` and `salt` with `iterations` rounds (at least 1).
/// `keep_going()` is consulted every 1024 rounds; when it returns false the
/// derivation stops and the result is empty, which lets a caller bound the
/// time an iteration count chosen by someone else can cost. Also empty for
/// zero iterations or a zero length.
template <class KeepGoing>
std::string pbkdf2_hmac_sha256(std::string_view password, std::string_view salt, std::uint32_t iterations,
                               std::size_t length, KeepGoing&& keep_going) {
    std::string out;
    if (iterations == 0 || length == 0) return out;
    const hmac_sha256 prf(password);
    std::string first(salt);
    first.append(4, '\0');
    for (std::uint32_t block = 1; out.size() < length; ++block) {
        for (std::size_t i = 0; i < 4; ++i) first[salt.size() + i] = static_cast<char>((block >> (8 * (3 - i))) & 0xFF);
        auto u = prf.mac(first);
        auto t = u;
        for (std::uint32_t round = 1; round < iterations; ++round) {
            if (round % 1024 == 0 && !keep_going()) return {};
            u = prf.mac(as_bytes(u));
            for (std::size_t i = 0; i < t.size(); ++i) t[i] ^= u[i];
        }
        const std::size_t take = length - out.size() < t.size() ? length - out.size() : t.size();
        out.append(reinterpret_cast<const char*>(t.data()), take);
    }
    return out;
}

/// PBKDF2-HMAC-SHA-256 that always runs to completion.
inline std::string pbkdf2_hmac_sha256(std::string_view password, std::string_view salt, std::uint32_t iterations,
                                      std::size_t length) {
    return pbkdf2_hmac_sha256(password, salt, iterations, length, [] { return true; });
}

}  // namespace vitals::health::detail
