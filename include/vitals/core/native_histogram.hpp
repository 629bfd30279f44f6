// vitals — native histogram: Prometheus' sparse exponential buckets.
//
// Bucket `k` of schema `s` holds values in (2^((k-1)/2^s), 2^(k/2^s)]; negative values mirror that;
// values with |v| <= the zero threshold go to the zero bucket. Only buckets that were hit exist,
// so resolution is high and cost low for any value range; Prometheus receives them (protobuf only)
// as spans plus count deltas.
//
// Design, and its limits:
// - An observation takes one uncontended stripe of the series (detail/striped.hpp: one per CPU,
//   plus one) and never waits: a busy stripe is skipped. A stripe holds count, sum, zero bucket,
//   any classic buckets and, per sign (allocated on first use of that sign), a directory of 256
//   pages, a page per power of two holding its 2^max(schema,0) buckets, allocated when first
//   hit. A render sums the stripes, one at a time.
// - The directory covers |v| in (2^-128, 2^128]. Smaller magnitudes always count in the zero
//   bucket (the effective zero threshold is at least 2^-128, the Go client's default); larger
//   ones, including infinities, count in the highest bucket of that range.
// - Buckets are recorded at the configured schema; the bucket limit is applied when rendering,
//   with the Go client's rules in its order: reset the histogram if the minimum reset duration has
//   passed since the last reset, else widen the zero bucket (up to the maximum zero threshold),
//   else halve the resolution (down to schema -4), repeated until the limit holds. Widened
//   thresholds and lowered schemas persist until the next reset, as in the Go client. A reset is
//   a baseline subtracted from the per-stripe totals (writers cannot be stopped), so the rendered
//   histogram restarts from zero, as Prometheus expects of a counter reset.
// - NaN is refused (observe returns false), as by the classic histogram.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include "../base/span.hpp"
#include <vector>

#include "../detail/atomic.hpp"
#include "../detail/mutex.hpp"
#include "../detail/percpu.hpp"
#include "../detail/striped.hpp"
#include "family.hpp"
#include "histogram.hpp"
#include "names.hpp"
#include "handle.hpp"
#include "series.hpp"

namespace vitals {

/// How a native histogram is built. The defaults are the Go client's recommended values, with a
/// bucket limit of 160 (OpenTelemetry's default) rather than none.
struct native_histogram_options {
    /// Largest allowed ratio between a bucket's upper and lower bound; picks the schema (1.1 gives
    /// schema 3: 8 buckets per power of two, at most 9% wide).
    double bucket_factor = 1.1;
    /// Values with |v| at most this count in the zero bucket (at least 2^-128 is used).
    double zero_threshold = 2.938735877055719e-39;
    /// Most buckets (positive plus negative) a render may expose; 0 for no limit.
    std::uint32_t max_buckets = 160;
    /// Reset the histogram to meet the limit only if this long has passed since the last reset;
    /// zero never resets.
    std::chrono::seconds min_reset_duration{0};
    /// The zero bucket may be widened up to this to meet the limit; zero never widens it.
    double max_zero_threshold = 0;
    /// Classic bucket bounds to keep alongside (+Inf implied); empty for none. Prometheus 2.42
    /// ingests only the native buckets of a histogram that has both; text formats see the classic.
    std::vector<double> classic_buckets{};

