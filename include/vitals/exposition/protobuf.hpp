// vitals — protobuf exposition: io.prometheus.client.MetricFamily messages, each preceded by its
// length as a varint ("delimited"), encoded by hand so that no protobuf library is needed.
//
// The only format that carries native histograms (Prometheus asks for it first when they are
// enabled). Field numbers follow prometheus/client_model's metrics.proto. Types without a
// protobuf counterpart are sent the way the Go client sends them: info and stateset as gauges
// (a stateset as one 0/1 series per state), unknown as untyped.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include "../base/string_ref.hpp"
#include <vector>

#include "../core/family.hpp"
#include "../core/registry.hpp"
#include "openmetrics.hpp"
#include "text.hpp"

namespace vitals {
namespace detail {

// Wire types.
inline constexpr std::uint32_t pb_varint_type = 0, pb_fixed64_type = 1, pb_len_type = 2;

inline void pb_varint(std::string& out, std::uint64_t v) {
    char buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
        buf[n++] = static_cast<char>(static_cast<unsigned char>(v | 0x80));
        v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out.append(buf, n);
}
inline void pb_tag(std::string& out, std::uint32_t field, std::uint32_t wire) {
    pb_varint(out, (std::uint64_t{field} << 3) | wire);
}
inline std::uint64_t pb_zigzag(std::int64_t v) noexcept {
    return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline void pb_uint(std::string& out, std::uint32_t field, std::uint64_t v) {
    pb_tag(out, field, pb_varint_type);
    pb_varint(out, v);
}
inline void pb_sint(std::string& out, std::uint32_t field, std::int64_t v) {
    pb_tag(out, field, pb_varint_type);
    pb_varint(out, pb_zigzag(v));
}
inline void pb_double(std::string& out, std::uint32_t field, double v) {
    pb_tag(out, field, pb_fixed64_type);
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((bits >> (8 * i)) & 0xFF);
    out.append(buf, 8);
}
inline void pb_bytes(std::string& out, std::uint32_t field, string_ref v) {
    pb_tag(out, field, pb_len_type);
    pb_varint(out, v.size());
    out.append(v);
}
inline void pb_label(std::string& out, std::string& scratch, string_ref name, string_ref value) {
    scratch.clear();
    pb_bytes(scratch, 1, name);
    pb_bytes(scratch, 2, value);
    pb_bytes(out, 1, scratch);  // Metric.label and Exemplar.label are both field 1
}
// google.protobuf.Timestamp from seconds since the epoch.
inline void pb_timestamp(std::string& out, std::uint32_t field, double seconds) {
    std::string ts;
    const double whole = std::floor(seconds);
    auto nanos = static_cast<std::int64_t>(std::llround((seconds - whole) * 1e9));
    auto secs = static_cast<std::int64_t>(whole);
    if (nanos >= 1000000000) {
        ++secs;
        nanos -= 1000000000;
    }
    if (secs != 0) pb_uint(ts, 1, static_cast<std::uint64_t>(secs));
    if (nanos != 0) pb_uint(ts, 2, static_cast<std::uint64_t>(nanos));
    pb_bytes(out, field, ts);
}

inline std::uint64_t pb_type(metric_type t) noexcept {
    switch (t) {
        case metric_type::counter:
            return 0;
        case metric_type::gauge:
        case metric_type::info:
        case metric_type::stateset:
            return 1;
        case metric_type::summary:
            return 2;
        case metric_type::histogram:
            return 4;
        case metric_type::unknown:
            break;
    }
    return 3;  // UNTYPED
}

/// Writes the length-delimited protobuf format.
template <char_sink Sink>
class protobuf_writer final : public sample_visitor {
public:
    protobuf_writer(Sink& out, exposition_options opt) : out_(out), opt_(opt) {}

    void begin_family(const family_header& h) override {
        h_ = h;
        family_.clear();
        metrics_ = 0;
        pb_bytes(family_, 1, h.name);
        if (!h.help.empty()) pb_bytes(family_, 2, h.help);
        pb_uint(family_, 3, pb_type(h.type));
    }

    // Another registry's part of the family: its metrics join the same MetricFamily message.
    void continue_family(const family_header& h) override { h_ = h; }

    void end_family() override {
        // Unit (field 5) is newer than most parsers, which skip unknown fields; it goes last.
        if (!h_.unit.empty()) pb_bytes(family_, 5, h_.unit);
        if (metrics_ == 0) return;  // an empty family says nothing and some parsers dislike it
        std::string len;
        pb_varint(len, family_.size());
        out_.append(len.data(), len.size());
        out_.append(family_.data(), family_.size());
    }

    void counter_sample(series_view s, const counter_value& v, const exemplar* ex) override {
        begin_metric(s);
        inner_.clear();
        pb_double(inner_, 1, v.as_double());
        if (ex) put_exemplar(inner_, 2, *ex);
        if (opt_.created) pb_timestamp(inner_, 3, s.created_time());
        end_metric(3);
    }

    void gauge_sample(series_view s, double v) override {
        begin_metric(s);
        inner_.clear();
        pb_double(inner_, 1, v);
        end_metric(h_.type == metric_type::unknown ? 5 : 2);
    }

    void histogram_sample(series_view s, span<const std::uint64_t> cumulative, double sum,
                          span<const exemplar* const> ex) override {
        begin_metric(s);
        inner_.clear();
        const std::uint64_t count = cumulative.empty() ? 0 : cumulative.back();
        histogram_common(count, sum, cumulative, ex);
        if (opt_.created) pb_timestamp(inner_, 15, s.created_time());
        end_metric(7);
    }

    void native_histogram_sample(series_view s, const native_histogram_data& h,
                                 span<const exemplar* const> ex) override {
        begin_metric(s);
        inner_.clear();
        histogram_common(h.count, h.sum, h.classic_cumulative, ex);
        pb_sint(inner_, 5, h.schema);
        pb_double(inner_, 6, h.zero_threshold);
        pb_uint(inner_, 7, h.zero_count);
        put_side(9, 10, h.negative, false);
        // A native histogram without buckets needs a no-op span, or it reads as a classic one.
        put_side(12, 13, h.positive, h.positive.spans.empty() && h.negative.spans.empty());
        if (opt_.created) pb_timestamp(inner_, 15, s.created_time());
        end_metric(7);
    }

    void summary_sample(series_view s, span<const quantile_value> quantiles, double sum, std::uint64_t count) override {
        begin_metric(s);
        inner_.clear();
        pb_uint(inner_, 1, count);
        pb_double(inner_, 2, sum);
        for (const auto& q : quantiles) {
            tmp_.clear();
            pb_double(tmp_, 1, q.quantile);
            pb_double(tmp_, 2, q.value);
            pb_bytes(inner_, 3, tmp_);
        }
        if (opt_.created) pb_timestamp(inner_, 4, s.created_time());
        end_metric(4);
    }

    void info_sample(series_view s) override { gauge_sample(s, 1); }

    void stateset_sample(series_view s, span<const string_ref> states, span<const bool> values,
                         span<const series_view>) override {
        for (std::size_t i = 0; i < states.size() && i < values.size(); ++i) {
            begin_metric(s);
            pb_label(metric_, tmp_, h_.name, states[i]);
            inner_.clear();
            pb_double(inner_, 1, values[i] ? 1 : 0);
            end_metric(2);
        }
    }

private:
    void begin_metric(series_view s) {
        metric_.clear();
        for (const auto& [k, v] : h_.const_labels) pb_label(metric_, tmp_, k, v);
        std::size_t i = 0;
        s.for_each_label_value([&](string_ref value) {
            if (i < h_.label_names.size()) pb_label(metric_, tmp_, h_.label_names[i], value);
            ++i;
        });
    }
    void end_metric(std::uint32_t kind_field) {
        pb_bytes(metric_, kind_field, inner_);
        pb_bytes(family_, 4, metric_);
        ++metrics_;
    }

    void histogram_common(std::uint64_t count, double sum, span<const std::uint64_t> cumulative,
                          span<const exemplar* const> ex) {
        pb_uint(inner_, 1, count);
        pb_double(inner_, 2, sum);
        // Finite buckets only: +Inf is implied by the count (as the Go client sends it).
        const auto bounds = h_.layout ? h_.layout->bounds() : span<const double>{};
        for (std::size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
            tmp_.clear();
            pb_uint(tmp_, 1, cumulative[i]);
            pb_double(tmp_, 2, bounds[i]);
            if (i < ex.size() && ex[i]) put_exemplar(tmp_, 3, *ex[i]);
            pb_bytes(inner_, 3, tmp_);
        }
        // +Inf is sent only to carry its exemplar, as the Go client does: without the bucket
        // there is nowhere to put it.
        const std::size_t inf = bounds.size();
        if (inf < ex.size() && ex[inf] && inf < cumulative.size()) {
            tmp_.clear();
            pb_uint(tmp_, 1, cumulative[inf]);
            pb_double(tmp_, 2, __builtin_inf());
            put_exemplar(tmp_, 3, *ex[inf]);
            pb_bytes(inner_, 3, tmp_);
        }
    }

    void put_side(std::uint32_t span_field, std::uint32_t delta_field, const native_buckets& b, bool noop_span) {
        for (const auto& sp : b.spans) {
            tmp_.clear();
            if (sp.offset != 0) pb_sint(tmp_, 1, sp.offset);
            if (sp.length != 0) pb_uint(tmp_, 2, sp.length);
            pb_bytes(inner_, span_field, tmp_);
        }
        if (noop_span) pb_bytes(inner_, span_field, {});
        if (b.deltas.empty()) return;
        tmp_.clear();  // packed
        for (std::int64_t d : b.deltas) pb_varint(tmp_, pb_zigzag(d));
        pb_bytes(inner_, delta_field, tmp_);
    }

    void put_exemplar(std::string& dst, std::uint32_t field, const exemplar& e) {
        std::string msg, scratch;
        e.for_each_label([&](string_ref k, string_ref v) { pb_label(msg, scratch, k, v); });
        pb_double(msg, 2, e.value);
        if (e.has_timestamp()) pb_timestamp(msg, 3, e.timestamp);
        pb_bytes(dst, field, msg);
    }

    Sink& out_;
    exposition_options opt_;
    family_header h_;
    std::string family_, metric_, inner_, tmp_;
    std::size_t metrics_ = 0;
};

}  // namespace detail

/// Appends the registry's exposition in the length-delimited protobuf format to `out`.
template <char_sink Sink>
void render_protobuf(const metric_source& r, Sink& out, exposition_options opt = {}) {
    detail::protobuf_writer<Sink> w(out, opt);
    r.collect(w);
}

/// The registry's exposition in the length-delimited protobuf format.
inline std::string render_protobuf(const metric_source& r, exposition_options opt = {}) {
    std::string out;
    render_protobuf(r, out, opt);
    return out;
}

}  // namespace vitals
