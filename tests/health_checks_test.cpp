// Tests for the built-in checks (vitals/health/checks.hpp) and the socket
// helper against scripted loopback peers: well-behaved, silent, rude and
// garbage-speaking ones. Real Redis/PostgreSQL are in health_servers_test,
// except for the PostgreSQL login tests, which run against a real server here.
#include "vitals/health/checks.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/servers.hpp"
#include "vitals/detail/base64.hpp"
#include "vitals/detail/socket.hpp"
#include "vitals/health/probe.hpp"

using namespace std::chrono_literals;
namespace h = vitals::health;
using vitals::test::fake_peer;

namespace {

h::deadline_t in(std::chrono::milliseconds d) { return h::clock::now() + d; }

double seconds_since(h::clock::time_point t0) { return std::chrono::duration<double>(h::clock::now() - t0).count(); }

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// Peer behaviours shared by several protocols.
fake_peer::handler silent() {
    return [](fake_peer& self, int) { self.stall(); };
}
fake_peer::handler close_at_once() {
    return [](fake_peer&, int) {};
}
fake_peer::handler reply(std::string bytes) {
    return [bytes](fake_peer& self, int fd) {
        // Consume the request (whatever it is) so that closing afterwards sends
        // FIN rather than RST; the reply itself does not depend on it.
        self.drain(fd);
        fake_peer::send_all(fd, bytes);
    };
}

std::string u32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF), static_cast<char>((v >> 8) & 0xFF),
            static_cast<char>(v & 0xFF)};
}

// PostgreSQL ErrorResponse with the given SQLSTATE and message.
std::string pg_error(std::string_view sqlstate, std::string_view message) {
    std::string fields;
    fields += 'S';
    fields += "FATAL";
    fields += '\0';
    if (!sqlstate.empty()) {
        fields += 'C';
        fields += sqlstate;
        fields += '\0';
    }
    fields += 'M';
    fields += message;
    fields += '\0';
    fields += '\0';
    return "E" + u32(static_cast<std::uint32_t>(fields.size() + 4)) + fields;
}

h::redis_check redis_at(std::uint16_t port, std::string password = {}) {
    return h::redis_check("redis",
                          {.host = "127.0.0.1", .port = port, .username = {}, .password = std::move(password)});
}

h::postgres_check pg_at(std::uint16_t port) {
    return h::postgres_check("database", {.host = "127.0.0.1", .port = port, .user = "vitals_probe", .database = {}});
}

}  // namespace

// --- socket helper -------------------------------------------------------

TEST(HealthSocket, ParsesHostPort) {
    using vitals::detail::parse_host_port;
    auto a = parse_host_port("127.0.0.1:6379");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 6379);
    auto b = parse_host_port("[::1]:5432");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "::1");
    EXPECT_EQ(b->port, 5432);
    EXPECT_FALSE(parse_host_port("::1:5432"));
    EXPECT_FALSE(parse_host_port("host"));
    EXPECT_FALSE(parse_host_port("host:0"));
    EXPECT_FALSE(parse_host_port("host:65536"));
    EXPECT_FALSE(parse_host_port("host:12a"));
    EXPECT_FALSE(parse_host_port(":80"));
    EXPECT_EQ(vitals::detail::format_host_port("::1", 80), "[::1]:80");
}

TEST(HealthSocket, ReadUntilIsBoundedInSize) {
    fake_peer peer([](fake_peer& self, int fd) {
        fake_peer::send_all(fd, std::string(10000, 'x'));
        self.stall(2s);
    });
    vitals::detail::tcp_socket s;
    ASSERT_TRUE(s.connect("127.0.0.1", peer.port(), in(2s))) << s.error();
    std::string buf;
    EXPECT_FALSE(s.read_until(buf, "\r\n", 100, in(2s)));
    EXPECT_LE(buf.size(), 100u);
    EXPECT_TRUE(contains(s.error(), "too long")) << s.error();
}

// --- tcp -------------------------------------------------------------------

TEST(HealthTcpCheck, ConnectsOrReportsRefusal) {
    fake_peer peer(close_at_once());
    EXPECT_EQ(h::tcp_check("svc", "127.0.0.1", peer.port()).check(in(2s)).status, h::status::healthy);

    const auto closed_port = vitals::test::free_port();
    const auto r = h::tcp_check("svc", "127.0.0.1", closed_port).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "refused")) << r.message;
}

TEST(HealthTcpCheck, WorksOverIpv6Loopback) {
    std::unique_ptr<fake_peer> peer;
    try {
        peer = std::make_unique<fake_peer>(close_at_once(), "::1");
    } catch (const std::system_error& e) {
        GTEST_SKIP() << "IPv6 loopback unavailable here: " << e.what();
    }
    const auto r = h::tcp_check("svc", "::1", peer->port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
}

TEST(HealthTcpCheck, UnresolvableHostIsUnhealthy) {
    const auto r = h::tcp_check("svc", "no such host!", 80).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "resolve")) << r.message;
}

