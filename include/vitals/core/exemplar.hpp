// vitals — exemplar: one traced observation attached to a counter sample or a histogram bucket,
// so a dashboard can jump from an aggregate to the request that produced it.
//
// Formats only read exemplars (OpenMetrics text, protobuf); text 0.0.4 has no place for them and
// ignores them. Where exemplars come from (sampling, storage per series) is up to the metric.
#pragma once

#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/text.hpp"
#include "names.hpp"

namespace vitals {

/// An exemplar: its own labels (e.g. `trace_id`), the observed value and, optionally, when it was
/// observed. Labels are kept twice because the text formats want them escaped and protobuf wants
/// them raw; building both once here keeps renders free of escaping work.
struct exemplar {
    std::string label_block;                                ///< `trace_id="abc"`, escaped, no braces.
    std::vector<std::pair<std::string, std::string>> labels;  ///< The same pairs, raw.
    double value = 0;                                       ///< The observed value.
    std::optional<double> timestamp;                        ///< Seconds since the Unix epoch.

    /// Builds an exemplar from raw label pairs; names are checked (invalid_argument_error) and
    /// values repaired to valid UTF-8, as consumers reject anything else.
    static exemplar make(std::vector<std::pair<std::string, std::string>> pairs, double value,
                         std::optional<double> timestamp = std::nullopt) {
        exemplar e;
        for (auto& [k, v] : pairs) {
            check_label_name(k);
            v = detail::to_valid_utf8(v);
            if (!e.label_block.empty()) e.label_block += ',';
            e.label_block += k;
            e.label_block += "=\"";
            detail::append_escaped_label_value(e.label_block, v);
            e.label_block += '"';
        }
        e.labels = std::move(pairs);
        e.value = value;
        e.timestamp = timestamp;
        return e;
    }
};

}  // namespace vitals

namespace vitals {

/// The labels of an exemplar to attach to an update, checked and encoded once:
/// `vitals::exemplar_labels trace{{"trace_id", id}};` then `counter.inc(1, trace)` or
/// `histogram.observe(0.25, trace)`. Throws invalid_argument_error for a bad label name or when
/// the names and values together exceed 128 code points (the OpenMetrics limit). Values are
/// repaired to valid UTF-8. Holds its bytes inline: building one allocates nothing.
class exemplar_labels {
public:
    /// The most code points the names and values of one exemplar may have together.
    static constexpr std::size_t max_code_points = 128;
    /// The most bytes an encoded label set takes: 4 bytes per code point at most, and 4 bytes of
    /// lengths per pair (a pair has at least one code point, its name).
    static constexpr std::size_t max_encoded_bytes = 8 * max_code_points;

    exemplar_labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
        std::size_t runes = 0;
        for (const auto& [k, v] : pairs) {
            check_label_name(k);
            const std::string fixed = detail::to_valid_utf8(v);
            runes += k.size();
            for (unsigned char c : fixed) runes += (c & 0xC0) != 0x80;
            if (runes > max_code_points)
                throw invalid_argument_error("vitals: exemplar labels exceed " + std::to_string(max_code_points) +
                                             " code points (names and values together)");
            put(k);
            put(fixed);
        }
    }

    /// The encoded label set (pairs of 2-byte length and bytes).
    [[nodiscard]] std::string_view encoded() const noexcept { return {bytes_, size_}; }

private:
    void put(std::string_view s) {
        const auto n = static_cast<std::uint16_t>(s.size());
        std::memcpy(bytes_ + size_, &n, 2);
        std::memcpy(bytes_ + size_ + 2, s.data(), s.size());
        size_ += 2 + s.size();
    }
    char bytes_[max_encoded_bytes];
    std::size_t size_ = 0;
};

}  // namespace vitals
