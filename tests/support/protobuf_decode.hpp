// Test support: a small, independent protobuf wire-format decoder, so the protobuf exposition is
// checked against the wire format itself rather than against the encoder's own helpers.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vitals_test::pb {

/// One field as found on the wire.
struct field {
    std::uint32_t number = 0;
    std::uint32_t wire = 0;    // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
    std::uint64_t varint = 0;  // wire 0, and the raw bits of wire 1 / 5
    std::string bytes;         // wire 2
    double as_double() const {
        double d;
        std::memcpy(&d, &varint, 8);
        return d;
    }
    std::int64_t as_sint() const { return static_cast<std::int64_t>((varint >> 1) ^ (~(varint & 1) + 1)); }
};

inline std::uint64_t read_varint(std::string_view& in) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (in.empty()) throw std::runtime_error("truncated varint");
        const auto b = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        v |= std::uint64_t{b & 0x7Fu} << shift;
        if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("varint too long");
}

/// Decodes one message's fields; throws on malformed input.
inline std::vector<field> decode(std::string_view in) {
    std::vector<field> out;
    while (!in.empty()) {
        field f;
        const std::uint64_t key = read_varint(in);
        f.number = static_cast<std::uint32_t>(key >> 3);
        f.wire = static_cast<std::uint32_t>(key & 7);
        if (f.number == 0) throw std::runtime_error("field number 0");
        switch (f.wire) {
            case 0:
                f.varint = read_varint(in);
                break;
            case 1:
                if (in.size() < 8) throw std::runtime_error("truncated fixed64");
                for (int i = 0; i < 8; ++i) f.varint |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
                in.remove_prefix(8);
                break;
            case 2: {
                const std::uint64_t n = read_varint(in);
                if (n > in.size()) throw std::runtime_error("truncated bytes");
                f.bytes = std::string(in.substr(0, n));
                in.remove_prefix(n);
                break;
            }
            case 5:
                if (in.size() < 4) throw std::runtime_error("truncated fixed32");
                for (int i = 0; i < 4; ++i) f.varint |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
                in.remove_prefix(4);
                break;
            default:
                throw std::runtime_error("bad wire type");
        }
        out.push_back(std::move(f));
    }
    return out;
}

/// Splits a length-delimited stream into its messages.
inline std::vector<std::string> split_delimited(std::string_view in) {
    std::vector<std::string> out;
    while (!in.empty()) {
        const std::uint64_t n = read_varint(in);
        if (n > in.size()) throw std::runtime_error("truncated message");
        out.emplace_back(in.substr(0, n));
        in.remove_prefix(n);
    }
    return out;
}

/// All fields numbered `n`.
inline std::vector<const field*> all(const std::vector<field>& fs, std::uint32_t n) {
    std::vector<const field*> out;
    for (const auto& f : fs)
        if (f.number == n) out.push_back(&f);
    return out;
}
/// The one field numbered `n` (throws when absent).
inline const field& one(const std::vector<field>& fs, std::uint32_t n) {
    for (const auto& f : fs)
        if (f.number == n) return f;
    throw std::runtime_error("missing field " + std::to_string(n));
}
inline bool has(const std::vector<field>& fs, std::uint32_t n) { return !all(fs, n).empty(); }

/// Packed varints (repeated scalar fields).
inline std::vector<std::uint64_t> packed(std::string_view in) {
    std::vector<std::uint64_t> out;
    while (!in.empty()) out.push_back(read_varint(in));
    return out;
}

// A decoded io.prometheus.client.MetricFamily, only as deep as the tests need.
struct metric {
    std::vector<std::pair<std::string, std::string>> labels;
    std::uint32_t kind = 0;  // Metric field: 2 gauge, 3 counter, 4 summary, 5 untyped, 7 histogram
    std::vector<field> body;
    std::string label(const std::string& name) const {
        for (const auto& [k, v] : labels)
            if (k == name) return v;
        return "<none>";
    }
};
struct family {
    std::string name, help, unit;
    std::uint64_t type = 0;
    std::vector<metric> metrics;
};

inline std::vector<family> decode_families(std::string_view stream) {
    std::vector<family> out;
    for (const auto& msg : split_delimited(stream)) {
        family f;
        for (const auto& fld : decode(msg)) {
            if (fld.number == 1)
                f.name = fld.bytes;
            else if (fld.number == 2)
                f.help = fld.bytes;
            else if (fld.number == 3)
                f.type = fld.varint;
            else if (fld.number == 5)
                f.unit = fld.bytes;
            else if (fld.number == 4) {
                metric m;
                for (const auto& mf : decode(fld.bytes)) {
                    if (mf.number == 1) {
                        const auto lp = decode(mf.bytes);
                        m.labels.emplace_back(has(lp, 1) ? one(lp, 1).bytes : "", has(lp, 2) ? one(lp, 2).bytes : "");
                    } else {
                        m.kind = mf.number;
                        m.body = decode(mf.bytes);
                    }
                }
                f.metrics.push_back(std::move(m));
            }
        }
        out.push_back(std::move(f));
    }
    return out;
}

inline const family& find(const std::vector<family>& fs, const std::string& name) {
    for (const auto& f : fs)
        if (f.name == name) return f;
    throw std::runtime_error("no family " + name);
}

}  // namespace vitals_test::pb
