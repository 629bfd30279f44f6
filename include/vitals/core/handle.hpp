// vitals — the owning handle to one series, the same template for every metric kind: the kind
// brings its operations (counter_operations, gauge_operations, ...), the handle brings ownership.
#pragma once

#include "series.hpp"

namespace vitals {

namespace detail {
/// What a family needs of a kind's series type: `handle` (the kind's basic_handle) and
/// `operations<D>` (what a handle and a scoped reference can do). Specialized by each kind.
template <class Series>
struct series_traits;
template <class Series>
class family_impl;
}  // namespace detail

/// A handle to one series of the kind whose operations `Operations` are: vitals::counter is
/// basic_handle<counter_operations>, and so on for every kind. Cheap to copy (a reference
/// count), free to use: updates go straight to the series.
///
/// A handle keeps its series alive. If the series is removed from its family, the handle still
/// works but its updates are no longer exposed; creating the same label values again starts a
/// new series at zero.
template <template <class> class Operations>
class basic_handle : public Operations<basic_handle<Operations>> {
    using base = Operations<basic_handle<Operations>>;
    using series_type = typename base::series_type;

    // Only families make handles (with(), or a label-less registration).
    explicit basic_handle(detail::series_ptr<series_type> p) noexcept
        : p_(static_cast<detail::series_ptr<series_type>&&>(p)) {}
    template <class Series>
    friend class detail::family_impl;
    friend base;
    series_type& series_ref() const noexcept { return *p_.get(); }
    detail::series_ptr<series_type> p_;
};

}  // namespace vitals
