// Tests for vitals/health/handler.hpp: JSON and Kubernetes-style text
// output, query handling, per-check paths and detail withholding.
#include "vitals/health/handler.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

using namespace std::chrono_literals;
namespace h = vitals::health;

namespace {

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// A probe with one healthy critical check, one failing non-critical check
// whose message contains something secret.
std::unique_ptr<h::probe> mixed_probe() {
    auto p = std::make_unique<h::probe>();
    p->add("database", [] { return h::healthy(); });
    p->add("redis", [] { return h::unhealthy("connect to 10.1.2.3:6379 as admin:hunter2 refused"); },
           {.critical = false, .timeout = 1s});
    (void)p->run_now();  // answers read the latest results: have some
    return p;
}

}  // namespace

TEST(HealthHandler, ParsesQuery) {
    auto q = h::parse_query("?verbose&exclude=redis&exclude=db%2Fx&format=text&unknown=1");
    EXPECT_TRUE(q.verbose);
    EXPECT_EQ(q.exclude, (std::vector<std::string>{"redis", "db/x"}));
    ASSERT_TRUE(q.fmt.has_value());
    EXPECT_EQ(*q.fmt, h::format::text);

    q = h::parse_query("verbose=false&&exclude=&format=bogus");
    EXPECT_FALSE(q.verbose);
    EXPECT_TRUE(q.exclude.empty());
    EXPECT_FALSE(q.fmt.has_value());

    q = h::parse_query("exclude=a+b&exclude=%zz");
    EXPECT_EQ(q.exclude, (std::vector<std::string>{"a b", "%zz"}));
}

TEST(HealthHandler, ReadyJsonMatchesSeedShape) {
    h::probe p;
    p.add("database", [] { return true; });
    (void)p.run_now();
    const auto r = h::handle_ready(p, "", "");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_TRUE(r.body.starts_with(
        R"({"status":"ready","degraded":false,"checks":{"database":{"name":"database","healthy":true,"status":"healthy","critical":true,"latency_ms":)"))
        << r.body;
    EXPECT_FALSE(contains(r.body, "message")) << r.body;
}

TEST(HealthHandler, NonCriticalFailureIsReadyButDegraded) {
    auto p = mixed_probe();
    const auto r = h::handle_ready(*p, "/", "");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(contains(r.body, R"("status":"ready","degraded":true)")) << r.body;
    EXPECT_TRUE(contains(r.body, R"("redis":{"name":"redis","healthy":false,"status":"unhealthy","critical":false)"))
        << r.body;
    EXPECT_TRUE(contains(r.body, R"("message":"failed")")) << r.body;
}

TEST(HealthHandler, CriticalFailureIsNotReady) {
    h::probe p;
    p.add("database", [] { return false; });
    (void)p.run_now();
    const auto r = h::handle_ready(p, "", "");
    EXPECT_EQ(r.status, 503);
    EXPECT_TRUE(r.body.starts_with(R"({"status":"not-ready","degraded":false,)")) << r.body;
}

TEST(HealthHandler, DetailsWithheldByDefaultAndShownWhenEnabled) {
    auto p = mixed_probe();
    const auto hidden_json = h::handle_ready(*p, "", "");
    const auto hidden_text = h::handle_ready(*p, "", "verbose");
    for (const auto* body : {&hidden_json.body, &hidden_text.body}) {
        EXPECT_FALSE(contains(*body, "hunter2")) << *body;
        EXPECT_FALSE(contains(*body, "10.1.2.3")) << *body;
    }
    EXPECT_TRUE(contains(hidden_text.body, "[-]redis failed (non-critical): reason withheld")) << hidden_text.body;

    const h::handler_options show{.expose_details = true};
    const auto shown_json = h::handle_ready(*p, "", "", show);
    const auto shown_text = h::handle_ready(*p, "", "verbose", show);
    EXPECT_TRUE(contains(shown_json.body, R"("message":"connect to 10.1.2.3:6379 as admin:hunter2 refused")"))
        << shown_json.body;
    EXPECT_TRUE(contains(shown_text.body, "[-]redis failed (non-critical): connect to 10.1.2.3:6379"))
        << shown_text.body;
}

