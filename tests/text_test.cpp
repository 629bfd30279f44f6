// Tests for vitals/exposition/text.hpp: text format 0.0.4, checked byte for byte and by promtool.
#include <vitals/vitals.hpp>
#include <vitals/core/summary.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/promtool.hpp"

using namespace vitals;

namespace {
void expect_promtool_clean(const std::string& out) {
    const auto r = vitals_test::promtool_check(out);
    ASSERT_NE(r.exit_code, 127) << "promtool not found: install Debian's 'prometheus' package";
    EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition ---\n" << out;
    EXPECT_EQ(r.output, "") << out;
}
std::string fmt(double v) {
    char buf[detail::max_double_chars];
    return {buf, detail::format_double(buf, v)};
}
std::string label(double v) {
    char buf[detail::max_double_chars];
    return {buf, detail::format_double_label(buf, v)};
}
std::string canonical(double v) {
    char buf[detail::max_double_chars];
    return {buf, detail::format_double_canonical(buf, v)};
}

// An independent model of Go's strconv.FormatFloat(v, 'g', -1, 64), which client_golang writes
// `le` and `quantile` with. It shares nothing with the library's code: the digits come from
// printf and strtod, the layout from string edits.

// v > 0 as d.ddd x 10^exp with the fewest digits that read back as v. printf's rounding to p digits
// gives the nearest p-digit decimal; at a power of two the gap below v is half the gap above, so
// that nearest one can miss while its neighbour on the far side still reads back: try those too.
struct decimal {
    std::string digits;  // no trailing zeros
    int exp;
};
decimal shortest_decimal(double v) {
    auto normalized = [](unsigned long long mantissa, int exp10) {  // mantissa x 10^exp10
        std::string d = std::to_string(mantissa);
        const int exp = exp10 + static_cast<int>(d.size()) - 1;
        while (d.size() > 1 && d.back() == '0') d.pop_back();
        return decimal{d, exp};
    };
    int binary_exp;
    for (int p = 1; p <= 17; ++p) {
        char s[64];
        std::snprintf(s, sizeof s, "%.*e", p - 1, v);
        std::string mant;
        const char* c = s;
        for (; *c != 'e'; ++c)
            if (*c != '.') mant += *c;
        const int exp = std::atoi(c + 1);
        const unsigned long long m = std::stoull(mant);
        if (std::strtod(s, nullptr) == v) return normalized(m, exp - (p - 1));
        if (std::frexp(v, &binary_exp) != 0.5) continue;  // not a power of two: both gaps are equal
        for (const unsigned long long n : {m + 1, m - 1}) {
            std::snprintf(s, sizeof s, "%llue%d", n, exp - (p - 1));
            if (std::strtod(s, nullptr) == v) return normalized(n, exp - (p - 1));
        }
    }
    ADD_FAILURE() << "no round-trip decimal for " << v;
    return {};
}
std::string go_g(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    const std::string sign = std::signbit(v) ? "-" : "";
    if (v == 0) return sign + "0";
    const auto [digits, exp] = shortest_decimal(std::fabs(v));
    if (exp < -4 || exp >= 6) {  // shortest 'g' compares the exponent with 6, not the digit count
        std::string out = sign + digits.substr(0, 1);
        // Appended in place: GCC 12 at -O3 warns falsely (-Wrestrict) on "." + std::string.
        if (digits.size() > 1) out.append(".").append(digits, 1);
        char e[16];
        std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
        return out + e;
    }
    if (exp < 0) return sign + "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
    std::string out = digits;
    const auto int_digits = static_cast<std::size_t>(exp + 1);
    if (out.size() <= int_digits)
        out.append(int_digits - out.size(), '0');
    else
        out.insert(int_digits, ".");
    return sign + out;
}
// expfmt's writeFloat (text 0.0.4) and writeOpenMetricsFloat (OpenMetrics): both test v == 0
// first, so -0 never shows its sign, and OpenMetrics adds ".0" to what reads as an integer.
std::string expfmt_text(double v) { return v == 0 ? "0" : go_g(v); }
std::string expfmt_openmetrics(double v, const std::string& text) {
    return std::isfinite(v) && text.find_first_of(".e") == std::string::npos ? text + ".0" : text;
}

double parse(const char* s) { return std::strtod(s, nullptr); }

// The values the sweeps cover, negatives included.
std::vector<double> sweep_values() {
    std::vector<double> v;
    char s[32];
    for (int e = -30; e <= 30; ++e) {  // powers of ten, and k x 10^e for k up to 999
        std::snprintf(s, sizeof s, "1e%d", e);
        v.push_back(parse(s));
        if (e < -12 || e > 12) continue;
        for (int k = 1; k < (e >= -7 && e <= 7 ? 1000 : 100); ++k) {  // 3-digit k about both switches
            std::snprintf(s, sizeof s, "%de%d", k, e);
            const double x = parse(s);
            v.insert(v.end(), {x, std::nextafter(x, 0.0), std::nextafter(x, INFINITY)});
        }
    }
    for (const char* b : {"1e-4", "1e-5", "1e5", "1e6", "1e21", "999999.5", "99999.99999", "0.00009999999999",
                          "0.0001000000000001", "123456.789", "1234567.8", "0.30000000000000004"}) {
        const double x = parse(b);
        v.insert(v.end(), {x, std::nextafter(x, 0.0), std::nextafter(x, INFINITY)});
    }
    for (int e = -1074; e <= 1023; ++e) v.push_back(std::ldexp(1.0, e));  // every power of two
    for (double x : {DBL_MAX, std::nextafter(DBL_MAX, 0.0), DBL_MIN, std::nextafter(DBL_MIN, 0.0),
                     std::numeric_limits<double>::denorm_min(), 2 * std::numeric_limits<double>::denorm_min()})
        v.push_back(x);
    for (int i = 0; i <= 20000; ++i) v.push_back(i);
    const double two53 = 9007199254740992.0;
    for (double x : {two53, two53 - 1, two53 + 2, two53 * 2, 0x1p63, 0x1p64, 1e17, 1e22, 1e23, 123456789012345680.0})
        v.push_back(x);
    std::mt19937_64 rng(20240611);
    for (int i = 0; i < 8000; ++i) {
        double x;  // any finite bit pattern: normal and subnormal, every exponent
        do {
            const std::uint64_t bits = rng() & 0x7FFFFFFFFFFFFFFFULL;
            std::memcpy(&x, &bits, sizeof x);
        } while (!std::isfinite(x));
        v.push_back(x);
        const std::uint64_t sub = rng() & 0x000FFFFFFFFFFFFFULL;  // subnormal
        std::memcpy(&x, &sub, sizeof x);
        v.push_back(x);
        v.push_back(std::pow(10.0, std::uniform_real_distribution<double>(-7, 9)(rng)));  // usual bucket range
        v.push_back(static_cast<double>(rng() >> 11));                                    // integers below 2^53
        v.push_back(static_cast<double>(rng()));                                          // and above
    }
    const std::size_t n = v.size();
    for (std::size_t i = 0; i < n; ++i) v.push_back(-v[i]);
    v.push_back(-0.0);
    return v;
}
}  // namespace

