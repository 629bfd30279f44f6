// Test support: drives every metric kind with the inputs that break expositions — negative, NaN,
// ±Inf, ±0, subnormal, 2^53 and 2^64 neighbours, bucket boundaries, label and exemplar values
// with NUL, quotes, newlines and invalid UTF-8, callbacks that return nonsense or throw, series
// past their family's limit — read from a byte string. The fuzz target hostile_values_fuzz feeds it
// libFuzzer's bytes; tests/hostile_values_test.cpp feeds it a seeded random stream and hands every
// render to the real consumers. The API may refuse an input only with a vitals::error (caught
// here, counted in `refused`); any other exception escapes.
#pragma once

#include <vitals/core/exemplar.hpp>
#include <vitals/core/info.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/vitals.hpp>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vitals_test {

/// Reads values from a byte string; past its end every read gives zero.
class byte_source {
public:
    explicit byte_source(std::string_view in) : in_(in) {}
    [[nodiscard]] bool empty() const noexcept { return in_.empty(); }
    std::uint8_t byte() {
        if (in_.empty()) return 0;
        const auto b = static_cast<std::uint8_t>(in_[0]);
        in_.remove_prefix(1);
        return b;
    }
    std::uint64_t word() {
        std::uint64_t w = 0;
        for (int i = 0; i < 8; ++i) w = w << 8 | byte();
        return w;
    }
    /// Mostly one of the values that break expositions; sometimes any bit pattern.
    double value() {
        static const double special[] = {0.0,
                                         -0.0,
                                         std::numeric_limits<double>::quiet_NaN(),
                                         -std::numeric_limits<double>::quiet_NaN(),
                                         INFINITY,
                                         -INFINITY,
                                         9007199254740992.0,
                                         9007199254740994.0,
                                         18446744073709551616.0,
                                         18446744073709549568.0,
                                         DBL_MAX,
                                         -DBL_MAX,
                                         DBL_MIN,
                                         -DBL_MIN,
                                         std::numeric_limits<double>::denorm_min(),
                                         -std::numeric_limits<double>::denorm_min(),
                                         1e-310,
                                         0.1,
                                         0.5,
                                         1.0,
                                         -1.0,
                                         std::nextafter(1.0, 0.0),
                                         std::nextafter(1.0, 2.0),
                                         1e300,
                                         -1e300,
                                         -3.0,
                                         1e9,
                                         -1e9,
                                         0.001,
                                         0.08838834764831845,
                                         0.0883883476483185,
                                         2.5,
                                         10.0,
                                         std::nextafter(10.0, 0.0),
                                         1.5e6,
                                         1.23456789e8,
                                         1e-4,
                                         5e-4};
        constexpr std::size_t n = sizeof special / sizeof special[0];
        const std::uint8_t b = byte();
        if (b < 224) return special[b % n];
        const std::uint64_t bits = word();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
    }
    /// 0 to 31 arbitrary bytes.
    std::string text() {
        const std::size_t len = byte() % 32;
        std::string s;
        for (std::size_t i = 0; i < len && !in_.empty(); ++i) s += static_cast<char>(byte());
        return s;
    }

private:
    std::string_view in_;
};

/// One registry of every kind, driven by apply().
class hostile_workload {
public:
    hostile_workload()
        : reg_({{"service", "fuzz"}}),
          counters_(
              reg_.counter<"hostile_events_total", vitals::labels<"k">>("Counter \\ with \"quotes\"\nand lines.")),
          gauges_(reg_.gauge<"hostile_level", vitals::labels<"k">>("Gauge.")),
          signed_(reg_.histogram<"hostile_offset_seconds", vitals::labels<"k">>("Negative buckets.",
                                                                                std::vector<double>{-1, 0, 0.5})),
          latency_(reg_.histogram<"hostile_latency_seconds", vitals::labels<"k">>(
              "Boundaries.", std::vector<double>{0.001, 0.1, 1, 10, 1e300})),
          summary_(reg_.summary<"hostile_rpc_seconds", vitals::labels<"k">>("Summary.")),
          native_(reg_.native_histogram<"hostile_payload_bytes", vitals::labels<"k">>("Native.", native_options())),
          callback_counters_(reg_.callback_counter<"hostile_external_total", vitals::labels<"k">>("Callback.")),
          callback_gauges_(reg_.callback_gauge<"hostile_external_level", vitals::labels<"k">>("Callback gauge.")),
          info_(reg_.info<"hostile_build_info", vitals::labels<"version">>("Build.")),
          state_(reg_.stateset<"hostile_mode", vitals::labels<"k">>("Mode.", std::vector<std::string>{"on", "off"})) {
        for (vitals::family_base* f :
             {static_cast<vitals::family_base*>(&counters_), static_cast<vitals::family_base*>(&gauges_),
              static_cast<vitals::family_base*>(&signed_), static_cast<vitals::family_base*>(&latency_),
              static_cast<vitals::family_base*>(&summary_), static_cast<vitals::family_base*>(&native_)})
            f->set_series_limit(6);  // label values from the input soon reach the overflow series
        for (int i = 0; i < 3; ++i) {
            callback_counters_.set([this, i]() -> double { return callback(i); }, "c" + std::to_string(i));
            callback_gauges_.set([this, i]() -> double { return callback(i); }, "g" + std::to_string(i));
        }
    }

