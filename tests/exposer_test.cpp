// vitals::exposer (http/exposer.hpp) over loopback sockets: what it serves (checked by promtool
// and the Python parser), HTTP framing (pipelining, half-close, HEAD, keep-alive), the limits and
// the statuses they answer, gzip (decoded by Python's zlib and gunzip), its self-metrics, eviction
// at the connection limit, a graceful stop, and a concurrent stress run for the sanitizers.
#include <vitals/detail/deflate.hpp>
#include <vitals/http/exposer.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <random>
#include <thread>

#include "exposer_client.hpp"
#include "support/openmetrics.hpp"
#include "support/process_memory.hpp"
#include "support/promtool.hpp"
#include "support/sanitizers.hpp"

using namespace exposer_test;
using namespace std::chrono_literals;

namespace {

// What every test serves: known values, and a readiness check.
struct fixture {
    vitals::registry r{vitals::const_labels{{"service", "exposer-test"}}};
    vitals::health::liveness live;
    vitals::health::probe ready;
    fixture() {
        auto& jobs = r.counter<"jobs_total", vitals::labels<"kind">>("Jobs done.");
        jobs.labels("a").inc(12345);
        r.gauge<"temperature_celsius">("A gauge.").set(21.5);
        auto& h = r.histogram<"latency_seconds", vitals::labels<"route">>("Latency.", std::vector<double>{0.1, 1});
        h.labels("/a").observe(0.05);
        ready.add("database", [] { return true; });
        ready.run_now();
    }
};

std::unique_ptr<vitals::exposer> make(fixture& f, vitals::exposer_options o = {}) {
    auto e = std::make_unique<vitals::exposer>(std::move(o));
    e->serve_metrics(f.r);
    e->serve_health(f.live, f.ready);
    e->handle(
        "/echo",
        [](const vitals::exposer::request& q) {
            return vitals::exposer::response{200, "text/plain", std::string(q.query) + "|" + std::string(q.body), {}};
        },
        true);
    e->start();
    return e;
}

std::string python_gunzip(const std::string& gz) {
    const auto r = vitals_test::run_process(
        {"/usr/bin/python3", "-c",
         "import sys,zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read(), 31))"},
        gz);
    return r.exit_code == 0 ? r.output : "python zlib failed: " + r.output;
}

std::string gunzip(const std::string& gz) {
    const auto r = vitals_test::run_process({"gunzip", "-c"}, gz);
    return r.exit_code == 0 ? r.output : "gunzip failed: " + r.output;
}

void expect_promtool_ok(const std::string& text) {
    const auto p = vitals_test::promtool_check(text);
    ASSERT_NE(p.exit_code, 127) << "promtool missing (Debian package 'prometheus')";
    EXPECT_EQ(p.exit_code, 0) << p.output << "\n" << text.substr(0, 2000);
}

}  // namespace

TEST(Exposer, ServesMetricsProbesAndHandlers) {
    fixture f;
    auto e = make(f);
    ASSERT_NE(e->port(), 0);

    const auto text = fetch(e->port(), "/metrics");
    ASSERT_EQ(text.status, 200);
    EXPECT_EQ(text.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(text.body.find("jobs_total{service=\"exposer-test\",kind=\"a\"} 12345\n"), std::string::npos)
        << text.body;
    expect_promtool_ok(text.body);

    const auto om = fetch(e->port(), "/metrics", "Accept: application/openmetrics-text;version=1.0.0\r\n");
    ASSERT_EQ(om.status, 200);
    EXPECT_EQ(om.headers.at("content-type").rfind("application/openmetrics-text", 0), 0u);
    const auto parsed = vitals_test::openmetrics_check(om.body);
    ASSERT_FALSE(parsed.parser_missing) << "Debian package python3-prometheus-client";
    EXPECT_TRUE(parsed.ok) << parsed.output;
    EXPECT_NE(om.body.find("# EOF\n"), std::string::npos);

    const auto live = fetch(e->port(), "/health");
    EXPECT_EQ(live.status, 200);
    EXPECT_NE(live.body.find("\"status\":\"healthy\""), std::string::npos);
    const auto ready = fetch(e->port(), "/ready?verbose");
    EXPECT_EQ(ready.status, 200);
    EXPECT_NE(ready.body.find("[+]database ok"), std::string::npos) << ready.body;
    EXPECT_EQ(fetch(e->port(), "/ready/database").status, 200);
    EXPECT_EQ(fetch(e->port(), "/ready/nope").status, 404);
    EXPECT_EQ(fetch(e->port(), "/readyz").status, 404);  // a prefix is not the route
    EXPECT_EQ(fetch(e->port(), "/nope").status, 404);

    const auto post = fetch(e->port(), "/metrics", "", "POST");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.headers.at("allow"), "GET, HEAD");

    const auto head = fetch(e->port(), "/metrics", "", "HEAD");
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());
    EXPECT_GT(std::stoul(head.headers.at("content-length")), 100u);

    const auto echo = fetch(e->port(), "/echo?x=1", "Content-Length: 5\r\n\r\nhello");
    (void)echo;  // the body above went after the blank line fetch() adds; checked properly below
    const int fd = connect_to(e->port());
    send_all(fd, "POST /echo?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
    reader rd;
    const auto got = rd.read(fd, 1);
    ::close(fd);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body, "x=1|hello");
}