    bool operator==(const native_histogram_options&) const = default;
};

/// The schema a bucket factor gives, as the Go client picks it: the coarsest schema whose bucket
/// growth factor 2^(2^-schema) does not exceed `factor`, clamped to -4 … 8.
inline std::int32_t native_schema_for(double factor) {
    if (!(factor > 1)) throw invalid_argument_error("vitals: a native histogram's bucket factor must be > 1");
    const double floor = std::floor(std::log2(std::log2(factor)));
    if (floor <= -8) return 8;
    if (floor >= 4) return -4;
    return -static_cast<std::int32_t>(floor);
}

namespace detail {

// Bucket keys are decided exactly: a boundary 2^(j/2^s) is irrational for most j, so a double next
// to it falls on one side or the other only by exact arithmetic. The hot path needs none: it
// compares against a table of the largest doubles not above each boundary (for a double x,
// x <= b exactly when x <= that double), and the exact arithmetic below only builds the table.

// Bit length of m^(2^s), by exact multi-word squaring (m < 2^64, s <= 8: at most 16,384 bits).
// Slow (tens of microseconds at schema 8); native_pow_le needs it only when its bounds cannot decide.
inline std::int64_t native_pow_bit_length(std::uint64_t m, std::int32_t s) {
    std::vector<std::uint32_t> x{static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(m >> 32)}, r;
    for (std::int32_t i = 0; i <= s; ++i) {
        while (x.size() > 1 && x.back() == 0) x.pop_back();
        if (i == s) break;
        r.assign(2 * x.size(), 0);
        for (std::size_t a = 0; a < x.size(); ++a) {
            std::uint64_t carry = 0;  // x[a]*x[b] + r + carry stays below 2^64
            for (std::size_t b = 0; b < x.size(); ++b) {
                const std::uint64_t t = std::uint64_t{x[a]} * x[b] + r[a + b] + carry;
                r[a + b] = static_cast<std::uint32_t>(t);
                carry = t >> 32;
            }
            r[a + x.size()] = static_cast<std::uint32_t>(carry);
        }
        x.swap(r);
    }
    return static_cast<std::int64_t>(x.size() - 1) * 32 + std::bit_width(x.back());
}

// The 128-bit product of a and b, without relying on a compiler's 128-bit type.
inline void native_mul_wide(std::uint64_t a, std::uint64_t b, std::uint64_t& hi, std::uint64_t& lo) noexcept {
    const std::uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    const std::uint64_t ll = al * bl, lh = al * bh, hl = ah * bl;
    const std::uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    lo = (mid << 32) | (ll & 0xffffffffu);
    hi = ah * bh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

// Whether m^(2^s) <= 2^k, exactly (m > 0, s <= 8).
inline bool native_pow_le(std::uint64_t m, std::int32_t s, std::int64_t k) {
    const int tz = std::countr_zero(m);
    m >>= tz;
    k -= static_cast<std::int64_t>(tz) << s;
    if (m == 1) return k >= 0;
    // An odd m > 1 has no power of two among its powers, so the answer is whether the bit length
    // of m^(2^s) is at most k. Squaring 64-bit mantissas rounded down and up brackets the power
    // within 2^-55 of itself at worst; only if the two brackets' bit lengths differ (the power
    // is about that close to a power of two, as for some 64-bit m but none of the doubles the
    // table below is built from) is the exact product needed.
    struct bound {
        std::uint64_t mant;  // in [2^63, 2^64)
        std::int64_t exp;    // value = mant * 2^exp
    };
    const int lz = std::countl_zero(m);
    bound lo{m << lz, -lz}, hi = lo;
    auto square = [](bound& b, bool up) {
        std::uint64_t h, l;
        native_mul_wide(b.mant, b.mant, h, l);
        bool lost;
        if (h >> 63) {
            b.mant = h;
            b.exp = 2 * b.exp + 64;
            lost = l != 0;
        } else {
            b.mant = (h << 1) | (l >> 63);
            b.exp = 2 * b.exp + 63;
            lost = (l << 1) != 0;
        }
        if (up && lost && ++b.mant == 0) {
            b.mant = std::uint64_t{1} << 63;
            ++b.exp;
        }
    };
    for (std::int32_t i = 0; i < s; ++i) {
        square(lo, false);
        square(hi, true);
    }
    if (lo.exp == hi.exp) return lo.exp + 64 <= k;
    return native_pow_bit_length(m, s) <= k;
}

// Bounds within one power of two at schema s (0 … 8), as 52-bit fraction fields of doubles in
// [0.5, 1): mant[j] is that of the largest double not above 2^(j/2^s) / 2 (j < 2^s), and
// mant[2^s] = 2^52 stands for 1. cell[c] is the first j with mant[j] >= c * 2^(51-s), for the
// 2^(s+1) equal cells the fraction field divides into: bounds are more than 0.69 * 2^(52-s)
// apart, so a cell holds at most one and a key costs one lookup and one compare.
struct native_bound_table {
    std::vector<std::uint64_t> mant;
    std::vector<std::uint16_t> cell;
};

inline const native_bound_table& native_fraction_bounds(std::int32_t schema) {
    static const auto tables = [] {
        constexpr std::uint64_t one = std::uint64_t{1} << 52;
        std::array<native_bound_table, 9> t;
        for (std::int32_t s = 0; s <= 8; ++s) {
            const std::int32_t n = 1 << s;
            auto& tab = t[static_cast<std::size_t>(s)];
            tab.mant.push_back(0);  // 2^0 / 2 = 0.5 exactly
            for (std::int32_t j = 1; j < n; ++j) {
                // d <= 2^(j/n - 1) exactly: d = f*2^e = M*2^(e-53), so M^n <= 2^(j - n - (e-53)n).
                auto below = [&](double d) {
                    int e;
                    const double f = std::frexp(d, &e);
                    const auto m = static_cast<std::uint64_t>(std::ldexp(f, 53));
                    return native_pow_le(m, s, j - n - static_cast<std::int64_t>(e - 53) * n);
                };
                // exp2 is only a starting point: its accuracy is the C library's, not guaranteed.
                double d = std::exp2(static_cast<double>(j) / n) / 2;
                while (!below(d)) d = std::nextafter(d, 0.0);
                while (below(std::nextafter(d, 1.0))) d = std::nextafter(d, 1.0);
                tab.mant.push_back(std::bit_cast<std::uint64_t>(d) & (one - 1));
            }
            tab.mant.push_back(one);
            for (std::uint64_t c = 0; c < std::uint64_t{2} << s; ++c)
                tab.cell.push_back(static_cast<std::uint16_t>(
                    std::lower_bound(tab.mant.begin(), tab.mant.end(), c << (51 - s)) - tab.mant.begin()));
        }
        return t;
    }();
    return tables[static_cast<std::size_t>(schema)];
}

// The bucket key of a positive finite double at a schema -4 … 8, exactly Prometheus' definition:
// the least k with a <= 2^(k/2^schema). Unclamped: subnormals and the largest double included.
inline std::int32_t native_key_exact(double a, std::int32_t schema) noexcept {
    // Schema -m merges 2^m schema-0 buckets: ceil(ceil(x) / 2^m) = ceil(x / 2^m).
    if (schema < 0) return -((-native_key_exact(a, 0)) >> -schema);
    std::uint64_t bits = std::bit_cast<std::uint64_t>(a);
    std::int32_t exp = static_cast<std::int32_t>(bits >> 52) - 1022;  // a = f * 2^exp, f in [0.5, 1)
    if (exp == -1022) [[unlikely]] {                                  // subnormal: frexp normalises it exactly
        int e;
        bits = std::bit_cast<std::uint64_t>(std::frexp(a, &e));
        exp = e;
    }
    const std::uint64_t frac = bits & ((std::uint64_t{1} << 52) - 1);
    const auto& t = native_fraction_bounds(schema);
    const std::uint32_t j = t.cell[static_cast<std::size_t>(frac >> (51 - schema))];
    return (exp - 1) * (1 << schema) + static_cast<std::int32_t>(j + (frac > t.mant[j] ? 1 : 0));
}

}  // namespace detail

/// The upper bound (inclusive) of bucket `key` at `schema` (-4 … 8), as the largest double not
/// above the exact bound 2^(key/2^schema), which is irrational for most keys at schemas above 0.
/// Rounding down makes it a bound for doubles with nothing lost: a double is in bucket `key`
/// exactly when it is above the previous bucket's value and at most this one. 0 below the
/// smallest subnormal, the largest double from 2^1024 up.
inline double native_bucket_upper_bound(std::int32_t key, std::int32_t schema) noexcept {
    // The bound is m * 2^(e-53), m in [2^52, 2^53) the largest 53-bit mantissa not above it.
    std::int64_t e;
    std::uint64_t m = std::uint64_t{1} << 52;
    if (schema <= 0) {
        e = static_cast<std::int64_t>(key) * (std::int64_t{1} << -schema) + 1;
    } else {
        const std::int64_t n = std::int64_t{1} << schema;
        const std::int64_t oct = key >= 0 ? key / n : -((-static_cast<std::int64_t>(key) + n - 1) / n);
        m += detail::native_fraction_bounds(schema).mant[static_cast<std::size_t>(key - oct * n)];
        e = oct + 1;
    }
    if (e > 1024) return std::numeric_limits<double>::max();
    if (e >= -1021) return std::ldexp(static_cast<double>(m), static_cast<int>(e - 53));  // normal: exact
    // Subnormal: truncate to the coarser grid (rounding down twice is rounding down once).
    const std::int64_t shift = -1021 - e;
    return shift >= 53 ? 0.0 : std::ldexp(static_cast<double>(m >> shift), -1074);
}

/// A native histogram read at one moment (after the bucket limit was applied).
struct native_histogram_snapshot {
    std::int32_t schema = 0;                         ///< Current schema.
    double zero_threshold = 0;                       ///< Current zero threshold.
    std::uint64_t zero_count = 0;                    ///< Zero bucket.
    std::uint64_t count = 0;                         ///< All observations.
    double sum = 0;                                  ///< Their sum.
    std::map<std::int32_t, std::uint64_t> positive;  ///< Bucket key → count, non-empty buckets only.
    std::map<std::int32_t, std::uint64_t> negative;  ///< The same for negative values.
    std::vector<std::uint64_t> classic_cumulative;   ///< Classic buckets (cumulative, incl. +Inf).
};

namespace detail {

inline constexpr std::int32_t native_pages = 256;  // powers of two covered: 2^-128 … 2^128
inline constexpr std::int32_t native_page_offset = 128;
inline constexpr double native_min_magnitude = 2.938735877055719e-39;  // 2^-128

// The bucket key of magnitude a > 2^-128 at schema s >= 0, clamped to the highest key the
// directory covers.
inline std::int32_t native_key(double a, std::int32_t s) noexcept {
    const std::int32_t top = native_page_offset * (1 << s) - 1;
    if (!(a < 0x1p128)) return top;  // includes +Inf
    return std::min(native_key_exact(a, s), top);
}

// One stripe's exponential buckets of one series (see the file comment).
struct native_thread_state {
    struct sign_dir {
        detail::atomic<cell_word*> pages[native_pages]{};
        ~sign_dir() {
            for (auto& p : pages) delete[] p.load(detail::memory_order_relaxed);
        }
    };
    detail::atomic<sign_dir*> dirs[2]{};
    std::uint64_t count = 0, zero = 0;
    double sum = 0;
    std::vector<std::uint64_t> classic;  // per classic bucket (+Inf last), not cumulative
    ~native_thread_state() {
        for (auto& d : dirs) delete d.load(detail::memory_order_relaxed);
    }
};

class native_histogram_series final : public series_base {
public:
    struct params {
        native_histogram_options options;
        std::shared_ptr<const histogram_layout> layout;  // classic buckets; null when none
        bool operator==(const params& o) const { return options == o.options; }
        [[nodiscard]] text_buffer difference(const params& o) const {
            const native_histogram_options &a = options, &b = o.options;
            for (text_buffer d :
                 {number_field("bucket_factor", a.bucket_factor, b.bucket_factor),
                  number_field("zero_threshold", a.zero_threshold, b.zero_threshold),
                  number_field("max_buckets", a.max_buckets, b.max_buckets),
                  number_field("min_reset_duration (s)", static_cast<double>(a.min_reset_duration.count()),
                               static_cast<double>(b.min_reset_duration.count())),
                  number_field("max_zero_threshold", a.max_zero_threshold, b.max_zero_threshold)})
                if (!d.empty()) return d;
            return definition_field("classic_buckets",
                                    number_list({a.classic_buckets.data(), a.classic_buckets.size()}).view(),
                                    number_list({b.classic_buckets.data(), b.classic_buckets.size()}).view());
        }
    };
    static constexpr string_ref kind_name = "native histogram";
    using options_type = native_histogram_options;
    static constexpr metric_type type = metric_type::histogram;

