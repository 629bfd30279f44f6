// vitals — a small deflate encoder (RFC 1951) with gzip framing (RFC 1952) and CRC-32, so the
// exposer can answer `Accept-Encoding: gzip` without zlib.
//
// Built for one job: compressing an exposition that is already in memory. Every input is held
// whole, so the matcher indexes the input directly instead of sliding a window buffer. LZ77 over
// a 32 KiB window with hash chains (greedy matching, bounded chain walks, so time is linear in the
// input), then for each block of tokens the cheaper of fixed Huffman codes and dynamic codes built
// from the block's own symbol counts. Expositions are long runs of repeated names and labels with
// short numbers between them: the matches remove the names, and dynamic codes spend about four
// bits on each digit where fixed codes spend eight.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vitals::detail {

/// CRC-32 (the IEEE polynomial gzip and zlib use) of `data`, continuing from `crc` (0 to start).
inline std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0) noexcept {
    static constexpr auto table = [] {
        std::array<std::array<std::uint32_t, 256>, 4> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[0][i] = c;
        }
        // Slicing by four: four table lookups per four bytes instead of a dependent chain of four.
        for (std::uint32_t i = 0; i < 256; ++i)
            for (int s = 1; s < 4; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
        return t;
    }();
    crc = ~crc;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    std::size_t n = data.size();
    while (n >= 4) {
        crc ^= static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
               static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
        crc = table[3][crc & 0xFF] ^ table[2][(crc >> 8) & 0xFF] ^ table[1][(crc >> 16) & 0xFF] ^ table[0][crc >> 24];
        p += 4;
        n -= 4;
    }
    while (n-- > 0) crc = table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/// A deflate encoder whose working tables are kept between calls (reuse one per thread: its
/// tables are about 400 KiB). Not thread-safe.
class deflate_encoder {
public:
    /// Appends the raw deflate stream (RFC 1951) of `in` to `out`.
    void deflate(std::string_view in, std::string& out) {
        out_ = &out;
        bits_ = 0;
        nbits_ = 0;
        head_.assign(hash_size, -1);
        prev_.resize(window);
        tokens_.clear();
        const auto* data = reinterpret_cast<const unsigned char*>(in.data());
        const std::size_t n = in.size();
        std::size_t i = 0;
        while (i < n) {
            std::size_t best_len = 0, best_dist = 0;
            if (i + min_match <= n) {
                const std::uint32_t h = hash3(data + i);
                std::int64_t cand = head_[h];
                const std::size_t max_len = std::min<std::size_t>(max_match, n - i);
                for (int chain = 0; cand >= 0 && chain < max_chain; ++chain) {
                    const std::size_t c = static_cast<std::size_t>(cand);
                    if (i - c > window - 1) break;  // the chain only gets older from here
                    if (data[c + best_len] == data[i + best_len]) {
                        std::size_t len = 0;
                        while (len < max_len && data[c + len] == data[i + len]) ++len;
                        if (len > best_len) {
                            best_len = len;
                            best_dist = i - c;
                            if (len >= nice_match || len == max_len) break;
                        }
                    }
                    cand = prev_[c & (window - 1)];
                }
            }
            if (best_len >= min_match) {
                tokens_.push_back(token{static_cast<std::uint16_t>(best_len), static_cast<std::uint16_t>(best_dist)});
                const std::size_t end = i + best_len;
                for (; i < end; ++i) insert(data, i, n);
            } else {
                tokens_.push_back(token{data[i], 0});
                insert(data, i, n);
                ++i;
            }
            if (tokens_.size() >= block_tokens) flush_block(false);
        }
        flush_block(true);
        if (nbits_ > 0) out_->push_back(static_cast<char>(bits_ & 0xFF));
        out_ = nullptr;
    }

    /// Appends a gzip member (RFC 1952: header, deflate stream, CRC-32 and size) of `in` to `out`.
    void gzip(std::string_view in, std::string& out) {
        // No name, no time stamp (0 = none): the same exposition always compresses the same way.
        static constexpr char header[10] = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, '\x03'};
        out.append(header, sizeof header);
        deflate(in, out);
        const std::uint32_t crc = crc32(in);
        const auto size = static_cast<std::uint32_t>(in.size());  // ISIZE is the size modulo 2^32
        for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((crc >> (8 * k)) & 0xFF));
        for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((size >> (8 * k)) & 0xFF));
    }

