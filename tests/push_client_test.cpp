// vitals::push::pushgateway against a real Pushgateway (Debian's /usr/bin/prometheus-pushgateway,
// started here on a free loopback port, persistence off) and against scripted fake peers:
// - PUT, POST and DELETE, each effect read back from the gateway's /metrics, values compared
//   exactly, in both text and protobuf bodies;
// - grouping keys with hostile values (`/`, empty, `..`, `%`, UTF-8, `@base64`-looking text) come
//   back as exactly those label values;
// - a gateway that is down or hangs fails within the timeout, with status 0 and a clear message;
//   a 400 carries the gateway's message;
// - the request itself (path encoding, basic auth, headers) as a fake peer records it.
// Tests needing the gateway skip without the Debian package 'prometheus-pushgateway'. Every wait
// is bounded.
#include <vitals/push/pushgateway.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "support/exposition_reader.hpp"
#include "support/servers.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using label_list = std::vector<std::pair<std::string, std::string>>;
namespace vp = vitals::push;

constexpr double inf = std::numeric_limits<double>::infinity();

// GET `path` from 127.0.0.1:port over HTTP/1.0 (no chunking; the server closes): the status and body.
std::pair<int, std::string> http_get(std::uint16_t port, const std::string& path) {
    const auto deadline = clock_type::now() + 10s;
    vitals::detail::tcp_socket s;
    if (!s.connect("127.0.0.1", port, deadline)) return {0, s.error()};
    if (!s.send_all("GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", deadline)) return {0, s.error()};
    std::string in;
    for (;;) {
        const auto st = s.read_some(in, 1 << 20, deadline);
        if (st == vitals::detail::tcp_socket::read_status::closed) break;
        if (st == vitals::detail::tcp_socket::read_status::failed) return {0, s.error()};
    }
    const auto head_end = in.find("\r\n\r\n");
    if (in.size() < 12 || head_end == std::string::npos) return {0, "malformed answer"};
    return {std::stoi(in.substr(9, 3)), in.substr(head_end + 4)};
}

class gateway {
public:
    static std::filesystem::path binary() { return vitals::test::find_program("prometheus-pushgateway"); }

    // Starts on a free loopback port (three attempts, in case the port is taken meanwhile), each
    // waiting at most 15 s for /-/ready.
    gateway() {
        for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
            port_ = vitals::test::free_port();
            proc_ = vitals::test::child_process(
                {binary().string(), "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                 "--persistence.file=", "--log.level=warn"},
                {.cwd = dir_.path(), .log = dir_.path() / "pushgateway.log", .user = std::nullopt});
            const auto until = clock_type::now() + 15s;
            while (!ready_ && clock_type::now() < until && proc_.running()) {
                ready_ = vitals::test::can_connect(port_) && http_get(port_, "/-/ready").first == 200;
                if (!ready_) std::this_thread::sleep_for(20ms);
            }
            if (!ready_) proc_.stop(SIGKILL, 2s);
        }
    }
    ~gateway() { proc_.stop(SIGTERM, 5s); }
    gateway(const gateway&) = delete;
    gateway& operator=(const gateway&) = delete;