    /// Checks a native histogram's definition (what registry::native_histogram passes) and builds
    /// its classic layout; invalid_argument_error when an option is out of range.
    static params make_params(native_histogram_options options) {
        native_schema_for(options.bucket_factor);  // validates
        if (!(options.zero_threshold >= 0) || !(options.max_zero_threshold >= 0) ||
            options.min_reset_duration.count() < 0)
            throw invalid_argument_error("vitals: native histogram thresholds and durations must not be negative");
        std::shared_ptr<const histogram_layout> layout;
        if (!options.classic_buckets.empty()) {
            if (options.classic_buckets.size() > max_slot_words - 5)
                throw invalid_argument_error("vitals: too many classic buckets for a native histogram");
            layout = std::make_shared<const histogram_layout>(options.classic_buckets);
        }
        return params{std::move(options), std::move(layout)};
    }

    native_histogram_series(const params& p, span<const string_ref> names, const label_key& key)
        : series_base(names, key),
          opt_(p.options),
          layout_(p.layout),
          schema_(native_schema_for(opt_.bucket_factor)),
          raw_schema_(std::max(schema_, 0)),
          zero_threshold_(std::max(opt_.zero_threshold, native_min_magnitude)),
          finite_(layout_ ? static_cast<std::uint32_t>(layout_->bounds().size()) : 0),
          bounds_(layout_ ? layout_->bounds().data() : nullptr),
          stripes_([n = layout_ ? finite_ + 1 : 0](native_thread_state* at) {
              new (at) native_thread_state;
              at->classic.assign(n, 0);
          }),
          cur_schema_(schema_),
          cur_zero_threshold_(zero_threshold_),
          last_reset_(std::chrono::steady_clock::now()),
          exemplars_(exemplar_count()) {}

