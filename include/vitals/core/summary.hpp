// vitals — summary: quantiles over a sliding time window, plus all-time sum and count.
//
// Accuracy: every quantile is estimated with a relative error of at most 0.55% for observations
// with 2^-64 <= |v| < 2^64. The estimate for quantile q is within 0.55% of the observation of
// rank floor(q * (n - 1)) among the n observations in the window (DDSketch's guarantee): values
// are counted in logarithmic buckets, 64 per power of two, each reported by the point that
// minimizes the relative error to both its ends, (2^(1/64) - 1) / (2^(1/64) + 1) < 0.0055.
// Magnitudes below 2^-64 count as 0; from 2^64 up (infinities included) they count in the highest
// bucket, so estimates there are only lower bounds.
//
// Window: like the Go client, `max_age` (10 minutes) split in `age_buckets` (5) rotating buckets;
// quantiles cover the observations of the last max_age minus at most one bucket's width (8 to 10
// minutes with the defaults). Empty windows give NaN quantiles.
//
// Cost: an observation takes one uncontended stripe of the series (detail/striped.hpp: one per
// CPU, plus one) and never waits: a busy stripe is skipped. Each stripe holds count, sum and, per
// age bucket and sign, a directory of 128 pages (one per power of two) allocated on first use,
// each page 64 counters (512 bytes) allocated when first hit. A writer that finds its age bucket
// stale clears it; a render reads the stripes one at a time.
#pragma once

#include <array>
#include "../detail/atomic.hpp"
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include "../base/span.hpp"
#include <vector>

#include <time.h>

#include "../detail/percpu.hpp"
#include "../detail/striped.hpp"
#include "family.hpp"
#include "names.hpp"
#include "handle.hpp"
#include "series.hpp"

namespace vitals {

/// The sliding window of a summary's quantiles.
struct summary_options {
    /// How long an observation counts towards the quantiles.
    std::chrono::seconds max_age{600};
    /// How many buckets the window rotates through (1 to 16); more gives a smoother window.
    std::uint32_t age_buckets = 5;

    bool operator==(const summary_options&) const = default;
};

/// The relative error bound of summary quantiles (see summary.hpp).
inline constexpr double summary_relative_error = 0.0055;

namespace detail {

inline constexpr int summary_sub_buckets = 64;  // per power of two
inline constexpr int summary_octaves = 128;     // 2^-64 … 2^64
inline constexpr int summary_min_exponent = -64;

// Maps a magnitude to its bucket with a table lookup on the top mantissa bits and one compare.
struct summary_index_table {
    std::array<std::uint8_t, 4096> start{};               // bucket at the start of each mantissa cell
    std::array<double, summary_sub_buckets + 1> bound{};  // 2^(j/64), j = 0 … 64

    summary_index_table() {
        for (int j = 0; j <= summary_sub_buckets; ++j)
            bound[j] = std::exp2(static_cast<double>(j) / summary_sub_buckets);
        for (int t = 0; t < 4096; ++t) {
            const double m = 1 + t / 4096.0;
            int j = 0;
            while (j + 1 < summary_sub_buckets && bound[j + 1] <= m) ++j;
            start[t] = static_cast<std::uint8_t>(j);
        }
    }
    static const summary_index_table& get() {
        static const summary_index_table t;
        return t;
    }

