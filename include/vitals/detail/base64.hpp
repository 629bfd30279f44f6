// Base64 (RFC 4648, section 4: the standard alphabet, with padding), as SCRAM
// authentication exchanges salts, proofs and signatures and HTTP basic auth
// sends credentials; and its URL-safe variant (section 5), which the
// Pushgateway wants for grouping-key values that a path cannot carry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vitals::detail {

/// `data` in base64 over `alphabet` (64 characters), with '=' padding.
inline std::string base64_encode_with(std::string_view data, const char* alphabet) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(data[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(data[i + 1])} << 8) |
                                std::uint32_t{static_cast<unsigned char>(data[i + 2])};
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        out.push_back(alphabet[v & 63]);
    }
    const std::size_t rest = data.size() - i;
    if (rest > 0) {
        std::uint32_t v = std::uint32_t{static_cast<unsigned char>(data[i])} << 16;
        if (rest == 2) v |= std::uint32_t{static_cast<unsigned char>(data[i + 1])} << 8;
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(rest == 2 ? alphabet[(v >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

/// `data` in base64 with '=' padding.
inline std::string base64_encode(std::string_view data) {
    return base64_encode_with(data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
}

/// `data` in base64url (RFC 4648 section 5: '-' and '_' for '+' and '/'), with '=' padding.
inline std::string base64url_encode(std::string_view data) {
    return base64_encode_with(data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

/// Decodes padded base64; nullopt for anything that is not canonical base64
/// (wrong length, characters outside the alphabet, misplaced padding, or
/// non-zero bits in the unused part of the last group).
inline std::optional<std::string> base64_decode(std::string_view text) {
    const auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const std::size_t pad = last ? (text[i + 3] == '=' ? (text[i + 2] == '=' ? 2 : 1) : 0) : 0;
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            int d = 0;
            if (j < 4 - pad) {
                d = value(text[i + j]);
                if (d < 0) return std::nullopt;
            }
            v = (v << 6) | static_cast<std::uint32_t>(d);
        }
        out.push_back(static_cast<char>((v >> 16) & 0xFF));
        if (pad == 2) {
            if ((v & 0xFFFF) != 0) return std::nullopt;
            break;
        }
        out.push_back(static_cast<char>((v >> 8) & 0xFF));
        if (pad == 1) {
            if ((v & 0xFF) != 0) return std::nullopt;
            break;
        }
        out.push_back(static_cast<char>(v & 0xFF));
    }
    return out;
}

}  // namespace vitals::detail
