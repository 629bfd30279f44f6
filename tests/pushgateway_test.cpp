// Pushing to a real Pushgateway (Debian's /usr/bin/prometheus-pushgateway, 1.5.1): a registry of
// every metric kind, holding the values that are hard to carry (2^53 neighbours, counters past
// 2^64, -0, NaN, ±Inf, subnormals, label values with quotes, backslashes, line feeds and UTF-8), is
// PUT as text 0.0.4 and as delimited protobuf, each to a group of its own, and must come back from
// the gateway's /metrics exactly as the registry holds it, with the group's job and instance
// labels added. Also pinned down: what the gateway does with an OpenMetrics body, PUT and POST
// semantics, and that what it serves passes `promtool check metrics`.
//
// What 1.5.1 was found to do (docs/formats.md, "Pushing to a Pushgateway"):
// - It keeps values as float64s, so a counter above 2^53 reads back correctly rounded, as
//   counter::value() gives it; every other double comes back bit for bit.
// - It stores -0 with its sign (its protobuf output and /api/v1/metrics JSON say -0), but its
//   text output writes "0": expfmt tests f == 0 before formatting.
// - Native-histogram fields pushed in protobuf are kept and served back in protobuf; its text
//   output shows the classic buckets only. A counter's exemplar pushed in protobuf is kept too.
// - A body that is not delimited protobuf is parsed as text 0.0.4, whatever its Content-Type.
//
// Loopback only, on a port picked at run time, persistence off; every wait is bounded and the
// gateway is killed at the end of each test.
#include <vitals/core/exemplar.hpp>
#include <vitals/core/info.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/exposition/negotiate.hpp>
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/exposition/protobuf.hpp>
#include <vitals/exposition/text.hpp>
#include <vitals/vitals.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "support/exposition_reader.hpp"
#include "support/promtool.hpp"
#include "support/protobuf_decode.hpp"
#include "support/servers.hpp"