// --- redis -----------------------------------------------------------------

TEST(HealthRedisCheck, PongIsHealthyAndRequestIsResp) {
    fake_peer pong([](fake_peer& self, int fd) {
        self.read_request(fd, "PING\r\n");
        fake_peer::send_all(fd, "+PONG\r\n");
    });
    const auto r = redis_at(pong.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
    EXPECT_EQ(pong.received(), "*1\r\n$4\r\nPING\r\n");
}

TEST(HealthRedisCheck, SendsAuthFirstWhenConfigured) {
    fake_peer peer([](fake_peer& self, int fd) {
        self.read_request(fd, "PING\r\n");
        fake_peer::send_all(fd, "+OK\r\n+PONG\r\n");
    });
    const auto r = redis_at(peer.port(), "s3cret pass").check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
    EXPECT_EQ(peer.received(), "*2\r\n$4\r\nAUTH\r\n$11\r\ns3cret pass\r\n*1\r\n$4\r\nPING\r\n");
}

TEST(HealthRedisCheck, ErrorRepliesAreUnhealthy) {
    {
        fake_peer peer(reply("-NOAUTH Authentication required.\r\n"));
        const auto r = redis_at(peer.port()).check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy);
        EXPECT_TRUE(contains(r.message, "NOAUTH")) << r.message;
    }
    {
        fake_peer peer(reply("-WRONGPASS invalid username-password pair\r\n-NOAUTH Authentication required.\r\n"));
        const auto r = redis_at(peer.port(), "bad").check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy);
        EXPECT_TRUE(contains(r.message, "AUTH rejected: WRONGPASS")) << r.message;
    }
    {
        fake_peer peer(reply("-LOADING Redis is loading the dataset in memory\r\n"));
        const auto r = redis_at(peer.port()).check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy);
        EXPECT_TRUE(contains(r.message, "LOADING")) << r.message;
    }
}

TEST(HealthRedisCheck, GarbageIsUnhealthy) {
    fake_peer peer(reply("HTTP/1.1 400 Bad Request\r\n\r\n"));
    const auto r = redis_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "unexpected reply to PING: HTTP/1.1 400")) << r.message;
}

TEST(HealthRedisCheck, BinaryGarbageIsSanitised) {
    fake_peer peer(reply(std::string("\x00\xFF\x1b[2J\r\n", 7)));
    const auto r = redis_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    for (char c : r.message) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << r.message;
}

TEST(HealthRedisCheck, ClosedConnectionIsUnhealthy) {
    fake_peer peer(close_at_once());
    const auto r = redis_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "by peer without reply")) << r.message;
}

TEST(HealthRedisCheck, ShortReplyIsUnhealthy) {
    fake_peer peer(reply("+PO"));
    const auto r = redis_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "closed by peer mid-reply")) << r.message;
}

TEST(HealthRedisCheck, SilentPeerTimesOutAtDeadline) {
    fake_peer peer(silent());
    const auto t0 = h::clock::now();
    const auto r = redis_at(peer.port()).check(in(300ms));
    EXPECT_LT(seconds_since(t0), 2.0);
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "timed out")) << r.message;
}

TEST(HealthRedisCheck, EndlessReplyIsBounded) {
    fake_peer peer([](fake_peer& self, int fd) {
        const std::string chunk(4096, '+');
        for (int i = 0; i < 1000 && !self.stopping(); ++i) fake_peer::send_all(fd, chunk);
    });
    const auto r = redis_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "too long")) << r.message;
}

// --- postgres --------------------------------------------------------------
// Scripted peers first (framing, pg_isready semantics, each step of the login
// and what a hostile or broken server can send), then a real PostgreSQL 15
// with scram-sha-256 and md5 in pg_hba.conf.

namespace {

std::string u16(std::uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}; }

// A backend message: type, length, body.
std::string pg_msg(char type, std::string_view body) {
    return type + u32(static_cast<std::uint32_t>(body.size() + 4)) + std::string(body);
}
std::string pg_auth(std::uint32_t code, std::string_view data = {}) {
    return pg_msg('R', u32(code) + std::string(data));
}
std::string pg_ready() { return pg_msg('Z', "I"); }

// What a server sends after AuthenticationOk, up to ReadyForQuery.
std::string pg_session_start() {
    return pg_msg('S', std::string("server_version\0"
                                   "15.0\0",
                                   20)) +
           pg_msg('K', u32(1234) + u32(5678)) + pg_msg('N', std::string("SNOTICE\0Mhello\0\0", 17)) + pg_ready();
}

