// vitals — Prometheus text exposition format 0.0.4.
#pragma once

#include <cstddef>
#include <cstring>
#include <iosfwd>

#include "../base/config.hpp"
#if VITALS_EXTERN_TEMPLATES
#include <string>  // compiled mode: the extern template declarations below need it complete
#endif

#include "../core/family.hpp"
#include "../core/registry.hpp"
#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "../detail/text.hpp"

namespace vitals {

/// The content type of text format 0.0.4.
inline constexpr string_ref text_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Anything a render can append characters to: std::string, or a type of yours with
/// `append(const char*, std::size_t)`.
template <class S>
concept char_sink = requires(S& s, const char* p, std::size_t n) { s.append(p, n); };

namespace detail {

/// Shared by the text formats: writing names, label sets and numbers into a sink.
///
/// Output is staged in a buffer of the writer's own and handed to the sink a few KiB at a time: a
/// sample line is a dozen short pieces, and appending each one to the sink (a capacity check and a
/// library memcpy per piece) was most of the cost of a render. A derived writer must call flush()
/// at the end of every family (and render functions once more at the end).
template <char_sink Sink>
class text_sink_writer {
public:
    /// Hands everything staged so far to the sink.
    void flush() {
        if (len_ == 0) return;
        out_.append(buf_, len_);
        len_ = 0;
    }

protected:
    explicit text_sink_writer(Sink& out) : out_(out) {}
    void put(const char* p, std::size_t n) {
        if (n == 0) return;  // an empty view may carry a null pointer, which memcpy must not get
        if (n > sizeof buf_ - len_) [[unlikely]] {
            flush();
            if (n > sizeof buf_) {
                out_.append(p, n);
                return;
            }
        }
        std::memcpy(buf_ + len_, p, n);
        len_ += n;
    }
    void put(string_ref s) { put(s.data(), s.size()); }
    void put(char c) {
        if (len_ == sizeof buf_) [[unlikely]]
            flush();
        buf_[len_++] = c;
    }
    /// Room for `n` more characters in the staging buffer (n is small).
    char* reserve(std::size_t n) {
        if (n > sizeof buf_ - len_) [[unlikely]]
            flush();
        return buf_ + len_;
    }
    void put_double(double v) {
        char* p = reserve(max_double_chars);
        len_ += format_double(p, v);
    }
    void put_uint(std::uint64_t v) {
        char* p = reserve(max_uint_chars);
        len_ += format_uint(p, v);
    }
    void put_counter(const counter_value& v) {
        if (!v.is_integer()) return put_double(v.as_double());
        if (v.high == 0) return put_uint(v.low);
        // Past 2^64: print the exact 128-bit integer; consumers parse it as a float.
        uint128 x = (static_cast<uint128>(v.high) << 64) | v.low;
        char buf[48];
        char* p = buf + sizeof buf;
        while (x) {
            *--p = static_cast<char>('0' + static_cast<int>(x % 10));
            x /= 10;
        }
        put(p, static_cast<std::size_t>(buf + sizeof buf - p));
    }
    /// `{const,series,extra_name="extra_value"}`, or nothing when all are empty.
    void put_labels(string_ref const_block, string_ref block, string_ref extra_name = {}, string_ref extra_value = {}) {
        if (const_block.empty() && block.empty() && extra_name.empty()) return;
        put('{');
        put(const_block);
        if (!const_block.empty() && !block.empty()) put(',');
        put(block);
        if (!extra_name.empty()) {
            if (!const_block.empty() || !block.empty()) put(',');
            put(extra_name);
            put("=\"");
            put(extra_value);
            put('"');
        }
        put('}');
    }
    /// Writes `s` with backslash and line feed escaped (and, for OpenMetrics, double quotes).
    void put_escaped_help(string_ref s, bool escape_quotes) {
        std::size_t run = 0;
        for (std::size_t i = 0; i < s.size(); ++i) {
            const char c = s[i];
            const char* esc = c == '\\' ? "\\\\" : c == '\n' ? "\\n" : (escape_quotes && c == '"') ? "\\\"" : nullptr;
            if (!esc) continue;
            put(s.substr(run, i - run));
            put(esc);
            run = i + 1;
        }
        put(s.substr(run));
    }

    Sink& out_;

private:
    std::size_t len_ = 0;
    char buf_[4096];
};

inline string_ref text_type_name(metric_type t) noexcept {
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
        case metric_type::stateset:
            return "gauge";
        case metric_type::unknown:
            break;
    }
    return "untyped";
}

/// Writes text format 0.0.4.
template <char_sink Sink>
class text_writer final : public sample_visitor, text_sink_writer<Sink> {
    using base = text_sink_writer<Sink>;
    using base::put;

public:
    explicit text_writer(Sink& out) : base(out) {}
    using base::flush;

    void begin_family(const family_header& h) override {
        h_ = h;
        if (!h.help.empty()) {
            put("# HELP ");
            put(h.name);
            put(' ');
            this->put_escaped_help(h.help, false);
            put('\n');
        }
        put("# TYPE ");
        put(h.name);
        put(' ');
        put(text_type_name(h.type));
        put('\n');
    }

