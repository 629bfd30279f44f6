// registry_set: several registries on one endpoint give one valid exposition in every format
// (one `# EOF`, each family once), and two registries that define a name differently give a
// clear error, or, when the clash appears after the set was built, a render that leaves the
// later family out and says so. Every render is checked by the real consumers: promtool, the
// Python client's strict OpenMetrics parser and the protobuf decoder.
#include <vitals/core/registry_set.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/exposition/protobuf.hpp>
#include <vitals/exposition/render.hpp>
#include <vitals/http/metrics_endpoint.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/openmetrics.hpp"
#include "support/promtool.hpp"
#include "support/protobuf_decode.hpp"

using namespace vitals;
namespace pb = vitals_test::pb;

namespace {

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// Every consumer accepts every format; returns the OpenMetrics body for further checks.
std::string expect_every_consumer_accepts(const metric_source& s) {
    const std::string om = render_openmetrics(s);
    const auto p = vitals_test::openmetrics_check(om);
    EXPECT_FALSE(p.parser_missing) << "install Debian's python3-prometheus-client: " << p.output;
    EXPECT_TRUE(p.ok) << p.output << "\n--- OpenMetrics ---\n" << om;
    EXPECT_EQ(count_of(om, "# EOF"), 1u) << om;
    const std::string text = render_text(s);
    const auto t = vitals_test::promtool_check(text);
    EXPECT_NE(t.exit_code, 127) << "promtool not found";
    EXPECT_EQ(t.exit_code, 0) << t.output << "\n--- text ---\n" << text;
    EXPECT_NO_THROW(pb::decode_families(render_protobuf(s)));
    return om;
}

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const error& e) {
        return e.what();
    }
    return "<no error>";
}

}  // namespace

TEST(RegistrySet, DisjointRegistriesRenderAsOneExposition) {
    registry ops({{"service", "api"}});
    registry process;
    ops.counter<"http_requests_total", labels<"route">>("Requests.").labels("/a").inc(3);
    ops.histogram<"http_request_duration_seconds">("Latency.", {0.1, 1}).observe(0.5);
    process.gauge<"process_open_fds">("Open descriptors.").set(12);
    process.counter<"process_cpu_seconds_total">("CPU time.").inc(1.5);
    const registry_set both(ops, process);
    EXPECT_EQ(both.size(), 2u);

    const std::string om = expect_every_consumer_accepts(both);
    EXPECT_NE(om.find("http_requests_total{service=\"api\",route=\"/a\"} 3\n"), std::string::npos) << om;
    EXPECT_NE(om.find("process_open_fds 12\n"), std::string::npos) << om;
    EXPECT_LT(om.find("http_requests"), om.find("process_open_fds"));  // members in the order given
    // The text and protobuf renders are the members' renders end to end.
    EXPECT_EQ(render_text(both), render_text(ops) + render_text(process));
    EXPECT_EQ(render_protobuf(both), render_protobuf(ops) + render_protobuf(process));
    // Every entry point takes a set: negotiation and the HTTP helper.
    const auto served = serve_metrics(both, "application/openmetrics-text; version=1.0.0");
    EXPECT_EQ(served.body, om);
    EXPECT_EQ(http::render_metrics(both, "text/plain").body, render_text(both));
}

TEST(RegistrySet, AFamilyDefinedAlikeIsRenderedOnceWithEveryRegistrysSeries) {
    registry a({{"shard", "a"}});
    registry b({{"shard", "b"}});
    auto& ca = a.counter<"jobs_total", labels<"kind">>("Jobs done.");
    auto& cb = b.counter<"jobs_total", labels<"kind">>("Jobs done.");
    ca.labels("x").inc(2);
    cb.labels("x").inc(5);
    cb.labels("y").inc(1);
    a.histogram<"job_seconds">("Job time.", {1}).observe(0.5);
    b.histogram<"job_seconds">("Job time.", {1}).observe(2);
    b.gauge<"queue_depth">("B's own.").set(1);
    const registry_set set(a, b);

    const std::string om = expect_every_consumer_accepts(set);
    EXPECT_EQ(count_of(om, "# TYPE jobs counter"), 1u) << om;
    EXPECT_EQ(count_of(om, "# TYPE job_seconds histogram"), 1u) << om;
    EXPECT_NE(om.find("jobs_total{shard=\"a\",kind=\"x\"} 2\n"), std::string::npos) << om;
    EXPECT_NE(om.find("jobs_total{shard=\"b\",kind=\"x\"} 5\n"), std::string::npos) << om;
    EXPECT_NE(om.find("jobs_total{shard=\"b\",kind=\"y\"} 1\n"), std::string::npos) << om;
    EXPECT_NE(om.find("job_seconds_bucket{shard=\"b\",le=\"+Inf\"} 1\n"), std::string::npos) << om;
    // The merged family's series come together: a's, then b's, then the next family.
    EXPECT_LT(om.find("jobs_total{shard=\"b\",kind=\"y\"}"), om.find("# TYPE job_seconds"));

    const std::string text = render_text(set);
    EXPECT_EQ(count_of(text, "# TYPE jobs_total counter"), 1u) << text;
    EXPECT_EQ(count_of(text, "# HELP job_seconds "), 1u) << text;

    const auto families = pb::decode_families(render_protobuf(set));
    ASSERT_EQ(families.size(), 3u);
    const auto& jobs = pb::find(families, "jobs_total");
    ASSERT_EQ(jobs.metrics.size(), 3u);
    EXPECT_EQ(jobs.metrics[0].label("shard"), "a");
    EXPECT_EQ(jobs.metrics[2].label("shard"), "b");
    EXPECT_EQ(jobs.metrics[2].label("kind"), "y");
}