namespace {

using namespace std::chrono_literals;
namespace pb = vitals_test::pb;
using clock_type = std::chrono::steady_clock;
using label_list = std::vector<std::pair<std::string, std::string>>;

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr const char* job = "vitals_pg";
constexpr std::string_view protobuf_accept = vitals::protobuf_content_type;

// --- a small HTTP/1.1 client for loopback: one request per connection, bounded in time ---------

struct http_reply {
    int status = 0;
    std::string head;  // status line and headers, lower-cased
    std::string body;  // de-chunked
};

class socket_fd {
public:
    explicit socket_fd(int fd) : fd_(fd) {}
    ~socket_fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    socket_fd(const socket_fd&) = delete;
    socket_fd& operator=(const socket_fd&) = delete;
    [[nodiscard]] int get() const { return fd_; }

private:
    int fd_;
};

// Decodes a chunked body; nullopt when it is malformed or truncated.
std::optional<std::string> dechunk(std::string_view in) {
    std::string out;
    for (int chunks = 0; chunks < 1000000; ++chunks) {
        const std::size_t eol = in.find("\r\n");
        if (eol == std::string_view::npos) return std::nullopt;
        const std::string size_line(in.substr(0, eol));
        char* end = nullptr;
        const unsigned long n = std::strtoul(size_line.c_str(), &end, 16);
        if (end == size_line.c_str()) return std::nullopt;
        in.remove_prefix(eol + 2);
        if (n == 0) return out;
        if (in.size() < n + 2) return std::nullopt;
        out.append(in.substr(0, n));
        in.remove_prefix(n + 2);
    }
    return std::nullopt;
}

// Sends one request to 127.0.0.1:port and reads the whole reply (the request asks the server to
// close the connection). Connecting, sending and reading share one 10 s deadline; nullopt on any
// failure or a malformed reply.
std::optional<http_reply> http_request(std::uint16_t port, std::string_view method, std::string_view path,
                                       std::string_view content_type = {}, std::string_view body = {},
                                       std::string_view accept = {}) {
    const auto deadline = clock_type::now() + 10s;
    auto ms_left = [&] {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
        return static_cast<int>(std::clamp<long long>(left, 0, 100));
    };
    const socket_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (s.get() < 0) return std::nullopt;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINPROGRESS) return std::nullopt;
        bool connected = false;
        while (!connected && clock_type::now() < deadline) {
            pollfd p{s.get(), POLLOUT, 0};
            if (::poll(&p, 1, ms_left()) != 1) continue;
            int err = 0;
            socklen_t len = sizeof err;
            if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return std::nullopt;
            connected = true;
        }
        if (!connected) return std::nullopt;
    }
    std::string req = std::string(method) + " " + std::string(path) +
                      " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\nConnection: close\r\n";
    if (!content_type.empty()) req += "Content-Type: " + std::string(content_type) + "\r\n";
    if (!accept.empty()) req += "Accept: " + std::string(accept) + "\r\n";
    if (method != "GET") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n";
    req += body;
    std::string_view out = req;
    while (!out.empty()) {
        if (clock_type::now() >= deadline) return std::nullopt;
        pollfd p{s.get(), POLLOUT, 0};
        if (::poll(&p, 1, ms_left()) != 1) continue;
        const ssize_t n = ::send(s.get(), out.data(), out.size(), MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) return std::nullopt;
        out.remove_prefix(static_cast<std::size_t>(n));
    }
    std::string resp;
    bool eof = false;
    while (!eof && clock_type::now() < deadline && resp.size() < (std::size_t{64} << 20)) {
        pollfd p{s.get(), POLLIN, 0};
        if (::poll(&p, 1, ms_left()) != 1) continue;
        char buf[16384];
        const ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0)
            eof = true;
        else
            resp.append(buf, static_cast<std::size_t>(n));
    }
    if (!eof) return std::nullopt;
    const std::size_t head_end = resp.find("\r\n\r\n");
    if (resp.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || head_end < 12) return std::nullopt;
    http_reply r;
    r.status = std::atoi(resp.c_str() + 9);
    r.head = resp.substr(0, head_end);
    std::transform(r.head.begin(), r.head.end(), r.head.begin(),
                   [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    const std::string_view rest = std::string_view(resp).substr(head_end + 4);
    if (r.head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
        auto b = dechunk(rest);
        if (!b) return std::nullopt;
        r.body = std::move(*b);
    } else if (const auto cl = r.head.find("\r\ncontent-length:"); cl != std::string::npos) {
        const auto n = static_cast<std::size_t>(std::strtoull(r.head.c_str() + cl + 17, nullptr, 10));
        if (rest.size() < n) return std::nullopt;
        r.body = std::string(rest.substr(0, n));
    } else {
        r.body = std::string(rest);
    }
    return r;
}

// --- the Pushgateway ------------------------------------------------------------------------

std::filesystem::path pushgateway_binary() { return vitals::test::find_program("prometheus-pushgateway"); }

class pushgateway {
public:
    // Starts the gateway on a free loopback port (a few attempts, in case another process takes
    // the port first) and waits, at most 15 s per attempt, until it accepts connections.
    pushgateway() {
        const std::string bin = pushgateway_binary().string();
        for (int attempt = 0; attempt < 3 && !ready_; ++attempt) {
            port_ = vitals::test::free_port();
            proc_ = vitals::test::child_process(
                {bin, "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                 "--persistence.file=",  // empty: metrics live in memory only, nothing written
                 "--log.level=warn"},
                {.cwd = dir_.path(), .log = dir_.path() / "pushgateway.log", .user = std::nullopt});
            const auto until = clock_type::now() + 15s;
            while (!ready_ && clock_type::now() < until && proc_.running()) {
                ready_ = vitals::test::can_connect(port_) && http_request(port_, "GET", "/-/ready").has_value();
                if (!ready_) std::this_thread::sleep_for(20ms);
            }
            if (!ready_) proc_.stop(SIGKILL, 2s);
        }
    }
    ~pushgateway() { proc_.stop(SIGTERM, 5s); }
    pushgateway(const pushgateway&) = delete;
    pushgateway& operator=(const pushgateway&) = delete;

    [[nodiscard]] bool ready() const { return ready_; }
    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] std::string log() const { return vitals::test::tail_of_file(dir_.path() / "pushgateway.log"); }

    // PUT/POST/DELETE on the group job=vitals_pg, instance=`instance`; the HTTP status, or -1.
    int push(std::string_view method, std::string_view instance, std::string_view content_type, std::string_view body,
             std::string* reply_body = nullptr) const {
        const auto r =
            http_request(port_, method, std::string("/metrics/job/") + job + "/instance/" + std::string(instance),
                         content_type, body);
        if (reply_body != nullptr) *reply_body = r ? r->body : "(no reply)";
        return r ? r->status : -1;
    }
    // GET `path`; the body, or "" when the status is not 200.
    [[nodiscard]] std::string get(std::string_view path, std::string_view accept = {}) const {
        const auto r = http_request(port_, "GET", path, {}, {}, accept);
        return r && r->status == 200 ? r->body : std::string();
    }

private:
    vitals::test::temp_dir dir_{"vitals-pushgateway-"};
    std::uint16_t port_ = 0;
    vitals::test::child_process proc_;
    bool ready_ = false;
};

#define START_PUSHGATEWAY(gw)                                                                  \
    if (pushgateway_binary().empty())                                                          \
        GTEST_SKIP() << "no prometheus-pushgateway (Debian package 'prometheus-pushgateway')"; \
    pushgateway gw;                                                                            \
    ASSERT_TRUE(gw.ready()) << "the Pushgateway did not start:\n" << gw.log()

