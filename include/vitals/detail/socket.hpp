// Deadline-bounded blocking-style TCP client over POSIX sockets.
//
// Health checks and pushes must never hang past their deadline, so the socket
// is kept non-blocking and every wait goes through poll() with the time
// remaining. Errors are reported as human-readable strings because they end
// up in a check result or push result message.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace vitals::detail {

/// A host and port as given by the user; `host` has no IPv6 brackets.
struct host_port {
    /// Host name or numeric address.
    std::string host;
    /// TCP port.
    std::uint16_t port = 0;
};

/// Formats host and port for messages and Host headers ("[::1]:80").
inline std::string format_host_port(std::string_view host, std::uint16_t port) {
    std::string out;
    if (host.find(':') != std::string_view::npos) {
        out += '[';
        out += host;
        out += ']';
    } else {
        out += host;
    }
    out += ':';
    out += std::to_string(port);
    return out;
}

/// Parses "host:port", "[v6]:port"; nullopt on malformed input or port 0.
inline std::optional<host_port> parse_host_port(std::string_view s) {
    std::string_view host;
    std::string_view port;
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return std::nullopt;
        host = s.substr(1, close - 1);
        port = s.substr(close + 2);
    } else {
        const auto colon = s.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare IPv6 needs brackets
    }
    if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : port) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    return host_port{std::string(host), static_cast<std::uint16_t>(value)};
}

/// Milliseconds left until `deadline`, rounded up so that poll() never wakes
/// just before the deadline and spins; 0 when already past.
inline int poll_timeout_ms(std::chrono::steady_clock::time_point deadline) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<int>(std::min<decltype(ms)>(ms, 1'000'000));
}

/// Text for an errno value (thread-safe, unlike strerror).
inline std::string errno_text(int err) { return std::generic_category().message(err); }

/// Non-blocking TCP connection whose operations each take a deadline.
/// Every failing operation returns false and leaves a description in error().
class tcp_socket {
public:
    /// Clock used for deadlines.
    using clock = std::chrono::steady_clock;