TEST(RegistrySet, ConflictingDefinitionsAreRefusedWithTheReason) {
    {
        registry a, b;
        a.counter<"x_total">("Help.");
        b.gauge<"x_total">("Help.");
        const std::string why = error_of([&] { registry_set s(a, b); });
        EXPECT_NE(why.find("metric 'x_total' of registry #2"), std::string::npos) << why;
        EXPECT_NE(why.find("defined differently in registry #1"), std::string::npos) << why;
    }
    {
        registry a, b;
        a.counter<"x_total">("One help.");
        b.counter<"x_total">("Another help.");
        EXPECT_THROW(registry_set(a, b), registration_error);
    }
    {
        registry a, b;
        a.histogram<"h_seconds">("H.", {1});
        b.histogram<"h_seconds">("H.", {2});
        EXPECT_THROW(registry_set(a, b), registration_error);
    }
    {
        registry a, b;
        a.counter<"c_total", labels<"x">>("C.");
        b.counter<"c_total", labels<"y">>("C.");
        EXPECT_THROW(registry_set(a, b), registration_error);
    }
    {
        // Alike, but nothing tells the two registries' series apart.
        registry a({{"env", "prod"}}), b({{"env", "prod"}});
        a.gauge<"g">("G.").set(1);
        b.gauge<"g">("G.").set(2);
        const std::string why = error_of([&] { registry_set s(a, b); });
        EXPECT_NE(why.find("rendered twice"), std::string::npos) << why;
    }
    {
        // A const label the family overrides does not tell them apart either.
        registry a({{"route", "x"}}), b({{"route", "y"}});
        a.counter<"r_total", labels<"route">>("R.");
        b.counter<"r_total", labels<"route">>("R.");
        EXPECT_THROW(registry_set(a, b), registration_error);
    }
    {
        // Different names, one sample name: a histogram's _count and a gauge.
        registry a, b;
        a.histogram<"lat">("L.", {1});
        b.gauge<"lat_count">("G.");
        const std::string why = error_of([&] { registry_set s(a, b); });
        EXPECT_NE(why.find("would expose 'lat_count', which 'lat' of registry #1 exposes"), std::string::npos) << why;
    }
    {
        // OpenMetrics names a counter's family without _total.
        registry a, b;
        a.counter<"sent_total">("S.");
        b.gauge<"sent">("G.");
        EXPECT_THROW(registry_set(a, b), registration_error);
    }
    {
        registry a;
        EXPECT_THROW(registry_set(a, a), invalid_argument_error);
        EXPECT_THROW(registry_set(span<const registry* const>{}), invalid_argument_error);
        const registry* with_null[] = {&a, nullptr};
        EXPECT_THROW(registry_set(span<const registry* const>{with_null, 2}), invalid_argument_error);
    }
}

TEST(RegistrySet, ALaterConflictIsLeftOutOfTheRenderAndNamed) {
    registry a, b({{"side", "b"}});
    a.counter<"events_total">("Events.").inc(4);
    const registry_set set(a, b);
    EXPECT_NO_THROW(set.check());

    b.gauge<"events_total">("Not a counter.").set(99);  // b alone is fine; in the set it clashes
    b.gauge<"fine">("Fine.").set(7);
    const std::string om = expect_every_consumer_accepts(set);
    EXPECT_NE(om.find("events_total 4\n"), std::string::npos) << om;
    EXPECT_EQ(om.find("99"), std::string::npos) << om;
    EXPECT_NE(om.find("fine{side=\"b\"} 7\n"), std::string::npos) << om;
    EXPECT_NE(om.find("vitals_conflicting_definitions{metric=\"events_total\"} 1\n"), std::string::npos) << om;
    const std::string why = error_of([&] { set.check(); });
    EXPECT_NE(why.find("'events_total' of registry #2"), std::string::npos) << why;

    // Once the clash is gone, so is the self-metric.
    ASSERT_TRUE(b.unregister("events_total"));
    const std::string after = expect_every_consumer_accepts(set);
    EXPECT_EQ(after.find("vitals_conflicting_definitions"), std::string::npos) << after;
    EXPECT_NO_THROW(set.check());
    // The name vitals renders for this is reserved in every registry.
    EXPECT_THROW(a.gauge("vitals_conflicting_definitions", "Mine."), registration_error);
}