// The answer to "SELECT 1", with `value` in each of its `rows` rows.
std::string pg_select_reply(std::string_view value = "1", int rows = 1) {
    // Name, table oid, column number, type oid (int4), size, modifier, format.
    const std::string field =
        std::string("?column?\0", 9) + u32(0) + u16(0) + u32(23) + u16(4) + u32(0xFFFFFFFFu) + u16(0);
    std::string out = pg_msg('T', u16(1) + field);
    for (int i = 0; i < rows; ++i)
        out += pg_msg('D', u16(1) + u32(static_cast<std::uint32_t>(value.size())) + std::string(value));
    return out + pg_msg('C', std::string("SELECT 1\0", 9)) + pg_ready();
}

// Whether `condition` becomes true within `limit` (for what a peer thread records).
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = 2s) {
    const auto until = h::clock::now() + limit;
    while (!condition()) {
        if (h::clock::now() >= until) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

// Reads the startup message (no type byte) a scripted peer is sent.
void read_startup(fake_peer& self, int fd) {
    const std::string head = self.read_bytes(fd, 4);
    if (head.size() != 4) return;
    const auto len =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(head[2])) << 8) | static_cast<unsigned char>(head[3]);
    if (len > 4) self.read_bytes(fd, len - 4);
}

// Reads one frontend message; its type (0 when the client went away) and body.
std::pair<char, std::string> read_frontend(fake_peer& self, int fd) {
    const std::string head = self.read_bytes(fd, 5);
    if (head.size() != 5) return {'\0', {}};
    std::uint32_t len = 0;
    for (int i = 1; i < 5; ++i) len = (len << 8) | static_cast<unsigned char>(head[i]);
    if (len < 4 || len > 65536) return {'\0', {}};
    return {head[0], self.read_bytes(fd, len - 4)};
}

h::postgres_check pg_login_at(std::uint16_t port, std::string user, std::string password, std::string database = {},
                              bool allow_cleartext = false) {
    return h::postgres_check("database", {.host = "127.0.0.1",
                                          .port = port,
                                          .user = std::move(user),
                                          .database = std::move(database),
                                          .password = std::move(password),
                                          .allow_cleartext = allow_cleartext});
}

// A server that speaks SCRAM-SHA-256 but does not know the password: it
// answers with `final_message(nonce)` after the client's proof.
fake_peer::handler scram_impostor(std::function<std::string()> final_message) {
    return [final_message](fake_peer& self, int fd) {
        read_startup(self, fd);
        fake_peer::send_all(fd, pg_auth(10, std::string("SCRAM-SHA-256\0\0", 15)));
        const auto [type, initial] = read_frontend(self, fd);
        const auto r = initial.find("r=");
        if (type != 'p' || r == std::string::npos) return;
        const std::string nonce = initial.substr(r + 2);
        const std::string salt = vitals::detail::base64_encode("salt");
        fake_peer::send_all(fd, pg_auth(11, "r=" + nonce + "IMPOSTOR,s=" + salt + ",i=4096"));
        if (read_frontend(self, fd).first != 'p') return;
        fake_peer::send_all(fd, final_message());
        self.drain(fd);
    };
}

}  // namespace

TEST(HealthPostgresCheck, Defaults) {
    const h::postgres_options o;
    EXPECT_EQ(o.host, "127.0.0.1");
    EXPECT_EQ(o.port, 5432);
    EXPECT_EQ(o.user, "postgres");
    EXPECT_TRUE(o.database.empty());
    EXPECT_TRUE(o.password.empty());
    EXPECT_FALSE(o.allow_cleartext);
}

TEST(HealthPostgresCheck, SendsProtocol3StartupMessage) {
    fake_peer peer([](fake_peer& self, int fd) {
        read_startup(self, fd);
        fake_peer::send_all(fd, pg_auth(5, "salt"));  // MD5 password request
    });
    const auto r = pg_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
    const std::string got = peer.received();
    ASSERT_GE(got.size(), 8u);
    EXPECT_EQ(got.substr(4, 4), u32(3u << 16));
    EXPECT_EQ(got.substr(0, 4), u32(static_cast<std::uint32_t>(got.size())));
    EXPECT_TRUE(contains(got, std::string("user\0vitals_probe\0", 18))) << got;
    EXPECT_TRUE(contains(got, std::string("database\0vitals_probe\0", 22))) << got;
    EXPECT_EQ(got.back(), '\0');
}

TEST(HealthPostgresCheck, CannotConnectNowIsUnhealthy) {
    fake_peer peer(reply(pg_error("57P03", "the database system is starting up")));
    for (const auto& check : {pg_at(peer.port()), pg_login_at(peer.port(), "app", "secret")}) {
        const auto r = check.check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy);
        EXPECT_TRUE(contains(r.message, "starting up")) << r.message;
        EXPECT_TRUE(contains(r.message, "57P03")) << r.message;
    }
}

TEST(HealthPostgresCheck, OtherErrorsMeanAcceptingConnections) {
    // Like pg_isready: a server that rejects our made-up role is up.
    for (const char* code : {"28000", "3D000", "53300"}) {
        fake_peer peer(reply(pg_error(code, "nope")));
        const auto r = pg_at(peer.port()).check(in(2s));
        EXPECT_EQ(r.status, h::status::healthy) << code << ": " << r.message;
    }
}

