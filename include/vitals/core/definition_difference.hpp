// vitals — how two definitions of one metric differ, in the words registration errors use.
//
// A registration that clashes with an earlier one says which field differs and both values, so
// that the mistake (two modules declaring one name with other buckets, say) is found from the
// message alone.
#pragma once

#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "../base/text_buffer.hpp"
#include "../detail/text.hpp"
#include "series.hpp"

namespace vitals::detail {

/// A metric type as registration errors name it.
constexpr string_ref metric_type_name(metric_type t) noexcept {
    switch (t) {
        case metric_type::counter:
            return "counter";
        case metric_type::gauge:
            return "gauge";
        case metric_type::histogram:
            return "histogram";
        case metric_type::summary:
            return "summary";
        case metric_type::info:
            return "info";
        case metric_type::stateset:
            return "stateset";
        case metric_type::unknown:
            break;
    }
    return "untyped";
}

/// "<what> <registered> (registered) vs <new> (new)": what a registration error says of the
/// field in which two definitions differ.
inline text_buffer definition_field(string_ref what, string_ref registered, string_ref given) {
    // One reserve, then whole parts: GCC 12 at -O2 otherwise reports a false -Wstringop-overflow
    // for a one-character append right after the first, in users' translation units.
    const string_ref parts[] = {what, " ", registered, " (registered) vs ", given, " (new)"};
    std::size_t n = 0;
    for (string_ref p : parts) n += p.size();
    text_buffer out;
    out.reserve(n);
    for (string_ref p : parts) out += p;
    return out;
}

inline bool same_names(span<const string_ref> a, span<const string_ref> b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

/// `[method, path]`; `[]` for none.
inline text_buffer name_list(span<const string_ref> names) {
    text_buffer out("[");
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out += ", ";
        out += names[i];
    }
    out += "]";
    return out;
}

/// `[0.005, 0.01, +Inf]`: numbers in their shortest round-trip form.
inline text_buffer number_list(span<const double> values) {
    text_buffer out("[");
    char buf[max_double_chars];
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out += ", ";
        out.append(buf, format_double(buf, values[i]));
    }
    out += "]";
    return out;
}

/// A number in its shortest round-trip form.
inline text_buffer number_text(double v) {
    char buf[max_double_chars];
    return text_buffer(string_ref(buf, format_double(buf, v)));
}

/// The field named `what` when `a` and `b` differ in it (numbers), else nothing.
inline text_buffer number_field(string_ref what, double a, double b) {
    if (a == b) return {};
    return definition_field(what, number_text(a).view(), number_text(b).view());
}

/// `v` in double quotes (help texts).
inline text_buffer quoted(string_ref v) {
    // One block of the final size, filled by length: GCC 12 at -O2 cannot follow the growth of
    // appends after a one-character start and warns about a memcpy of SIZE_MAX bytes.
    text_buffer out;
    out.reserve(v.size() + 2);
    out.append("\"", 1);
    out.append(v.data(), v.size());
    out.append("\"", 1);
    return out;
}

}  // namespace vitals::detail
