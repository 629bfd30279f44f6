// vitals — label names known only at run time, and where a family keeps its label names.
//
// Exporters, bridges and plugin systems read metric and label names from configuration, so a
// family can also be declared with `dynamic_labels` and a list of names given at registration.
// Everything past registration is the same code as for labels<...>: the same lock-free lookup
// and the same series cap. What the compiler checks for labels<...> (valid, distinct names; the
// number of values) is checked at run time instead, with an invalid_argument_error that says
// what is wrong.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <type_traits>

#include "../base/error.hpp"
#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "../base/text_buffer.hpp"
#include "../detail/pod_vector.hpp"
#include "definition_difference.hpp"
#include "names.hpp"

namespace vitals {

/// A list of strings given at run time: `{"method", "path"}`, a span of views, or any range of
/// strings (a std::vector<std::string> from a configuration file). It only views them; whatever
/// it is passed to copies what it keeps.
class string_list {
public:
    string_list(std::initializer_list<string_ref> items) { views_.append(items.begin(), items.size()); }
    string_list(span<const string_ref> items) { views_.append(items.data(), items.size()); }
    template <class Range>
        requires(!std::is_convertible_v<const Range&, span<const string_ref>>) && requires(const Range& r) {
            string_ref(*r.begin());
            r.begin() != r.end();
        }
    string_list(const Range& items) {
        for (const auto& n : items) views_.push_back(string_ref(n));
    }

    /// The strings, in the order given.
    [[nodiscard]] span<const string_ref> view() const noexcept { return {views_.data(), views_.size()}; }

private:
    detail::pod_vector<string_ref> views_;
};

/// Label names given at run time (see dynamic_labels).
using label_names = string_list;
/// Label values given as a run-time list (collectors, dynamic_labels families).
using label_values = string_list;

namespace detail {

template <class T>
inline constexpr bool is_dynamic_labels = std::is_same_v<T, dynamic_labels>;

/// True when `name` is one of the compile-time labels; false for dynamic_labels (whose names are
/// checked when the family is registered).
template <class Labels>
constexpr bool labels_contain(string_ref name) noexcept {
    if constexpr (is_dynamic_labels<Labels>)
        return false;
    else
        return Labels::contains(name);
}

/// Where a family's label names are: in the labels<...> type (nothing to keep), or, for
/// dynamic_labels, in the family, copied from the registration and checked there. Families
/// derive from it before family_base, so the names exist when family_base is given them.
template <class Labels>
class label_name_store {
public:
    static constexpr bool dynamic = false;
    label_name_store() noexcept = default;
    [[nodiscard]] static constexpr span<const string_ref> label_name_span() noexcept {
        return {Labels::names, Labels::size};
    }
    [[nodiscard]] static constexpr std::size_t label_count() noexcept { return Labels::size; }
    /// A compile error unless `Given` values are one per label.
    template <std::size_t Given>
    static constexpr void check_values(string_ref) noexcept {
        static_assert(Given == Labels::size,
                      "vitals: wrong number of label values: pass exactly one value per label of the family");
    }
};

template <>
class label_name_store<dynamic_labels> {
public:
    static constexpr bool dynamic = true;

    /// Checks and copies `names` for the family `metric`: each a valid label name, none twice,
    /// none of `reserved` (e.g. "le" for histograms). invalid_argument_error otherwise.
    label_name_store(string_ref metric, span<const string_ref> names, span<const string_ref> reserved = {}) {
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (!is_valid_label_name(names[i]))
                throw invalid_argument_error(
                    "vitals: metric '", metric, "': invalid label name '", names[i],
                    "': label names must match [a-zA-Z_][a-zA-Z0-9_]* and must not start with '__'");
            for (std::size_t j = 0; j < i; ++j)
                if (names[j] == names[i])
                    throw invalid_argument_error("vitals: metric '", metric, "': duplicate label name '", names[i],
                                                 "'");
            for (string_ref r : reserved)
                if (names[i] == r)
                    throw invalid_argument_error("vitals: metric '", metric, "': '", r,
                                                 "' is reserved for this kind and cannot be a label");
        }
        for (string_ref n : names) text_ += n;
        std::size_t at = 0;
        for (string_ref n : names) {
            views_.push_back(text_.view().substr(at, n.size()));
            at += n.size();
        }
    }
    label_name_store(const label_name_store&) = delete;
    label_name_store& operator=(const label_name_store&) = delete;

    [[nodiscard]] span<const string_ref> label_name_span() const noexcept { return {views_.data(), views_.size()}; }
    [[nodiscard]] std::size_t label_count() const noexcept { return views_.size(); }

    /// Throws unless `given` values are one per label (the check labels<...> makes at compile time).
    void check_value_count(std::size_t given, string_ref metric) const {
        if (given != views_.size()) [[unlikely]]
            wrong_value_count(given, metric);
    }
    template <std::size_t Given>
    void check_values(string_ref metric) const {
        check_value_count(Given, metric);
    }

private:
    [[noreturn, gnu::noinline, gnu::cold]] void wrong_value_count(std::size_t given, string_ref metric) const {
        throw invalid_argument_error("vitals: metric '", metric, "' has ", decimal(views_.size()), " labels ",
                                     name_list(label_name_span()).view(), " but ", decimal(given),
                                     given == 1 ? " value was given" : " values were given");
    }

    text_buffer text_;  // every name, end to end (views_ point into it)
    pod_vector<string_ref> views_;
};

}  // namespace detail
}  // namespace vitals
