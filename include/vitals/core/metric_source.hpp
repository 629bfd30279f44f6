// vitals — what a scrape renders: one registry, or several served as one (registry_set).
#pragma once

#include "family.hpp"

namespace vitals {

/// Anything whose families an exposition renders. Every render function and HTTP adapter takes
/// one, so an endpoint can serve a single registry or a registry_set the same way.
class metric_source {
public:
    /// Calls the visitor with every family: begin_family, its samples, end_family, in turn.
    virtual void collect(sample_visitor& v) const = 0;
    // Virtual so that a registry held by std::unique_ptr<registry> (or any other owner) is
    // deleted without Clang's -Wdelete-non-abstract-non-virtual-dtor, which -Werror makes fatal.
    virtual ~metric_source() = default;

protected:
    metric_source() = default;
    metric_source(const metric_source&) = default;
    metric_source& operator=(const metric_source&) = default;
};

}  // namespace vitals