    tcp_socket() = default;
    ~tcp_socket() { close(); }
    tcp_socket(const tcp_socket&) = delete;
    tcp_socket& operator=(const tcp_socket&) = delete;
    /// Transfers ownership of the descriptor.
    tcp_socket(tcp_socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)), error_(std::move(other.error_)) {}
    /// Transfers ownership of the descriptor, closing the current one.
    tcp_socket& operator=(tcp_socket&& other) noexcept {
        if (this != &other) {
            close();
            fd_ = std::exchange(other.fd_, -1);
            error_ = std::move(other.error_);
        }
        return *this;
    }

    /// Whether a connection is open.
    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    /// The underlying descriptor, or -1.
    [[nodiscard]] int native_handle() const noexcept { return fd_; }
    /// Description of the last failure.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

    /// Closes the connection (idempotent).
    void close() noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    /// Resolves `host` (IPv4 or IPv6) and connects to the first address that
    /// accepts before `deadline`. Name resolution itself cannot be bounded by
    /// getaddrinfo; numeric addresses resolve without any lookup.
    bool connect(const std::string& host, std::uint16_t port, clock::time_point deadline) {
        close();
        const std::string where = format_host_port(host, port);
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        addrinfo* list = nullptr;
        const std::string service = std::to_string(port);
        const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
        if (rc != 0) {
            error_ = "cannot resolve " + where + ": " + ::gai_strerror(rc);
            return false;
        }
        std::string last = "no usable address";
        for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
            if (clock::now() >= deadline) {
                last = "timed out";
                break;
            }
            if (connect_one(ai, deadline, last)) {
                ::freeaddrinfo(list);
                error_.clear();
                return true;
            }
        }
        ::freeaddrinfo(list);
        error_ = "connect to " + where + ": " + last;
        return false;
    }

    /// Sends all of `data` before `deadline`.
    bool send_all(std::string_view data, clock::time_point deadline) {
        if (!require_open()) return false;
        while (!data.empty()) {
            // MSG_NOSIGNAL: a peer that closed must yield an error, not SIGPIPE.
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n > 0) {
                data.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!wait_for(POLLOUT, deadline, "sending")) return false;
                continue;
            }
            error_ = "send failed: " + errno_text(errno);
            return false;
        }
        return true;
    }

    /// Result of a single read.
    enum class read_status : std::uint8_t {
        data,    ///< At least one byte was read.
        closed,  ///< The peer closed the connection.
        failed,  ///< Timeout or socket error; see error().
    };

    /// Reads up to `max` bytes (at least one) and appends them to `out`.
    read_status read_some(std::string& out, std::size_t max, clock::time_point deadline) {
        if (!require_open()) return read_status::failed;
        char buf[4096];
        const std::size_t want = std::min(max, sizeof buf);
        if (want == 0) {
            error_ = "read buffer limit reached";
            return read_status::failed;
        }
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, want, 0);
            if (n > 0) {
                out.append(buf, static_cast<std::size_t>(n));
                return read_status::data;
            }
            if (n == 0) {
                error_ = "connection closed by peer";
                return read_status::closed;
            }
            if (errno == ECONNRESET) {
                // A peer that closes without reading our request makes the kernel
                // send RST instead of FIN; for a probe both mean "hung up on us".
                error_ = "connection reset by peer";
                return read_status::closed;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!wait_for(POLLIN, deadline, "waiting for reply")) return read_status::failed;
                continue;
            }
            error_ = "receive failed: " + errno_text(errno);
            return read_status::failed;
        }
    }

    /// Reads into `buffer` until it contains `delimiter`, never letting it grow
    /// beyond `max_size`. Returns the delimiter's offset, or nullopt (see
    /// error()) on timeout, close, socket error or oversize reply. Bytes after
    /// the delimiter stay in `buffer` for the next call.
    std::optional<std::size_t> read_until(std::string& buffer, std::string_view delimiter, std::size_t max_size,
                                          clock::time_point deadline) {
        std::size_t from = 0;
        for (;;) {
            const auto pos = buffer.find(delimiter, from);
            if (pos != std::string::npos) return pos;
            if (buffer.size() >= max_size) {
                error_ = "reply too long (no terminator within " + std::to_string(max_size) + " bytes)";
                return std::nullopt;
            }
            // Re-scan only the tail that could hold a delimiter split across reads.
            from = buffer.size() >= delimiter.size() ? buffer.size() - delimiter.size() + 1 : 0;
            const auto st = read_some(buffer, max_size - buffer.size(), deadline);
            if (st == read_status::closed) {
                describe_close(buffer.size());
                return std::nullopt;
            }
            if (st != read_status::data) return std::nullopt;
        }
    }

    /// Reads into `buffer` until it holds at least `size` bytes.
    bool read_at_least(std::string& buffer, std::size_t size, clock::time_point deadline) {
        while (buffer.size() < size) {
            const auto st = read_some(buffer, size - buffer.size(), deadline);
            if (st == read_status::closed) {
                describe_close(buffer.size());
                return false;
            }
            if (st != read_status::data) return false;
        }
        return true;
    }

private:
    // Turns read_some's "closed"/"reset" text into one that says how much of
    // the reply arrived, which is what tells a crash from a protocol mismatch.
    void describe_close(std::size_t received) {
        error_ += received == 0 ? " without reply" : " mid-reply (after " + std::to_string(received) + " bytes)";
    }

    bool require_open() {
        if (fd_ >= 0) return true;
        error_ = "not connected";
        return false;
    }

    // Polls for `events` until the deadline; EINTR restarts with the time left.
    bool wait_for(short events, clock::time_point deadline, std::string_view what) {
        for (;;) {
            const int timeout = poll_timeout_ms(deadline);
            if (timeout == 0) {
                error_ = "timed out " + std::string(what);
                return false;
            }
            pollfd p{fd_, events, 0};
            const int rc = ::poll(&p, 1, timeout);
            if (rc > 0) return true;  // errors surface from the next send/recv
            if (rc == 0) continue;    // re-check the clock; poll may round down
            if (errno == EINTR) continue;
            error_ = "poll failed: " + errno_text(errno);
            return false;
        }
    }

    bool connect_one(const addrinfo* ai, clock::time_point deadline, std::string& why) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            why = "socket: " + errno_text(errno);
            return false;
        }
        fd_ = fd;
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno != EINPROGRESS && errno != EINTR) {
            why = errno_text(errno);
            close();
            return false;
        }
        if (rc != 0) {
            if (!wait_for(POLLOUT, deadline, "connecting")) {
                why = error_;
                close();
                return false;
            }
            int err = 0;
            socklen_t len = sizeof err;
            if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err != 0) {
                why = errno_text(err);
                close();
                return false;
            }
        }
        // Probes exchange a few small messages; Nagle would only add latency.
        int one = 1;
        (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return true;
    }

    int fd_ = -1;
    std::string error_;
};

}  // namespace vitals::detail