TEST(HealthPostgresCheck, TrustWithoutCredentialsEndsWithTerminate) {
    // AuthenticationOk straight away: read up to ReadyForQuery, then say
    // goodbye, so that the server sees a normal end of session.
    auto terminated = std::make_shared<std::atomic<bool>>(false);
    fake_peer peer([terminated](fake_peer& self, int fd) {
        read_startup(self, fd);
        fake_peer::send_all(fd, pg_auth(0) + pg_session_start());
        if (read_frontend(self, fd) == std::pair<char, std::string>{'X', {}}) *terminated = true;
    });
    const auto r = pg_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
    EXPECT_TRUE(eventually([&] { return terminated->load(); })) << peer.received();
}

TEST(HealthPostgresCheck, MalformedRepliesAreUnhealthy) {
    const std::string cases[] = {
        "HTTP/1.1 400 Bad Request\r\n\r\n",                             // wrong protocol
        pg_error("", "no sqlstate"),                                    // error without code
        "E" + u32(100) + "SFATAL",                                      // truncated, then close
        "E" + u32(0xFFFFFFF0u),                                         // absurd length
        "E" + u32(20) + std::string("Cabc", 4) + std::string(12, 'x'),  // unterminated field
        "R\0\0",                                                        // short header, then close
        "R" + u32(3),                                                   // length below the minimum
        pg_msg('R', ""),                                                // request without a code
        pg_auth(0) + pg_msg('D', "x"),                                  // not a session start-up message
        "R" + u32(2u << 20) + u32(0),                                   // over the size limit
    };
    for (const auto& bytes : cases) {
        fake_peer peer(reply(bytes));
        for (const auto& check : {pg_at(peer.port()), pg_login_at(peer.port(), "app", "secret")}) {
            const auto r = check.check(in(2s));
            EXPECT_EQ(r.status, h::status::unhealthy) << r.message;
            EXPECT_FALSE(r.message.empty());
            for (char c : r.message) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << r.message;
        }
    }
}

TEST(HealthPostgresCheck, ClosedAndSilentPeers) {
    {
        fake_peer peer(close_at_once());
        const auto r = pg_at(peer.port()).check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy);
        EXPECT_TRUE(contains(r.message, "by peer without reply")) << r.message;
    }
    // A server that accepts TCP and never answers, with and without
    // credentials, is unhealthy by the deadline.
    fake_peer peer(silent());
    for (const auto& check : {pg_at(peer.port()), pg_login_at(peer.port(), "app", "secret")}) {
        const auto t0 = h::clock::now();
        const auto r = check.check(in(300ms));
        EXPECT_LT(seconds_since(t0), 2.0);
        EXPECT_EQ(r.status, h::status::unhealthy);
        EXPECT_TRUE(contains(r.message, "timed out")) << r.message;
    }
}

TEST(HealthPostgresCheck, RefusedConnectionIsUnhealthy) {
    const auto r = pg_login_at(vitals::test::free_port(), "app", "secret").check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "refused")) << r.message;
}

TEST(HealthPostgresCheck, TrustLoginRunsSelectOneAndTerminates) {
    auto terminated = std::make_shared<std::atomic<bool>>(false);
    fake_peer peer([terminated](fake_peer& self, int fd) {
        read_startup(self, fd);
        fake_peer::send_all(fd, pg_auth(0) + pg_session_start());
        if (read_frontend(self, fd) != std::pair<char, std::string>{'Q', std::string("SELECT 1\0", 9)}) return;
        fake_peer::send_all(fd, pg_select_reply());
        if (read_frontend(self, fd) == std::pair<char, std::string>{'X', {}}) *terminated = true;
    });
    const auto r = pg_login_at(peer.port(), "app", "secret").check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
    EXPECT_TRUE(contains(r.message, "trust")) << r.message;
    EXPECT_TRUE(eventually([&] { return terminated->load(); })) << peer.received();
    EXPECT_TRUE(peer.received().ends_with("Q" + u32(13) + std::string("SELECT 1\0", 9) + std::string("X\0\0\0\4", 5)));
}

TEST(HealthPostgresCheck, WrongSelectResultIsUnhealthy) {
    for (const std::string& answer :
         {pg_select_reply("2"), pg_msg('C', std::string("SELECT 0\0", 9)) + pg_ready(), pg_select_reply("1", 2),
          pg_select_reply("1", 0), pg_error("42601", "syntax error")}) {
        fake_peer peer([answer](fake_peer& self, int fd) {
            read_startup(self, fd);
            fake_peer::send_all(fd, pg_auth(0) + pg_session_start());
            if (read_frontend(self, fd).first != 'Q') return;
            fake_peer::send_all(fd, answer);
            self.drain(fd);
        });
        const auto r = pg_login_at(peer.port(), "app", "secret").check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy) << r.message;
    }
}

