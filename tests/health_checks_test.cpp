// Tests for the built-in checks (vitals/health/checks.hpp) and the socket
// helper against scripted loopback peers: well-behaved, silent, rude and
// garbage-speaking ones. Real Redis/PostgreSQL are in health_servers_test.
#include "vitals/health/checks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "support/servers.hpp"
#include "vitals/detail/socket.hpp"
#include "vitals/health/probe.hpp"

using namespace std::chrono_literals;
namespace h = vitals::health;
using vitals::test::fake_peer;

namespace {

h::deadline_t in(std::chrono::milliseconds d) { return h::clock::now() + d; }

double seconds_since(h::clock::time_point t0) {
  return std::chrono::duration<double>(h::clock::now() - t0).count();
}

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
  return h::redis_check("redis", {.host = "127.0.0.1", .port = port, .username = {}, .password = std::move(password)});
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

TEST(HealthPostgresCheck, SendsProtocol3StartupMessage) {
  fake_peer peer([](fake_peer& self, int fd) {
    const std::string head = self.read_bytes(fd, 4);
    if (head.size() != 4) return;
    const auto len = (static_cast<std::uint32_t>(static_cast<unsigned char>(head[2])) << 8) |
                     static_cast<unsigned char>(head[3]);
    self.read_bytes(fd, len - 4);
    fake_peer::send_all(fd, "R" + u32(12) + u32(5) + "salt");  // MD5 password request
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
  const auto r = pg_at(peer.port()).check(in(2s));
  EXPECT_EQ(r.status, h::status::unhealthy);
  EXPECT_TRUE(contains(r.message, "starting up")) << r.message;
  EXPECT_TRUE(contains(r.message, "57P03")) << r.message;
}

TEST(HealthPostgresCheck, OtherErrorsMeanAcceptingConnections) {
  // Like pg_isready: a server that rejects our made-up role is up.
  for (const char* code : {"28000", "3D000", "53300"}) {
    fake_peer peer(reply(pg_error(code, "nope")));
    const auto r = pg_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::healthy) << code << ": " << r.message;
  }
}

TEST(HealthPostgresCheck, MalformedRepliesAreUnhealthy) {
  const std::string cases[] = {
      "HTTP/1.1 400 Bad Request\r\n\r\n",                      // wrong protocol
      pg_error("", "no sqlstate"),                             // error without code
      "E" + u32(100) + "SFATAL",                              // truncated, then close
      "E" + u32(0xFFFFFFF0u),                                 // absurd length
      "E" + u32(20) + std::string("Cabc", 4) + std::string(12, 'x'),  // unterminated field
      "R\0\0",                                                // short header, then close
  };
  for (const auto& bytes : cases) {
    fake_peer peer(reply(bytes));
    const auto r = pg_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy) << r.message;
    EXPECT_FALSE(r.message.empty());
  }
}

TEST(HealthPostgresCheck, ClosedAndSilentPeers) {
  {
    fake_peer peer(close_at_once());
    const auto r = pg_at(peer.port()).check(in(2s));
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "by peer without reply")) << r.message;
  }
  {
    fake_peer peer(silent());
    const auto t0 = h::clock::now();
    const auto r = pg_at(peer.port()).check(in(300ms));
    EXPECT_LT(seconds_since(t0), 2.0);
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_TRUE(contains(r.message, "timed out")) << r.message;
  }
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