    bool observe(double v) {
        if (std::isnan(v)) return false;
        const std::uint32_t classic = bounds_ ? classic_bucket(v) : 0;
        const double a = std::fabs(v);
        const bool zero = a <= zero_threshold_;
        // a > 2^-128, so the key is at least -128 * 2^schema + 1: the page is within the directory.
        const std::int32_t key = zero ? 0 : native_key(a, raw_schema_);
        const std::int32_t page = (key >> raw_schema_) + native_page_offset;  // floor division
        stripes_.update([&](native_thread_state& st) {
            ++st.count;
            st.sum += v;
            if (bounds_) ++st.classic[classic];
            if (zero) {
                ++st.zero;
                return;
            }
            cell_word& w = page_of(st, v < 0, page)[key & ((1 << raw_schema_) - 1)];
            w.store(w.load(detail::memory_order_relaxed) + 1, detail::memory_order_relaxed);
        });
        return true;
    }

    /// observe(v), keeping `ex` as the exemplar of v's classic bucket, or of the +Inf bucket when
    /// the histogram keeps no classic buckets (the latest wins, as for a classic histogram).
    bool observe(double v, const exemplar_labels& ex) {
        if (!observe(v)) return false;
        exemplars_.store(bounds_ ? classic_bucket(v) : 0, ex, v);
        return true;
    }

