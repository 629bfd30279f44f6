// Built-in dependency checks: TCP, Redis, PostgreSQL, HTTP and a writable
// directory. All of them satisfy vitals::health::checker.
//
// Network checks speak just enough of each protocol to tell "the service
// answers like itself" from "something else, or nothing, is there". They
// read replies defensively: every read is bounded in size and by the check's
// deadline, and garbage, short replies or closed connections become an
// unhealthy result with a message saying what was seen.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "vitals/core/error.hpp"
#include "vitals/detail/socket.hpp"
#include "vitals/health/checker.hpp"

namespace vitals::health {

namespace detail {

// Peer replies end up in messages and logs; keep them short and printable so
// a misbehaving peer cannot flood or garble them.
inline std::string printable(std::string_view s, std::size_t max = 120) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7F ? c : '?');
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace detail

/// Healthy when a TCP connection to host:port can be established.
class tcp_check {
 public:
  /// Checks `host`:`port` (numeric IPv4/IPv6 or a resolvable name).
  tcp_check(std::string name, std::string host, std::uint16_t port)
      : name_(std::move(name)), host_(std::move(host)), port_(port) {}

  /// The check's name.
  [[nodiscard]] std::string_view name() const noexcept { return name_; }

  /// Connects and immediately closes.
  check_result check(deadline_t deadline) const {
    vitals::detail::tcp_socket s;
    if (!s.connect(host_, port_, deadline)) return unhealthy(s.error());
    return healthy("connected to " + vitals::detail::format_host_port(host_, port_));
  }

 private:
  std::string name_;
  std::string host_;
  std::uint16_t port_;
};

/// Connection settings for redis_check.
struct redis_options {
  /// Server address.
  std::string host = "127.0.0.1";
  /// Server port.
  std::uint16_t port = 6379;
  /// ACL user name for AUTH (Redis 6+); empty uses the legacy one-argument AUTH.
  std::string username;
  /// Password; empty means no AUTH is sent.
  std::string password;
};

/// Healthy when Redis answers PING with +PONG (after AUTH when configured).
class redis_check {
 public:
  /// Checks the server described by `options`.
  redis_check(std::string name, redis_options options) : name_(std::move(name)), opts_(std::move(options)) {}

  /// The check's name.
  [[nodiscard]] std::string_view name() const noexcept { return name_; }

  /// Sends [AUTH,] PING and validates the simple-string replies.
  check_result check(deadline_t deadline) const {
    vitals::detail::tcp_socket s;
    if (!s.connect(opts_.host, opts_.port, deadline)) return unhealthy(s.error());

    // Commands go out as RESP arrays so passwords with spaces survive intact.
    std::string request;
    if (!opts_.password.empty()) {
      if (opts_.username.empty()) {
        append_command(request, {"AUTH", opts_.password});
      } else {
        append_command(request, {"AUTH", opts_.username, opts_.password});
      }
    }
    append_command(request, {"PING"});
    if (!s.send_all(request, deadline)) return unhealthy("redis: " + s.error());

    std::string buffer;
    std::string line;
    if (!opts_.password.empty()) {
      if (!read_line(s, buffer, line, deadline)) return unhealthy("redis: " + s.error());
      if (line.starts_with('-')) return unhealthy("redis AUTH rejected: " + detail::printable(line.substr(1)));
      if (line != "+OK") return unhealthy("redis: unexpected reply to AUTH: " + detail::printable(line));
    }
    if (!read_line(s, buffer, line, deadline)) return unhealthy("redis: " + s.error());
    if (line == "+PONG") return healthy("PONG");
    if (line.starts_with("-NOAUTH")) return unhealthy("redis requires authentication (NOAUTH)");
    if (line.starts_with('-')) return unhealthy("redis PING failed: " + detail::printable(line.substr(1)));
    return unhealthy("redis: unexpected reply to PING: " + detail::printable(line));
  }

 private:
  // Simple-string and error replies are single short lines; anything longer
  // is not a reply we expect, so the limit also bounds memory.
  static constexpr std::size_t max_line = 1024;

  static void append_command(std::string& out, std::initializer_list<std::string_view> args) {
    out += '*' + std::to_string(args.size()) + "\r\n";
    for (auto a : args) {
      out += '$' + std::to_string(a.size()) + "\r\n";
      out += a;
      out += "\r\n";
    }
  }

  static bool read_line(vitals::detail::tcp_socket& s, std::string& buffer, std::string& line,
                        deadline_t deadline) {
    const auto pos = s.read_until(buffer, "\r\n", max_line, deadline);
    if (!pos) return false;
    line = buffer.substr(0, *pos);
    buffer.erase(0, *pos + 2);
    return true;
  }