TEST(HealthPostgresCheck, Md5AnswerIsSaltedDoubleHash) {
    fake_peer peer([](fake_peer& self, int fd) {
        read_startup(self, fd);
        fake_peer::send_all(fd, pg_auth(5, std::string("\x01\x02\x03\x04", 4)));
        // md5(md5("pencil" + "user") + salt), checked against an independent computation.
        const std::pair<char, std::string> expected{'p', std::string("md54376eb6913b38f9aaff38dc7cf19ca76\0", 36)};
        if (read_frontend(self, fd) != expected) return;
        fake_peer::send_all(fd, pg_auth(0) + pg_session_start());
        if (read_frontend(self, fd).first != 'Q') return;
        fake_peer::send_all(fd, pg_select_reply());
        self.drain(fd);
    });
    const auto r = pg_login_at(peer.port(), "user", "pencil").check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
    EXPECT_TRUE(contains(r.message, "md5")) << r.message;
}

TEST(HealthPostgresCheck, CleartextOnlyWhenAllowed) {
    const auto handler = [](fake_peer& self, int fd) {
        read_startup(self, fd);
        fake_peer::send_all(fd, pg_auth(3));
        if (read_frontend(self, fd) != std::pair<char, std::string>{'p', std::string("s3cret\0", 7)}) return;
        fake_peer::send_all(fd, pg_auth(0) + pg_session_start());
        if (read_frontend(self, fd).first != 'Q') return;
        fake_peer::send_all(fd, pg_select_reply());
        self.drain(fd);
    };
    {
        fake_peer peer(handler);
        const auto r = pg_login_at(peer.port(), "app", "s3cret").check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy);
        EXPECT_TRUE(contains(r.message, "cleartext")) << r.message;
        EXPECT_FALSE(contains(peer.received(), "s3cret"));
    }
    {
        fake_peer peer(handler);
        const auto r = pg_login_at(peer.port(), "app", "s3cret", {}, true).check(in(2s));
        EXPECT_EQ(r.status, h::status::healthy) << r.message;
    }
}

TEST(HealthPostgresCheck, ScramSendsInitialResponseWithoutChannelBinding) {
    fake_peer peer([](fake_peer& self, int fd) {
        read_startup(self, fd);
        fake_peer::send_all(fd, pg_auth(10, std::string("SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0", 34)));
        read_frontend(self, fd);
    });
    (void)pg_login_at(peer.port(), "app", "secret").check(in(2s));
    const std::string got = peer.received();
    ASSERT_GE(got.size(), 4u);
    const std::uint32_t startup_length =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(got[2])) << 8) | static_cast<unsigned char>(got[3]);
    ASSERT_GT(got.size(), startup_length);
    const std::string msg = got.substr(startup_length);
    ASSERT_GE(msg.size(), 23u);
    EXPECT_EQ(msg.substr(0, 1), "p");
    EXPECT_EQ(msg.substr(1, 4), u32(static_cast<std::uint32_t>(msg.size() - 1)));
    EXPECT_EQ(msg.substr(5, 14), std::string("SCRAM-SHA-256\0", 14));
    const std::string first = msg.substr(23);
    EXPECT_EQ(msg.substr(19, 4), u32(static_cast<std::uint32_t>(first.size())));
    ASSERT_TRUE(first.starts_with("n,,n=,r=")) << first;
    EXPECT_EQ(first.size(), 8u + 24u);  // 18 random bytes in base64
    EXPECT_EQ(first.find(',', 8), std::string::npos) << first;
}

TEST(HealthPostgresCheck, ScramNoncesDiffer) {
    std::string nonces[2];
    for (auto& nonce : nonces) {
        fake_peer peer([](fake_peer& self, int fd) {
            read_startup(self, fd);
            fake_peer::send_all(fd, pg_auth(10, std::string("SCRAM-SHA-256\0\0", 15)));
            read_frontend(self, fd);
        });
        (void)pg_login_at(peer.port(), "app", "secret").check(in(2s));
        const std::string got = peer.received();
        ASSERT_NE(got.find(",r="), std::string::npos);
        nonce = got.substr(got.find(",r="));
    }
    EXPECT_NE(nonces[0], nonces[1]);
}

TEST(HealthPostgresCheck, ScramServerMustProveItKnowsThePassword) {
    struct scenario {
        const char* name;
        std::function<std::string()> final_message;
        const char* expected;
    };
    const scenario scenarios[] = {
        {"wrong signature",
         [] {
             return pg_auth(12, "v=" + vitals::detail::base64_encode(std::string(32, '\0'))) + pg_auth(0) + pg_ready();
         },
         "does not match"},
        {"no SASLFinal", [] { return pg_auth(0) + pg_session_start(); }, "without proving"},
        {"garbage SASLFinal", [] { return pg_auth(12, "v=%%%") + pg_auth(0); }, "malformed SCRAM server signature"},
        {"rejected", [] { return pg_error("28P01", "password authentication failed for user \"app\""); }, "28P01"},
    };
    for (const auto& s : scenarios) {
        fake_peer peer(scram_impostor(s.final_message));
        const auto r = pg_login_at(peer.port(), "app", "secret").check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy) << s.name;
        EXPECT_TRUE(contains(r.message, s.expected)) << s.name << ": " << r.message;
    }
}