    // Bucket of magnitude a in [2^-64, 2^64): octave index * 64 + sub-bucket.
    std::int32_t index(double a) const noexcept {
        std::uint64_t bits;
        std::memcpy(&bits, &a, 8);
        const int e = static_cast<int>((bits >> 52) & 0x7FF) - 1023;
        const std::uint64_t mant_bits = (bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL;
        double m;
        std::memcpy(&m, &mant_bits, 8);
        int j = start[(bits >> 40) & 0xFFF];
        if (m >= bound[static_cast<std::size_t>(j) + 1]) ++j;
        return (e - summary_min_exponent) * summary_sub_buckets + j;
    }

    // The value reported for bucket `i`: the harmonic mean of its ends, which balances the
    // relative error towards both.
    double representative(std::int32_t i) const noexcept {
        const int oct = i / summary_sub_buckets, j = i % summary_sub_buckets;
        const double lo = std::ldexp(bound[j], oct + summary_min_exponent);
        const double hi = std::ldexp(bound[j + 1], oct + summary_min_exponent);
        return 2 * lo * hi / (lo + hi);
    }
};

// Monotonic time in milliseconds; the coarse clock is cheap enough for the
// hot path and its few-millisecond resolution is far below an age bucket's width.
inline std::int64_t summary_now_ms() noexcept {
#if defined(CLOCK_MONOTONIC_COARSE)
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
#else
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
#endif
}

// One stripe's observations of one summary series (see the file comment).
struct summary_thread_state {
    struct dir {
        detail::atomic<cell_word*> pages[summary_octaves]{};
        ~dir() {
            for (auto& p : pages) delete[] p.load(detail::memory_order_relaxed);
        }
    };
    struct age_slot {
        detail::atomic<std::int64_t> epoch{-1};  // -1: empty or being cleared
        cell_word zero{0};
        detail::atomic<dir*> dirs[2]{};
        ~age_slot() {
            for (auto& d : dirs) delete d.load(detail::memory_order_relaxed);
        }
    };
    explicit summary_thread_state(std::uint32_t n) : ages(new age_slot[n]), count(n) {}
    std::unique_ptr<age_slot[]> ages;
    std::uint32_t count;
    std::uint64_t observations = 0;  // all-time, for _count
    double total = 0;                // all-time, for _sum
};

class summary_series final : public series_base {
public:
    struct params {
        std::vector<double> quantiles;
        summary_options options;
        bool operator==(const params&) const = default;
        [[nodiscard]] text_buffer difference(const params& o) const {
            if (quantiles != o.quantiles)
                return definition_field("quantiles", number_list({quantiles.data(), quantiles.size()}).view(),
                                        number_list({o.quantiles.data(), o.quantiles.size()}).view());
            text_buffer d = number_field("max_age (s)", static_cast<double>(options.max_age.count()),
                                         static_cast<double>(o.options.max_age.count()));
            if (d.empty()) d = number_field("age_buckets", options.age_buckets, o.options.age_buckets);
            return d;
        }
    };
    using options_type = summary_options;
    static constexpr metric_type type = metric_type::summary;

    /// Checks a summary's definition (what registry::summary passes); invalid_argument_error
    /// when a quantile is outside [0, 1] or repeated, or the window is not 1 to 16 age buckets of
    /// at least a second each.
    static params make_params(span<const double> quantiles, summary_options options) {
        for (std::size_t i = 0; i < quantiles.size(); ++i) {
            if (!(quantiles[i] >= 0 && quantiles[i] <= 1))
                throw invalid_argument_error("vitals: summary quantiles must be in [0, 1]");
            for (std::size_t j = 0; j < i; ++j)
                if (quantiles[j] == quantiles[i]) throw invalid_argument_error("vitals: duplicate summary quantile");
        }
        if (options.age_buckets < 1 || options.age_buckets > 16 ||
            options.max_age < std::chrono::seconds(options.age_buckets))
            throw invalid_argument_error("vitals: a summary needs 1 to 16 age buckets of at least a second each");
        return params{std::vector<double>(quantiles.begin(), quantiles.end()), options};
    }

    summary_series(const params& p, span<const string_ref> names, const label_key& key)
        : series_base(names, key),
          quantiles_(p.quantiles),
          ages_(p.options.age_buckets),
          width_ms_(std::max<std::int64_t>(1, std::chrono::milliseconds(p.options.max_age).count() / ages_)),
          table_(&summary_index_table::get()),
          stripes_([n = static_cast<std::uint32_t>(ages_)](summary_thread_state* at) {
              new (at) summary_thread_state(n);
          }) {}