TEST(RegistrySet, SeriesLimitRejectionsOfEveryRegistryAreOneFamily) {
    registry a({{"side", "a"}}), b({{"side", "b"}});
    auto& fa = a.counter<"hits_total", labels<"user">>("Hits.");
    auto& fb = b.counter<"misses_total", labels<"user">>("Misses.");
    fa.set_series_limit(2);
    fb.set_series_limit(1);
    for (int i = 0; i < 5; ++i) {
        fa.labels(std::to_string(i)).inc();
        fb.labels(std::to_string(i)).inc();
    }
    const registry_set set(a, b);
    const std::string om = expect_every_consumer_accepts(set);
    EXPECT_EQ(count_of(om, "# TYPE vitals_series_limit_rejections counter"), 1u) << om;
    EXPECT_NE(om.find("vitals_series_limit_rejections_total{side=\"a\",metric=\"hits_total\"} 3\n"), std::string::npos)
        << om;
    EXPECT_NE(om.find("vitals_series_limit_rejections_total{side=\"b\",metric=\"misses_total\"} 4\n"),
              std::string::npos)
        << om;
    const auto families = pb::decode_families(render_protobuf(set));
    EXPECT_EQ(pb::find(families, "vitals_series_limit_rejections_total").metrics.size(), 2u);
}

TEST(RegistrySet, RuntimeListOfRegistries) {
    registry a({{"n", "0"}}), b({{"n", "1"}}), c({{"n", "2"}});
    for (registry* r : {&a, &b, &c}) r->summary<"rpc_seconds">("RPC time.").observe(0.25);
    const registry* all[] = {&a, &b, &c};
    const registry_set set(span<const registry* const>{all, 3});
    const std::string om = expect_every_consumer_accepts(set);
    EXPECT_EQ(count_of(om, "# TYPE rpc_seconds summary"), 1u) << om;
    EXPECT_EQ(count_of(om, "rpc_seconds_count{"), 3u) << om;
}

// Renders of two sets over the same registries in opposite orders, renders of the registries on
// their own, registrations and unregistrations (which free a family only once no set render can
// still read it), all at once: nothing deadlocks or races, every render is whole, and counts are
// exact at the end.
TEST(RegistrySet, ConcurrentRendersRegistrationsAndUnregistrations) {
    registry a({{"r", "a"}}), b({{"r", "b"}});
    auto ca = a.counter<"shared_total">("Shared.");
    auto cb = b.counter<"shared_total">("Shared.");
    const registry_set ab(a, b), ba(b, a);
    std::atomic<bool> stop{false};
    std::atomic<int> renders{0};
    std::vector<std::thread> threads;
    for (const registry_set* s : {&ab, &ba})
        threads.emplace_back([&, s] {
            std::string out;
            while (!stop.load()) {
                out.clear();
                render_openmetrics(*s, out);
                if (out.size() < 6 || out.compare(out.size() - 6, 6, "# EOF\n") != 0) std::abort();
                renders.fetch_add(1);
            }
        });
    threads.emplace_back([&] {
        while (!stop.load()) (void)render_text(a);
    });
    threads.emplace_back([&] {
        for (int i = 0; i < 300; ++i) {
            const std::string name = "temp_" + std::to_string(i % 7);
            b.gauge(name, "Temporary.").set(i);
            if (i % 3 == 0) b.unregister(name);
            a.gauge(name, "Temporary.").set(i);
            a.unregister(name);
        }
    });
    constexpr int increments = 200000;
    threads.emplace_back([&] {
        for (int i = 0; i < increments; ++i) {
            ca.inc();
            cb.inc(2);
        }
    });
    threads[4].join();
    threads[3].join();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (renders.load() < 20 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stop = true;
    for (std::size_t i = 0; i < 3; ++i) threads[i].join();
    EXPECT_GE(renders.load(), 20);
    const std::string om = expect_every_consumer_accepts(ab);
    EXPECT_NE(om.find("shared_total{r=\"a\"} 200000\n"), std::string::npos) << om;
    EXPECT_NE(om.find("shared_total{r=\"b\"} 400000\n"), std::string::npos) << om;
}

// fork() while another thread renders the set: the child renders it too (the set holds no lock
// of its own, and the registries' fork handlers leave theirs, and their read-section counts, clean
// in the child).
TEST(RegistrySet, ForkWhileRendering) {
    registry a({{"r", "a"}}), b({{"r", "b"}});
    a.counter<"forks_total">("Forks.").inc(1);
    b.counter<"forks_total">("Forks.").inc(2);
    const registry_set set(a, b);
    std::atomic<bool> stop{false};
    std::thread renderer([&] {
        std::string out;
        while (!stop.load()) {
            out.clear();
            render_text(set, out);
        }
    });
    int clean = 0;
    for (int i = 0; i < 20; ++i) {
        const pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            alarm(10);  // a deadlocked child dies instead of hanging the test
            const std::string om = render_openmetrics(set);
            _exit(om.find("forks_total{r=\"b\"} 2\n") != std::string::npos ? 0 : 1);
        }
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        clean += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    stop = true;
    renderer.join();
    EXPECT_EQ(clean, 20);
}
