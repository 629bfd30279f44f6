// vitals — exemplar: one traced observation attached to a counter sample or a histogram bucket,
// so a dashboard can jump from an aggregate to the request that produced it.
//
// Formats only read exemplars (OpenMetrics text, protobuf); text 0.0.4 has no place for them and
// ignores them. Where exemplars come from (sampling, storage per series) is up to the metric.
#pragma once

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