    bool observe(double v) {
        if (std::isnan(v)) return false;
        const std::int64_t epoch = summary_now_ms() / width_ms_;
        const double a = std::fabs(v);
        const bool zero = !(a >= 0x1p-64);
        const std::int32_t i = zero ? 0 : a < 0x1p64 ? table_->index(a) : summary_octaves * summary_sub_buckets - 1;
        stripes_.update([&](summary_thread_state& st) {
            ++st.observations;
            st.total += v;
            auto& slot = st.ages[static_cast<std::size_t>(epoch % ages_)];
            if (slot.epoch.load(detail::memory_order_relaxed) != epoch) [[unlikely]]
                rotate(slot, epoch);
            if (zero) {
                slot.zero.store(slot.zero.load(detail::memory_order_relaxed) + 1, detail::memory_order_relaxed);
                return;
            }
            cell_word& w = page(slot, v < 0, i / summary_sub_buckets)[i % summary_sub_buckets];
            w.store(w.load(detail::memory_order_relaxed) + 1, detail::memory_order_relaxed);
        });
        return true;
    }

    /// Quantile estimates over the window, and the all-time sum and count.
    void read(span<const double> qs, std::vector<quantile_value>& out, double& sum, std::uint64_t& count) {
        const std::int64_t now = summary_now_ms() / width_ms_;
        std::map<std::int32_t, std::uint64_t> merged;  // signed order: negatives, zero (0), positives
        std::uint64_t n = 0, c = 0;
        double s = 0;
        stripes_.for_each([&](const summary_thread_state& st) {
            c += st.observations;
            s += st.total;
            for (std::uint32_t a = 0; a < st.count; ++a) {
                const auto& slot = st.ages[a];
                const std::int64_t e = slot.epoch.load(detail::memory_order_relaxed);
                if (e < 0 || e <= now - ages_ || e > now) continue;
                add_slot(slot, merged);
            }
        });
        for (const auto& [k, v] : merged) n += v;
        out.clear();
        for (double q : qs) {
            double value = std::nan("");
            if (n > 0) {
                const double rank = q * static_cast<double>(n - 1);
                std::uint64_t cum = 0;
                for (const auto& [k, v] : merged) {
                    cum += v;
                    if (static_cast<double>(cum) > rank) {
                        value = k == 0 ? 0.0 : k > 0 ? table_->representative(k - 1) : -table_->representative(-k - 1);
                        break;
                    }
                }
            }
            out.push_back({q, value});
        }
        sum = s;
        count = c;
    }

    void fork_child() noexcept override { stripes_.reset_in_child(); }

    /// Emits the series to a visitor (called by the family with its locks held).
    void emit_locked(sample_visitor& v) {
        double sum = 0;
        std::uint64_t count = 0;
        read(quantiles_, scratch_, sum, count);
        v.summary_sample(view(), scratch_, sum, count);
    }

    [[nodiscard]] span<const double> quantiles() const noexcept { return quantiles_; }

private:
    // Clears an age bucket for a new epoch: readers see the tag change and drop what they read.
    static void rotate(summary_thread_state::age_slot& slot, std::int64_t epoch) noexcept {
        slot.epoch.store(-1, detail::memory_order_relaxed);
        detail::atomic_thread_fence(detail::memory_order_release);
        slot.zero.store(0, detail::memory_order_relaxed);
        for (auto& d : slot.dirs)
            if (auto* dir = d.load(detail::memory_order_relaxed))
                for (auto& p : dir->pages)
                    if (cell_word* words = p.load(detail::memory_order_relaxed))
                        for (int i = 0; i < summary_sub_buckets; ++i) words[i].store(0, detail::memory_order_relaxed);
        slot.epoch.store(epoch, detail::memory_order_release);
    }