    [[nodiscard]] bool ready() const { return ready_; }
    [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    [[nodiscard]] std::string log() const { return vitals::test::tail_of_file(dir_.path() / "pushgateway.log"); }

    // Everything the gateway serves, parsed.
    [[nodiscard]] vitals_test::parse_result metrics() const {
        const auto [status, body] = http_get(port_, "/metrics");
        vitals_test::parse_result p = vitals_test::read_text_exposition(body);
        if (status != 200) p.error = "GET /metrics: " + std::to_string(status) + " " + body;
        return p;
    }

private:
    vitals::test::temp_dir dir_{"vitals-push-"};
    std::uint16_t port_ = 0;
    vitals::test::child_process proc_;
    bool ready_ = false;
};

#define START_GATEWAY(gw)                                                                      \
    if (gateway::binary().empty())                                                             \
        GTEST_SKIP() << "no prometheus-pushgateway (Debian package 'prometheus-pushgateway')"; \
    gateway gw;                                                                                \
    ASSERT_TRUE(gw.ready()) << "the Pushgateway did not start:\n" << gw.log()

std::string label_of(const vitals_test::parsed_sample& s, std::string_view name) {
    for (const auto& [k, v] : s.labels)
        if (k == name) return v;
    return {};
}

// The value of sample `name` whose labels are exactly `labels` (any order); nullopt if absent.
std::optional<double> value_of(const vitals_test::parse_result& p, std::string_view name, label_list labels) {
    std::sort(labels.begin(), labels.end());
    for (const auto& f : p.families)
        for (const auto& s : f.samples) {
            if (s.name != name) continue;
            auto got = s.labels;
            std::sort(got.begin(), got.end());
            if (got == labels) return s.value;
        }
    return std::nullopt;
}

// The names of the metrics (not push_*) served in group job=`job`, instance=`instance`.
std::vector<std::string> families_in_group(const vitals_test::parse_result& p, std::string_view job,
                                           std::string_view instance) {
    std::vector<std::string> out;
    for (const auto& f : p.families)
        for (const auto& s : f.samples)
            if (label_of(s, "job") == job && label_of(s, "instance") == instance && !f.name.starts_with("push_")) {
                out.push_back(f.name);
                break;
            }
    std::sort(out.begin(), out.end());
    return out;
}

vp::pushgateway make(const std::string& url, std::string job, label_list grouping,
                     vp::body_format format = vp::body_format::protobuf,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
    vp::pushgateway_options o;
    o.url = url;
    o.job = std::move(job);
    o.grouping = std::move(grouping);
    o.format = format;
    o.timeout = timeout;
    return vp::pushgateway(std::move(o));
}

// --- PUT, read back exactly, in both formats ------------------------------------------------------

class push_format : public ::testing::TestWithParam<vp::body_format> {};

TEST_P(push_format, PutReadsBackExactly) {
    START_GATEWAY(gw);
    vitals::registry r;
    auto big = r.counter<"pc_events_total">("2^53 events.");
    big.inc(std::uint64_t{1} << 53);
    auto tenth = r.counter<"pc_busy_seconds_total">("0.1 once.");
    tenth.inc(0.1);
    auto& levels = r.gauge<"pc_level", vitals::labels<"case">>("Special values.");
    levels.labels("tenth").set(0.1);
    levels.labels("two_53").set(9007199254740992.0);
    levels.labels("negative_zero").set(-0.0);
    levels.labels("plus_inf").set(inf);
    levels.labels("minus_inf").set(-inf);
    levels.labels("max").set(std::numeric_limits<double>::max());
    auto latency = r.histogram<"pc_latency_seconds">("Classic.", std::vector<double>{0.1, 1, 10});
    for (double v : {0.05, 0.1, 0.1, 1.0, 10.0, 100.0}) latency.observe(v);

    const auto g = make(gw.url(), "pc_job", {{"instance", "i1"}}, GetParam());
    const auto res = g.push(r);
    ASSERT_TRUE(res) << res.message;
    EXPECT_EQ(res.status, 200);
    EXPECT_TRUE(res.message.empty());

    const auto served = gw.metrics();
    ASSERT_TRUE(served.ok()) << served.error;
    const label_list group = {{"job", "pc_job"}, {"instance", "i1"}};
    auto with = [&](label_list extra) {
        extra.insert(extra.end(), group.begin(), group.end());
        return extra;
    };
    EXPECT_EQ(value_of(served, "pc_events_total", group), 9007199254740992.0);
    EXPECT_EQ(value_of(served, "pc_busy_seconds_total", group), 0.1);
    EXPECT_EQ(value_of(served, "pc_level", with({{"case", "tenth"}})), 0.1);
    EXPECT_EQ(value_of(served, "pc_level", with({{"case", "two_53"}})), 9007199254740992.0);
    // The gateway keeps -0's sign but its text output prints "0" (tests/pushgateway_test.cpp).
    EXPECT_EQ(value_of(served, "pc_level", with({{"case", "negative_zero"}})), 0.0);
    EXPECT_EQ(value_of(served, "pc_level", with({{"case", "plus_inf"}})), inf);
    EXPECT_EQ(value_of(served, "pc_level", with({{"case", "minus_inf"}})), -inf);
    EXPECT_EQ(value_of(served, "pc_level", with({{"case", "max"}})), std::numeric_limits<double>::max());
    const std::vector<std::pair<std::string, double>> buckets = {{"0.1", 3}, {"1", 4}, {"10", 5}, {"+Inf", 6}};
    for (const auto& [le, n] : buckets)
        EXPECT_EQ(value_of(served, "pc_latency_seconds_bucket", with({{"le", le}})), n) << "le=" << le;
    EXPECT_EQ(value_of(served, "pc_latency_seconds_count", group), 6.0);
    EXPECT_EQ(value_of(served, "pc_latency_seconds_sum", group), 0.05 + 0.1 + 0.1 + 1.0 + 10.0 + 100.0);
    // push_time_seconds is set for the group, and no failure was recorded.
    const auto pushed_at = value_of(served, "push_time_seconds", group);
    ASSERT_TRUE(pushed_at.has_value());
    EXPECT_GT(*pushed_at, 1.6e9);
    EXPECT_EQ(value_of(served, "push_failure_time_seconds", group), 0.0);
}

INSTANTIATE_TEST_SUITE_P(push, push_format, ::testing::Values(vp::body_format::protobuf, vp::body_format::text),
                         [](const auto& info) {
                             return std::string(info.param == vp::body_format::text ? "text" : "protobuf");
                         });

// --- PUT replaces the group, POST the same-named families, DELETE the group ------------------

TEST_P(push_format, PutPostDeleteSemantics) {
    START_GATEWAY(gw);
    const auto g = make(gw.url(), "pc_sem", {{"instance", "x"}}, GetParam());
    const label_list group = {{"job", "pc_sem"}, {"instance", "x"}};

    vitals::registry ab;
    ab.gauge<"pc_a">("A.").set(1);
    ab.gauge<"pc_b">("B.").set(2);
    ASSERT_TRUE(g.push(ab)) << "PUT A, B";

    vitals::registry b2;
    b2.gauge<"pc_b">("B.").set(20);
    const auto post = g.push_add(b2);
    ASSERT_TRUE(post) << post.message;
    auto served = gw.metrics();
    EXPECT_EQ(value_of(served, "pc_a", group), 1.0) << "POST must keep families it does not name";
    EXPECT_EQ(value_of(served, "pc_b", group), 20.0) << "POST must replace families it names";

    vitals::registry c;
    c.gauge<"pc_c">("C.").set(3);
    ASSERT_TRUE(g.push(c)) << "PUT C";
    served = gw.metrics();
    EXPECT_EQ(families_in_group(served, "pc_sem", "x"), std::vector<std::string>{"pc_c"})
        << "PUT must replace the whole group";
    EXPECT_EQ(value_of(served, "pc_c", group), 3.0);

    // Another group is untouched by this one's DELETE.
    const auto other = make(gw.url(), "pc_sem", {{"instance", "y"}}, GetParam());
    ASSERT_TRUE(other.push(c));
    const auto del = g.remove();
    ASSERT_TRUE(del) << del.message;
    EXPECT_EQ(del.status, 202);
    // 202 Accepted: the gateway applies a DELETE from its queue, after answering. Poll, bounded.
    for (int i = 0; i < 200; ++i) {
        served = gw.metrics();
        if (families_in_group(served, "pc_sem", "x").empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(families_in_group(served, "pc_sem", "x").empty());
    EXPECT_FALSE(value_of(served, "push_time_seconds", group).has_value()) << "DELETE must remove the group";
    EXPECT_EQ(families_in_group(served, "pc_sem", "y"), std::vector<std::string>{"pc_c"});
}

// --- hostile grouping keys --------------------------------------------------------------------

TEST(push, HostileGroupingValuesArriveExactly) {
    START_GATEWAY(gw);
    const std::vector<std::string> values = {"/",
                                             "a/b",
                                             "/leading",
                                             "trailing/",
                                             "",
                                             " spaces  here ",
                                             "100%",
                                             "%2F",
                                             "%",
                                             "x@base64",
                                             "@base64",
                                             "=",
                                             "..",
                                             ".",
                                             "../..",
                                             "a+b",
                                             "?q=1#frag",
                                             "back\\slash \"quote\"",
                                             "\xC3\xBCnic\xC3\xB8"
                                             "de \xE2\x9C\x93",
                                             "semi;colon,comma",
                                             "tab\there",
                                             "~tilde"};
    vitals::registry r;
    r.gauge<"pc_hostile">("One per group.").set(7);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const auto g = make(gw.url(), "pc_hostile_job", {{"instance", values[i]}, {"idx", std::to_string(i)}});
        const auto res = g.push(r);
        EXPECT_TRUE(res) << "value '" << values[i] << "' (path " << g.path() << "): " << res.message;
    }
    // A job with a '/' and an empty second label.
    const auto slash_job = make(gw.url(), "batch/nightly", {{"shard", ""}});
    ASSERT_TRUE(slash_job.push(r)) << slash_job.path();

    const auto served = gw.metrics();
    ASSERT_TRUE(served.ok()) << served.error;
    for (std::size_t i = 0; i < values.size(); ++i)
        EXPECT_EQ(value_of(served, "pc_hostile",
                           {{"job", "pc_hostile_job"}, {"instance", values[i]}, {"idx", std::to_string(i)}}),
                  7.0)
            << "value '" << values[i] << "' did not arrive as itself";
    // The gateway serves an empty value as `shard=""`, and adds `instance=""` to a group without one.
    EXPECT_EQ(value_of(served, "pc_hostile", {{"job", "batch/nightly"}, {"shard", ""}, {"instance", ""}}), 7.0);
    // Nothing arrived under a label value that differs from what was pushed.
    std::size_t hostile = 0;
    for (const auto& f : served.families)
        if (f.name == "pc_hostile") hostile = f.samples.size();
    EXPECT_EQ(hostile, values.size() + 1);

    // And DELETE finds each group again by the same encoding.
    for (std::size_t i = 0; i < values.size(); ++i) {
        const auto g = make(gw.url(), "pc_hostile_job", {{"instance", values[i]}, {"idx", std::to_string(i)}});
        EXPECT_TRUE(g.remove()) << values[i];
    }
    ASSERT_TRUE(slash_job.remove());
    // DELETEs are applied from the gateway's queue after their 202: poll, bounded.
    const auto any_left = [&] {
        for (const auto& f : gw.metrics().families)
            if (f.name == "pc_hostile") return true;
        return false;
    };
    for (int i = 0; i < 200 && any_left(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (const auto& f : gw.metrics().families) EXPECT_NE(f.name, "pc_hostile") << "a group survived its DELETE";
}

// --- errors --------------------------------------------------------------------------------------

TEST(push, InconsistentPushReturnsTheGatewaysMessage) {
    START_GATEWAY(gw);
    // pc_kind is a gauge in one group, so the gateway refuses it as a counter in another: 400.
    vitals::registry as_gauge;
    as_gauge.gauge<"pc_kind">("Kind.").set(1);
    ASSERT_TRUE(make(gw.url(), "pc_conflict_job", {{"instance", "a"}}).push(as_gauge));
    vitals::registry as_counter;
    as_counter.counter<"pc_kind">("Kind.").inc();
    const auto res = make(gw.url(), "pc_conflict_job", {{"instance", "b"}}).push(as_counter);
    EXPECT_FALSE(res);
    EXPECT_EQ(res.status, 400);
    // The gateway's own words reach the caller, after the operation and URL.
    EXPECT_NE(res.message.find("inconsistent with existing metrics"), std::string::npos) << res.message;
    // Which of the two families the gateway checks first varies from run to run (Go map order).
    EXPECT_TRUE(res.message.find("is not a GAUGE") != std::string::npos ||
                res.message.find("is not a COUNTER") != std::string::npos)
        << res.message;
    EXPECT_NE(res.message.find("'400 Bad Request'"), std::string::npos) << res.message;
    EXPECT_EQ(res.message.rfind("PUT http://127.0.0.1:", 0), 0u) << res.message;
    // The failure is recorded against the group, which keeps nothing from the refused push.
    const auto served = gw.metrics();
    const auto failed_at =
        value_of(served, "push_failure_time_seconds", {{"job", "pc_conflict_job"}, {"instance", "b"}});
    ASSERT_TRUE(failed_at.has_value());
    EXPECT_GT(*failed_at, 1.6e9);
    EXPECT_TRUE(families_in_group(served, "pc_conflict_job", "b").empty());
}

// Pushgateway 1.5.1 does not refuse a metric that carries a grouping label with another value: the
// grouping key's value wins. Pinned down so that a change of behaviour is noticed.
TEST(push, GroupingKeyWinsOverAPushedLabel) {
    START_GATEWAY(gw);
    vitals::registry r;
    r.gauge<"pc_conflict", vitals::labels<"instance">>("Carries instance itself.").labels("other").set(1);
    const auto res = make(gw.url(), "pc_conflict_job", {{"instance", "mine"}}).push(r);
    ASSERT_TRUE(res) << res.message;
    const auto served = gw.metrics();
    EXPECT_EQ(value_of(served, "pc_conflict", {{"job", "pc_conflict_job"}, {"instance", "mine"}}), 1.0);
    EXPECT_FALSE(value_of(served, "pc_conflict", {{"job", "pc_conflict_job"}, {"instance", "other"}}).has_value());
}

TEST(push, DownGatewayFailsFastWithStatusZero) {
    const std::uint16_t port = vitals::test::free_port();  // nothing listens there
    const auto g = make("http://127.0.0.1:" + std::to_string(port), "pc_down", {}, vp::body_format::protobuf, 2000ms);
    vitals::registry r;
    r.gauge<"pc_g">("G.").set(1);
    const auto start = clock_type::now();
    const auto res = g.push(r);
    const auto took = clock_type::now() - start;
    EXPECT_FALSE(res);
    EXPECT_EQ(res.status, 0);
    EXPECT_NE(res.message.find("connect to 127.0.0.1:" + std::to_string(port)), std::string::npos) << res.message;
    EXPECT_NE(res.message.find("refused"), std::string::npos) << res.message;
    EXPECT_LE(took, 2000ms);
    std::printf("down gateway: failed in %.1f ms\n", std::chrono::duration<double, std::milli>(took).count());
}

TEST(push, HangingGatewayFailsWithinTheTimeout) {
    // Accepts, reads nothing, answers nothing.
    vitals::test::fake_peer peer([](vitals::test::fake_peer& self, int) { self.stall(30s); });
    const auto g = make("http://127.0.0.1:" + std::to_string(peer.port()), "pc_hang", {}, vp::body_format::text, 250ms);
    vitals::registry r;
    r.gauge<"pc_g">("G.").set(1);
    for (const bool del : {false, true}) {
        const auto start = clock_type::now();
        const auto res = del ? g.remove() : g.push(r);
        const auto took = clock_type::now() - start;
        EXPECT_FALSE(res);
        EXPECT_EQ(res.status, 0);
        EXPECT_NE(res.message.find("timed out"), std::string::npos) << res.message;
        EXPECT_NE(res.message.find("250 ms"), std::string::npos) << res.message;
        EXPECT_GE(took, 240ms);
        EXPECT_LT(took, 2s);
        std::printf("hanging gateway (%s): failed in %.1f ms\n", del ? "DELETE" : "PUT",
                    std::chrono::duration<double, std::milli>(took).count());
    }
}

// A peer that trickles an endless answer must not hold the caller past the timeout either.
TEST(push, TricklingAnswerIsBoundedByTheTimeout) {
    vitals::test::fake_peer peer([](vitals::test::fake_peer& self, int fd) {
        self.read_request(fd, "\r\n\r\n");
        vitals::test::fake_peer::send_all(fd, "HTTP/1.1 200 OK\r\n");
        for (int i = 0; i < 300 && !self.stopping(); ++i) {
            vitals::test::fake_peer::send_all(fd, "X-Slow: 1\r\n");
            std::this_thread::sleep_for(10ms);
        }
    });
    const auto g = make("http://127.0.0.1:" + std::to_string(peer.port()), "pc_slow", {}, vp::body_format::text, 300ms);
    const auto start = clock_type::now();
    const auto res = g.remove();
    const auto took = clock_type::now() - start;
    EXPECT_FALSE(res);
    EXPECT_EQ(res.status, 0);
    EXPECT_LT(took, 2s);
}

// --- the request on the wire ------------------------------------------------------------------

TEST(push, RequestLinePathAndBasicAuth) {
    vitals::test::fake_peer peer([](vitals::test::fake_peer& self, int fd) {
        const std::string head = self.read_request(fd, "\r\n\r\n");
        const auto cl = head.find("Content-Length: ");
        const std::size_t n = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
        const std::size_t have = head.size() - (head.find("\r\n\r\n") + 4);
        if (n > have) self.read_bytes(fd, n - have);
        vitals::test::fake_peer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    vp::pushgateway_options o;
    o.url = "http://127.0.0.1:" + std::to_string(peer.port()) + "/gw/";
    o.job = "a/b";
    o.grouping = {{"instance", "a b"}, {"empty", ""}, {"pct", "100%"}, {"dots", ".."}, {"u", "\xC3\xBC"}};
    o.format = vp::body_format::text;
    o.username = "user";
    o.password = "pa:ss";
    const vp::pushgateway g(o);
    const std::string path =
        "/gw/metrics/job@base64/YS9i/instance/a%20b/empty@base64/=/pct/100%25/dots@base64/Li4=/u/%C3%BC";
    EXPECT_EQ(g.path(), path);
    vitals::registry r;
    r.gauge<"pc_g">("G.").set(1);
    const auto res = g.push(r);
    ASSERT_TRUE(res) << res.message;
    const std::string got = peer.received();
    EXPECT_EQ(got.rfind("PUT " + path + " HTTP/1.1\r\n", 0), 0u) << got;
    EXPECT_NE(got.find("\r\nAuthorization: Basic dXNlcjpwYTpzcw==\r\n"), std::string::npos) << got;
    EXPECT_NE(got.find("\r\nContent-Type: text/plain; version=0.0.4"), std::string::npos) << got;
    EXPECT_NE(got.find("\r\nHost: 127.0.0.1:" + std::to_string(peer.port()) + "\r\n"), std::string::npos) << got;
    EXPECT_NE(got.find("\r\nConnection: close\r\n"), std::string::npos) << got;
    const std::string body = vitals::render_text(r);
    EXPECT_NE(got.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos) << got;
    EXPECT_TRUE(got.ends_with("\r\n\r\n" + body)) << got;

    EXPECT_TRUE(g.push_add(r));
    EXPECT_TRUE(g.remove());
    const std::string all = peer.received();
    EXPECT_NE(all.find("POST " + path + " HTTP/1.1\r\n"), std::string::npos);
    EXPECT_NE(all.find("DELETE " + path + " HTTP/1.1\r\n"), std::string::npos);

    // No credentials, no header; protobuf's content type.
    o.username.clear();
    o.format = vp::body_format::protobuf;
    const vp::pushgateway plain(o);
    ASSERT_TRUE(plain.push(r));
    const std::string last = peer.received().substr(all.size());
    EXPECT_EQ(last.find("Authorization:"), std::string::npos) << last;
    EXPECT_NE(last.find("\r\nContent-Type: application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
                        "encoding=delimited\r\n"),
              std::string::npos)
        << last;
}

TEST(push, ChunkedAndErrorAnswersAreRead) {
    vitals::test::fake_peer peer([](vitals::test::fake_peer& self, int fd) {
        const std::string head = self.read_request(fd, "\r\n\r\n");
        if (head.starts_with("DELETE"))
            vitals::test::fake_peer::send_all(fd,
                                              "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
                                              "6\r\nstore \r\n7\r\nbroken\n\r\n0\r\n\r\n");
        else
            vitals::test::fake_peer::send_all(fd, "HTTP/1.0 202 Accepted\r\n\r\n");  // no length: until close
    });
    const auto g = make("http://127.0.0.1:" + std::to_string(peer.port()), "pc_chunk", {});
    vitals::registry r;
    const auto ok = g.push(r);
    EXPECT_TRUE(ok) << ok.message;
    EXPECT_EQ(ok.status, 202);
    const auto bad = g.remove();
    EXPECT_FALSE(bad);
    EXPECT_EQ(bad.status, 500);
    EXPECT_NE(bad.message.find("'500 Internal Server Error': store broken"), std::string::npos) << bad.message;
}

// --- construction -------------------------------------------------------------------------------

TEST(push, BadOptionsAreRefusedAtConstruction) {
    auto refused = [](vp::pushgateway_options o, std::string_view says) {
        try {
            const vp::pushgateway g(std::move(o));
            ADD_FAILURE() << "accepted; expected: " << says;
        } catch (const vitals::invalid_argument_error& e) {
            EXPECT_NE(std::string_view(e.what()).find(says), std::string_view::npos) << e.what();
        }
    };
    vp::pushgateway_options ok;
    ok.job = "j";
    EXPECT_NO_THROW(vp::pushgateway{ok});
    auto o = ok;
    o.job.clear();
    refused(o, "job must not be empty");
    o = ok;
    o.url = "https://gw.example:9091";
    refused(o, "TLS is not supported");
    o.url = "ftp://gw";
    refused(o, "http://");
    o.url = "http://";
    refused(o, "host");
    o.url = "http://gw:99999";
    refused(o, "port");
    o.url = "http://u:p@gw:9091";
    refused(o, "credentials");
    o.url = "http://gw:9091/x y";
    refused(o, "space");
    o = ok;
    o.grouping = {{"bad-name", "v"}};
    refused(o, "'bad-name' is not a valid grouping label name");
    o.grouping = {{"job", "v"}};
    refused(o, "'job'");
    o.grouping = {{"a", "1"}, {"a", "2"}};
    refused(o, "given twice");
    o = ok;
    o.username = "a:b";
    refused(o, "username");
    o = ok;
    o.timeout = 0ms;
    refused(o, "timeout");
    o = ok;
    o.url = "http://[::1]:9091/prefix";
    EXPECT_EQ(vp::pushgateway(o).path(), "/prefix/metrics/job/j");
    o.url = "http://localhost";
    EXPECT_EQ(vp::pushgateway(o).path(), "/metrics/job/j");
}

}  // namespace