TEST(Text, ExactOutput) {
    registry r;
    auto& f = r.counter<"http_requests_total", labels<"method", "code">>("Total requests.");
    f.labels("GET", "200").inc(3);
    f.labels("POST", "500").inc();
    auto g = r.gauge<"queue_depth">("Items waiting.");
    g.set(7.5);
    auto& h = r.histogram<"rpc_duration_seconds", labels<"rpc">>("RPC latency.", std::vector<double>{0.1, 1});
    h.labels("get").observe(0.5);
    EXPECT_EQ(render_text(r),
              "# HELP http_requests_total Total requests.\n"
              "# TYPE http_requests_total counter\n"
              "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
              "http_requests_total{method=\"POST\",code=\"500\"} 1\n"
              "# HELP queue_depth Items waiting.\n"
              "# TYPE queue_depth gauge\n"
              "queue_depth 7.5\n"
              "# HELP rpc_duration_seconds RPC latency.\n"
              "# TYPE rpc_duration_seconds histogram\n"
              "rpc_duration_seconds_bucket{rpc=\"get\",le=\"0.1\"} 0\n"
              "rpc_duration_seconds_bucket{rpc=\"get\",le=\"1\"} 1\n"
              "rpc_duration_seconds_bucket{rpc=\"get\",le=\"+Inf\"} 1\n"
              "rpc_duration_seconds_sum{rpc=\"get\"} 0.5\n"
              "rpc_duration_seconds_count{rpc=\"get\"} 1\n");
    expect_promtool_clean(render_text(r));
}