    void fork_prepare() noexcept override { read_mu_.lock(); }
    void fork_parent() noexcept override { read_mu_.unlock(); }
    void fork_child() noexcept override {
        read_mu_.reset_after_fork();
        stripes_.reset_in_child();
        exemplars_.reset_in_child();
    }

    /// Reads the histogram, applying the bucket limit (which may change the persistent schema,
    /// zero threshold or reset baseline).
    void read(native_histogram_snapshot& out) {
        detail::lock_guard lock(read_mu_);
        read_unlocked(out);
    }

    /// Emits the series to a visitor (called by the family with its locks held).
    void emit_locked(sample_visitor& v) {
        detail::lock_guard lock(read_mu_);
        read_unlocked(snap_);
        encode(snap_.positive, pos_spans_, pos_deltas_);
        encode(snap_.negative, neg_spans_, neg_deltas_);
        native_histogram_data d;
        d.schema = snap_.schema;
        d.zero_threshold = snap_.zero_threshold;
        d.zero_count = snap_.zero_count;
        d.count = snap_.count;
        d.sum = snap_.sum;
        d.positive = {pos_spans_, pos_deltas_};
        d.negative = {neg_spans_, neg_deltas_};
        d.classic_cumulative = snap_.classic_cumulative;
        if (!exemplars_.any()) return v.native_histogram_sample(view(), d, {});
        const std::size_t n = exemplar_count();
        exemplar_scratch_.resize(n);
        exemplar_ptrs_.assign(n, nullptr);
        for (std::size_t i = 0; i < n; ++i)
            if (exemplars_.load(i, exemplar_scratch_[i])) exemplar_ptrs_[i] = &exemplar_scratch_[i];
        v.native_histogram_sample(view(), d, {exemplar_ptrs_.data(), n});
    }

private:
    void read_unlocked(native_histogram_snapshot& out) {
        raw_totals(raw_);
        subtract_baseline(raw_);
        if (opt_.min_reset_duration.count() > 0 && (cur_schema_ != schema_ || cur_zero_threshold_ != zero_threshold_) &&
            std::chrono::steady_clock::now() - last_reset_ >= opt_.min_reset_duration)
            reset_to(raw_);
        shape(raw_, out);
        while (opt_.max_buckets > 0 && out.positive.size() + out.negative.size() > opt_.max_buckets) {
            if (opt_.min_reset_duration.count() > 0 &&
                std::chrono::steady_clock::now() - last_reset_ >= opt_.min_reset_duration) {
                reset_to(raw_);
                shape(raw_, out);
                break;
            }
            if (widen_zero_bucket(out)) {
                shape(raw_, out);
                continue;
            }
            if (cur_schema_ > -4) {
                --cur_schema_;
                shape(raw_, out);
                continue;
            }
            break;
        }
    }

public:
    /// Spans and deltas of a side, as Prometheus encodes them; gaps of one or two empty buckets
    /// are filled with zeros rather than starting a new span (smaller on the wire).
    static void encode(const std::map<std::int32_t, std::uint64_t>& buckets, std::vector<bucket_span>& spans,
                       std::vector<std::int64_t>& deltas) {
        spans.clear();
        deltas.clear();
        std::int64_t prev_count = 0;
        std::int32_t prev_key = 0;
        bool first = true;
        for (const auto& [k, c] : buckets) {
            if (c == 0) continue;
            const std::int32_t gap = first ? 0 : k - prev_key - 1;
            if (first || gap > 2) {
                spans.push_back({first ? k : gap, 0});
            } else {
                for (std::int32_t g = 0; g < gap; ++g) {
                    deltas.push_back(-prev_count);
                    prev_count = 0;
                    ++spans.back().length;
                }
            }
            deltas.push_back(static_cast<std::int64_t>(c) - prev_count);
            prev_count = static_cast<std::int64_t>(c);
            ++spans.back().length;
            prev_key = k;
            first = false;
        }
    }

private:
    // One exemplar per classic bucket (+Inf last), or one for the +Inf bucket without them.
    [[nodiscard]] std::size_t exemplar_count() const noexcept { return bounds_ ? std::size_t{finite_} + 1 : 1; }