TEST(Exposer, ListensOnIpv6AndPicksAPort) {
    fixture f;
    vitals::exposer_options o;
    o.host = "::1";
    std::unique_ptr<vitals::exposer> e;
    try {
        e = make(f, o);
    } catch (const std::system_error& err) {
        GTEST_SKIP() << "no IPv6 loopback here: " << err.what();
    }
    const int fd = connect_to(e->port(), true);
    ASSERT_GE(fd, 0);
    send_all(fd, "GET /health HTTP/1.1\r\nHost: [::1]\r\n\r\n");
    reader rd;
    const auto got = rd.read(fd, 1);
    ::close(fd);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].status, 200);
}

TEST(Exposer, BindFailureThrows) {
    fixture f;
    auto first = make(f);
    vitals::exposer_options o;
    o.port = first->port();
    vitals::exposer second(o);
    EXPECT_THROW(second.start(), std::system_error);
}

TEST(Exposer, PipelinedRequestsAnswerInOrder) {
    fixture f;
    auto e = make(f);
    const int fd = connect_to(e->port());
    std::string batch;
    for (int i = 0; i < 10; ++i) {
        const std::string target = i % 3 == 0 ? "/metrics" : i % 3 == 1 ? "/echo?" + std::to_string(i) : "/health";
        batch += "GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n";
    }
    ASSERT_TRUE(send_all(fd, batch));  // one write
    reader rd;
    const auto got = rd.read(fd, 10);
    ASSERT_EQ(got.size(), 10u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(got[i].status, 200) << i;
        if (i % 3 == 0) {
            EXPECT_NE(got[i].body.find("jobs_total"), std::string::npos) << i;
        }
        if (i % 3 == 1) {
            EXPECT_EQ(got[i].body, std::to_string(i) + "|") << i;
        }
        if (i % 3 == 2) {
            EXPECT_NE(got[i].body.find("healthy"), std::string::npos) << i;
        }
    }
    EXPECT_FALSE(rd.closed);  // still kept alive
    ::close(fd);
}

TEST(Exposer, HalfClosedRequestGetsItsAnswer) {
    fixture f;
    auto e = make(f);
    const int fd = connect_to(e->port());
    send_all(fd, "GET /health HTTP/1.1\r\nHost: h\r\n\r\nGET /echo?2 HTTP/1.1\r\nHost: h\r\n\r\n");
    ::shutdown(fd, SHUT_WR);
    reader rd;
    const auto got = rd.read(fd, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].status, 200);
    EXPECT_EQ(got[1].body, "2|");
    EXPECT_TRUE(rd.wait_closed(fd, 2000ms));
    ::close(fd);
}

