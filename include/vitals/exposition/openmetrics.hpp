// vitals — OpenMetrics 1.0 text exposition.
//
// Differences from text 0.0.4 that matter to consumers: counter families are named without
// `_total` (their samples keep it), `# UNIT` lines, info and stateset types, canonical `le` and
// `quantile` values (`1.0`, not `1`), double quotes escaped in HELP, exemplars after a sample, the
// optional `_created` samples, and the mandatory `# EOF` that tells a consumer the body is whole.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include "../base/string_ref.hpp"

#include "../core/family.hpp"
#include "../core/registry.hpp"
#include "../detail/text.hpp"
#include "text.hpp"

namespace vitals {

/// Options of the OpenMetrics (and protobuf) renders.
struct exposition_options {
    /// Also expose each counter, histogram and summary series' creation time (`x_created` in
    /// OpenMetrics, `created_timestamp` in protobuf). Off by default: it adds a series per series,
    /// and consumers that predate it ignore it anyway.
    bool created = false;
};

namespace detail {

/// The OpenMetrics MetricFamily name: counters lose `_total`, infos lose `_info`, since their
/// samples add those suffixes back.
inline string_ref openmetrics_family_name(string_ref name, metric_type t) noexcept {
    if (t == metric_type::counter && name.ends_with("_total")) name.remove_suffix(6);
    if (t == metric_type::info && name.ends_with("_info")) name.remove_suffix(5);
    return name;
}

inline string_ref openmetrics_type_name(metric_type t) noexcept {
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
    return "unknown";
}

/// Writes OpenMetrics 1.0 text.
template <char_sink Sink>
class openmetrics_writer final : public sample_visitor, text_sink_writer<Sink> {
    using base = text_sink_writer<Sink>;
    using base::put;

public:
    openmetrics_writer(Sink& out, exposition_options opt) : base(out), opt_(opt) {}
    using base::flush;

    /// Writes the terminating `# EOF` line; call once after the last family.
    void finish() {
        put("# EOF\n");
        flush();
    }

    void begin_family(const family_header& h) override {
        h_ = h;
        family_ = openmetrics_family_name(h.name, h.type);
        if (!h.help.empty()) {
            put("# HELP ");
            put(family_);
            put(' ');
            this->put_escaped_help(h.help, true);
            put('\n');
        }
        put("# TYPE ");
        put(family_);
        put(' ');
        put(openmetrics_type_name(h.type));
        put('\n');
        if (!h.unit.empty()) {
            put("# UNIT ");
            put(family_);
            put(' ');
            put(h.unit);
            put('\n');
        }
    }

    void counter_sample(series_view s, const counter_value& v, const exemplar* ex) override {
        line_start(s, "_total");
        this->put_counter(v);
        put_exemplar(ex);
        put('\n');
        created(s);
    }

    void gauge_sample(series_view s, double v) override {
        line_start(s, {});
        this->put_double(v);
        put('\n');
    }

    void histogram_sample(series_view s, span<const std::uint64_t> cumulative, double sum,
                          span<const exemplar* const> ex) override {
        const auto le = h_.layout ? h_.layout->le_canonical() : le_values{};
        for (std::size_t i = 0; i < cumulative.size(); ++i) {
            put(family_);
            put("_bucket");
            this->put_labels(h_.const_block, s.label_block(), "le", i < le.size() ? le[i] : string_ref("+Inf"));
            put(' ');
            this->put_uint(cumulative[i]);
            put_exemplar(i < ex.size() ? ex[i] : nullptr);
            put('\n');
        }
        const std::uint64_t count = cumulative.empty() ? 0 : cumulative.back();
        count_sum_created(s, count, sum);
    }

    void native_histogram_sample(series_view s, const native_histogram_data& h,
                                 span<const exemplar* const> ex) override {
        // OpenMetrics 1.0 text has no native buckets: expose the classic ones, or just +Inf.
        const std::uint64_t only_inf[1] = {h.count};
        histogram_sample(s, h.classic_cumulative.empty() ? span<const std::uint64_t>(only_inf) : h.classic_cumulative,
                         h.sum, ex);
    }

