// vitals — metric and label names, checked at compile time where they are known then, and at run
// time (with a descriptive exception) where they come from outside.
#pragma once

#include <cstddef>
#include <type_traits>

#include "../base/config.hpp"
#include "../base/error.hpp"
#include "../base/string_ref.hpp"

namespace vitals {

/// A string literal usable as a template argument: `counter<"http_requests_total">`.
template <std::size_t N>
struct fixed_string {
    char chars[N]{};
    /// Implicit on purpose, so a literal can be written straight into a template argument list.
    consteval fixed_string(const char (&s)[N]) noexcept {
        for (std::size_t i = 0; i < N; ++i) chars[i] = s[i];
    }
    /// The text without the terminating NUL.
    [[nodiscard]] constexpr string_ref view() const noexcept { return {chars, N - 1}; }
    [[nodiscard]] static constexpr std::size_t size() noexcept { return N - 1; }
};

/// True when `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
[[nodiscard]] constexpr bool is_valid_metric_name(string_ref name) noexcept {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        const bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit))) return false;
    }
    return true;
}

/// True when `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*` and not starting with `__`
/// (names with that prefix are reserved for Prometheus' internal use).
[[nodiscard]] constexpr bool is_valid_label_name(string_ref name) noexcept {
    if (name.empty() || name.starts_with("__")) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        const bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit))) return false;
    }
    return true;
}

/// A compile-time name that is a valid metric name: `static_assert(vitals::metric_name<"up">)`.
template <fixed_string Name>
concept metric_name = is_valid_metric_name(Name.view());

namespace detail {
/// `Name` as the registry takes it, with the one readable error every compile-time
/// registration gives for an invalid name.
template <fixed_string Name>
consteval string_ref checked_metric_name() noexcept {
    static_assert(metric_name<Name>, "vitals: invalid metric name: must match [a-zA-Z_:][a-zA-Z0-9_:]*");
    return Name.view();
}
}  // namespace detail

/// Throws invalid_argument_error unless `name` is a valid metric name.
VITALS_COLD void check_metric_name(string_ref name);

/// Throws invalid_argument_error unless `name` is a valid label name.
VITALS_COLD void check_label_name(string_ref name);

/// A label name and value, as views: `{"trace_id", id}`.
struct label_pair {
    string_ref name;   ///< The label name.
    string_ref value;  ///< The label value.
};

/// A list of label names fixed at compile time: `labels<"method", "endpoint", "status">`.
/// Every name is checked when the type is used; a bad or repeated name is a compile error.
template <fixed_string... Names>
struct labels {
    /// Number of labels.
    static constexpr std::size_t size = sizeof...(Names);
    /// The names, in declaration order.
    static constexpr string_ref names[size == 0 ? 1 : size] = {Names.view()...};

    /// True when `name` is one of the labels.
    [[nodiscard]] static constexpr bool contains(string_ref name) noexcept {
        for (std::size_t i = 0; i < size; ++i)
            if (names[i] == name) return true;
        return false;
    }
    /// The position of label `name` (size when there is none).
    [[nodiscard]] static constexpr std::size_t index_of(string_ref name) noexcept {
        for (std::size_t i = 0; i < size; ++i)
            if (names[i] == name) return i;
        return size;
    }

private:
    static constexpr bool all_valid() noexcept {
        for (std::size_t i = 0; i < size; ++i)
            if (!is_valid_label_name(names[i])) return false;
        return true;
    }
    static constexpr bool all_unique() noexcept {
        for (std::size_t i = 0; i < size; ++i)
            for (std::size_t j = i + 1; j < size; ++j)
                if (names[i] == names[j]) return false;
        return true;
    }
    static_assert(all_valid(),
                  "vitals: invalid label name: label names must match [a-zA-Z_][a-zA-Z0-9_]* and must "
                  "not start with '__'");
    static_assert(all_unique(), "vitals: duplicate label name in labels<...>");
};

namespace detail {
template <class T>
struct is_labels : std::false_type {};
template <fixed_string... Names>
struct is_labels<labels<Names...>> : std::true_type {};
}  // namespace detail

/// The label-set argument of a family whose label names are given at run time, e.g.
/// `registry.counter("jobs_total", "Jobs.", {"queue", "result"})` returns a
/// `counter_family<dynamic_labels>&` (see core/label_names.hpp).
struct dynamic_labels {};

/// Satisfied by `labels<...>` types and by dynamic_labels.
template <class T>
concept label_set = detail::is_labels<T>::value || std::is_same_v<T, dynamic_labels>;

/// A label value together with its label's name, made by vitals::label: families take these in
/// place of positional values when values of one type are easy to swap.
template <fixed_string Name>
struct named_label_value {
    /// The label's name.
    static constexpr string_ref name = Name.view();
    /// The value (a view: the call it is passed to must not outlive what it points to).
    string_ref value;
};

/// Names a label value: `family.labels(vitals::label<"method">("GET"), vitals::label<"status">("200"))`.
/// The family checks at compile time that every one of its labels is named exactly once (in
/// any order) and that no other name is given; the values are then used in declaration order,
/// exactly as positional ones, at no extra cost.
template <fixed_string Name, class V>
    requires std::is_constructible_v<string_ref, const V&>
[[nodiscard]] constexpr named_label_value<Name> label(const V& value) noexcept {
    return {string_ref(value)};
}

namespace detail {
template <fixed_string... Given>
constexpr bool distinct_names() noexcept {
    constexpr string_ref names[] = {Given.view()..., string_ref()};
    for (std::size_t i = 0; i < sizeof...(Given); ++i)
        for (std::size_t j = i + 1; j < sizeof...(Given); ++j)
            if (names[i] == names[j]) return false;
    return true;
}
}  // namespace detail

#if VITALS_COLD_DEFINED
VITALS_COLD void check_metric_name(string_ref name) {
    if (!is_valid_metric_name(name))
        throw invalid_argument_error("vitals: invalid metric name '", name, "': must match [a-zA-Z_:][a-zA-Z0-9_:]*");
}
VITALS_COLD void check_label_name(string_ref name) {
    if (!is_valid_label_name(name))
        throw invalid_argument_error("vitals: invalid label name '", name,
                                     "': must match [a-zA-Z_][a-zA-Z0-9_]* and not start with '__'");
}
#endif  // VITALS_COLD_DEFINED

}  // namespace vitals
