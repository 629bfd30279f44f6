// Test helpers for the exposer tests: raw sockets on loopback, so that a test controls exactly
// which bytes are sent when (pipelining, half-close, a head that trickles in) and reads answers
// by their framing. Every read is bounded in time.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace exposer_test {

using namespace std::chrono_literals;

/// A connected loopback socket (IPv4, or IPv6 with `v6`), blocking; -1 on failure. `rcvbuf`
/// (set before connecting, so that the window is negotiated for it) makes a slow reader.
inline int connect_to(std::uint16_t port, bool v6 = false, int rcvbuf = 0) {
    const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int rc;
    if (v6) {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        a.sin6_addr = in6addr_loopback;
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

inline bool send_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

/// One parsed answer.
struct answer {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-cased names
    std::string body;
};

/// Reads answers from `fd` until `count` are complete, the peer closes, or `timeout` passes.
/// `head_only[i]` marks answers to HEAD (no body despite Content-Length). `rest` gets whatever
/// followed; `closed` whether the peer closed.
struct reader {
    std::string buf;
    bool closed = false;

    std::vector<answer> read(int fd, std::size_t count, std::chrono::milliseconds timeout = 5000ms,
                             const std::vector<bool>& head_only = {}) {
        std::vector<answer> out;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            while (out.size() < count) {
                const auto end = buf.find("\r\n\r\n");
                if (end == std::string::npos) break;
                answer a;
                a.status = std::atoi(buf.c_str() + 9);
                std::size_t pos = buf.find("\r\n") + 2;
                while (pos < end) {
                    const auto eol = buf.find("\r\n", pos);
                    const std::string line = buf.substr(pos, eol - pos);
                    const auto colon = line.find(':');
                    std::string name = line.substr(0, colon);
                    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
                    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
                    a.headers[name] = value;
                    pos = eol + 2;
                }
                if (a.status == 100) {  // interim
                    buf.erase(0, end + 4);
                    continue;
                }
                std::size_t len = a.headers.count("content-length") ? std::stoul(a.headers["content-length"]) : 0;
                if (out.size() < head_only.size() && head_only[out.size()]) len = 0;
                if (buf.size() < end + 4 + len) break;
                a.body = buf.substr(end + 4, len);
                buf.erase(0, end + 4 + len);
                out.push_back(std::move(a));
            }
            if (out.size() >= count || closed) return out;
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return out;
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100))) <= 0) continue;
            static thread_local std::vector<char> tmp(1 << 20);
            const ssize_t n = ::recv(fd, tmp.data(), tmp.size(), 0);
            if (n <= 0) {
                closed = true;
                continue;
            }
            buf.append(tmp.data(), static_cast<std::size_t>(n));
        }
    }

    /// Waits (bounded) for the peer to close; true when it did.
    bool wait_closed(int fd, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!closed && std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            char tmp[65536];
            const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
            if (n <= 0)
                closed = true;
            else
                buf.append(tmp, static_cast<std::size_t>(n));
        }
        return closed;
    }
};

/// One request on a new connection; the answer, or status 0.
inline answer fetch(std::uint16_t port, const std::string& target, const std::string& extra = {},
                    const std::string& method = "GET") {
    const int fd = connect_to(port);
    if (fd < 0) return {};
    send_all(fd, method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "Connection: close\r\n\r\n");
    reader r;
    auto got = r.read(fd, 1, 10000ms, {method == "HEAD"});
    ::close(fd);
    return got.empty() ? answer{} : got.front();
}

/// Open file descriptors of this process.
inline std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

/// Raises the soft descriptor limit to the hard one; returns the soft limit now in force.
inline rlim_t raise_fd_limit() {
    rlimit l{};
    ::getrlimit(RLIMIT_NOFILE, &l);
    l.rlim_cur = l.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &l);
    ::getrlimit(RLIMIT_NOFILE, &l);
    return l.rlim_cur;
}

}  // namespace exposer_test
