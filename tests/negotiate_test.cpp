// Tests for vitals/exposition/negotiate.hpp: the Accept headers Prometheus really sends, q-values,
// wildcards, and garbage.
#include <vitals/exposition/negotiate.hpp>
#include <vitals/exposition/render.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>

using namespace vitals;

namespace {
constexpr std::string_view prom_2_42 =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
constexpr std::string_view prom_2_42_native =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.7,"
    "text/plain;version=0.0.4;q=0.6,*/*;q=0.5";
}  // namespace

TEST(Negotiate, Prometheus242Default) {
    const auto n = negotiate(prom_2_42);
    EXPECT_EQ(n.format, exposition_format::openmetrics_1_0_0);
    EXPECT_EQ(n.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

TEST(Negotiate, Prometheus242WithNativeHistograms) {
    const auto n = negotiate(prom_2_42_native);
    EXPECT_EQ(n.format, exposition_format::protobuf_delimited);
    EXPECT_EQ(n.content_type,
              "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited");
}

TEST(Negotiate, MissingOrUnknownGivesText) {
    for (std::string_view a : {"", "application/json", "text/html,application/xhtml+xml", "image/*;q=0.9"}) {
        const auto n = negotiate(a);
        EXPECT_EQ(n.format, exposition_format::text_0_0_4) << a;
        EXPECT_EQ(n.content_type, "text/plain; version=0.0.4; charset=utf-8") << a;
        EXPECT_EQ(n.content_type, text_content_type);
    }
}

TEST(Negotiate, QValuesDecide) {
    EXPECT_EQ(negotiate("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5").format,
              exposition_format::text_0_0_4);
    EXPECT_EQ(negotiate("text/plain;q=0.5, application/openmetrics-text; version=1.0.0; q=0.6").format,
              exposition_format::openmetrics_1_0_0);
    // q=0 means "not acceptable".
    EXPECT_EQ(negotiate("application/openmetrics-text;q=0,text/plain;q=0.1").format, exposition_format::text_0_0_4);
    // A specific type beats a wildcard of equal q; the earlier of two specific types wins.
    EXPECT_EQ(negotiate("*/*,application/openmetrics-text").format, exposition_format::openmetrics_1_0_0);
    EXPECT_EQ(negotiate("application/openmetrics-text,text/plain").format, exposition_format::openmetrics_1_0_0);
    EXPECT_EQ(negotiate("text/plain,application/openmetrics-text").format, exposition_format::text_0_0_4);
}

TEST(Negotiate, VersionsAndParameters) {
    EXPECT_EQ(negotiate("application/openmetrics-text; version=0.0.1").format, exposition_format::openmetrics_1_0_0);
    EXPECT_EQ(negotiate("application/openmetrics-text; version=2.0.0").format, exposition_format::text_0_0_4);
    EXPECT_EQ(negotiate("text/plain;version=0.0.3").format, exposition_format::text_0_0_4);
    EXPECT_EQ(negotiate("APPLICATION/OpenMetrics-Text; VERSION=\"1.0.0\"").format,
              exposition_format::openmetrics_1_0_0);
    // Protobuf needs the right message and the delimited encoding.
    EXPECT_EQ(negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text").format,
              exposition_format::text_0_0_4);
    EXPECT_EQ(negotiate("application/vnd.google.protobuf;encoding=delimited").format, exposition_format::text_0_0_4);
}

TEST(Negotiate, OfferLimitsTheChoice) {
    EXPECT_EQ(negotiate(prom_2_42_native, {.openmetrics = true, .protobuf = false}).format,
              exposition_format::openmetrics_1_0_0);
    EXPECT_EQ(negotiate(prom_2_42_native, {.openmetrics = false, .protobuf = false}).format,
              exposition_format::text_0_0_4);
}

TEST(Negotiate, MalformedQIgnoresThatRange) {
    EXPECT_EQ(negotiate("application/openmetrics-text;q=abc,text/plain;q=0.5").format, exposition_format::text_0_0_4);
    EXPECT_EQ(negotiate("application/openmetrics-text;q=1.5").format, exposition_format::text_0_0_4);
    EXPECT_EQ(negotiate("application/openmetrics-text;q=0.12345").format, exposition_format::text_0_0_4);
    EXPECT_EQ(negotiate("application/openmetrics-text;q=0.001").format, exposition_format::openmetrics_1_0_0);
}

TEST(Negotiate, GarbageNeverThrowsAndIsBounded) {
    std::mt19937 rng(42);
    const std::string alphabet = "abc/;=,*q.0123456789 \t\"\\\x00\xff";
    for (int i = 0; i < 20000; ++i) {
        std::string s(rng() % 300, ' ');
        for (auto& c : s) c = alphabet[rng() % alphabet.size()];
        const auto n = negotiate(s);
        EXPECT_FALSE(n.content_type.empty());
    }
    // A huge header: only a bounded prefix is read, and it still answers.
    std::string huge;
    for (int i = 0; i < 100000; ++i) huge += "x/y;q=0.5,";
    huge += "application/openmetrics-text";
    EXPECT_EQ(negotiate(huge).format, exposition_format::text_0_0_4);
    EXPECT_EQ(negotiate(",,,;;;===").format, exposition_format::text_0_0_4);
    EXPECT_EQ(negotiate("/").format, exposition_format::text_0_0_4);
}

TEST(Negotiate, ConstantEvaluable) {
    static_assert(negotiate("application/openmetrics-text").format == exposition_format::openmetrics_1_0_0);
    static_assert(negotiate("").format == exposition_format::text_0_0_4);
}

TEST(Render, ServeMetricsPicksFormatAndBody) {
    registry r;
    r.counter<"jobs_total">("Jobs.").inc(2);
    const auto om = serve_metrics(r, prom_2_42);
    EXPECT_EQ(om.content_type, openmetrics_content_type);
    EXPECT_EQ(om.body, "# HELP jobs Jobs.\n# TYPE jobs counter\njobs_total 2\n# EOF\n");
    const auto txt = serve_metrics(r, "");
    EXPECT_EQ(txt.body, render_text(r));
    const auto pb = serve_metrics(r, prom_2_42_native);
    EXPECT_EQ(pb.body, render_protobuf(r));
    std::string out;
    render(r, exposition_format::text_0_0_4, out);
    EXPECT_EQ(out, render_text(r));
}