  std::string name_;
  redis_options opts_;
};

/// Connection settings for postgres_check.
struct postgres_options {
  /// Server address.
  std::string host = "127.0.0.1";
  /// Server port.
  std::uint16_t port = 5432;
  /// User named in the startup message; it need not exist (see postgres_check).
  std::string user = "vitals_probe";
  /// Database named in the startup message; empty means the same as `user`.
  std::string database;
};

/// Healthy when PostgreSQL accepts connections, judged like pg_isready: the
/// server is sent a protocol 3.0 startup message and its first reply decides.
/// An authentication request, or any error except SQLSTATE 57P03
/// (cannot_connect_now: starting up, shutting down, recovering), means the
/// server is accepting connections - even "no such role" proves that. No
/// credentials are needed and no session is ever established.
class postgres_check {
 public:
  /// Checks the server described by `options`.
  postgres_check(std::string name, postgres_options options) : name_(std::move(name)), opts_(std::move(options)) {}

  /// The check's name.
  [[nodiscard]] std::string_view name() const noexcept { return name_; }

  /// Sends a StartupMessage and classifies the first reply.
  check_result check(deadline_t deadline) const {
    vitals::detail::tcp_socket s;
    if (!s.connect(opts_.host, opts_.port, deadline)) return unhealthy(s.error());
    if (!s.send_all(startup_message(), deadline)) return unhealthy("postgres: " + s.error());

    std::string buf;
    if (!s.read_at_least(buf, 5, deadline)) return unhealthy("postgres: " + s.error());
    const char type = buf[0];
    const std::uint32_t length = read_u32(buf, 1);
    if (type == 'R') {
      // Trust authentication answers AuthenticationOk at once; say goodbye
      // properly so the server does not log an unexpected EOF.
      if (length == 8 && s.read_at_least(buf, 9, deadline) && read_u32(buf, 5) == 0) {
        static constexpr char terminate[] = {'X', 0, 0, 0, 4};
        (void)s.send_all(std::string_view(terminate, sizeof terminate), deadline);
      }
      return healthy("accepting connections");
    }
    if (type != 'E') {
      return unhealthy("postgres: unexpected reply (first byte 0x" + hex_byte(type) + ")");
    }
    // An ErrorResponse is a sequence of (code byte, C string) fields; cap the
    // size because a real one is a few hundred bytes at most.
    if (length < 5 || length > max_error_size) return unhealthy("postgres: malformed error reply");
    if (!s.read_at_least(buf, 1 + length, deadline)) return unhealthy("postgres: " + s.error());
    std::string sqlstate;
    std::string message;
    std::string_view fields(buf.data() + 5, length - 4);
    while (!fields.empty() && fields.front() != '\0') {
      const char code = fields.front();
      fields.remove_prefix(1);
      const auto end = fields.find('\0');
      if (end == std::string_view::npos) return unhealthy("postgres: malformed error reply");
      if (code == 'C') sqlstate = fields.substr(0, end);
      if (code == 'M') message = fields.substr(0, end);
      fields.remove_prefix(end + 1);
    }
    if (sqlstate.size() != 5) return unhealthy("postgres: error reply without SQLSTATE");
    if (sqlstate == "57P03")
      return unhealthy("postgres rejecting connections: " + detail::printable(message) + " (57P03)");
    return healthy("accepting connections (startup answered " + detail::printable(sqlstate) + ")");
  }

 private:
  static constexpr std::uint32_t max_error_size = 16 * 1024;
  static constexpr std::uint32_t protocol_3_0 = 3u << 16;

  static void put_u32(std::string& out, std::uint32_t v) {
    out.push_back(static_cast<char>((v >> 24) & 0xFF));
    out.push_back(static_cast<char>((v >> 16) & 0xFF));
    out.push_back(static_cast<char>((v >> 8) & 0xFF));
    out.push_back(static_cast<char>(v & 0xFF));
  }

  static std::uint32_t read_u32(const std::string& buf, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(buf[at + i]);
    return v;
  }

  static std::string hex_byte(char c) {
    static constexpr char digits[] = "0123456789abcdef";
    const auto u = static_cast<unsigned char>(c);
    return {digits[u >> 4], digits[u & 0xF]};
  }

  [[nodiscard]] std::string startup_message() const {
    std::string body;
    put_u32(body, protocol_3_0);
    const auto param = [&](std::string_view k, std::string_view v) {
      body += k;
      body.push_back('\0');
      body += v;
      body.push_back('\0');
    };
    param("user", opts_.user);
    param("database", opts_.database.empty() ? opts_.user : opts_.database);
    param("application_name", "vitals-health");
    body.push_back('\0');
    std::string msg;
    put_u32(msg, static_cast<std::uint32_t>(body.size() + 4));
    return msg + body;
  }

  std::string name_;
  postgres_options opts_;
};

/// Healthy when `GET url` answers with a 2xx status. Plain HTTP/1.1 only;
/// only the status line is read, so large or streaming bodies cost nothing.
class http_check {
 public:
  /// Checks `url`, of the form "http://host[:port][/path]" (IPv6 hosts in
  /// brackets). Throws vitals::invalid_argument_error for anything else.
  http_check(std::string name, std::string_view url) : name_(std::move(name)) { parse_url(url); }

  /// The check's name.
  [[nodiscard]] std::string_view name() const noexcept { return name_; }

