// vitals — the exposer's HTTP/1.1 request-head parser (RFC 9112), apart from any socket so that
// it can be fuzzed on its own.
//
// Strict where leniency has let requests be smuggled or servers be confused: CRLF line ends
// only, no whitespace before a header's colon, no obsolete line folding, no control bytes in the
// target or in values, one Content-Length (digits only) and never with Transfer-Encoding. Limits
// are checked before the head is complete, so a client cannot make the server buffer more than
// max_header_bytes while it waits for the end of a head.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "../header_field.hpp"

namespace vitals::http::detail {

/// Limits a request head must stay within.
struct request_limits {
    /// Longest request line (method, target, version), without its CRLF; longer answers 414.
    std::size_t max_request_line = 8192;
    /// Largest head (request line and headers, with their CRLFs); larger answers 431.
    std::size_t max_header_bytes = 16384;
    /// Most header fields; more answers 431.
    std::size_t max_headers = 64;
};

/// A parsed request head; every view points into the parsed buffer.
struct request_head {
    std::string_view method;  ///< A token, e.g. "GET".
    std::string_view target;  ///< The request target as sent (origin form, or absolute form).
    std::string_view path;    ///< The target's path, without the query ("/" when an absolute target has none).
    std::string_view query;   ///< After '?', without it; empty when none.
    int version_minor = 1;    ///< HTTP/1.0 or HTTP/1.1.
    std::vector<header_field> headers{};            ///< In the order sent.
    std::optional<std::uint64_t> content_length{};  ///< Content-Length, when sent.
    bool chunked = false;                           ///< Transfer-Encoding was sent (any coding).
    bool keep_alive = true;                         ///< Whether the connection may stay open after the answer.
    bool expect_continue = false;                   ///< `Expect: 100-continue`.
    std::size_t head_size = 0;                      ///< Bytes of the head, CRLFCRLF included.
};

/// What parse_request_head found.
enum class parse_status : std::uint8_t {
    incomplete,  ///< More bytes are needed (and the limits are not exceeded yet).
    complete,    ///< `head` holds the request.
    error,       ///< `error_status` holds the HTTP status to answer before closing.
};

/// The result of parse_request_head.
struct parse_result {
    parse_status status = parse_status::incomplete;  ///< See parse_status.
    int error_status = 0;                            ///< 400, 414, 431, 501 or 505 when status is error.
    request_head head{};                             ///< Valid when status is complete.
};

/// Case-insensitive ASCII comparison.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

/// Whether `c` is a token character (RFC 9110 tchar).
inline bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
            return true;
        default:
            return false;
    }
}

/// Whether the comma-separated list `value` holds `token` (case-insensitive, parameters ignored).
inline bool list_contains(std::string_view value, std::string_view token) noexcept {
    while (!value.empty()) {
        const auto comma = value.find(',');
        std::string_view item = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
        const auto semi = item.find(';');
        item = item.substr(0, semi);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (iequals(item, token)) return true;
    }
    return false;
}

/// Where a head that begins at `buf` ends (the offset just past CRLFCRLF), searching from
/// `from` (a caller that searched before passes how far it got, so bytes that trickle in are
/// not scanned again); npos when not there yet.
inline std::size_t find_head_end(std::string_view buf, std::size_t from) noexcept {
    from = from >= 3 ? from - 3 : 0;
    const auto at = buf.find("\r\n\r\n", from);
    return at == std::string_view::npos ? std::string_view::npos : at + 4;
}