TEST(HealthHandler, TimeoutIsNamedEvenWhenDetailsAreWithheld) {
    auto released = std::make_shared<std::atomic<bool>>(false);
    h::probe p;
    p.add("slow",
          [released] {
              const auto until = h::clock::now() + 10s;
              while (!*released && h::clock::now() < until) std::this_thread::sleep_for(5ms);
              return true;
          },
          {.critical = true, .timeout = 30ms});
    (void)p.run_now();  // returns at the timeout
    const auto json = h::handle_ready(p, "", "");
    const auto text = h::handle_ready(p, "", "verbose");
    *released = true;
    EXPECT_EQ(json.status, 503);
    EXPECT_TRUE(contains(json.body, R"("message":"timeout")")) << json.body;
    EXPECT_TRUE(contains(text.body, "[-]slow failed: timeout\n")) << text.body;
}

TEST(HealthHandler, VerboseTextListsEveryCheck) {
    auto p = mixed_probe();
    const auto r = h::handle_ready(*p, "", "verbose");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(r.body,
              "[+]database ok\n"
              "[-]redis failed (non-critical): reason withheld\n"
              "readyz check passed\n");
}

TEST(HealthHandler, TextWithoutVerboseIsTerseOnSuccessAndDetailedOnFailure) {
    h::probe ok;
    ok.add("database", [] { return true; });
    (void)ok.run_now();
    const auto good = h::handle_ready(ok, "", "format=text");
    EXPECT_EQ(good.status, 200);
    EXPECT_EQ(good.body, "ok\n");

    h::probe bad;
    bad.add("database", [] { return false; });
    (void)bad.run_now();
    const auto fail = h::handle_ready(bad, "", "", {.default_format = h::format::text});
    EXPECT_EQ(fail.status, 503);
    EXPECT_EQ(fail.body, "[-]database failed: reason withheld\nreadyz check failed\n");

    // An explicit format wins over ?verbose.
    const auto json = h::handle_ready(ok, "", "verbose&format=json");
    EXPECT_EQ(json.content_type, "application/json");
}

TEST(HealthHandler, ExcludeSkipsChecks) {
    h::probe p;
    p.add("database", [] { return true; });
    p.add("redis", [] { return false; });
    p.add("events", [] { return false; });
    (void)p.run_now();
    EXPECT_EQ(h::handle_ready(p, "", "").status, 503);
    EXPECT_EQ(h::handle_ready(p, "", "exclude=redis").status, 503);
    const auto r = h::handle_ready(p, "", "verbose&exclude=redis&exclude=events&exclude=unknown");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body,
              "[+]database ok\n"
              "[+]redis excluded: ok\n"
              "[+]events excluded: ok\n"
              "readyz check passed\n");
    const auto j = h::handle_ready(p, "", "exclude=redis&exclude=events");
    EXPECT_FALSE(contains(j.body, "redis")) << j.body;
}

TEST(HealthHandler, PerCheckPath) {
    auto p = mixed_probe();
    const auto db = h::handle_ready(*p, "/database", "");
    EXPECT_EQ(db.status, 200);
    EXPECT_TRUE(db.body.starts_with(R"({"name":"database","healthy":true,)")) << db.body;

    // A failing dependency fails its own endpoint even when non-critical.
    const auto redis = h::handle_ready(*p, "redis", "format=text");
    EXPECT_EQ(redis.status, 503);
    EXPECT_EQ(redis.body, "[-]redis failed (non-critical): reason withheld\nreadyz check failed\n");

    const auto db_text = h::handle_ready(*p, "/database/", "format=text");
    EXPECT_EQ(db_text.body, "ok\n");
    const auto db_verbose = h::handle_ready(*p, "/database", "verbose");
    EXPECT_EQ(db_verbose.body, "[+]database ok\nreadyz check passed\n");

    const auto missing = h::handle_ready(*p, "/nope", "");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.body, R"({"error":"unknown check"})");
}

TEST(HealthHandler, MessagesCannotForgeTextLinesOrBreakJson) {
    h::probe p;
    p.add("evil", [] { return h::unhealthy("x\n[+]fake ok\n\"}\xFF"); });
    (void)p.run_now();
    const h::handler_options show{.expose_details = true};
    const auto text = h::handle_ready(p, "", "verbose", show);
    EXPECT_FALSE(contains(text.body, "\n[+]fake")) << text.body;
    const auto json = h::handle_ready(p, "", "", show);
    // Newlines and quotes escaped, the invalid byte replaced by U+FFFD.
    EXPECT_TRUE(contains(json.body, R"("message":"x\n[+]fake ok\n\"})"
                                    "\xEF\xBF\xBD\""))
        << json.body;
}