// --- reading expositions back ---------------------------------------------------------------

std::string series_key(std::string_view name, label_list labels) {
    std::sort(labels.begin(), labels.end());
    std::string k(name);
    for (const auto& [n, v] : labels) k += "\x1f" + n + "=" + v;
    return k;
}

std::map<std::string, double> samples_by_series(const vitals_test::parse_result& p) {
    std::map<std::string, double> out;
    for (const auto& f : p.families)
        for (const auto& s : f.samples) out[series_key(s.name, s.labels)] = s.value;
    return out;
}

std::string label_of(const vitals_test::parsed_sample& s, std::string_view name) {
    for (const auto& [k, v] : s.labels)
        if (k == name) return v;
    return {};
}

// The value the gateway serves for `name` with `labels` plus the group's labels; nullopt if absent.
std::optional<double> served_value(const vitals_test::parse_result& served, std::string_view name, label_list labels,
                                   std::string_view instance) {
    labels.emplace_back("job", job);
    labels.emplace_back("instance", std::string(instance));
    const auto all = samples_by_series(served);
    const auto it = all.find(series_key(name, std::move(labels)));
    if (it == all.end()) return std::nullopt;
    return it->second;
}

const vitals_test::parsed_family* family_named(const vitals_test::parse_result& p, std::string_view name) {
    for (const auto& f : p.families)
        if (f.name == name) return &f;
    return nullptr;
}

std::uint64_t bits_of(double d) {
    std::uint64_t b;
    std::memcpy(&b, &d, sizeof b);
    return b;
}

std::size_t samples_in_group(const vitals_test::parse_result& served, std::string_view instance) {
    std::size_t n = 0;
    for (const auto& f : served.families)
        for (const auto& s : f.samples)
            if (label_of(s, "job") == job && label_of(s, "instance") == instance && !s.name.starts_with("push_")) ++n;
    return n;
}

// Every sample of `pushed` (the registry's own text render, parsed) is served in the group
// `instance` with the same value, bit for bit; NaN as NaN; -0 as +0, the one value the gateway's
// text output changes. Families keep their type and help, and the group holds nothing else.
void expect_group_matches(const vitals_test::parse_result& served, const vitals_test::parse_result& pushed,
                          std::string_view instance) {
    const auto all = samples_by_series(served);
    std::size_t n = 0;
    for (const auto& f : pushed.families) {
        const auto* got = family_named(served, f.name);
        if (got == nullptr) {
            ADD_FAILURE() << "family " << f.name << " not served";
            continue;
        }
        EXPECT_EQ(got->type, f.type) << f.name;
        EXPECT_EQ(got->help, f.help) << f.name;
        for (const auto& s : f.samples) {
            ++n;
            label_list labels = s.labels;
            labels.emplace_back("job", job);
            labels.emplace_back("instance", std::string(instance));
            const std::string key = series_key(s.name, labels);
            const auto it = all.find(key);
            if (it == all.end()) {
                ADD_FAILURE() << "not served in group " << instance << ": " << key;
                continue;
            }
            const double want = s.value, have = it->second;
            if (std::isnan(want)) {
                EXPECT_TRUE(std::isnan(have)) << key << " = " << have;
            } else if (want == 0 && std::signbit(want)) {
                EXPECT_EQ(bits_of(have), bits_of(0.0)) << key << ": the text output writes -0 as 0";
            } else {
                EXPECT_EQ(bits_of(have), bits_of(want)) << key << ": " << have << " != " << want;
            }
        }
    }
    EXPECT_EQ(samples_in_group(served, instance), n) << "group " << instance << " holds other samples too";
}

// The group's push_time_seconds lies in [before, after] (wall clock, a second of slack for its
// rounding) and push_failure_time_seconds is 0.
void expect_pushed_between(const vitals_test::parse_result& served, std::string_view instance, double before,
                           double after) {
    const auto t = served_value(served, "push_time_seconds", {}, instance);
    ASSERT_TRUE(t) << instance;
    EXPECT_GE(*t, before - 1) << instance;
    EXPECT_LE(*t, after + 1) << instance;
    EXPECT_EQ(served_value(served, "push_failure_time_seconds", {}, instance), 0.0) << instance;
}

double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The metric of family `name` in a decoded protobuf exposition whose labels include all of `want`.
const pb::metric* pb_metric(const std::vector<pb::family>& fs, std::string_view name, const label_list& want) {
    for (const auto& f : fs) {
        if (f.name != name) continue;
        for (const auto& m : f.metrics) {
            bool all = true;
            for (const auto& [k, v] : want) all = all && m.label(k) == v;
            if (all) return &m;
        }
    }
    return nullptr;
}