    [[nodiscard]] std::uint32_t classic_bucket(double v) const noexcept {
        if (finite_ <= 16) {
            std::uint32_t i = 0;
            while (i < finite_ && v > bounds_[i]) ++i;
            return i;
        }
        return static_cast<std::uint32_t>(std::lower_bound(bounds_, bounds_ + finite_, v) - bounds_);
    }

    struct totals {
        std::uint64_t count = 0, zero = 0;
        double sum = 0;
        std::vector<std::uint64_t> classic;              // per bucket, not cumulative
        std::map<std::int32_t, std::uint64_t> pos, neg;  // at the raw schema
    };

    cell_word* page_of(native_thread_state& st, bool negative, std::int32_t page) {
        auto* dir = st.dirs[negative].load(detail::memory_order_relaxed);
        if (!dir) [[unlikely]] {
            dir = new native_thread_state::sign_dir;
            st.dirs[negative].store(dir, detail::memory_order_release);
        }
        cell_word* p = dir->pages[page].load(detail::memory_order_relaxed);
        if (!p) [[unlikely]] {
            p = new cell_word[std::size_t{1} << raw_schema_]();
            dir->pages[page].store(p, detail::memory_order_release);
        }
        return p;
    }

    void add_pages(const native_thread_state& st, std::map<std::int32_t, std::uint64_t>& pos,
                   std::map<std::int32_t, std::uint64_t>& neg) const {
        const std::int32_t n = 1 << raw_schema_;
        for (int sign = 0; sign < 2; ++sign) {
            const auto* dir = st.dirs[sign].load(detail::memory_order_acquire);
            if (!dir) continue;
            auto& m = sign ? neg : pos;
            for (std::int32_t p = 0; p < native_pages; ++p) {
                const cell_word* words = dir->pages[p].load(detail::memory_order_acquire);
                if (!words) continue;
                for (std::int32_t i = 0; i < n; ++i)
                    if (const std::uint64_t c = words[i].load(detail::memory_order_relaxed))
                        m[(p - native_page_offset) * n + i] += c;
            }
        }
    }