TEST(Exposer, KeepAliveByVersion) {
    fixture f;
    auto e = make(f);
    {
        const int fd = connect_to(e->port());
        send_all(fd, "GET /health HTTP/1.0\r\n\r\n");
        reader rd;
        ASSERT_EQ(rd.read(fd, 1).size(), 1u);
        EXPECT_TRUE(rd.wait_closed(fd, 2000ms));  // HTTP/1.0 closes unless asked
        ::close(fd);
    }
    {
        const int fd = connect_to(e->port());
        send_all(fd, "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        reader rd;
        const auto a = rd.read(fd, 1);
        ASSERT_EQ(a.size(), 1u);
        EXPECT_EQ(a[0].headers.at("connection"), "keep-alive");
        send_all(fd, "GET /health HTTP/1.0\r\n\r\n");
        EXPECT_EQ(rd.read(fd, 1).size(), 1u);
        ::close(fd);
    }
    {
        const int fd = connect_to(e->port());
        send_all(fd, "GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        reader rd;
        const auto a = rd.read(fd, 1);
        ASSERT_EQ(a.size(), 1u);
        EXPECT_EQ(a[0].headers.at("connection"), "close");
        EXPECT_TRUE(rd.wait_closed(fd, 2000ms));
        ::close(fd);
    }
}

// A refusal is answered, then the connection is closed (the rest of the stream is not trusted).
void expect_refused(std::uint16_t port, const std::string& bytes, int status) {
    const int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    send_all(fd, bytes);
    reader rd;
    const auto got = rd.read(fd, 1);
    ASSERT_EQ(got.size(), 1u) << bytes.substr(0, 80);
    EXPECT_EQ(got[0].status, status) << bytes.substr(0, 80);
    EXPECT_EQ(got[0].headers.at("connection"), "close");
    EXPECT_TRUE(rd.wait_closed(fd, 3000ms));
    ::close(fd);
}

TEST(Exposer, LimitsAnswerTheRightStatus) {
    fixture f;
    vitals::exposer_options o;
    o.max_request_line = 256;
    o.max_header_bytes = 1024;
    o.max_headers = 8;
    o.max_body_bytes = 100;
    auto e = make(f, o);
    const auto p = e->port();
    expect_refused(p, "GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", 414);
    expect_refused(p, "GET /" + std::string(300, 'a'), 414);  // no CRLF yet: refused anyway
    expect_refused(p, "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(2000, 'b') + "\r\n\r\n", 431);
    expect_refused(p, "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(2000, 'b'), 431);
    std::string many = "GET /health HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 9; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    expect_refused(p, many + "\r\n", 431);
    expect_refused(p, "GET /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", 413);
    expect_refused(p, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", 413);
    expect_refused(p, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 413);
    expect_refused(p, "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 411);
    expect_refused(p, "GET /health HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 413);
    expect_refused(p, "GET /health HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                   400);
    expect_refused(p, "GET /health HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    expect_refused(p, "GET /health HTTP/1.1\r\n\r\n", 400);  // no Host
    expect_refused(p, "GET /health HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400);
    expect_refused(p, "GET /health HTTP/1.1\nHost: h\n\n", 400);
    expect_refused(p, "GET /health HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    expect_refused(p, "GET /he\x01lth HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    // Within the limits the same connection serves the body.
    const int fd = connect_to(p);
    send_all(fd, "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n");
    std::string interim;
    for (int i = 0; i < 20 && interim.find("\r\n\r\n") == std::string::npos; ++i) {
        pollfd pf{fd, POLLIN, 0};
        char tmp[256];
        if (::poll(&pf, 1, 100) > 0) {
            const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
            if (n <= 0) break;
            interim.append(tmp, static_cast<std::size_t>(n));
        }
    }
    EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    reader rd;
    send_all(fd, std::string(100, 'z'));
    const auto got = rd.read(fd, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body, "|" + std::string(100, 'z'));
    ::close(fd);

    const std::string self = vitals::render_text(e->self_metrics());
    EXPECT_NE(self.find("vitals_exposer_connections_rejected_total{reason=\"header_too_large\"} 3"), std::string::npos)
        << self;
    EXPECT_NE(self.find("vitals_exposer_connections_rejected_total{reason=\"body_too_large\"} 4"), std::string::npos)
        << self;
    expect_promtool_ok(self);
}

TEST(Exposer, TimeoutsBoundTheWholeRequest) {
    fixture f;
    vitals::exposer_options o;
    o.header_timeout = 400ms;
    o.idle_timeout = 600ms;
    auto e = make(f, o);
    // A byte every 100 ms keeps every single read well inside any per-read timeout; the whole
    // head still has 400 ms.
    const int fd = connect_to(e->port());
    const auto t0 = std::chrono::steady_clock::now();
    const std::string head = "GET /health HTTP/1.1\r\nHost: h\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa";
    reader rd;
    std::vector<answer> got;
    for (char ch : head) {
        if (!send_all(fd, std::string(1, ch))) break;
        got = rd.read(fd, 1, 100ms);
        if (!got.empty() || rd.closed) break;
    }
    if (got.empty()) got = rd.read(fd, 1, 2000ms);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].status, 408);
    EXPECT_TRUE(rd.wait_closed(fd, 2000ms));
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 400ms);
    EXPECT_LT(took, 3000ms);
    ::close(fd);

    // An idle keep-alive connection is closed after idle_timeout, silently.
    const int idle = connect_to(e->port());
    send_all(idle, "GET /health HTTP/1.1\r\nHost: h\r\n\r\n");
    reader ri;
    ASSERT_EQ(ri.read(idle, 1).size(), 1u);
    const auto t1 = std::chrono::steady_clock::now();
    EXPECT_TRUE(ri.wait_closed(idle, 3000ms));
    EXPECT_GE(std::chrono::steady_clock::now() - t1, 500ms);
    EXPECT_TRUE(ri.buf.empty()) << ri.buf;
    ::close(idle);
}

TEST(Exposer, MemoryStaysFlatOverAGibibyteOfRejectedBodies) {
    fixture f;
    auto e = make(f);
    // 512 x 2 MiB = 1 GiB declared. 2 MiB fits the loopback socket buffers, so most of each body
    // is really sent (the kernel takes it, the server never reads it: it answers 413 and closes).
    constexpr std::size_t requests = 512, declared = 2u << 20;
    const std::size_t before = vitals_test::rss_bytes();
    std::size_t sent_total = 0;
    const std::string chunk(64 * 1024, 'x');
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < requests; ++i) {
        const int fd = connect_to(e->port());
        ASSERT_GE(fd, 0);
        timeval tv{2, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        send_all(fd, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(declared) + "\r\n\r\n");
        // Send the body until the server stops taking it (it answers and closes at once).
        std::size_t sent = 0;
        while (sent < declared) {
            const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += static_cast<std::size_t>(n);
        }
        sent_total += sent;
        reader rd;
        const auto got = rd.read(fd, 1, 2000ms);
        if (!got.empty()) {
            EXPECT_EQ(got[0].status, 413);
        }
        ::close(fd);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::size_t after = vitals_test::rss_bytes();
    std::printf(
        "rejected bodies: %zu MiB declared, %.1f MiB actually sent before the server closed, "
        "%.2f s; RSS %zu -> %zu KiB\n",
        requests * declared >> 20, static_cast<double>(sent_total) / (1 << 20), secs, before >> 10, after >> 10);
    const std::string self = vitals::render_text(e->self_metrics());
    EXPECT_NE(self.find("vitals_exposer_connections_rejected_total{reason=\"body_too_large\"} 512"), std::string::npos)
        << self;
    if (vitals_test::rss_reflects_frees) {
        EXPECT_LT(after, before + (16u << 20));
    }
}

TEST(Exposer, GzipWhenAcceptedDecodesWithZlibAndGunzip) {
    fixture f;
    auto& many = f.r.counter<"many_total", vitals::labels<"id">>("Many series, so the body is worth compressing.");
    for (int i = 0; i < 500; ++i) many.labels(std::to_string(i)).inc(static_cast<std::uint64_t>(i));
    vitals::exposer_options o;
    o.gzip = true;
    o.self_metrics = false;  // so that both scrapes render the same bytes
    auto e = make(f, o);
    const auto plain = fetch(e->port(), "/metrics");
    const auto gz = fetch(e->port(), "/metrics", "Accept-Encoding: gzip, deflate\r\n");
    ASSERT_EQ(gz.status, 200);
    EXPECT_EQ(plain.headers.count("content-encoding"), 0u);
    EXPECT_EQ(gz.headers.at("content-encoding"), "gzip");
    EXPECT_EQ(gz.headers.at("vary"), "Accept-Encoding");
    EXPECT_LT(gz.body.size(), plain.body.size() / 4);
    EXPECT_EQ(python_gunzip(gz.body), plain.body);
    EXPECT_EQ(gunzip(gz.body), plain.body);
    expect_promtool_ok(gunzip(gz.body));
    EXPECT_EQ(fetch(e->port(), "/metrics", "Accept-Encoding: gzip;q=0, identity\r\n").headers.count("content-encoding"),
              0u);
    EXPECT_EQ(fetch(e->port(), "/metrics", "Accept-Encoding: *\r\n").headers.at("content-encoding"), "gzip");
    EXPECT_EQ(fetch(e->port(), "/metrics", "Accept-Encoding: br\r\n").headers.count("content-encoding"), 0u);
    // A HEAD answer says what the GET would send.
    const auto head = fetch(e->port(), "/metrics", "Accept-Encoding: gzip\r\n", "HEAD");
    EXPECT_EQ(head.headers.at("content-length"), std::to_string(gz.body.size()));

    vitals::exposer_options off;
    off.port = 0;
    auto plain_only = make(f, off);
    EXPECT_EQ(fetch(plain_only->port(), "/metrics", "Accept-Encoding: gzip\r\n").headers.count("content-encoding"), 0u);
}

TEST(Deflate, RoundTripsThroughZlibAndGunzip) {
    EXPECT_EQ(vitals::detail::crc32("123456789"), 0xCBF43926u);
    EXPECT_EQ(vitals::detail::crc32(""), 0u);
    std::mt19937 rng(7);
    std::vector<std::string> inputs = {"", "a", "ab", std::string(100000, 'z'), "abcabcabcabcabcabcabcabcabc"};
    std::string noise(200000, '\0');
    for (auto& ch : noise) ch = static_cast<char>(rng());
    inputs.push_back(noise);
    std::string digits;
    for (int i = 0; i < 40000; ++i)
        digits += "m{id=\"" + std::to_string(rng() % 100000) + "\"} " + std::to_string(rng()) + "\n";
    inputs.push_back(digits);
    std::string skewed;  // long runs and a skewed alphabet: exercises code length limits
    for (int i = 0; i < 300000; ++i)
        skewed += static_cast<char>('a' + std::min<int>(25, std::countr_zero(rng() | (1u << 25))));
    inputs.push_back(skewed);
    vitals::detail::deflate_encoder enc;
    for (const auto& in : inputs) {
        std::string gz;
        enc.gzip(in, gz);
        EXPECT_EQ(python_gunzip(gz), in) << in.size();
        EXPECT_EQ(gunzip(gz), in) << in.size();
        if (in.size() > 1000 && &in != &inputs[5]) {
            EXPECT_LT(gz.size(), in.size() / 2) << in.size();
        }
        if (&in == &inputs[5]) {
            EXPECT_LT(gz.size(), in.size() + in.size() / 8 + 64);
        }  // bounded growth
    }
}

TEST(Exposer, SelfMetricsNeverCollideWithTheSourcesNames) {
    fixture f;
    f.r.gauge<"vitals_exposer_connections">("The user's own gauge of that name.").set(42);
    auto e = make(f);
    const auto text = fetch(e->port(), "/metrics").body;
    expect_promtool_ok(text);
    std::size_t types = 0;
    for (std::size_t p = text.find("# TYPE vitals_exposer_connections gauge"); p != std::string::npos;
         p = text.find("# TYPE vitals_exposer_connections gauge", p + 1))
        ++types;
    EXPECT_EQ(types, 1u);
    EXPECT_NE(text.find("vitals_exposer_connections{service=\"exposer-test\"} 42\n"), std::string::npos) << text;
    EXPECT_NE(text.find("vitals_exposer_requests_total"), std::string::npos);  // the rest still there
    const auto om = fetch(e->port(), "/metrics", "Accept: application/openmetrics-text;version=1.0.0\r\n").body;
    const auto parsed = vitals_test::openmetrics_check(om);
    EXPECT_TRUE(parsed.ok || parsed.parser_missing) << parsed.output;
}

TEST(Exposer, FullServerEvictsTheConnectionThatNeverFinished) {
    fixture f;
    vitals::exposer_options o;
    o.max_connections = 4;
    auto e = make(f, o);
    std::vector<int> holders;
    for (int i = 0; i < 4; ++i) {
        holders.push_back(connect_to(e->port()));
        send_all(holders.back(), "GET /hea");  // never finished
    }
    std::this_thread::sleep_for(100ms);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(fetch(e->port(), "/health").status, 200) << i;
    int closed = 0;
    for (int fd : holders) {
        reader rd;
        if (rd.wait_closed(fd, 200ms)) ++closed;
        ::close(fd);
    }
    EXPECT_GE(closed, 1);
    EXPECT_LE(closed, 3);
    EXPECT_NE(vitals::render_text(e->self_metrics()).find("reason=\"evicted\""), std::string::npos);
}

TEST(Exposer, StopFinishesAnswersInFlightWithinItsGrace) {
    // 16 MiB: more than the kernel's socket buffers hold for a reader with a small window, so the
    // answer is still being written by the server when stop() is called.
    const auto big = std::make_shared<std::string>(16u << 20, 'b');
    vitals::exposer_options o;
    o.stop_grace = 5s;  // ample for the reader below, even under a sanitizer
    auto make_big = [&] {
        auto e = std::make_shared<vitals::exposer>(o);
        e->handle("/big", [big](const vitals::exposer::request&) {
            return vitals::exposer::response{200, "text/plain", *big, {}};
        });
        e->start();
        return e;
    };
    auto e = make_big();
    const int busy = connect_to(e->port(), false, 4096);
    send_all(busy, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    const int idle = connect_to(e->port());
    std::this_thread::sleep_for(200ms);
    const auto t0 = std::chrono::steady_clock::now();
    std::thread stopper([e] { e->stop(); });
    reader rd;
    const auto got = rd.read(busy, 1, 5000ms);
    stopper.join();
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(got.size(), 1u) << rd.buf.size() << " bytes, closed: " << rd.closed;
    EXPECT_EQ(got[0].status, 200);
    EXPECT_EQ(got[0].body.size(), big->size());
    EXPECT_LT(took, 4s);  // stop() returned once the answer was out, not at the end of the grace
    reader ri;
    EXPECT_TRUE(ri.wait_closed(idle, 100ms));
    EXPECT_LT(connect_to(e->port()), 0);  // no longer listening
    ::close(busy);
    ::close(idle);

    // A client that never reads: stop() still returns, after the grace.
    o.stop_grace = 1s;
    auto e2 = make_big();
    const int stuck = connect_to(e2->port(), false, 4096);
    send_all(stuck, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    std::this_thread::sleep_for(200ms);
    const auto t1 = std::chrono::steady_clock::now();
    e2->stop();
    const auto took2 = std::chrono::steady_clock::now() - t1;
    EXPECT_GE(took2, 900ms);
    EXPECT_LT(took2, 3000ms);
    ::close(stuck);
}

// Clients on several threads against the server while the served metrics change: every answer
// arrives, every scrape parses, and the self-metrics count every request. Run under TSan/ASan.
TEST(Exposer, ConcurrentClientsStress) {
    auto f = std::make_shared<fixture>();
    auto e = std::make_shared<vitals::exposer>();
    e->serve_metrics(f->r);
    e->serve_health(f->live, f->ready);
    e->start();
    const int threads = 4, per_thread = vitals_test::under_sanitizer ? 60 : 250;
    auto stop = std::make_shared<std::atomic<bool>>(false);
    auto failures = std::make_shared<std::atomic<int>>(0);
    std::thread writer([f, stop] {
        auto& c = f->r.counter<"stress_total", vitals::labels<"t">>("Updated while scraped.");
        for (int i = 0; !stop->load() && i < 10'000'000; ++i) c.labels(std::to_string(i % 50)).inc();
    });
    std::vector<std::thread> clients;
    const std::uint16_t port = e->port();
    auto last = std::make_shared<std::vector<std::string>>(threads);
    for (int t = 0; t < threads; ++t)
        clients.emplace_back([port, t, failures, last] {
            const int fd = connect_to(port);
            reader rd;
            for (int i = 0; i < per_thread; ++i) {
                const bool scrape = i % 5 == 0;
                send_all(fd, std::string("GET ") + (scrape ? "/metrics" : "/health") + " HTTP/1.1\r\nHost: h\r\n\r\n");
                const auto got = rd.read(fd, 1, 10000ms);
                if (got.size() != 1 || got[0].status != 200) {
                    ++*failures;
                    break;
                }
                if (scrape) (*last)[static_cast<std::size_t>(t)] = got[0].body;
            }
            ::close(fd);
        });
    for (auto& c : clients) c.join();
    stop->store(true);
    writer.join();
    EXPECT_EQ(failures->load(), 0);
    for (const auto& body : *last) expect_promtool_ok(body);
    e->stop();
    const std::string self = vitals::render_text(e->self_metrics());
    EXPECT_NE(self.find("vitals_exposer_requests_total{code=\"200\"} " + std::to_string(threads * per_thread) + "\n"),
              std::string::npos)
        << self;
    EXPECT_NE(self.find("vitals_exposer_connections 0\n"), std::string::npos) << self;
}