TEST(HealthPostgresCheck, UnusableAuthenticationRequestsAreUnhealthy) {
    const std::pair<std::string, const char*> cases[] = {
        {pg_auth(10, std::string("SCRAM-SHA-256-PLUS\0\0", 20)), "no supported SASL mechanism"},
        {pg_auth(10, "SCRAM-SHA-256"), "malformed SASL"},
        {pg_auth(5, "ab"), "malformed md5"},
        {pg_auth(7), "unsupported authentication method"},
        {pg_auth(11, "r=abc,s=c2FsdA==,i=1"), "unexpected SASLContinue"},
        {pg_auth(12, "v=abc"), "unexpected SASLFinal"},
    };
    for (const auto& [bytes, expected] : cases) {
        fake_peer peer(reply(bytes));
        const auto r = pg_login_at(peer.port(), "app", "secret").check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy) << expected;
        EXPECT_TRUE(contains(r.message, expected)) << r.message;
    }
}

// A real server: trust for the superuser (and for a role that does not
// exist), md5 for md5_user, SCRAM for everyone else. One cluster serves all
// tests, as initdb is the slow part.
class HealthPostgresLogin : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = std::make_unique<vitals::test::postgres_server>(vitals::test::postgres_server_options{
            .hba = "local all postgres trust\n"
                   "host all postgres 127.0.0.1/32 trust\n"
                   "host all ghost 127.0.0.1/32 trust\n"
                   "host all md5_user 127.0.0.1/32 md5\n"
                   "host all all 127.0.0.1/32 scram-sha-256",
            // Nothing but what the probes cause may show up in the log.
            .settings = {"log_checkpoints=off", "log_autovacuum_min_duration=-1"}});
        // md5 authentication needs the password stored as an md5 hash.
        server_->sql({"SET password_encryption = 'md5'", "CREATE ROLE md5_user LOGIN PASSWORD 'md5 pass'",
                      "RESET password_encryption", "CREATE ROLE scram_user LOGIN PASSWORD 'scram pass'",
                      "CREATE DATABASE app OWNER scram_user"});
    }
    static void TearDownTestSuite() { server_.reset(); }

    static std::uint16_t port() { return server_->port(); }

    // Log lines written since `offset`, once every session has ended.
    static std::vector<std::string> log_lines_since(std::size_t offset) {
        EXPECT_TRUE(server_->wait_until_no_sessions());
        std::ifstream in(server_->log_file(), std::ios::binary);
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::vector<std::string> lines;
        std::istringstream rest(offset < all.size() ? all.substr(offset) : std::string());
        for (std::string line; std::getline(rest, line);) lines.push_back(line);
        return lines;
    }

    static std::size_t log_size() {
        EXPECT_TRUE(server_->wait_until_no_sessions());
        std::error_code ec;
        const auto n = std::filesystem::file_size(server_->log_file(), ec);
        return ec ? 0 : static_cast<std::size_t>(n);
    }

    static inline std::unique_ptr<vitals::test::postgres_server> server_;
};

TEST_F(HealthPostgresLogin, CorrectPasswordIsHealthy) {
    const auto scram = pg_login_at(port(), "scram_user", "scram pass", "app").check(in(5s));
    EXPECT_EQ(scram.status, h::status::healthy) << scram.message;
    EXPECT_TRUE(contains(scram.message, "SCRAM-SHA-256")) << scram.message;
    const auto md5 = pg_login_at(port(), "md5_user", "md5 pass", "app").check(in(5s));
    EXPECT_EQ(md5.status, h::status::healthy) << md5.message;
    EXPECT_TRUE(contains(md5.message, "md5")) << md5.message;
}

TEST_F(HealthPostgresLogin, WrongPasswordIsUnhealthy) {
    for (const char* user : {"scram_user", "md5_user"}) {
        const auto r = pg_login_at(port(), user, "not the password", "app").check(in(5s));
        EXPECT_EQ(r.status, h::status::unhealthy) << user;
        EXPECT_TRUE(contains(r.message, "28P01")) << r.message;
        EXPECT_TRUE(contains(r.message, "password authentication failed")) << r.message;
    }
}