TEST(Text, MultiLineHelpIsEscaped) {
    registry r;
    r.counter<"escaped_total">("First line\nsecond line with a \\ backslash and \"quotes\"").inc();
    const std::string out = render_text(r);
    EXPECT_NE(out.find("# HELP escaped_total First line\\nsecond line with a \\\\ backslash and \"quotes\"\n"),
              std::string::npos)
        << out;
    expect_promtool_clean(out);
}

TEST(Text, IntegersAsToCharsWritesThem) {
    // format_uint writes every bucket count; std::to_chars is the reference. Each power of ten and
    // its neighbours, every value below 1000, 2^64 - 1, and a million random values.
    std::vector<std::uint64_t> values;
    for (std::uint64_t v = 0; v < 1000; ++v) values.push_back(v);
    for (std::uint64_t p = 10; p <= 10000000000000000000ULL; p *= 10) {
        values.push_back(p - 1);
        values.push_back(p);
        values.push_back(p + 1);
        if (p > 18446744073709551615ULL / 10) break;
    }
    values.push_back(18446744073709551615ULL);
    values.push_back(9007199254740993ULL);  // 2^53 + 1
    std::mt19937_64 rng(7);
    for (int i = 0; i < 1000000; ++i) values.push_back(rng() >> (rng() % 64));
    for (const std::uint64_t v : values) {
        char want[24], got[vitals::detail::max_uint_chars];
        const auto w = static_cast<std::size_t>(std::to_chars(want, want + sizeof want, v).ptr - want);
        const std::size_t g = vitals::detail::format_uint(got, v);
        ASSERT_EQ(std::string(got, g), std::string(want, w)) << v;
    }
}