    void counter_sample(series_view s, const counter_value& v, const exemplar*) override {
        put(h_.name);
        this->put_labels(h_.const_block, s.label_block());
        put(' ');
        this->put_counter(v);
        put('\n');
    }

    void gauge_sample(series_view s, double v) override {
        put(h_.name);
        this->put_labels(h_.const_block, s.label_block());
        put(' ');
        this->put_double(v);
        put('\n');
    }

    // Text 0.0.4 has no exemplars.
    void histogram_sample(series_view s, span<const std::uint64_t> cumulative, double sum,
                          span<const exemplar* const>) override {
        const auto le = h_.layout->le_text();
        // Every bucket line starts `name_bucket{const,labels,le="`: put it together once per series
        // (when it fits the scratch array) and copy it per bucket.
        const string_ref block = s.label_block();
        const std::size_t prefix_len = h_.name.size() + 8 + h_.const_block.size() + block.size() + 2 + 4;
        if (prefix_len <= sizeof prefix_) {
            char* p = prefix_;
            auto add = [&p](string_ref x) {
                std::memcpy(p, x.data(), x.size());
                p += x.size();
            };
            add(h_.name);
            add("_bucket{");
            add(h_.const_block);
            if (!h_.const_block.empty()) *p++ = ',';
            add(block);
            if (!block.empty()) *p++ = ',';
            add("le=\"");
            const string_ref prefix(prefix_, static_cast<std::size_t>(p - prefix_));
            for (std::size_t i = 0; i < cumulative.size(); ++i) {
                put(prefix);
                put(le[i]);
                put("\"} ");
                this->put_uint(cumulative[i]);
                put('\n');
            }
        } else {
            for (std::size_t i = 0; i < cumulative.size(); ++i) {
                put(h_.name);
                put("_bucket");
                this->put_labels(h_.const_block, block, "le", le[i]);
                put(' ');
                this->put_uint(cumulative[i]);
                put('\n');
            }
        }
        sum_and_count(s, sum, cumulative.empty() ? 0 : cumulative.back());
    }

    void summary_sample(series_view s, span<const quantile_value> quantiles, double sum, std::uint64_t count) override {
        for (const auto& q : quantiles) {
            char buf[max_double_chars];
            put(h_.name);
            this->put_labels(h_.const_block, s.label_block(), "quantile",
                             string_ref(buf, format_double_label(buf, q.quantile)));
            put(' ');
            this->put_double(q.value);
            put('\n');
        }
        sum_and_count(s, sum, count);
    }

    // Text 0.0.4 has no native buckets: the classic ones, or just +Inf when there are none.
    void native_histogram_sample(series_view s, const native_histogram_data& h, span<const exemplar* const>) override {
        if (!h.classic_cumulative.empty()) return histogram_sample(s, h.classic_cumulative, h.sum, {});
        put(h_.name);
        put("_bucket");
        this->put_labels(h_.const_block, s.label_block(), "le", "+Inf");
        put(' ');
        this->put_uint(h.count);
        put('\n');
        sum_and_count(s, h.sum, h.count);
    }

    // No info or stateset type in text 0.0.4: a gauge of 1, and a 0/1 gauge per state.
    void info_sample(series_view s) override { gauge_sample(s, 1); }
    void stateset_sample(series_view, span<const string_ref>, span<const bool> values,
                         span<const series_view> per_state) override {
        for (std::size_t i = 0; i < values.size() && i < per_state.size(); ++i)
            gauge_sample(per_state[i], values[i] ? 1.0 : 0.0);
    }

    void continue_family(const family_header& h) override { h_ = h; }

    void end_family() override { this->flush(); }

private:
    void sum_and_count(series_view s, double sum, std::uint64_t count) {
        put(h_.name);
        put("_sum");
        this->put_labels(h_.const_block, s.label_block());
        put(' ');
        this->put_double(sum);
        put('\n');
        put(h_.name);
        put("_count");
        this->put_labels(h_.const_block, s.label_block());
        put(' ');
        this->put_uint(count);
        put('\n');
    }

    family_header h_;
    char prefix_[512];
};

}  // namespace detail

/// Appends the registry's exposition in text format 0.0.4 to `out` (a std::string, reused across
/// scrapes to avoid allocation, or any char_sink).
template <char_sink Sink>
void render_text(const metric_source& r, Sink& out) {
    detail::text_writer<Sink> w(out);
    r.collect(w);
    w.flush();
}

/// The registry's exposition in text format 0.0.4, as a new std::string (or as `String`, any
/// default-constructible char_sink). Include <string> to call it: this header only declares
/// std::string, so that translation units which never call it don't parse <string>.
template <class String = std::string>
String render_text(const metric_source& r) {
    String out;
    render_text(r, out);
    return out;
}

#if VITALS_EXTERN_TEMPLATES
// Compiled mode: the text render into a std::string is in libvitals (see base/config.hpp).
extern template void render_text<std::string>(const metric_source&, std::string&);
extern template std::string render_text<std::string>(const metric_source&);
#endif

}  // namespace vitals