TEST_F(HealthPostgresLogin, UnknownRoleIsUnhealthy) {
    // Under SCRAM the server does not tell a missing role from a wrong password.
    const auto r = pg_login_at(port(), "no_such_role", "whatever", "app").check(in(5s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "28P01")) << r.message;
    // Under trust it does.
    const auto ghost = pg_login_at(port(), "ghost", "whatever", "app").check(in(5s));
    EXPECT_EQ(ghost.status, h::status::unhealthy);
    EXPECT_TRUE(contains(ghost.message, "28000")) << ghost.message;
}

TEST_F(HealthPostgresLogin, UnknownAndDroppedDatabasesAreUnhealthy) {
    const auto missing = pg_login_at(port(), "scram_user", "scram pass", "no_such_db").check(in(5s));
    EXPECT_EQ(missing.status, h::status::unhealthy);
    EXPECT_TRUE(contains(missing.message, "3D000")) << missing.message;

    server_->sql({"CREATE DATABASE doomed OWNER scram_user"});
    const auto before = pg_login_at(port(), "scram_user", "scram pass", "doomed").check(in(5s));
    EXPECT_EQ(before.status, h::status::healthy) << before.message;
    server_->sql({"DROP DATABASE doomed WITH (FORCE)"});
    const auto after = pg_login_at(port(), "scram_user", "scram pass", "doomed").check(in(5s));
    EXPECT_EQ(after.status, h::status::unhealthy);
    EXPECT_TRUE(contains(after.message, "3D000")) << after.message;
    EXPECT_TRUE(contains(after.message, "does not exist")) << after.message;
}

