// vitals — info: a family whose series carry information in their labels (version, revision,
// build date), always with the value 1. OpenMetrics has a type for it; other formats show a gauge.
#pragma once

#include "family.hpp"
#include "handle.hpp"

namespace vitals {

namespace detail {

/// An info series: nothing but its labels.
class info_series final : public series_base {
public:
    /// An info family has no parameters of its own.
    struct params {
        bool operator==(const params&) const noexcept { return true; }
    };
    static constexpr metric_type type = metric_type::info;

    info_series(const params&, span<const string_ref> names, const label_key& key) : series_base(names, key) {}

    void emit_locked(sample_visitor& v) { v.info_sample(view()); }
};

}  // namespace detail

/// What an info series can do: nothing but exist (its labels are the information).
template <class Derived>
class info_operations {
protected:
    using series_type = detail::info_series;  // the series basic_handle owns
};

/// A handle to one info series (see basic_handle); rarely needed: info_family::set() is the usual
/// way to add one.
using info = basic_handle<info_operations>;

namespace detail {
template <>
struct series_traits<info_series> {
    using handle = info;
    template <class D>
    using operations = info_operations<D>;
};
}  // namespace detail

/// An info family: `registry.info<"build_info", labels<"version">>("Build.").set("1.4.2")`. The
/// family of every kind (see metric_family), with set() and replace() for what info is used for;
/// with(), remove(), clear() and the series limit work as for any kind.
template <label_set Labels>
using info_family = metric_family<info_series, Labels>;

#if VITALS_EXTERN_TEMPLATES
extern template class detail::family_impl<detail::info_series>;  // in libvitals (base/config.hpp)
#endif

}  // namespace vitals