    void raw_totals(totals& t) {
        t.count = t.zero = 0;
        t.sum = 0;
        t.classic.assign(layout_ ? finite_ + 1 : 0, 0);
        t.pos.clear();
        t.neg.clear();
        stripes_.for_each([&](const native_thread_state& st) {
            t.count += st.count;
            t.sum += st.sum;
            t.zero += st.zero;
            for (std::size_t i = 0; i < t.classic.size(); ++i) t.classic[i] += st.classic[i];
            add_pages(st, t.pos, t.neg);
        });
    }

    void subtract_baseline(totals& t) const {
        if (!has_baseline_) return;
        t.count -= base_.count;
        t.sum -= base_.sum;
        t.zero -= base_.zero;
        for (std::size_t i = 0; i < t.classic.size(); ++i) t.classic[i] -= base_.classic[i];
        auto sub = [](std::map<std::int32_t, std::uint64_t>& m, const std::map<std::int32_t, std::uint64_t>& b) {
            for (const auto& [k, c] : b) {
                auto it = m.find(k);
                if (it == m.end()) continue;
                it->second -= c;
                if (it->second == 0) m.erase(it);
            }
        };
        sub(t.pos, base_.pos);
        sub(t.neg, base_.neg);
    }

    // Everything observed so far becomes the baseline: the histogram starts again from zero at
    // the configured schema and zero threshold.
    void reset_to(totals& t) {
        if (!has_baseline_) {
            base_ = t;
            has_baseline_ = true;
        } else {
            base_.count += t.count;
            base_.sum += t.sum;
            base_.zero += t.zero;
            for (std::size_t i = 0; i < t.classic.size(); ++i) base_.classic[i] += t.classic[i];
            for (const auto& [k, c] : t.pos) base_.pos[k] += c;
            for (const auto& [k, c] : t.neg) base_.neg[k] += c;
        }
        t.count = t.zero = 0;
        t.sum = 0;
        std::fill(t.classic.begin(), t.classic.end(), 0);
        t.pos.clear();
        t.neg.clear();
        cur_schema_ = schema_;
        cur_zero_threshold_ = zero_threshold_;
        last_reset_ = std::chrono::steady_clock::now();
    }

    // Raw buckets → exposed buckets at the current schema and zero threshold.
    void shape(const totals& t, native_histogram_snapshot& out) const {
        out.schema = cur_schema_;
        out.zero_threshold = cur_zero_threshold_;
        out.count = t.count;
        out.sum = t.sum;
        out.zero_count = t.zero;
        out.positive.clear();
        out.negative.clear();
        const std::int32_t shift = raw_schema_ - cur_schema_;
        auto move = [&](const std::map<std::int32_t, std::uint64_t>& from, std::map<std::int32_t, std::uint64_t>& to) {
            for (const auto& [k, c] : from) {
                if (native_bucket_upper_bound(k, raw_schema_) <= cur_zero_threshold_) {
                    out.zero_count += c;
                    continue;
                }
                // ceil(k / 2^shift), for negative k too.
                const std::int32_t nk = shift == 0 ? k : -((-k) >> shift);
                to[nk] += c;
            }
        };
        move(t.pos, out.positive);
        move(t.neg, out.negative);
        out.classic_cumulative = t.classic;
        for (std::size_t i = 1; i < out.classic_cumulative.size(); ++i)
            out.classic_cumulative[i] += out.classic_cumulative[i - 1];
    }