private:
    static constexpr std::size_t window = 32768;
    static constexpr std::size_t hash_bits = 15;
    static constexpr std::size_t hash_size = std::size_t{1} << hash_bits;
    static constexpr std::size_t min_match = 3;
    static constexpr std::size_t max_match = 258;
    static constexpr std::size_t nice_match = 128;
    // Bounds the time per input byte; expositions find a long match in the first few candidates.
    static constexpr int max_chain = 24;
    static constexpr std::size_t block_tokens = 32768;

    // A literal (dist == 0, len is the byte) or a match.
    struct token {
        std::uint16_t len;
        std::uint16_t dist;
    };

    static constexpr std::uint16_t length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static constexpr std::uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static constexpr std::uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                                    33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                                    1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    static constexpr std::uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

    static std::uint32_t hash3(const unsigned char* p) noexcept {
        const std::uint32_t v = static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                                static_cast<std::uint32_t>(p[2]) << 16;
        return (v * 2654435761u) >> (32 - hash_bits);
    }
    void insert(const unsigned char* data, std::size_t i, std::size_t n) {
        if (i + min_match > n) return;
        const std::uint32_t h = hash3(data + i);
        prev_[i & (window - 1)] = head_[h];
        head_[h] = static_cast<std::int64_t>(i);
    }
    static int length_code(std::size_t len) noexcept {
        int c = 28;
        while (length_base[c] > len) --c;
        return c;
    }
    static int dist_code(std::size_t dist) noexcept {
        int c = 29;
        while (dist_base[c] > dist) --c;
        return c;
    }

    void put(std::uint32_t value, int count) {
        bits_ |= static_cast<std::uint64_t>(value) << nbits_;
        nbits_ += count;
        while (nbits_ >= 8) {
            out_->push_back(static_cast<char>(bits_ & 0xFF));
            bits_ >>= 8;
            nbits_ -= 8;
        }
    }
    // Huffman codes are defined most significant bit first, deflate's bit stream least first.
    void put_code(std::uint32_t code, int len) {
        std::uint32_t r = 0;
        for (int k = 0; k < len; ++k) r |= ((code >> k) & 1u) << (len - 1 - k);
        put(r, len);
    }

    // Code lengths of a Huffman code for `freq`, no longer than `limit`. At least two symbols get
    // a code, so the code is complete (gzip's decoder refuses incomplete codes).
    static std::vector<std::uint8_t> code_lengths(std::vector<std::uint32_t> freq, int limit) {
        int used = 0;
        for (auto f : freq) used += f != 0;
        for (std::size_t s = 0; used < 2 && s < freq.size(); ++s)
            if (freq[s] == 0) freq[s] = 1, ++used;
        std::vector<std::uint8_t> lengths(freq.size(), 0);
        for (;;) {
            // Nodes 0..n-1 are the symbols; parents follow. Two sorted queues (leaves, merged)
            // build the tree in O(n log n) without a heap.
            struct node {
                std::uint64_t weight;
                int parent;
            };
            std::vector<node> nodes;
            std::vector<int> leaves;
            for (std::size_t s = 0; s < freq.size(); ++s)
                if (freq[s] != 0) leaves.push_back(static_cast<int>(s));
            std::sort(leaves.begin(), leaves.end(),
                      [&](int a, int b) { return freq[a] != freq[b] ? freq[a] < freq[b] : a < b; });
            nodes.reserve(freq.size() * 2);
            for (std::size_t s = 0; s < freq.size(); ++s) nodes.push_back(node{freq[s], -1});
            std::vector<int> merged;
            std::size_t li = 0, mi = 0;
            auto take = [&]() -> int {
                if (li < leaves.size() && (mi >= merged.size() || nodes[leaves[li]].weight <= nodes[merged[mi]].weight))
                    return leaves[li++];
                return merged[mi++];
            };
            for (std::size_t k = 1; k < leaves.size(); ++k) {
                const int a = take(), b = take();
                nodes.push_back(node{nodes[a].weight + nodes[b].weight, -1});
                const int p = static_cast<int>(nodes.size()) - 1;
                nodes[a].parent = p;
                nodes[b].parent = p;
                merged.push_back(p);
            }
            int longest = 0;
            for (int s : leaves) {
                int d = 0;
                for (int x = s; nodes[x].parent >= 0; x = nodes[x].parent) ++d;
                lengths[s] = static_cast<std::uint8_t>(d);
                longest = std::max(longest, d);
            }
            if (longest <= limit) return lengths;
            // Too deep: flatten the counts (nonzero stays nonzero) and build again.
            for (auto& f : freq)
                if (f != 0) f = (f >> 1) | 1;
        }
    }

    static std::vector<std::uint16_t> canonical_codes(const std::vector<std::uint8_t>& lengths) {
        std::array<std::uint16_t, 16> count{}, next{};
        for (auto l : lengths)
            if (l) ++count[l];
        std::uint16_t code = 0;
        for (int b = 1; b < 16; ++b) {
            code = static_cast<std::uint16_t>((code + count[b - 1]) << 1);
            next[b] = code;
        }
        std::vector<std::uint16_t> codes(lengths.size(), 0);
        for (std::size_t s = 0; s < lengths.size(); ++s)
            if (lengths[s]) codes[s] = next[lengths[s]]++;
        return codes;
    }

    void flush_block(bool final) {
        std::vector<std::uint32_t> lit_freq(286, 0), dist_freq(30, 0);
        for (const token& t : tokens_) {
            if (t.dist == 0) {
                ++lit_freq[t.len];
            } else {
                const int lc = length_code(t.len), dc = dist_code(t.dist);
                ++lit_freq[257 + lc];
                ++dist_freq[dc];
            }
        }
        lit_freq[256] = 1;  // end of block

        const auto lit_len = code_lengths(lit_freq, 15);
        const auto dist_len = code_lengths(dist_freq, 15);
        std::size_t hlit = 286, hdist = 30;
        while (hlit > 257 && lit_len[hlit - 1] == 0) --hlit;
        while (hdist > 1 && dist_len[hdist - 1] == 0) --hdist;

        // The code lengths, run-length coded with symbols 16 (repeat previous), 17 and 18 (zeros).
        std::vector<std::uint8_t> all(lit_len.begin(), lit_len.begin() + static_cast<std::ptrdiff_t>(hlit));
        all.insert(all.end(), dist_len.begin(), dist_len.begin() + static_cast<std::ptrdiff_t>(hdist));
        struct rle {
            std::uint8_t sym, extra;
        };
        std::vector<rle> runs;
        for (std::size_t k = 0; k < all.size();) {
            std::size_t r = 1;
            while (k + r < all.size() && all[k + r] == all[k]) ++r;
            std::size_t left = r;
            if (all[k] == 0) {
                while (left >= 11) {
                    const std::size_t m = std::min<std::size_t>(left, 138);
                    runs.push_back({18, static_cast<std::uint8_t>(m - 11)});
                    left -= m;
                }
                if (left >= 3) {
                    runs.push_back({17, static_cast<std::uint8_t>(left - 3)});
                    left = 0;
                }
            } else {
                runs.push_back({all[k], 0});
                --left;
                while (left >= 3) {
                    const std::size_t m = std::min<std::size_t>(left, 6);
                    runs.push_back({16, static_cast<std::uint8_t>(m - 3)});
                    left -= m;
                }
            }
            for (; left > 0; --left) runs.push_back({all[k], 0});
            k += r;
        }
        std::vector<std::uint32_t> cl_freq(19, 0);
        for (const rle& x : runs) ++cl_freq[x.sym];
        const auto cl_len = code_lengths(cl_freq, 7);
        static constexpr std::uint8_t cl_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
        std::size_t hclen = 19;
        while (hclen > 4 && cl_len[cl_order[hclen - 1]] == 0) --hclen;

        // Cost of each choice in bits; the extra bits of matches are the same in both.
        std::uint64_t dynamic_bits = 5 + 5 + 4 + 3 * hclen;
        for (const rle& x : runs)
            dynamic_bits += cl_len[x.sym] + (x.sym == 16 ? 2 : x.sym == 17 ? 3 : x.sym == 18 ? 7 : 0);
        std::uint64_t fixed_bits = 0;
        for (std::size_t s = 0; s < 286; ++s) {
            dynamic_bits += static_cast<std::uint64_t>(lit_freq[s]) * lit_len[s];
            fixed_bits += static_cast<std::uint64_t>(lit_freq[s]) * fixed_lit_length(s);
        }
        for (std::size_t s = 0; s < 30; ++s) {
            dynamic_bits += static_cast<std::uint64_t>(dist_freq[s]) * dist_len[s];
            fixed_bits += static_cast<std::uint64_t>(dist_freq[s]) * 5;
        }

        put(final ? 1 : 0, 1);
        if (fixed_bits <= dynamic_bits) {
            put(1, 2);
            std::vector<std::uint8_t> fl(288), fd(30, 5);
            for (std::size_t s = 0; s < 288; ++s) fl[s] = static_cast<std::uint8_t>(fixed_lit_length(s));
            write_tokens(fl, canonical_codes(fl), fd, canonical_codes(fd));
        } else {
            put(2, 2);
            put(static_cast<std::uint32_t>(hlit - 257), 5);
            put(static_cast<std::uint32_t>(hdist - 1), 5);
            put(static_cast<std::uint32_t>(hclen - 4), 4);
            for (std::size_t k = 0; k < hclen; ++k) put(cl_len[cl_order[k]], 3);
            const auto cl_code = canonical_codes(cl_len);
            for (const rle& x : runs) {
                put_code(cl_code[x.sym], cl_len[x.sym]);
                if (x.sym == 16) put(x.extra, 2);
                if (x.sym == 17) put(x.extra, 3);
                if (x.sym == 18) put(x.extra, 7);
            }
            write_tokens(lit_len, canonical_codes(lit_len), dist_len, canonical_codes(dist_len));
        }
        tokens_.clear();
    }

    static int fixed_lit_length(std::size_t s) noexcept { return s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8; }

    void write_tokens(const std::vector<std::uint8_t>& ll, const std::vector<std::uint16_t>& lc,
                      const std::vector<std::uint8_t>& dl, const std::vector<std::uint16_t>& dc) {
        for (const token& t : tokens_) {
            if (t.dist == 0) {
                put_code(lc[t.len], ll[t.len]);
                continue;
            }
            const int l = length_code(t.len), d = dist_code(t.dist);
            put_code(lc[257 + l], ll[257 + l]);
            if (length_extra[l]) put(t.len - length_base[l], length_extra[l]);
            put_code(dc[d], dl[d]);
            if (dist_extra[d]) put(t.dist - dist_base[d], dist_extra[d]);
        }
        put_code(lc[256], ll[256]);
    }

    std::vector<std::int64_t> head_;
    std::vector<std::int64_t> prev_;
    std::vector<token> tokens_;
    std::string* out_ = nullptr;
    std::uint64_t bits_ = 0;
    int nbits_ = 0;
};

/// `in` as one gzip member, appended to `out` (a convenience for a single call; keep a
/// deflate_encoder to reuse its tables).
inline void gzip_compress(std::string_view in, std::string& out) {
    deflate_encoder e;
    e.gzip(in, out);
}

}  // namespace vitals::detail