    void summary_sample(series_view s, span<const quantile_value> quantiles, double sum, std::uint64_t count) override {
        for (const auto& q : quantiles) {
            if (q.value < 0) continue;  // OpenMetrics has no negative quantiles (see count_sum_created)
            char buf[max_double_chars + 2];
            const std::size_t n = format_double_canonical(buf, q.quantile);
            put(family_);
            this->put_labels(h_.const_block, s.label_block(), "quantile", string_ref(buf, n));
            put(' ');
            this->put_double(q.value);
            put('\n');
        }
        count_sum_created(s, count, sum);
    }

    void info_sample(series_view s) override {
        line_start(s, "_info");
        put("1\n");
    }

    void stateset_sample(series_view s, span<const string_ref> states, span<const bool> values,
                         span<const series_view>) override {
        for (std::size_t i = 0; i < states.size() && i < values.size(); ++i) {
            put(family_);
            // State names were escaped-checked at registration (label-value rules apply).
            this->put_labels(h_.const_block, s.label_block(), family_, states[i]);
            put(values[i] ? " 1\n" : " 0\n");
        }
    }

    void continue_family(const family_header& h) override {
        h_ = h;
        family_ = openmetrics_family_name(h.name, h.type);
    }

    void end_family() override { this->flush(); }

private:
    void line_start(series_view s, string_ref suffix) {
        put(family_);
        put(suffix);
        this->put_labels(h_.const_block, s.label_block());
        put(' ');
    }

    // The lines that close a histogram or summary series: `_count`, `_sum`, then `_created`.
    // OpenMetrics makes _sum a counter (never negative or NaN, and absent when a histogram has
    // negative buckets) and allows _count only with _sum. A series observed with negative values
    // or with both infinities therefore shows its buckets (the +Inf bucket is the count) or its
    // non-negative quantiles only: one odd series must not make a strict consumer drop the scrape.
    // Text 0.0.4 and protobuf carry the sum as it is.
    void count_sum_created(series_view s, std::uint64_t count, double sum) {
        const bool negative_buckets = h_.layout && !h_.layout->bounds().empty() && h_.layout->bounds()[0] < 0;
        if (!(sum >= 0) || negative_buckets) return created(s);
        line_start(s, "_count");
        this->put_uint(count);
        put('\n');
        line_start(s, "_sum");
        this->put_double(sum);
        put('\n');
        created(s);
    }

    void created(series_view s) {
        if (!opt_.created) return;
        line_start(s, "_created");
        put_seconds(s.created_time());
        put('\n');
    }

    // Seconds with millisecond precision: what Prometheus stores, and short.
    void put_seconds(double t) {
        if (!std::isfinite(t)) return this->put_double(t);
        char buf[400];  // fixed notation of the largest double fits
        const auto r = std::to_chars(buf, buf + sizeof buf, t, std::chars_format::fixed, 3);
        put(buf, static_cast<std::size_t>(r.ptr - buf));
    }

    void put_exemplar(const exemplar* ex) {
        if (!ex) return;
        put(" # {");
        put(ex->label_block);
        put("} ");
        this->put_double(ex->value);
        if (ex->has_timestamp()) {
            put(' ');
            put_seconds(ex->timestamp);
        }
    }

    exposition_options opt_;
    family_header h_;
    string_ref family_;
};

}  // namespace detail

/// Appends the registry's exposition in OpenMetrics 1.0 text, ending with `# EOF`, to `out`.
template <char_sink Sink>
void render_openmetrics(const metric_source& r, Sink& out, exposition_options opt = {}) {
    detail::openmetrics_writer<Sink> w(out, opt);
    r.collect(w);
    w.finish();
}

/// The registry's exposition in OpenMetrics 1.0 text.
inline std::string render_openmetrics(const metric_source& r, exposition_options opt = {}) {
    std::string out;
    render_openmetrics(r, out, opt);
    return out;
}

}  // namespace vitals