TEST(HealthHandler, DegradedCheckShownAsPassing) {
    h::probe p;
    p.add("replica", [] { return h::degraded("lag 30s"); });
    (void)p.run_now();
    const auto r = h::handle_ready(p, "", "verbose");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "[+]replica degraded: reason withheld\nreadyz check passed\n");
    const auto j = h::handle_ready(p, "", "");
    EXPECT_TRUE(contains(j.body, R"("degraded":true)")) << j.body;
    EXPECT_TRUE(contains(j.body, R"("healthy":true,"status":"degraded")")) << j.body;
    EXPECT_TRUE(contains(j.body, R"("message":"degraded")")) << j.body;
}

TEST(HealthHandler, Liveness) {
    h::liveness l(h::clock::now() - 2s);
    auto r = h::handle_live(l, "");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_TRUE(r.body.starts_with(R"({"status":"healthy","uptime_seconds":)")) << r.body;
    EXPECT_EQ(h::handle_live(l, "format=text").body, "ok\n");
    EXPECT_EQ(h::handle_live(l, "verbose").body, "[+]process ok\nlivez check passed\n");

    l.mark_unhealthy("disk corrupted at /var/lib/x");
    r = h::handle_live(l, "");
    EXPECT_EQ(r.status, 503);
    EXPECT_TRUE(r.body.starts_with(R"({"status":"unhealthy","uptime_seconds":)")) << r.body;
    EXPECT_FALSE(contains(r.body, "corrupted"));
    r = h::handle_live(l, "", {.expose_details = true});
    EXPECT_TRUE(contains(r.body, R"("message":"disk corrupted at /var/lib/x")")) << r.body;
    EXPECT_EQ(h::handle_live(l, "verbose").body, "[-]process failed: reason withheld\nlivez check failed\n");
}

TEST(HealthHandler, PendingFirstRunIsNotReadyAndSaysSo) {
    auto released = std::make_shared<std::atomic<bool>>(false);
    h::probe p;
    p.add("warming",
          [released] {
              const auto until = h::clock::now() + 10s;
              while (!*released && h::clock::now() < until) std::this_thread::sleep_for(5ms);
              return true;
          },
          {.timeout = 30s});
    const auto json = h::handle_ready(p, "", "");
    const auto text = h::handle_ready(p, "", "verbose");
    *released = true;
    EXPECT_EQ(json.status, 503);
    EXPECT_TRUE(contains(json.body, R"("message":"pending")")) << json.body;
    EXPECT_EQ(text.body, "[-]warming failed: pending\nreadyz check failed\n");
}

// The renderers are public: a report built by hand is written exactly as the handlers write one.
TEST(HealthHandler, PublicRenderersWriteAnyReport) {
    h::readiness_report report;
    report.ready = false;
    report.status = h::status::unhealthy;
    h::check_report db;
    db.name = "database";
    db.result = h::unhealthy("password authentication failed for user \"app\"");
    db.result.latency = 1500us;
    db.age = 250ms;
    report.checks.push_back(db);
    report.excluded.push_back("cache");
    EXPECT_EQ(h::readiness_json(report),
              R"({"status":"not-ready","degraded":false,"checks":{"database":{"name":"database","healthy":false,)"
              R"("status":"unhealthy","critical":true,"latency_ms":1.5,"age_ms":250,"message":"failed"}}})");
    EXPECT_EQ(h::readiness_text(report),
              "[-]database failed: reason withheld\n[+]cache excluded: ok\nreadyz check failed\n");
    const h::handler_options show{.expose_details = true};
    EXPECT_TRUE(contains(h::check_json(db, show), "password authentication failed")) << h::check_json(db, show);
    EXPECT_EQ(h::check_text(db), "[-]database failed: reason withheld\nreadyz check failed\n");
    const auto answer = h::ready_response(report, "format=text");
    EXPECT_EQ(answer.status, 503);
    EXPECT_EQ(answer.content_type, "text/plain; charset=utf-8");
    h::liveness l;
    EXPECT_TRUE(h::liveness_json(l).starts_with(R"({"status":"healthy","uptime_seconds":)"));
    EXPECT_EQ(h::liveness_text(l), "ok\n");
}
