// vitals — exemplar: one traced observation attached to a counter sample or a histogram bucket,
// so a dashboard can jump from an aggregate to the request that produced it.
//
// Formats only read exemplars (OpenMetrics text, protobuf); text 0.0.4 has no place for them and
// ignores them. Where exemplars come from (sampling, storage per series) is up to the metric.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "../detail/math.hpp"
#include "../detail/escape.hpp"
#include "names.hpp"
#include "../base/text_buffer.hpp"

namespace vitals {

namespace detail {
struct exemplar_slot;
}

/// An exemplar: its own labels (e.g. `trace_id`), the observed value and, optionally, when it was
/// observed. Labels are kept twice because the text formats want them escaped and protobuf wants
/// them raw; building both once here keeps renders free of escaping work.
struct exemplar {
    text_buffer label_block;  ///< `trace_id="abc"`, escaped, no braces.
    double value = 0;         ///< The observed value.
    /// Seconds since the Unix epoch; NaN when the exemplar has no timestamp.
    double timestamp = detail::quiet_nan;

    /// True when the exemplar carries a timestamp.
    [[nodiscard]] bool has_timestamp() const noexcept { return !detail::is_nan(timestamp); }

    /// Calls f(string_ref name, string_ref value) for each label, raw, in order.
    template <class F>
    void for_each_label(F&& f) const {
        for (std::size_t i = 0; i + 2 * sizeof(std::uint32_t) <= raw_.size();) {
            const string_ref k = take(i);
            const string_ref v = take(i);
            f(k, v);
        }
    }

    /// Adds a label (name checked, value repaired to valid UTF-8): the way a format-independent
    /// reader rebuilds an exemplar. Throws invalid_argument_error for a bad name.
    void add_label(string_ref name, string_ref value) {
        check_label_name(name);
        add_checked_label(name, detail::to_valid_utf8(value));
    }

    /// Removes the labels (value and timestamp are left alone).
    void clear_labels() noexcept {
        label_block.clear();
        raw_.clear();
    }

    /// Builds an exemplar from raw label pairs; names are checked (invalid_argument_error) and
    /// values repaired to valid UTF-8, as consumers reject anything else. `timestamp`: seconds
    /// since the Unix epoch, or NaN (the default) for none.
    static exemplar make(std::initializer_list<label_pair> pairs, double value, double timestamp = detail::quiet_nan) {
        exemplar e;
        for (const auto& [k, v] : pairs) e.add_label(k, v);
        e.value = value;
        e.timestamp = timestamp;
        return e;
    }

private:
    friend struct detail::exemplar_slot;
    // For labels already checked and valid UTF-8.
    void add_checked_label(string_ref k, string_ref v) {
        if (!label_block.empty()) label_block += ',';
        label_block += k;
        label_block += "=\"";
        detail::append_escaped_label_value(label_block, v);
        label_block += '"';
        put(k);
        put(v);
    }
    void put(string_ref s) {
        const auto n = static_cast<std::uint32_t>(s.size());
        char len[sizeof n];
        std::memcpy(len, &n, sizeof n);
        raw_.append(len, sizeof n);
        raw_ += s;
    }
    string_ref take(std::size_t& i) const noexcept {
        std::uint32_t n;
        std::memcpy(&n, raw_.data() + i, sizeof n);
        const string_ref s(raw_.data() + i + sizeof n, n);
        i += sizeof n + n;
        return s;
    }

    text_buffer raw_;  // each label's name and value as a 4-byte length and the bytes
};

}  // namespace vitals

namespace vitals {

/// The labels of an exemplar to attach to an update, checked and encoded once:
/// `vitals::exemplar_labels trace{{"trace_id", id}};` then `counter.inc(1, trace)` or
/// `histogram.observe(0.25, trace)`. Throws invalid_argument_error for a bad label name, a value
/// with a NUL byte or a '}' (consumers reject the scrape: see docs/formats.md), or when the names
/// and values together exceed 128 code points (the OpenMetrics limit). Values are repaired to
/// valid UTF-8. Holds its bytes inline: building one allocates nothing.
class exemplar_labels {
public:
    /// The most code points the names and values of one exemplar may have together.
    static constexpr std::size_t max_code_points = 128;
    /// The most bytes an encoded label set takes: 4 bytes per code point at most, and 4 bytes of
    /// lengths per pair (a pair has at least one code point, its name).
    static constexpr std::size_t max_encoded_bytes = 8 * max_code_points;

    exemplar_labels(std::initializer_list<label_pair> pairs) {
        std::size_t runes = 0;
        for (const auto& [k, v] : pairs) {
            check_label_name(k);
            for (char c : v) {
                if (c == '\0')
                    // Prometheus fails the whole OpenMetrics scrape on one (target down).
                    throw invalid_argument_error("vitals: exemplar label values must not contain NUL bytes");
                if (c == '}')
                    // The Python client's OpenMetrics parser ends an exemplar's labels at the first
                    // '}', quoted or not, and rejects the whole scrape.
                    throw invalid_argument_error("vitals: exemplar label values must not contain '}'");
            }
            const text_buffer fixed = detail::to_valid_utf8(v);
            runes += k.size();
            for (std::size_t i = 0; i < fixed.size(); ++i)
                runes += (static_cast<unsigned char>(fixed[i]) & 0xC0) != 0x80;
            if (runes > max_code_points)
                throw invalid_argument_error("vitals: exemplar labels exceed ", detail::decimal(max_code_points),
                                             " code points (names and values together)");
            put(k);
            put(fixed);
        }
    }

    /// The encoded label set (pairs of 2-byte length and bytes).
    [[nodiscard]] string_ref encoded() const noexcept { return {bytes_, size_}; }

private:
    void put(string_ref s) {
        const auto n = static_cast<std::uint16_t>(s.size());
        std::memcpy(bytes_ + size_, &n, 2);
        std::memcpy(bytes_ + size_ + 2, s.data(), s.size());
        size_ += 2 + s.size();
    }
    char bytes_[max_encoded_bytes];
    std::size_t size_ = 0;
};

}  // namespace vitals