// A repeated integer field's values, whether sent packed (wire 2) or one field per value.
std::vector<std::uint64_t> repeated_varints(const std::vector<pb::field>& body, std::uint32_t number) {
    std::vector<std::uint64_t> out;
    for (const auto* f : pb::all(body, number)) {
        if (f->wire == 2) {
            for (const auto v : pb::packed(f->bytes)) out.push_back(v);
        } else {
            out.push_back(f->varint);
        }
    }
    return out;
}

// The native-histogram part of a protobuf Histogram message, decoded with the defaults of absent
// fields, so two encoders' choices (packed or not, zero fields sent or left out) compare equal.
struct native_part {
    std::uint64_t schema = 0, zero_count = 0, zero_threshold_bits = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> positive_spans, negative_spans;  // (offset, length)
    std::vector<std::uint64_t> positive_deltas, negative_deltas;
    bool operator==(const native_part&) const = default;
};

native_part native_part_of(const std::vector<pb::field>& h) {
    auto spans = [&](std::uint32_t number) {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
        for (const auto* f : pb::all(h, number)) {
            const auto span = pb::decode(f->bytes);
            out.emplace_back(pb::has(span, 1) ? pb::one(span, 1).varint : 0,
                             pb::has(span, 2) ? pb::one(span, 2).varint : 0);
        }
        return out;
    };
    native_part n;
    if (pb::has(h, 5)) n.schema = pb::one(h, 5).varint;
    if (pb::has(h, 6)) n.zero_threshold_bits = pb::one(h, 6).varint;
    if (pb::has(h, 7)) n.zero_count = pb::one(h, 7).varint;
    n.negative_spans = spans(9);
    n.negative_deltas = repeated_varints(h, 10);
    n.positive_spans = spans(12);
    n.positive_deltas = repeated_varints(h, 13);
    return n;
}

// --- the registry that is pushed --------------------------------------------------------------

// One family of every kind, with the values that are hard to carry.
struct workload {
    vitals::registry r;
    vitals::counter rounded_up_to_even = r.counter<"pg_events_total">("2^53 + 1: rounds to 2^53 (ties to even).");
    vitals::counter rounded_down_to_even = r.counter<"pg_ops_total">("2^53 + 3: rounds to 2^53 + 4 (ties to even).");
    vitals::counter past_u64 = r.counter<"pg_wrapped_bytes_total">("Past 2^64 - 1.");
    vitals::counter fraction = r.counter<"pg_busy_seconds_total">("0.1 three times.");
    vitals::counter_family<vitals::labels<"path">>& requests = r.counter<"pg_requests_total", vitals::labels<"path">>(
        "Requests \\ with \"quotes\"\nand a line feed in the help.");
    vitals::gauge_family<vitals::labels<"case">>& levels =
        r.gauge<"pg_level", vitals::labels<"case">>("Special values.");
    vitals::histogram latency = r.histogram<"pg_latency_seconds">("Classic.", std::vector<double>{0.1, 1, 10});
    vitals::summary rpc = r.summary<"pg_rpc_seconds">("Summary.", std::vector<double>{0.5, 0.9});
    vitals::native_histogram payload =
        r.native_histogram<"pg_payload_bytes">("Native.", {.classic_buckets = {100, 1000}});

    static constexpr std::uint64_t two_53 = std::uint64_t{1} << 53;
    static inline const std::vector<std::pair<std::string, double>> level_values = {
        {"negative_zero", -0.0},
        {"nan", not_a_number},
        {"plus_inf", inf},
        {"minus_inf", -inf},
        {"subnormal", 1e-310},
        {"denorm_min", std::numeric_limits<double>::denorm_min()},
        {"two_53_plus_2", 9007199254740994.0},
        {"max", std::numeric_limits<double>::max()},
        {"minus_1e308", -1e308},
        {"tenth", 0.1},
    };
    static inline const std::vector<std::string> hostile_paths = {"quote\"d", "back\\slash", "line\nfeed",
                                                                  "\xC3\xBCtf-8 \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC",
                                                                  "all \"\\\n\xE2\x82\xAC"};