TEST_F(HealthPostgresLogin, WithoutCredentialsAnyAuthenticationRequestIsHealthy) {
    // trust (postgres, the default user), md5, SCRAM, and SCRAM's mock
    // exchange for a role that does not exist.
    for (const char* user : {"postgres", "md5_user", "scram_user", "no_such_role"}) {
        const auto r =
            h::postgres_check("database", {.host = "127.0.0.1", .port = port(), .user = user, .database = {}})
                .check(in(5s));
        EXPECT_EQ(r.status, h::status::healthy) << user << ": " << r.message;
    }
    h::postgres_options defaults;
    defaults.port = port();
    const auto r = h::postgres_check("database", defaults).check(in(5s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
}

TEST_F(HealthPostgresLogin, HealthyProbesLeaveNoErrorInTheServerLog) {
    const std::size_t offset = log_size();
    const auto t0 = h::clock::now();
    for (int i = 0; i < 20; ++i) {
        for (const auto& check :
             {pg_login_at(port(), "scram_user", "scram pass", "app"),
              pg_login_at(port(), "md5_user", "md5 pass", "app"), pg_login_at(port(), "postgres", "x"),
              pg_login_at(port(), "postgres", ""), pg_login_at(port(), "md5_user", ""),
              pg_login_at(port(), "scram_user", "", "app"), pg_login_at(port(), "no_such_role", "")}) {
            const auto r = check.check(in(5s));
            ASSERT_EQ(r.status, h::status::healthy) << r.message;
        }
    }
    std::cout << "140 healthy probes in " << seconds_since(t0) << " s\n";
    const auto lines = log_lines_since(offset);
    std::string added;
    int bad = 0;
    for (const auto& line : lines) {
        added += line + "\n";
        for (const char* pattern : {"ERROR", "FATAL", "PANIC", "could not", "unexpected EOF", "incomplete startup"})
            if (contains(line, pattern)) ++bad;
    }
    EXPECT_EQ(bad, 0) << "server log gained:\n" << added;
    EXPECT_TRUE(lines.empty()) << "server log gained:\n" << added;
}

TEST_F(HealthPostgresLogin, LogCheckSeesAClientThatHangsUpRudely) {
    // What the previous probe did: read only the start of the authentication
    // request and close, which resets the connection. The server logs that,
    // and so the log check above would notice.
    const std::size_t offset = log_size();
    {
        vitals::detail::tcp_socket s;
        ASSERT_TRUE(s.connect("127.0.0.1", port(), in(5s))) << s.error();
        std::string body = u32(3u << 16) + std::string("user\0md5_user\0database\0app\0\0", 28);
        ASSERT_TRUE(s.send_all(u32(static_cast<std::uint32_t>(body.size() + 4)) + body, in(5s))) << s.error();
        std::string buf;
        ASSERT_TRUE(s.read_at_least(buf, 1, in(5s))) << s.error();
    }
    std::string added;
    for (const auto& line : log_lines_since(offset)) added += line + "\n";
    EXPECT_TRUE(contains(added, "could not receive data from client")) << added;
}

TEST_F(HealthPostgresLogin, UnknownRoleUnderTrustIsLoggedByTheServer) {
    // The limit of the pg_isready-style check: under trust the server checks
    // the role before anything else, and logs the failure. Hence the default
    // user "postgres".
    const std::size_t offset = log_size();
    const auto r = pg_login_at(port(), "ghost", "").check(in(5s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
    EXPECT_TRUE(contains(r.message, "28000")) << r.message;
    std::string added;
    for (const auto& line : log_lines_since(offset)) added += line + "\n";
    EXPECT_TRUE(contains(added, "FATAL:  role \"ghost\" does not exist")) << added;
}

// --- http ------------------------------------------------------------------

TEST(HealthHttpCheck, TwoHundredIsHealthy) {
    fake_peer peer([](fake_peer& self, int fd) {
        self.read_request(fd, "\r\n\r\n");
        fake_peer::send_all(fd, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
    });
    const auto r = h::http_check("api", "http://127.0.0.1:" + std::to_string(peer.port()) + "/healthz").check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
    const auto req = peer.received();
    EXPECT_TRUE(req.starts_with("GET /healthz HTTP/1.1\r\n")) << req;
    EXPECT_TRUE(contains(req, "\r\nHost: 127.0.0.1:" + std::to_string(peer.port()) + "\r\n")) << req;
    EXPECT_TRUE(contains(req, "\r\nConnection: close\r\n")) << req;
}

TEST(HealthHttpCheck, NonSuccessStatusIsUnhealthy) {
    fake_peer peer(reply("HTTP/1.0 503 Service Unavailable\r\n\r\nbusy"));
    const auto r = h::http_check("api", "http://127.0.0.1:" + std::to_string(peer.port())).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "503")) << r.message;
}

TEST(HealthHttpCheck, GarbageClosedAndSilentPeers) {
    const auto url = [](const fake_peer& p) { return "http://127.0.0.1:" + std::to_string(p.port()) + "/"; };
    for (const char* bytes : {"SSH-2.0-OpenSSH_9.2\r\n", "HTTP/1.1 2x0 OK\r\n", "HTTP/1.1 200OK\r\n"}) {
        fake_peer peer(reply(bytes));
        const auto r = h::http_check("api", url(peer)).check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy) << bytes;
        EXPECT_TRUE(contains(r.message, "malformed status line")) << r.message;
    }
    {
        fake_peer peer(close_at_once());
        const auto r = h::http_check("api", url(peer)).check(in(2s));
        EXPECT_EQ(r.status, h::status::unhealthy);
    }
    {
        fake_peer peer(silent());
        const auto t0 = h::clock::now();
        const auto r = h::http_check("api", url(peer)).check(in(300ms));
        EXPECT_LT(seconds_since(t0), 2.0);
        EXPECT_EQ(r.status, h::status::unhealthy);
        EXPECT_TRUE(contains(r.message, "timed out")) << r.message;
    }
}

TEST(HealthHttpCheck, RejectsUnsupportedUrls) {
    EXPECT_THROW(h::http_check("x", "https://example.invalid/"), vitals::invalid_argument_error);
    EXPECT_THROW(h::http_check("x", "http:///path"), vitals::invalid_argument_error);
    EXPECT_THROW(h::http_check("x", "http://[::1/"), vitals::invalid_argument_error);
    EXPECT_THROW(h::http_check("x", "http://127.0.0.1:99999/"), vitals::invalid_argument_error);
    EXPECT_THROW(h::http_check("x", "http://127.0.0.1/a b"), vitals::invalid_argument_error);
    EXPECT_THROW(h::http_check("x", "http://127.0.0.1/a\r\nX-Injected: 1"), vitals::invalid_argument_error);
    EXPECT_NO_THROW(h::http_check("x", "http://[::1]:8080/ready"));
    EXPECT_NO_THROW(h::http_check("x", "http://localhost"));
}

// --- writable directory ------------------------------------------------------

TEST(HealthWritableDirCheck, WritableDirectoryIsHealthyAndLeftClean) {
    vitals::test::temp_dir dir;
    const auto r = h::writable_dir_check("events", dir.path()).check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << r.message;
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(HealthWritableDirCheck, UnusablePathsAreUnhealthy) {
    // Root ignores permission bits, so use paths that fail for everyone.
    vitals::test::temp_dir dir;
    const auto file = dir.path() / "regular-file";
    std::ofstream(file) << "x";
    const auto r1 = h::writable_dir_check("events", file).check(in(2s));
    EXPECT_EQ(r1.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r1.message, "cannot create file")) << r1.message;

    const auto r2 = h::writable_dir_check("events", dir.path() / "missing" / "deeper").check(in(2s));
    EXPECT_EQ(r2.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r2.message, "No such file")) << r2.message;
}

// --- through the probe ---------------------------------------------------------

TEST(HealthChecksInProbe, SilentDependencyBecomesTimeoutPromptly) {
    fake_peer peer(silent());
    h::probe p;
    p.add(redis_at(peer.port()), {.critical = true, .timeout = 200ms});
    const auto t0 = h::clock::now();
    const auto r = p.check();
    EXPECT_LT(seconds_since(t0), 2.0);
    EXPECT_FALSE(r.ready);
    EXPECT_EQ(r.checks.at(0).result.status, h::status::unhealthy);
}
