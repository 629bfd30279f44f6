// A scrape of 100,000 series through the exposer over loopback, beside rendering the same
// registry into memory; and gzip's bytes and CPU at several sizes, which decided that gzip is off
// by default (docs/http.md). Times are printed, not asserted (speed is judged by measurement,
// never by a timing assertion); what is asserted is exact: the scrape is the rendered exposition
// byte for byte, promtool accepts it, it decodes with Python's zlib and gunzip, and the gzip
// answer is at most a quarter of the plain one.
#include <vitals/detail/deflate.hpp>
#include <vitals/http/exposer.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "exposer_client.hpp"
#include "support/promtool.hpp"
#include "support/sanitizers.hpp"

using namespace exposer_test;
using namespace std::chrono_literals;

namespace {

double thread_cpu_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// One scrape on a kept-alive connection, the body counted and dropped: the time is the server's
// (render, write, the loopback copy), not a client's string handling. The body's size, or 0.
std::size_t timed_scrape(int fd, const std::string& request) {
    send_all(fd, request);
    static thread_local std::vector<char> buf(1 << 20);
    std::string head;
    std::size_t body = 0, want = std::string::npos;
    while (body < want) {
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) return 0;
        if (want == std::string::npos) {
            head.append(buf.data(), static_cast<std::size_t>(n));
            const auto end = head.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            const auto cl = head.find("Content-Length: ");
            want = std::stoul(head.substr(cl + 16));
            body = head.size() - end - 4;
            continue;
        }
        body += static_cast<std::size_t>(n);
    }
    return body;
}

void fill(vitals::registry& r, int series) {
    auto& c = r.counter<"api_requests_total", vitals::labels<"route", "status", "instance">>("Requests.");
    c.set_series_limit(static_cast<std::size_t>(series));  // above the default cap of 10,000
    for (int i = 0; i < series; ++i)
        c.labels("/v1/items/" + std::to_string(i % 1000), std::to_string(200 + i % 5),
                 "pod-" + std::to_string(i / 1000))
            .inc(static_cast<std::uint64_t>(i) * 7919u % 100003u);
}

}  // namespace

TEST(ExposerScrape, HundredThousandSeries) {
    const int series = vitals_test::under_sanitizer ? 20000 : 100000;
    const int rounds = vitals_test::under_sanitizer ? 1 : 9;
    vitals::registry r;
    fill(r, series);
    vitals::exposer_options o;
    o.self_metrics = false;  // so that the scrape is the render, byte for byte
    o.gzip = true;
    vitals::exposer e(o);
    e.serve_metrics(r);
    e.start();

    const int fd = connect_to(e.port());
    timeval tv{30, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);  // bounded
    // Interleaved, so that a neighbour's load on a shared machine falls on both alike; the ratio
    // is taken per round.
    std::string rendered;
    std::vector<double> render_ms, scrape_ms, gzip_ms, ratios;
    for (int i = 0; i < rounds; ++i) {
        rendered.clear();
        auto t0 = std::chrono::steady_clock::now();
        vitals::render_text(r, rendered);
        render_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        t0 = std::chrono::steady_clock::now();
        ASSERT_EQ(timed_scrape(fd, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"), rendered.size());
        scrape_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        ratios.push_back(scrape_ms.back() / render_ms.back());
        t0 = std::chrono::steady_clock::now();
        ASSERT_GT(timed_scrape(fd, "GET /metrics HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n"), 0u);
        gzip_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    ::close(fd);
    // The bodies themselves, kept this time, for the checks.
    const answer plain = fetch(e.port(), "/metrics");
    const answer gz = fetch(e.port(), "/metrics", "Accept-Encoding: gzip\r\n");
    ASSERT_EQ(plain.body, rendered);
    ASSERT_EQ(plain.body.find("__overflow__"), std::string::npos);  // every series is its own
    ASSERT_EQ(gz.headers.at("content-encoding"), "gzip");
    const auto check = vitals_test::promtool_check(plain.body);
    EXPECT_EQ(check.exit_code, 0) << check.output.substr(0, 2000);
    const auto py = vitals_test::run_process(
        {"/usr/bin/python3", "-c",
         "import sys,zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read(), 31))"},
        gz.body, 60000);
    EXPECT_TRUE(py.exit_code == 0 && py.output == plain.body) << "python zlib could not decode the scrape";
    const auto gun = vitals_test::run_process({"gunzip", "-c"}, gz.body, 60000);
    EXPECT_TRUE(gun.exit_code == 0 && gun.output == plain.body) << "gunzip could not decode the scrape";

    const double ratio = static_cast<double>(gz.body.size()) / static_cast<double>(plain.body.size());
    EXPECT_LE(ratio, 0.25);
    std::printf(
        "%d series, medians of %d interleaved rounds: render into memory %.1f ms, scrape over loopback "
        "%.1f ms (scrape/render %.2fx, median of the rounds' ratios; bar <= 2x), gzip scrape %.1f ms\n",
        series, rounds, median(render_ms), median(scrape_ms), median(ratios), median(gzip_ms));
    std::printf("bytes on the wire: plain %zu, gzip %zu (%.1f %% of plain; bar <= 25 %%)\n", plain.body.size(),
                gz.body.size(), 100 * ratio);

    // gzip at smaller sizes: CPU it costs against the bytes it saves.
    vitals::detail::deflate_encoder enc;
    for (int n : {10, 100, 1000, 10000, series}) {
        vitals::registry small;
        fill(small, n);
        const std::string text = vitals::render_text(small);
        std::string out;
        const double c0 = thread_cpu_ms();
        const int reps = std::max(1, 200000 / std::max(1, n));
        for (int k = 0; k < reps; ++k) {
            out.clear();
            enc.gzip(text, out);
        }
        const double cpu = (thread_cpu_ms() - c0) / reps;
        std::printf("gzip %6d series: %8zu -> %7zu bytes (%.1f %%), %.3f ms CPU (%.0f MB/s)\n", n, text.size(),
                    out.size(), 100.0 * static_cast<double>(out.size()) / static_cast<double>(text.size()), cpu,
                    static_cast<double>(text.size()) / 1e3 / std::max(cpu, 1e-6));
    }
    e.stop();
}