    static cell_word* page(summary_thread_state::age_slot& slot, bool negative, std::int32_t octave) {
        auto* dir = slot.dirs[negative].load(detail::memory_order_relaxed);
        if (!dir) [[unlikely]] {
            dir = new summary_thread_state::dir;
            slot.dirs[negative].store(dir, detail::memory_order_release);
        }
        cell_word* p = dir->pages[octave].load(detail::memory_order_relaxed);
        if (!p) [[unlikely]] {
            p = new cell_word[summary_sub_buckets]();
            dir->pages[octave].store(p, detail::memory_order_release);
        }
        return p;
    }

    // Adds an age bucket's counts to `m` under signed keys: -(i+1) for negative bucket i, 0 for
    // the zero bucket, i+1 for positive bucket i, so the map's order is the values' order.
    static void add_slot(const summary_thread_state::age_slot& slot, std::map<std::int32_t, std::uint64_t>& m) {
        if (const auto z = slot.zero.load(detail::memory_order_relaxed)) m[0] += z;
        for (int sign = 0; sign < 2; ++sign) {
            const auto* dir = slot.dirs[sign].load(detail::memory_order_acquire);
            if (!dir) continue;
            for (int o = 0; o < summary_octaves; ++o) {
                const cell_word* words = dir->pages[o].load(detail::memory_order_acquire);
                if (!words) continue;
                for (int j = 0; j < summary_sub_buckets; ++j)
                    if (const auto c = words[j].load(detail::memory_order_relaxed)) {
                        const std::int32_t i = o * summary_sub_buckets + j + 1;
                        m[sign ? -i : i] += c;
                    }
            }
        }
    }

    std::vector<double> quantiles_;
    std::int64_t ages_;
    std::int64_t width_ms_;
    const summary_index_table* table_;
    striped<summary_thread_state> stripes_;
    std::vector<quantile_value> scratch_;  // the family's render lock guards it
};

}  // namespace detail

/// The operations of a summary, shared by the owning handle and the scoped reference.
template <class Derived>
class summary_operations {
protected:
    using series_type = detail::summary_series;  // the series basic_handle owns

public:
    /// Records one observation; NaN is refused (false).
    bool observe(double v) const { return series().observe(v); }

    /// Records a duration in seconds.
    template <class Rep, class Period>
    void observe(std::chrono::duration<Rep, Period> d) const {
        series().observe(std::chrono::duration<double>(d).count());
    }

    /// The family's quantiles, estimated over the current window (NaN when it is empty).
    [[nodiscard]] std::vector<quantile_value> quantiles() const {
        std::vector<quantile_value> out;
        double sum = 0;
        std::uint64_t count = 0;
        series().read(series().quantiles(), out, sum, count);
        return out;
    }

    /// Estimates any quantile `q` in [0, 1] over the current window.
    [[nodiscard]] double quantile(double q) const {
        std::vector<quantile_value> out;
        double sum = 0;
        std::uint64_t count = 0;
        const double qs[1] = {q};
        series().read(qs, out, sum, count);
        return out[0].value;
    }

    /// Number of observations ever made.
    [[nodiscard]] std::uint64_t count() const { return totals().second; }
    /// Sum of all observations ever made.
    [[nodiscard]] double sum() const { return totals().first; }

private:
    std::pair<double, std::uint64_t> totals() const {
        std::vector<quantile_value> out;
        double sum = 0;
        std::uint64_t count = 0;
        series().read({}, out, sum, count);
        return {sum, count};
    }
    detail::summary_series& series() const { return static_cast<const Derived*>(this)->series_ref(); }
};

/// A handle to one summary series (see basic_handle for what handles guarantee).
using summary = basic_handle<summary_operations>;

namespace detail {
template <>
struct series_traits<summary_series> {
    using handle = summary;
    template <class D>
    using operations = summary_operations<D>;
};
}  // namespace detail

#if VITALS_EXTERN_TEMPLATES
extern template class detail::family_impl<detail::summary_series>;  // in libvitals (base/config.hpp)
#endif

}  // namespace vitals