    workload() {
        rounded_up_to_even.inc(two_53 + 1);
        rounded_down_to_even.inc(two_53 + 3);
        past_u64.inc(std::numeric_limits<std::uint64_t>::max());
        past_u64.inc(std::numeric_limits<std::uint64_t>::max());
        for (int i = 0; i < 3; ++i) fraction.inc(0.1);
        std::uint64_t n = 1;
        for (const auto& p : hostile_paths) requests.labels(p).inc(n++);
        requests.labels("traced").inc(3, vitals::exemplar_labels{{"trace_id", "pg-trace"}});
        for (const auto& [k, v] : level_values) levels.labels(k).set(v);
        for (double v : {0.05, 0.1, 0.1, 1.0, 10.0, 100.0}) latency.observe(v);  // three on boundaries
        for (int i = 1; i <= 100; ++i) rpc.observe(i / 100.0);
        for (double v : {0.0, 1.0, 5.0, 300.0, 300.0, 5000.0, -2.0, -40.0}) payload.observe(v);
        r.info<"pg_build_info", vitals::labels<"version", "revision">>("Build.").set("1.2.3", "9f1c2e0");
        r.stateset<"pg_mode">("Mode.", std::vector<std::string>{"primary", "replica"}).labels().set_only("primary");
        r.callback_counter<"pg_external_total">("Callback counter.").set([] { return 42.5; });
        r.callback_gauge<"pg_queue_depth">("Callback gauge.").set([] { return -3.0; });
    }
};

}  // namespace