TEST(Text, FloatFormatting) {
    EXPECT_EQ(fmt(0), "0");
    EXPECT_EQ(fmt(-0.0), "-0");
    EXPECT_EQ(fmt(1), "1");
    EXPECT_EQ(fmt(0.1), "0.1");
    EXPECT_EQ(fmt(1.0 / 3), "0.3333333333333333");
    EXPECT_EQ(fmt(1e21), "1e+21");
    EXPECT_EQ(fmt(5e-324), "5e-324");
    EXPECT_EQ(fmt(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
    EXPECT_EQ(fmt(std::nan("")), "NaN");
    EXPECT_EQ(fmt(INFINITY), "+Inf");
    EXPECT_EQ(fmt(-INFINITY), "-Inf");
    for (double v : {0.1, 1.0 / 3, 123456.789e-300, 2.5e307, 6.02214076e23})
        EXPECT_EQ(std::strtod(fmt(v).c_str(), nullptr), v);  // shortest form still round-trips
}

// The issue's strings and OpenMetrics 1.0's examples of canonical numbers ("Considerations:
// Canonical Numbers"), which client_golang also prints.
TEST(Text, LabelNumbersAsClientGolangWritesThem) {
    const std::pair<double, const char*> text[] = {
        {0.0001, "0.0001"},
        {0.0005, "0.0005"},
        {100000, "100000"},
        {1.5e6, "1.5e+06"},
        {1.23456789e8, "1.23456789e+08"},
        {1e6, "1e+06"},
        {1e-5, "1e-05"},
        {1.5e-5, "1.5e-05"},
        {0.00012345, "0.00012345"},
        {999999, "999999"},
        {999999.5, "999999.5"},
        {123456.789, "123456.789"},
        {1234567, "1.234567e+06"},
        {1e21, "1e+21"},
        {0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-1, "-1"},
        {0.1, "0.1"},
        {2.5, "2.5"},
        {-0.0001, "-0.0001"},
        {-1.5e6, "-1.5e+06"},
        {5e-324, "5e-324"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {9007199254740992.0, "9.007199254740992e+15"},
        {0.1 + 0.2, "0.30000000000000004"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
    };
    for (const auto& [v, want] : text) EXPECT_EQ(label(v), want) << v;
    const std::pair<double, const char*> om[] = {
        {0.0001, "0.0001"},
        {0.0005, "0.0005"},
        {100000, "100000.0"},
        {1.5e6, "1.5e+06"},
        {1.23456789e8, "1.23456789e+08"},
        {0, "0.0"},
        {-0.0, "0.0"},
        {1, "1.0"},
        {-1, "-1.0"},
        {10, "10.0"},
        {0.25, "0.25"},
        {999999, "999999.0"},
        {-100000, "-100000.0"},
        {1e6, "1e+06"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
    };
    for (const auto& [v, want] : om) EXPECT_EQ(canonical(v), want) << v;
    // "1e-10 up to 1e+10 in powers of ten in line with ... 1e-10 1e-09 1e-05 0.0001 0.1 1.0 100000.0 1e+06 1e+10"
    const char* powers[] = {"1e-10",   "1e-09",    "1e-08", "1e-07", "1e-06", "1e-05", "0.0001",
                            "0.001",   "0.01",     "0.1",   "1.0",   "10.0",  "100.0", "1000.0",
                            "10000.0", "100000.0", "1e+06", "1e+07", "1e+08", "1e+09", "1e+10"};
    for (int e = -10; e <= 10; ++e) {
        char s[16];
        std::snprintf(s, sizeof s, "1e%d", e);
        EXPECT_EQ(canonical(parse(s)), powers[e + 10]);
    }
    // "0.0 up to 10.0 in 0.001 increments in line with ... 0.0 0.001 0.002 0.01 0.1 0.9 0.95 0.99
    // 0.999 1.0 1.7 10.0": the decimal itself, trailing zeros dropped, ".0" when nothing is left.
    for (int i = 0; i <= 10000; ++i) {
        std::string frac = std::to_string(1000 + i % 1000).substr(1);
        while (!frac.empty() && frac.back() == '0') frac.pop_back();
        const std::string want = std::to_string(i / 1000) + "." + (frac.empty() ? "0" : frac);
        ASSERT_EQ(canonical(i / 1000.0), want);
    }
}

// Go's rules against the independent model above, over a wide sweep: every power of ten and two,
// k x 10^n and their neighbours, the fixed/exponent switch points, subnormals, DBL_MAX, integers
// to 2^53 and past it, random doubles of every exponent, and the negatives of all of them.
TEST(Text, LabelNumbersMatchGoOverASweep) {
    const auto values = sweep_values();
    std::size_t failures = 0;
    for (const double v : values) {
        const std::string t = label(v), om = canonical(v);
        const std::string want_t = expfmt_text(v), want_om = expfmt_openmetrics(v, want_t);
        if (t != want_t || om != want_om) {
            if (++failures <= 20)
                ADD_FAILURE() << std::hexfloat << v << std::defaultfloat << ": text " << t << " want " << want_t
                              << ", OpenMetrics " << om << " want " << want_om;
            continue;
        }
        if (v != 0 && (parse(t.c_str()) != v || parse(om.c_str()) != v)) {
            if (++failures <= 20) ADD_FAILURE() << t << " does not read back";
        }
        ASSERT_LT(om.size(), detail::max_double_chars);
    }
    EXPECT_EQ(failures, 0u) << "of " << values.size() << " values";
    EXPECT_GT(values.size(), 100000u);
}

// Sample values keep the shortest round-trip form; only label values follow Go's layout.
TEST(Text, SampleValuesKeepTheShortestForm) {
    EXPECT_EQ(fmt(100000), "1e+05");
    EXPECT_EQ(fmt(0.0001), "1e-04");
    EXPECT_EQ(fmt(1500000), "1500000");
    EXPECT_EQ(fmt(-0.0), "-0");
}

// `le` and `quantile` in a rendered exposition: the series client_golang would expose.
TEST(Text, BucketAndQuantileLabelsAsClientGolang) {
    registry r;
    const std::vector<double> bounds{0.0001, 0.0005, 100000, 1.5e6, 1.23456789e8};
    r.histogram<"size_bytes">("Sizes.", bounds).observe(2e6);
    r.summary<"lat_seconds">("Latency.", std::vector<double>{0, 0.0001, 0.5, 0.99, 0.999, 1}).observe(1);
    const std::string out = render_text(r);
    EXPECT_NE(out.find("size_bytes_bucket{le=\"0.0001\"} 0\n"
                       "size_bytes_bucket{le=\"0.0005\"} 0\n"
                       "size_bytes_bucket{le=\"100000\"} 0\n"
                       "size_bytes_bucket{le=\"1.5e+06\"} 0\n"
                       "size_bytes_bucket{le=\"1.23456789e+08\"} 1\n"
                       "size_bytes_bucket{le=\"+Inf\"} 1\n"),
              std::string::npos)
        << out;
    for (const char* q : {"0", "0.0001", "0.5", "0.99", "0.999", "1"})
        EXPECT_NE(out.find("lat_seconds{quantile=\"" + std::string(q) + "\"} "), std::string::npos) << q << "\n" << out;
    expect_promtool_clean(out);
}

TEST(Text, SpecialValuesAcceptedByPromtool) {
    registry r;
    auto& g = r.gauge<"special", labels<"v">>("Special values.");
    g.labels("nan").set(std::nan(""));
    g.labels("inf").set(INFINITY);
    g.labels("ninf").set(-INFINITY);
    g.labels("tiny").set(5e-324);
    g.labels("huge").set(1.7976931348623157e308);
    g.labels("neg").set(-0.0);
    const std::string out = render_text(r);
    EXPECT_NE(out.find("special{v=\"nan\"} NaN\n"), std::string::npos);
    EXPECT_NE(out.find("special{v=\"ninf\"} -Inf\n"), std::string::npos);
    expect_promtool_clean(out);
}

TEST(Text, EmptyRegistryAndEmptyFamily) {
    registry r;
    EXPECT_EQ(render_text(r), "");
    (void)r.counter<"unused_total", labels<"a">>("Never used.");
    EXPECT_EQ(render_text(r), "# HELP unused_total Never used.\n# TYPE unused_total counter\n");
    expect_promtool_clean(render_text(r));
}

TEST(Text, AppendsToCallerBuffer) {
    registry r;
    r.counter<"a_total">("a").inc();
    std::string buf = "prefix\n";
    render_text(r, buf);
    EXPECT_TRUE(buf.starts_with("prefix\n# HELP a_total"));
    EXPECT_EQ(text_content_type, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(Text, CustomSink) {
    struct counting_sink {
        std::size_t bytes = 0;
        void append(const char*, std::size_t n) { bytes += n; }
    } sink;
    registry r;
    r.counter<"a_total">("a").inc();
    render_text(r, sink);
    EXPECT_EQ(sink.bytes, render_text(r).size());
}

TEST(Text, CallbackCounterAndGauge) {
    registry r;
    auto& c = r.callback_counter<"cpu_seconds_total">("CPU.");
    c.set([] { return 12.25; });
    auto& g = r.callback_gauge<"answers", labels<"q">>("Answers.");
    g.set([] { return 42.0; }, "life");
    g.set([]() -> double { throw std::runtime_error("boom"); }, "broken");
    const std::string out = render_text(r);
    EXPECT_NE(out.find("cpu_seconds_total 12.25\n"), std::string::npos);
    EXPECT_NE(out.find("answers{q=\"life\"} 42\n"), std::string::npos);
    EXPECT_NE(out.find("answers{q=\"broken\"} NaN\n"), std::string::npos);
    EXPECT_TRUE(g.remove("broken"));
    expect_promtool_clean(render_text(r));
}

// Several threads increment while another renders in a loop; every render must parse, and the
// totals are exact once the writers stop.
TEST(Text, RendersParseWhileWritersRun) {
    registry r;
    auto& f = r.counter<"ops_total", labels<"worker">>("Operations.");
    auto& h = r.histogram<"op_seconds", labels<"worker">>("Op latency.", http_duration_buckets);
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 3; ++t)
        writers.emplace_back([&, t] {
            const std::string w = "w" + std::to_string(t);
            for (int i = 0; i < 20000; ++i) {
                f.labels(w).inc();
                h.labels(w).observe(i * 1e-4);
            }
        });
    std::vector<std::string> samples;
    std::thread reader([&] {
        do {  // at least once, however fast the writers are
            std::string out = render_text(r);
            if (samples.size() < 5) samples.push_back(std::move(out));
        } while (!stop.load());
    });
    for (auto& w : writers) w.join();
    stop = true;
    reader.join();
    for (const auto& s : samples) expect_promtool_clean(s);
    // std::string("w") +: GCC 12 at -O3 warns falsely (-Wrestrict) on "w" + std::string.
    for (int t = 0; t < 3; ++t) EXPECT_EQ(f.with(std::string("w") + std::to_string(t)).value(), 20000);
}