  /// Sends the request and parses the status line.
  check_result check(deadline_t deadline) const {
    vitals::detail::tcp_socket s;
    if (!s.connect(host_, port_, deadline)) return unhealthy(s.error());
    const std::string request = "GET " + path_ + " HTTP/1.1\r\nHost: " + host_header_ +
                                "\r\nUser-Agent: vitals-health\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    if (!s.send_all(request, deadline)) return unhealthy("http: " + s.error());
    std::string buf;
    const auto eol = s.read_until(buf, "\n", max_status_line, deadline);
    if (!eol) return unhealthy("http: " + s.error());
    std::string_view line(buf.data(), *eol);
    if (line.ends_with('\r')) line.remove_suffix(1);
    // "HTTP/1.x SSS reason": validate strictly; anything else is not HTTP.
    if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ' || !is_digit(line[9]) ||
        !is_digit(line[10]) || !is_digit(line[11]) || (line.size() > 12 && line[12] != ' '))
      return unhealthy("http: malformed status line: " + detail::printable(line));
    const int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (code >= 200 && code < 300) return healthy("HTTP " + std::to_string(code));
    return unhealthy("http: status " + std::to_string(code));
  }

 private:
  static constexpr std::size_t max_status_line = 1024;

  static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

  void parse_url(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) throw vitals::invalid_argument_error("http_check: URL must start with http://");
    url.remove_prefix(scheme.size());
    const auto slash = url.find('/');
    const std::string_view authority = url.substr(0, slash);
    path_ = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    if (authority.empty()) throw vitals::invalid_argument_error("http_check: missing host");
    // The Host header carries the authority exactly as written in the URL.
    host_header_ = std::string(authority);
    const bool v6 = authority.starts_with('[');
    const auto close = authority.find(']');
    if (v6 && close == std::string_view::npos) throw vitals::invalid_argument_error("http_check: bad IPv6 host");
    const std::string_view after_host = v6 ? authority.substr(close + 1) : std::string_view{};
    const bool has_port = v6 ? !after_host.empty() : authority.find(':') != std::string_view::npos;
    if (has_port) {
      auto hp = vitals::detail::parse_host_port(authority);
      if (!hp) throw vitals::invalid_argument_error("http_check: bad host:port in URL");
      host_ = hp->host;
      port_ = hp->port;
    } else {
      host_ = std::string(v6 ? authority.substr(1, close - 1) : authority);
      port_ = 80;
      if (host_.empty()) throw vitals::invalid_argument_error("http_check: missing host");
    }
    // Both end up verbatim in the request head; whitespace or control bytes
    // would let a URL inject headers.
    for (char c : std::string(authority) + path_)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F)
        throw vitals::invalid_argument_error("http_check: URL must not contain spaces or control characters");
  }

  std::string name_;
  std::string host_;
  std::uint16_t port_ = 80;
  std::string path_;
  std::string host_header_;
};

/// Healthy when a file can be created, written, fsync'ed and removed in a
/// directory - what an on-disk store needs, and what fails on a full, read-only
/// or vanished volume.
class writable_dir_check {
 public:
  /// Checks directory `dir`.
  writable_dir_check(std::string name, std::filesystem::path dir) : name_(std::move(name)), dir_(std::move(dir)) {}

  /// The check's name.
  [[nodiscard]] std::string_view name() const noexcept { return name_; }

  /// Creates, writes, fsyncs and removes a uniquely named temporary file.
  /// Disk I/O cannot be interrupted at a deadline; the probe's timeout still
  /// bounds how long callers wait.
  check_result check(deadline_t /*deadline*/) const {
    // pid + counter keeps concurrent probes (even across processes sharing the
    // directory) from colliding; O_EXCL makes any collision an error, not a
    // clobbered file.
    static std::atomic<std::uint64_t> counter{0};
    const auto file = dir_ / (".vitals-health-" + std::to_string(::getpid()) + "-" +
                              std::to_string(counter.fetch_add(1, std::memory_order_relaxed)) + ".tmp");
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return unhealthy("cannot create file in " + dir_.string() + ": " + vitals::detail::errno_text(errno));
    static constexpr std::string_view payload = "vitals health probe\n";
    std::string failure;
    std::size_t written = 0;
    while (written < payload.size()) {
      const ssize_t n = ::write(fd, payload.data() + written, payload.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        failure = "write failed in " + dir_.string() + ": " + vitals::detail::errno_text(n < 0 ? errno : EIO);
        break;
      }
      written += static_cast<std::size_t>(n);
    }
    if (failure.empty() && ::fsync(fd) != 0)
      failure = "fsync failed in " + dir_.string() + ": " + vitals::detail::errno_text(errno);
    if (::close(fd) != 0 && failure.empty())
      failure = "close failed in " + dir_.string() + ": " + vitals::detail::errno_text(errno);
    if (::unlink(file.c_str()) != 0 && failure.empty())
      failure = "cannot remove file in " + dir_.string() + ": " + vitals::detail::errno_text(errno);
    if (!failure.empty()) return unhealthy(std::move(failure));
    return healthy("writable");
  }

 private:
  std::string name_;
  std::filesystem::path dir_;
};

}  // namespace vitals::health