/// Parses the head at the start of `buf`. `incomplete` means wait for more bytes; an error
/// names the status to answer.
inline parse_result parse_request_head(std::string_view buf, const request_limits& limits = {},
                                       std::size_t scanned = 0) {
    parse_result r;
    auto fail = [&r](int code) {
        r.status = parse_status::error;
        r.error_status = code;
        r.head = {};
        return r;
    };
    // Bounded searches only: a head that trickles in a byte at a time is parsed once per read.
    const auto line_end = buf.substr(0, limits.max_request_line + 2).find("\r\n");
    if (line_end == std::string_view::npos) {
        if (buf.size() > limits.max_request_line + 1) return fail(414);
        if (buf.find('\n') != std::string_view::npos) return fail(400);  // a bare LF
        return r;
    }
    if (line_end > limits.max_request_line) return fail(414);
    const std::size_t end = find_head_end(buf, scanned);
    if (end == std::string_view::npos || end > limits.max_header_bytes) {
        if (buf.size() > limits.max_header_bytes) return fail(431);
        if (end == std::string_view::npos) return r;
        return fail(431);
    }

    request_head& h = r.head;
    h.head_size = end;
    // Request line: method SP target SP version, nothing else.
    const std::string_view line = buf.substr(0, line_end);
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos || sp1 == 0) return fail(400);
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || sp2 == sp1 + 1 || line.find(' ', sp2 + 1) != std::string_view::npos)
        return fail(400);
    h.method = line.substr(0, sp1);
    for (char c : h.method)
        if (!is_tchar(c)) return fail(400);
    h.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    for (char c : h.target)
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F) return fail(400);
    const std::string_view version = line.substr(sp2 + 1);
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
        version[5] > '9' || version[7] < '0' || version[7] > '9')
        return fail(400);
    if (version[5] != '1') return fail(505);
    h.version_minor = version[7] - '0';
    h.keep_alive = h.version_minor >= 1;

    std::string_view t = h.target;
    bool empty_path = false;
    if (t.substr(0, 7) == "http://" || t.substr(0, 8) == "https://") {
        // Absolute form (RFC 9112 §3.2.2): the authority is not ours to check; keep the path,
        // which may be empty ("http://host?q" asks for "/").
        const auto rest = t.find_first_of("/?", t.find("//") + 2);
        t = rest == std::string_view::npos ? std::string_view{} : t.substr(rest);
        empty_path = t.empty() || t.front() == '?';
    }
    if (!empty_path && (t.empty() || t.front() != '/')) return fail(400);
    const auto q = t.find('?');
    h.path = empty_path ? std::string_view("/") : t.substr(0, q);
    if (q != std::string_view::npos) h.query = t.substr(q + 1);

    int hosts = 0;
    bool connection_close = false, connection_keep_alive = false;
    std::size_t pos = line_end + 2;
    while (pos < end - 2) {
        const auto eol = buf.find("\r\n", pos);
        const std::string_view field = buf.substr(pos, eol - pos);
        pos = eol + 2;
        if (h.headers.size() >= limits.max_headers) return fail(431);
        if (field.empty() || field.front() == ' ' || field.front() == '\t') return fail(400);  // obs-fold
        const auto colon = field.find(':');
        if (colon == std::string_view::npos || colon == 0) return fail(400);
        const std::string_view name = field.substr(0, colon);
        for (char c : name)
            if (!is_tchar(c)) return fail(400);  // includes whitespace before the colon
        std::string_view value = field.substr(colon + 1);
        for (char c : value)
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) return fail(400);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        h.headers.push_back(header_field{name, value});

        if (iequals(name, "content-length")) {
            if (value.empty() || value.size() > 19) return fail(value.empty() ? 400 : 413);
            std::uint64_t n = 0;
            for (char c : value) {
                if (c < '0' || c > '9') return fail(400);
                n = n * 10 + static_cast<std::uint64_t>(c - '0');
            }
            if (h.content_length && *h.content_length != n) return fail(400);
            h.content_length = n;
        } else if (iequals(name, "transfer-encoding")) {
            h.chunked = true;
        } else if (iequals(name, "host")) {
            ++hosts;
        } else if (iequals(name, "connection")) {
            connection_close = connection_close || list_contains(value, "close");
            connection_keep_alive = connection_keep_alive || list_contains(value, "keep-alive");
        } else if (iequals(name, "expect")) {
            if (!iequals(value, "100-continue")) return fail(417);
            h.expect_continue = true;
        }
    }
    // A request with both could be framed two ways by two servers: the way smuggling starts.
    if (h.chunked && h.content_length) return fail(400);
    if (h.version_minor >= 1 && hosts != 1) return fail(400);
    if (hosts > 1) return fail(400);
    if (connection_close)
        h.keep_alive = false;
    else if (h.version_minor == 0)
        h.keep_alive = connection_keep_alive;
    r.status = parse_status::complete;
    return r;
}

}  // namespace vitals::http::detail