    // Widens the zero bucket to swallow the bucket closest to zero, if the maximum allows.
    bool widen_zero_bucket(const native_histogram_snapshot& s) {
        if (cur_zero_threshold_ >= opt_.max_zero_threshold) return false;
        std::int32_t smallest = INT32_MAX;
        if (!s.positive.empty()) smallest = s.positive.begin()->first;
        if (!s.negative.empty()) smallest = std::min(smallest, s.negative.begin()->first);
        if (smallest == INT32_MAX) return false;
        // The threshold is the largest double not above the exact (mostly irrational) boundary,
        // which is also every raw bucket's bound there: shape swallows exactly the raw buckets
        // whose bound is at most it, and since no double lies between it and the boundary, a
        // value equal to it, as every value at most it, is counted in the zero bucket.
        const double t = native_bucket_upper_bound(smallest, cur_schema_);
        if (t > opt_.max_zero_threshold) return false;
        cur_zero_threshold_ = t;
        return true;
    }

    native_histogram_options opt_;
    std::shared_ptr<const histogram_layout> layout_;
    std::int32_t schema_, raw_schema_;
    double zero_threshold_;
    std::uint32_t finite_;
    const double* bounds_;
    striped<native_thread_state> stripes_;
    // Bucket-limit state and render scratch, guarded by read_mu_.
    detail::mutex read_mu_;
    std::int32_t cur_schema_;
    double cur_zero_threshold_;
    std::chrono::steady_clock::time_point last_reset_;
    bool has_baseline_ = false;
    totals base_, raw_;
    native_histogram_snapshot snap_;
    std::vector<bucket_span> pos_spans_, neg_spans_;
    std::vector<std::int64_t> pos_deltas_, neg_deltas_;
    exemplar_slots exemplars_;
    std::vector<exemplar> exemplar_scratch_;
    std::vector<const exemplar*> exemplar_ptrs_;
};

}  // namespace detail

/// The operations of a native histogram, shared by the owning handle and the scoped reference.
template <class Derived>
class native_histogram_operations {
protected:
    using series_type = detail::native_histogram_series;  // the series basic_handle owns

public:
    /// Records one observation; NaN is refused (false).
    bool observe(double v) const { return series().observe(v); }

    /// Records one observation and keeps `ex` as the exemplar of its classic bucket, or of the
    /// +Inf bucket when the histogram keeps no classic buckets (the latest wins; a store racing
    /// another on the same bucket is dropped rather than waited for). OpenMetrics shows it on
    /// that bucket; protobuf carries it on classic buckets only (Prometheus 2.42's model has no
    /// other place for a native histogram's exemplars).
    bool observe(double v, const exemplar_labels& ex) const { return series().observe(v, ex); }

    /// Records a duration in seconds.
    template <class Rep, class Period>
    void observe(std::chrono::duration<Rep, Period> d) const {
        series().observe(std::chrono::duration<double>(d).count());
    }

    /// Reads the histogram as a render would (the bucket limit applied).
    [[nodiscard]] native_histogram_snapshot snapshot() const {
        native_histogram_snapshot s;
        series().read(s);
        return s;
    }

private:
    detail::native_histogram_series& series() const { return static_cast<const Derived*>(this)->series_ref(); }
};

/// A handle to one native histogram series (see basic_handle for what handles guarantee).
using native_histogram = basic_handle<native_histogram_operations>;

namespace detail {
template <>
struct series_traits<native_histogram_series> {
    using handle = native_histogram;
    template <class D>
    using operations = native_histogram_operations<D>;
};
}  // namespace detail

#if VITALS_EXTERN_TEMPLATES
extern template class detail::family_impl<detail::native_histogram_series>;  // in libvitals (base/config.hpp)
#endif

}  // namespace vitals