// The same registry pushed as text 0.0.4 (group instance=text) and as delimited protobuf (group
// instance=protobuf) is served back with every sample's value, the job and instance labels added.
TEST(Pushgateway, TextAndProtobufPushesReadBackExactly) {
    START_PUSHGATEWAY(gw);
    workload w;
    const std::string text = vitals::render_text(w.r);
    const std::string proto = vitals::render_protobuf(w.r);
    const auto pushed = vitals_test::read_text_exposition(text);
    ASSERT_TRUE(pushed.ok()) << pushed.error << "\n" << text;

    const double before = wall_seconds();
    std::string reply;
    // 1.5.1 answers 200 to a successful PUT/POST (202 to DELETE); either means accepted.
    const int text_status = gw.push("PUT", "text", vitals::text_content_type, text, &reply);
    EXPECT_TRUE(text_status == 200 || text_status == 202) << text_status << " " << reply << "\n" << gw.log();
    const int proto_status = gw.push("PUT", "protobuf", vitals::protobuf_content_type, proto, &reply);
    EXPECT_TRUE(proto_status == 200 || proto_status == 202) << proto_status << " " << reply << "\n" << gw.log();
    const double after = wall_seconds();

    const std::string served_text = gw.get("/metrics");
    const auto served = vitals_test::read_text_exposition(served_text);
    ASSERT_TRUE(served.ok()) << served.error << "\n" << served_text;
    for (const char* instance : {"text", "protobuf"}) {
        SCOPED_TRACE(instance);
        expect_group_matches(served, pushed, instance);
        expect_pushed_between(served, instance, before, after);

        // The hard cases, against the registry's own handles.
        EXPECT_EQ(served_value(served, "pg_events_total", {}, instance), 9007199254740992.0);
        EXPECT_EQ(served_value(served, "pg_events_total", {}, instance), w.rounded_up_to_even.value());
        EXPECT_EQ(served_value(served, "pg_ops_total", {}, instance), 9007199254740996.0);
        EXPECT_EQ(served_value(served, "pg_ops_total", {}, instance), w.rounded_down_to_even.value());
        EXPECT_EQ(served_value(served, "pg_wrapped_bytes_total", {}, instance), 0x1p65);
        EXPECT_EQ(served_value(served, "pg_busy_seconds_total", {}, instance), 0.1 + 0.1 + 0.1);
        EXPECT_EQ(served_value(served, "pg_busy_seconds_total", {}, instance), w.fraction.value());
        for (std::size_t i = 0; i < workload::hostile_paths.size(); ++i)
            EXPECT_EQ(served_value(served, "pg_requests_total", {{"path", workload::hostile_paths[i]}}, instance),
                      static_cast<double>(i + 1))
                << workload::hostile_paths[i];
        for (const auto& [k, v] : workload::level_values) {
            const auto got = served_value(served, "pg_level", {{"case", k}}, instance);
            ASSERT_TRUE(got) << k;
            if (std::isnan(v))
                EXPECT_TRUE(std::isnan(*got)) << k;
            else if (v == 0)
                EXPECT_EQ(bits_of(*got), bits_of(0.0)) << k;  // -0 is written "0"
            else
                EXPECT_EQ(bits_of(*got), bits_of(v)) << k;
        }
        // Observations on a bound count in that bound's bucket (le is inclusive).
        EXPECT_EQ(served_value(served, "pg_latency_seconds_bucket", {{"le", "0.1"}}, instance), 3);
        EXPECT_EQ(served_value(served, "pg_latency_seconds_bucket", {{"le", "1"}}, instance), 4);
        EXPECT_EQ(served_value(served, "pg_latency_seconds_bucket", {{"le", "10"}}, instance), 5);
        EXPECT_EQ(served_value(served, "pg_latency_seconds_bucket", {{"le", "+Inf"}}, instance), 6);
        EXPECT_EQ(served_value(served, "pg_latency_seconds_sum", {}, instance), 0.05 + 0.1 + 0.1 + 1.0 + 10.0 + 100.0);
        EXPECT_EQ(served_value(served, "pg_payload_bytes_count", {}, instance), 8);
        EXPECT_EQ(served_value(served, "pg_payload_bytes_bucket", {{"le", "1000"}}, instance), 7);
        EXPECT_EQ(served_value(served, "pg_rpc_seconds_count", {}, instance), 100);
        EXPECT_EQ(served_value(served, "pg_build_info", {{"version", "1.2.3"}, {"revision", "9f1c2e0"}}, instance), 1);
        EXPECT_EQ(served_value(served, "pg_mode", {{"pg_mode", "primary"}}, instance), 1);
        EXPECT_EQ(served_value(served, "pg_mode", {{"pg_mode", "replica"}}, instance), 0);
        EXPECT_EQ(served_value(served, "pg_external_total", {}, instance), 42.5);
        EXPECT_EQ(served_value(served, "pg_queue_depth", {}, instance), -3);
    }

    // Everything it serves (both groups, its push_* gauges, its own go_*/process_* metrics) passes
    // promtool's parser and linter.
    const auto lint = vitals_test::promtool_check(served_text);
    ASSERT_NE(lint.exit_code, 127) << "promtool not found";
    EXPECT_EQ(lint.exit_code, 0) << lint.output << "\n--- served ---\n" << served_text;
    EXPECT_EQ(lint.output, "");

    // The gateway stores -0 with its sign: its protobuf output and JSON API keep it; only the
    // text writer drops it. Native buckets pushed in protobuf are kept (served in protobuf only).
    const std::string served_proto = gw.get("/metrics", protobuf_accept);
    ASSERT_FALSE(served_proto.empty());
    std::vector<pb::family> fams;
    ASSERT_NO_THROW(fams = pb::decode_families(served_proto));
    const auto mine = pb::decode_families(proto);
    for (const char* instance : {"text", "protobuf"}) {
        SCOPED_TRACE(instance);
        const auto* zero = pb_metric(fams, "pg_level", {{"case", "negative_zero"}, {"instance", instance}});
        ASSERT_NE(zero, nullptr);
        ASSERT_TRUE(pb::has(zero->body, 1));
        EXPECT_EQ(pb::one(zero->body, 1).varint, bits_of(-0.0));
        const auto* native = pb_metric(fams, "pg_payload_bytes", {{"instance", instance}});
        ASSERT_NE(native, nullptr);
        ASSERT_EQ(native->kind, 7u);  // Metric.histogram
        if (std::string_view(instance) == "protobuf") {
            const auto* pushed_native = pb_metric(mine, "pg_payload_bytes", {});
            ASSERT_NE(pushed_native, nullptr);
            const native_part want = native_part_of(pushed_native->body), got = native_part_of(native->body);
            EXPECT_FALSE(want.positive_spans.empty());
            EXPECT_FALSE(want.negative_spans.empty());
            EXPECT_EQ(got, want) << "the native buckets changed on the way through the gateway";
            EXPECT_EQ(got.zero_count, 1u);
        } else {
            // Text 0.0.4 carries no native buckets: that group's histogram is classic only.
            EXPECT_FALSE(pb::has(native->body, 12));
            EXPECT_FALSE(pb::has(native->body, 9));
        }
    }
    // The counter's exemplar travels in protobuf (Counter field 2) and is kept.
    const auto* traced = pb_metric(fams, "pg_requests_total", {{"path", "traced"}, {"instance", "protobuf"}});
    ASSERT_NE(traced, nullptr);
    ASSERT_EQ(traced->kind, 3u);
    ASSERT_TRUE(pb::has(traced->body, 2));
    EXPECT_NE(pb::one(traced->body, 2).bytes.find("pg-trace"), std::string::npos);

    // A Prometheus without native histograms asks for OpenMetrics first; 1.5.1 does not offer it
    // and answers text 0.0.4, so such a Prometheus stores the -0 above as +0.
    const auto as_prometheus = http_request(gw.port(), "GET", "/metrics", {}, {},
                                            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                                            "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
    ASSERT_TRUE(as_prometheus);
    EXPECT_EQ(as_prometheus->status, 200);
    EXPECT_NE(as_prometheus->head.find("\r\ncontent-type: text/plain; version=0.0.4"), std::string::npos)
        << as_prometheus->head;

    const std::string json = gw.get("/api/v1/metrics");
    std::size_t negative_zeros = 0;
    for (std::size_t at = json.find("\"value\":\"-0\""); at != std::string::npos;
         at = json.find("\"value\":\"-0\"", at + 1))
        ++negative_zeros;
    EXPECT_EQ(negative_zeros, 2u) << json.substr(0, 2000);  // one per group
}

// PUT replaces the whole group; POST replaces only the families it carries; DELETE drops the
// group. Other groups are never touched.
TEST(Pushgateway, PutReplacesAGroupAndPostMerges) {
    START_PUSHGATEWAY(gw);
    auto push = [&](std::string_view method, std::string_view instance, const vitals::registry& r) {
        std::string reply;
        const int status = gw.push(method, instance, vitals::text_content_type, vitals::render_text(r), &reply);
        EXPECT_TRUE(status == 200 || status == 202) << method << " " << status << " " << reply << "\n" << gw.log();
    };
    auto served = [&] {
        const std::string body = gw.get("/metrics");
        auto p = vitals_test::read_text_exposition(body);
        EXPECT_TRUE(p.ok()) << p.error << "\n" << body;
        return p;
    };
    {
        vitals::registry r;
        r.counter<"pg_put_a_total">("A.").inc(1);
        r.gauge<"pg_put_b">("B.").set(2);
        push("PUT", "group", r);
        vitals::registry other;
        other.counter<"pg_put_a_total">("A.").inc(100);
        push("PUT", "other", other);
    }
    {
        const auto p = served();
        EXPECT_EQ(served_value(p, "pg_put_a_total", {}, "group"), 1);
        EXPECT_EQ(served_value(p, "pg_put_b", {}, "group"), 2);
        EXPECT_EQ(served_value(p, "pg_put_a_total", {}, "other"), 100);
    }
    {
        vitals::registry r;
        r.counter<"pg_put_a_total">("A.").inc(5);
        push("PUT", "group", r);
        const auto p = served();
        EXPECT_EQ(served_value(p, "pg_put_a_total", {}, "group"), 5);
        EXPECT_EQ(served_value(p, "pg_put_b", {}, "group"), std::nullopt) << "PUT keeps what it did not carry";
        EXPECT_EQ(served_value(p, "pg_put_a_total", {}, "other"), 100);
    }
    {
        vitals::registry r;
        r.gauge<"pg_put_c">("C.").set(3);
        push("POST", "group", r);
        const auto p = served();
        EXPECT_EQ(served_value(p, "pg_put_a_total", {}, "group"), 5) << "POST dropped a family it did not carry";
        EXPECT_EQ(served_value(p, "pg_put_c", {}, "group"), 3);
    }
    {
        vitals::registry r;
        r.counter<"pg_put_a_total">("A.").inc(7);
        push("POST", "group", r);
        const auto p = served();
        EXPECT_EQ(served_value(p, "pg_put_a_total", {}, "group"), 7);
        EXPECT_EQ(served_value(p, "pg_put_c", {}, "group"), 3);
        EXPECT_EQ(served_value(p, "pg_put_a_total", {}, "other"), 100);
    }
    EXPECT_EQ(gw.push("DELETE", "group", {}, {}), 202);
    const auto p = served();
    EXPECT_EQ(samples_in_group(p, "group"), 0u);
    EXPECT_EQ(served_value(p, "push_time_seconds", {}, "group"), std::nullopt);
    EXPECT_EQ(served_value(p, "pg_put_a_total", {}, "other"), 100);
}

// The Pushgateway 1.5.1 reads a push body as delimited protobuf when the Content-Type says so and
// as text 0.0.4 otherwise: an OpenMetrics Content-Type is not looked at. OpenMetrics is close
// enough to text that some bodies parse, but wrongly, and others are refused:
// - a counter family is named without `_total` in OpenMetrics (`# TYPE x counter`, sample
//   `x_total`), so the text parser sees a sample of another family: the counter is stored as an
//   untyped `x_total` without its help (which promtool's linter then reports);
// - the `info` and `stateset` types, and exemplars (` # {…}` after a value, read as a bad
//   timestamp), make the whole push fail with 400.
// So vitals users push text 0.0.4 (render_text) or protobuf (render_protobuf, which also carries
// native histograms and exemplars), never render_openmetrics.
TEST(Pushgateway, OpenMetricsBodiesAreReadAsText) {
    START_PUSHGATEWAY(gw);
    const std::string_view om_type = vitals::openmetrics_content_type;
    std::string reply;
    {
        workload w;  // the registry of the test above: an exemplar, info, stateset
        EXPECT_EQ(gw.push("PUT", "openmetrics_all", om_type, vitals::render_openmetrics(w.r), &reply), 400);
        EXPECT_NE(reply.find("text format parsing error"), std::string::npos) << reply;
    }
    {
        vitals::registry r;
        r.info<"pg_om_build_info", vitals::labels<"version">>("Build.").set("1");
        EXPECT_EQ(gw.push("PUT", "openmetrics_info", om_type, vitals::render_openmetrics(r), &reply), 400);
        EXPECT_NE(reply.find("unknown metric type \"info\""), std::string::npos) << reply;
    }
    {
        vitals::registry r;
        r.stateset<"pg_om_mode">("Mode.", std::vector<std::string>{"a", "b"}).labels().set_only("a");
        EXPECT_EQ(gw.push("PUT", "openmetrics_stateset", om_type, vitals::render_openmetrics(r), &reply), 400);
        EXPECT_NE(reply.find("unknown metric type \"stateset\""), std::string::npos) << reply;
    }
    {
        vitals::registry r;
        r.counter<"pg_om_traced_total">("Traced.").inc(1, vitals::exemplar_labels{{"trace_id", "abc"}});
        const std::string body = vitals::render_openmetrics(r);
        ASSERT_NE(body.find(" # {trace_id=\"abc\"}"), std::string::npos) << body;
        EXPECT_EQ(gw.push("PUT", "openmetrics_exemplar", om_type, body, &reply), 400);
        EXPECT_NE(reply.find("timestamp"), std::string::npos) << reply;
    }
    vitals::registry r;
    r.counter<"pg_om_jobs_total">("Jobs.").inc(5);
    r.gauge<"pg_om_level">("Level.").set(1.5);
    auto h = r.histogram<"pg_om_latency_seconds">("Latency.", std::vector<double>{1});
    h.observe(0.5);
    const std::string body = vitals::render_openmetrics(r);
    ASSERT_NE(body.find("# TYPE pg_om_jobs counter"), std::string::npos) << body;
    ASSERT_NE(body.find("le=\"1.0\""), std::string::npos) << body;
    EXPECT_EQ(gw.push("PUT", "openmetrics", om_type, body, &reply), 200) << reply;

    const std::string served_text = gw.get("/metrics");
    const auto served = vitals_test::read_text_exposition(served_text);
    ASSERT_TRUE(served.ok()) << served.error << "\n" << served_text;
    // The refused pushes left no group behind.
    for (const char* refused : {"openmetrics_all", "openmetrics_info", "openmetrics_stateset", "openmetrics_exemplar"})
        EXPECT_EQ(served_value(served, "push_time_seconds", {}, refused), std::nullopt) << refused;
    // The counter lost its type and help; the value survived.
    EXPECT_EQ(family_named(served, "pg_om_jobs"), nullptr);
    const auto* jobs = family_named(served, "pg_om_jobs_total");
    ASSERT_NE(jobs, nullptr) << served_text;
    EXPECT_EQ(jobs->type, "untyped");
    EXPECT_EQ(jobs->help, "");
    EXPECT_EQ(served_value(served, "pg_om_jobs_total", {}, "openmetrics"), 5);
    // Gauges and histograms are read as text reads them (le="1.0" becomes "1").
    const auto* level = family_named(served, "pg_om_level");
    ASSERT_NE(level, nullptr);
    EXPECT_EQ(level->type, "gauge");
    EXPECT_EQ(level->help, "Level.");
    EXPECT_EQ(served_value(served, "pg_om_level", {}, "openmetrics"), 1.5);
    const auto* latency = family_named(served, "pg_om_latency_seconds");
    ASSERT_NE(latency, nullptr);
    EXPECT_EQ(latency->type, "histogram");
    EXPECT_EQ(served_value(served, "pg_om_latency_seconds_bucket", {{"le", "1"}}, "openmetrics"), 1);
    EXPECT_EQ(served_value(served, "pg_om_latency_seconds_sum", {}, "openmetrics"), 0.5);
    // promtool's linter flags the counter that became untyped and lost its help.
    const auto lint = vitals_test::promtool_check(served_text);
    ASSERT_NE(lint.exit_code, 127) << "promtool not found";
    EXPECT_NE(lint.exit_code, 0);
    EXPECT_NE(lint.output.find("pg_om_jobs_total no help text"), std::string::npos) << lint.output;

    // The same registry pushed as text instead keeps the counter's type and help.
    EXPECT_EQ(gw.push("DELETE", "openmetrics", {}, {}), 202);
    EXPECT_EQ(gw.push("PUT", "text", vitals::text_content_type, vitals::render_text(r), &reply), 200) << reply;
    const auto fixed = vitals_test::read_text_exposition(gw.get("/metrics"));
    ASSERT_TRUE(fixed.ok()) << fixed.error;
    const auto* typed = family_named(fixed, "pg_om_jobs_total");
    ASSERT_NE(typed, nullptr);
    EXPECT_EQ(typed->type, "counter");
    EXPECT_EQ(typed->help, "Jobs.");
}