    /// Applies up to 512 operations read from `in`.
    void apply(std::string_view in) {
        byte_source src(in);
        for (int op = 0; op < 512 && !src.empty(); ++op) {
            try {
                step(src);
            } catch (const vitals::error&) {
                ++refused;
            }
        }
    }

    [[nodiscard]] const vitals::registry& registry() const noexcept { return reg_; }

    std::uint64_t refused = 0;  ///< Operations the API refused with a vitals::error.

private:
    static vitals::native_histogram_options native_options() {
        vitals::native_histogram_options o;
        o.max_buckets = 12;
        o.max_zero_threshold = 1e-3;
        o.classic_buckets = {0.5, 1, 100};
        return o;
    }

    double callback(int i) const {
        if (callback_throws_[i]) throw std::runtime_error("backend gone");
        return callback_values_[i];
    }

    void step(byte_source& src) {
        const std::uint8_t op = src.byte() % 16;
        const std::string k = src.text();
        switch (op) {
            case 0:
                (void)counters_.labels(k).inc(src.value());
                break;
            case 1:
                (void)counters_.labels(k).inc(src.word());
                break;
            case 2:
                (void)counters_.labels(k).inc(src.value(), vitals::exemplar_labels{{"trace_id", src.text()}});
                break;
            case 3:
                gauges_.labels(k).set(src.value());
                break;
            case 4:
                gauges_.labels(k).inc(src.value());
                break;
            case 5:
                gauges_.labels(k).dec(src.value());
                break;
            case 6:
                (void)signed_.labels(k).observe(src.value());
                break;
            case 7:
                (void)latency_.labels(k).observe(src.value());
                break;
            case 8:
                (void)latency_.labels(k).observe(src.value(), vitals::exemplar_labels{{"span", src.text()}});
                break;
            case 9:
                (void)summary_.labels(k).observe(src.value());
                break;
            case 10:
                (void)native_.labels(k).observe(src.value());
                break;
            case 11: {
                const int i = src.byte() % 3;
                callback_values_[i] = src.value();
                callback_throws_[i] = (src.byte() & 7) == 0;
                break;
            }
            case 12:
                info_.replace(k);
                break;
            case 13:
                state_.labels(k).set((src.byte() & 1) ? "on" : "off", (src.byte() & 1) != 0);
                break;
            case 14:
                counters_.remove(k);
                break;
            default:
                gauges_.labels(k).set(static_cast<double>(src.word()));
                break;
        }
    }

    vitals::registry reg_;
    vitals::counter_family<vitals::labels<"k">>& counters_;
    vitals::gauge_family<vitals::labels<"k">>& gauges_;
    vitals::histogram_family<vitals::labels<"k">>& signed_;
    vitals::histogram_family<vitals::labels<"k">>& latency_;
    vitals::summary_family<vitals::labels<"k">>& summary_;
    vitals::native_histogram_family<vitals::labels<"k">>& native_;
    vitals::callback_family<vitals::metric_type::counter, vitals::labels<"k">>& callback_counters_;
    vitals::callback_family<vitals::metric_type::gauge, vitals::labels<"k">>& callback_gauges_;
    vitals::info_family<vitals::labels<"version">>& info_;
    vitals::stateset_family<vitals::labels<"k">>& state_;
    double callback_values_[3] = {1, 2, 3};
    bool callback_throws_[3] = {false, false, false};
};

}  // namespace vitals_test
