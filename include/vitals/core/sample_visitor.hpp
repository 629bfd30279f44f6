// vitals — what an exposition format implements to receive a render: a family's header, then one
// call per series, a pure virtual per metric kind (the set of kinds is closed).
#pragma once

#include <cstdint>

#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "exemplar.hpp"
#include "names.hpp"
#include "sample_data.hpp"
#include "series.hpp"

namespace vitals {

class histogram_layout;

/// What a family tells an exposition format before its samples.
struct family_header {
    string_ref name;                           ///< Metric name.
    string_ref help;                           ///< Raw help text (valid UTF-8).
    string_ref unit;                           ///< Unit (OpenMetrics), may be empty.
    metric_type type = metric_type::unknown;   ///< Metric type.
    span<const string_ref> label_names;        ///< The family's own label names.
    string_ref const_block;                    ///< Registry const labels, escaped.
    span<const label_pair> const_labels;       ///< Registry const labels, raw.
    const histogram_layout* layout = nullptr;  ///< Buckets, for histograms.
};

/// Receives a family's samples during a render; implemented by each exposition format. The set
/// of kinds is closed: one pure virtual per kind, each given everything the kind has (exemplars
/// included), so a format that leaves a kind out does not compile.
class sample_visitor {
public:
    virtual ~sample_visitor() = default;

    /// A family begins; its samples follow, then end_family().
    virtual void begin_family(const family_header& h) = 0;
    /// The samples that follow belong to the family begun last but come from another registry,
    /// whose const labels `h` carries (a registry_set merges a family that several registries
    /// define alike; end_family follows once, after the last part). A format that cannot merge
    /// ends the family and begins it again.
    virtual void continue_family(const family_header& h) = 0;
    /// The family begun last is complete.
    virtual void end_family() = 0;

    /// A counter sample, with its exemplar (null when none).
    virtual void counter_sample(series_view s, const counter_value& v, const exemplar* ex) = 0;
    /// A gauge sample.
    virtual void gauge_sample(series_view s, double v) = 0;
    /// A histogram: `cumulative` holds one count per bucket including +Inf (the last one is the
    /// count); `bucket_exemplars` one exemplar pointer per bucket (null where none), or is empty
    /// when the series has none.
    virtual void histogram_sample(series_view s, span<const std::uint64_t> cumulative, double sum,
                                  span<const exemplar* const> bucket_exemplars) = 0;
    /// A summary: quantiles over its window, and the all-time sum and count.
    virtual void summary_sample(series_view s, span<const quantile_value> quantiles, double sum,
                                std::uint64_t count) = 0;
    /// A native histogram, with classic buckets when it keeps them (the header's layout then
    /// names them). `bucket_exemplars` holds one exemplar pointer per classic bucket (+Inf last),
    /// or one for the +Inf bucket when it keeps no classic buckets (null where none), or is empty
    /// when the series has none.
    virtual void native_histogram_sample(series_view s, const native_histogram_data& h,
                                         span<const exemplar* const> bucket_exemplars) = 0;
    /// An info series (its labels are the information; formats without an info type show a
    /// gauge of value 1).
    virtual void info_sample(series_view s) = 0;
    /// A stateset series: one flag per state. `per_state[i]` is a series whose labels are the
    /// series' own plus `<family name>="<states[i]>"`, for formats without a stateset type, which
    /// show one 0/1 gauge per state.
    virtual void stateset_sample(series_view s, span<const string_ref> states, span<const bool> values,
                                 span<const series_view> per_state) = 0;
};

/// A visitor that passes every call on to another: derive from it to change a few calls (skip
/// a family, rename one, record what passes) and keep the rest.
class forwarding_visitor : public sample_visitor {
public:
    explicit forwarding_visitor(sample_visitor& to) noexcept : to_(&to) {}

    void begin_family(const family_header& h) override { to_->begin_family(h); }
    void continue_family(const family_header& h) override { to_->continue_family(h); }
    void end_family() override { to_->end_family(); }
    void counter_sample(series_view s, const counter_value& v, const exemplar* ex) override {
        to_->counter_sample(s, v, ex);
    }
    void gauge_sample(series_view s, double v) override { to_->gauge_sample(s, v); }
    void histogram_sample(series_view s, span<const std::uint64_t> cumulative, double sum,
                          span<const exemplar* const> bucket_exemplars) override {
        to_->histogram_sample(s, cumulative, sum, bucket_exemplars);
    }
    void summary_sample(series_view s, span<const quantile_value> quantiles, double sum, std::uint64_t count) override {
        to_->summary_sample(s, quantiles, sum, count);
    }
    void native_histogram_sample(series_view s, const native_histogram_data& h,
                                 span<const exemplar* const> bucket_exemplars) override {
        to_->native_histogram_sample(s, h, bucket_exemplars);
    }
    void info_sample(series_view s) override { to_->info_sample(s); }
    void stateset_sample(series_view s, span<const string_ref> states, span<const bool> values,
                         span<const series_view> per_state) override {
        to_->stateset_sample(s, states, values, per_state);
    }

protected:
    /// The visitor calls go on to.
    [[nodiscard]] sample_visitor& target() const noexcept { return *to_; }

private:
    sample_visitor* to_;
};

}  // namespace vitals
