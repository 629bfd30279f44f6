// vitals — a Prometheus Pushgateway client for batch jobs, over plain HTTP on POSIX sockets.
//
// A batch job ends before any scrape could see it, so it pushes its registry to a Pushgateway,
// which keeps the last push of each group for Prometheus to scrape. A group is named by its
// grouping key: the job plus any labels, carried in the URL path
// (`/metrics/job/<job>{/<label>/<value>}`).
//
// Plain HTTP only: there is no TLS here, because a header-only library cannot carry a TLS stack
// without imposing one on every user. `https://` URLs are refused at construction; to reach a
// gateway over TLS, push to a local proxy or sidecar that speaks TLS onwards.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../base/error.hpp"
#include "../core/metric_source.hpp"
#include "../core/names.hpp"
#include "../detail/base64.hpp"
#include "../detail/socket.hpp"
#include "../exposition/negotiate.hpp"
#include "../exposition/protobuf.hpp"
#include "../exposition/text.hpp"
#include "../version.hpp"

namespace vitals::push {

/// How a push encodes the metrics. Protobuf is the default because it is what the gateway
/// stores natively (native histograms and exemplars survive it; text drops them).
enum class body_format : std::uint8_t {
    protobuf,  ///< Length-delimited io.prometheus.client.MetricFamily messages.
    text,      ///< Text exposition format 0.0.4.
};

/// Where to push and as what group. Checked once, when a pushgateway is constructed, so that a
/// misconfigured job fails at start-up rather than after its work is done.
struct pushgateway_options {
    /// The gateway's base URL: `http://host[:port][/prefix]` (port 80 if absent; a prefix for a
    /// gateway behind a path-routing proxy). `https://` is refused: see the file comment.
    std::string url = "http://127.0.0.1:9091";
    /// The `job` label of the group; required, any non-empty text.
    std::string job;
    /// The rest of the grouping key, in the order it appears in the URL. Names must be valid label
    /// names other than `job`, each at most once; values are any text (empty, `/` included).
    std::vector<std::pair<std::string, std::string>> grouping{};
    /// The body's encoding.
    body_format format = body_format::protobuf;
    /// HTTP basic auth: sent when `username` is not empty. Travels in clear over plain HTTP.
    std::string username{};
    /// HTTP basic auth password.
    std::string password{};
    /// Bounds each whole operation: connect, send and reading the answer. Host names are
    /// resolved by getaddrinfo, which no deadline can interrupt: use a numeric address where a
    /// hung resolver must not stall the job.
    std::chrono::milliseconds timeout{10'000};
};

/// The outcome of one operation. Failures are values, not exceptions: a job usually wants to log
/// a failed push and exit non-zero, not unwind.
struct push_result {
    /// Whether the gateway answered 2xx.
    bool ok = false;
    /// The HTTP status; 0 when no answer came (refused, reset, timed out, malformed).
    int status = 0;
    /// Empty on success; otherwise what went wrong, naming the operation, the URL and, for a
    /// non-2xx answer, the gateway's own message (its body).
    std::string message;
    /// `ok`, so that `if (!gw.push(r))` reads naturally.
    explicit operator bool() const noexcept { return ok; }
};

namespace detail {

/// Percent-encodes one path segment, leaving only RFC 3986's unreserved characters as they are,
/// so that nothing in a value can end the segment or be read as syntax.
inline std::string percent_encode_segment(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

/// Appends `/<name>/<value>` or `/<name>@base64/<base64url(value)>` to `path`. The gateway
/// decodes percent-escapes before routing, so a `/` can only travel in base64; an empty value
/// would leave an empty segment, and `.`/`..` would be removed by path cleaning, so they go in
/// base64 too (the empty value as `=`, as the gateway's documentation spells it).
inline void append_grouping_pair(std::string& path, std::string_view name, std::string_view value) {
    path += '/';
    path += name;
    if (value.empty() || value == "." || value == ".." || value.find('/') != std::string_view::npos) {
        path += "@base64/";
        path += value.empty() ? std::string("=") : vitals::detail::base64url_encode(value);
    } else {
        path += '/';
        path += percent_encode_segment(value);
    }
}

/// A parsed `http://` URL.
struct http_url {
    std::string host;         ///< Without IPv6 brackets.
    std::uint16_t port = 80;  ///< The TCP port.
    std::string prefix;       ///< Path before `/metrics`, no trailing `/`.
    std::string host_header;  ///< The authority as the Host header carries it.
};

/// Parses the gateway URL; throws invalid_argument_error naming what is wrong.
inline http_url parse_gateway_url(std::string_view url) {
    for (const char c : url)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
            throw invalid_argument_error("pushgateway: the URL '", url, "' contains a space or control character");
    if (url.starts_with("https://"))
        throw invalid_argument_error("TLS is not supported: '", url,
                                     "'; push over plain http:// to a TLS-terminating proxy or sidecar");
    if (!url.starts_with("http://"))
        throw invalid_argument_error("pushgateway: the URL '", url, "' does not start with http://");
    std::string_view rest = url.substr(7);
    const auto slash = rest.find_first_of("/?#");
    const std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (path.find_first_of("?#") != std::string_view::npos)
        throw invalid_argument_error("pushgateway: the URL '", url, "' has a query or fragment");
    if (authority.find('@') != std::string_view::npos)
        throw invalid_argument_error("pushgateway: the URL '", url,
                                     "' carries credentials; set username and password instead");
    http_url out;
    const bool bracketed = authority.starts_with('[');
    const auto close = bracketed ? authority.find(']') : std::string_view::npos;
    const auto colon =
        bracketed ? (close == std::string_view::npos ? close : authority.find(':', close)) : authority.rfind(':');
    if (colon == std::string_view::npos) {
        if (bracketed && (close == std::string_view::npos || close + 1 != authority.size()))
            throw invalid_argument_error("pushgateway: the URL '", url, "' has a malformed host");
        out.host = std::string(bracketed ? authority.substr(1, close - 1) : authority);
    } else {
        const auto parsed = vitals::detail::parse_host_port(authority);
        if (!parsed) throw invalid_argument_error("pushgateway: the URL '", url, "' has a malformed host or port");
        out.host = parsed->host;
        out.port = parsed->port;
    }
    if (out.host.empty() || (!bracketed && out.host.find(':') != std::string::npos))
        throw invalid_argument_error("pushgateway: the URL '", url, "' has no valid host");
    while (path.ends_with('/')) path.remove_suffix(1);
    out.prefix = std::string(path);
    out.host_header = std::string(authority);
    return out;
}

/// An HTTP answer: the status and the (de-chunked) body.
struct http_answer {
    int status = 0;    ///< From the status line.
    std::string body;  ///< The payload.
};

/// Decodes a chunked body; nullopt when malformed or truncated.
inline std::optional<std::string> dechunk(std::string_view in) {
    std::string out;
    for (;;) {
        const auto eol = in.find("\r\n");
        if (eol == std::string_view::npos || eol == 0) return std::nullopt;
        std::size_t n = 0;
        std::size_t i = 0;
        for (; i < eol; ++i) {
            const char c = in[i];
            int d = -1;
            if (c >= '0' && c <= '9') d = c - '0';
            if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
            if (d < 0) break;
            if (n > (std::size_t{1} << 40)) return std::nullopt;
            n = n * 16 + static_cast<std::size_t>(d);
        }
        if (i == 0) return std::nullopt;  // after the digits only chunk extensions may follow
        in.remove_prefix(eol + 2);
        if (n == 0) return out;
        if (in.size() < n + 2 || in.substr(n, 2) != "\r\n") return std::nullopt;
        out.append(in.substr(0, n));
        in.remove_prefix(n + 2);
    }
}

/// Lower-cases ASCII, for header names.
inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// Trims spaces, tabs and line ends from both sides.
inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

}  // namespace detail

/// A Pushgateway group to push to: PUT (`push`), POST (`push_add`) and DELETE (`remove`) on one
/// grouping key. Each call opens one connection, sends one request and closes it: pushes are rare,
/// and a fresh connection cannot be half-broken by an earlier failure. Calls may come from several
/// threads; the object holds only what the constructor computed.
class pushgateway {
public:
    /// Checks and keeps `opts`; throws invalid_argument_error for an empty job, a bad or repeated
    /// grouping label name, a malformed URL, `https://` ("TLS is not supported: ..."), a username
    /// containing ':' or a non-positive timeout.
    explicit pushgateway(pushgateway_options opts)
        : opts_(std::move(opts)), url_(detail::parse_gateway_url(opts_.url)) {
        if (opts_.job.empty()) throw invalid_argument_error("pushgateway: the job must not be empty");
        path_ = url_.prefix + "/metrics";
        detail::append_grouping_pair(path_, "job", opts_.job);
        for (std::size_t i = 0; i < opts_.grouping.size(); ++i) {
            const std::string& name = opts_.grouping[i].first;
            if (!is_valid_label_name(name))
                throw invalid_argument_error("pushgateway: '", name, "' is not a valid grouping label name");
            if (name == "job")
                throw invalid_argument_error("pushgateway: 'job' is set by the job option, not as a grouping label");
            for (std::size_t j = 0; j < i; ++j)
                if (opts_.grouping[j].first == name)
                    throw invalid_argument_error("pushgateway: grouping label '", name, "' is given twice");
            detail::append_grouping_pair(path_, name, opts_.grouping[i].second);
        }
        if (opts_.username.find(':') != std::string::npos)
            throw invalid_argument_error("pushgateway: a basic auth username cannot contain ':'");
        if (!opts_.username.empty())
            authorization_ = "Basic " + vitals::detail::base64_encode(opts_.username + ":" + opts_.password);
        if (opts_.timeout <= std::chrono::milliseconds::zero())
            throw invalid_argument_error("pushgateway: the timeout must be positive");
    }

    /// Replaces every metric of the group with `source`'s (HTTP PUT).
    push_result push(const metric_source& source) const { return send("PUT", &source); }
    /// Replaces only the metric families of the group that `source` also has, keeping the others
    /// (HTTP POST).
    push_result push_add(const metric_source& source) const { return send("POST", &source); }
    /// Deletes the group and all its metrics (HTTP DELETE).
    push_result remove() const { return send("DELETE", nullptr); }

    /// The request path of the group (the URL's prefix, `/metrics/job/...`), encoded: for logs and
    /// for checking what a grouping key becomes.
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// The options as given.
    [[nodiscard]] const pushgateway_options& options() const noexcept { return opts_; }

private:
    using clock = std::chrono::steady_clock;
    // Answers larger than this are not a Pushgateway's: stop reading rather than grow unbounded.
    static constexpr std::size_t max_answer = std::size_t{1} << 20;

    push_result fail(std::string_view method, int status, std::string_view why) const {
        push_result r;
        r.status = status;
        r.message = std::string(method) + " http://" + url_.host_header + path_ + ": " + std::string(why);
        return r;
    }

    push_result send(std::string_view method, const metric_source* source) const {
        const auto deadline = clock::now() + opts_.timeout;
        std::string body;
        std::string_view content_type;
        if (source != nullptr) {
            if (opts_.format == body_format::text) {
                render_text(*source, body);
                content_type = text_content_type;
            } else {
                render_protobuf(*source, body);
                content_type = protobuf_content_type;
            }
        }
        std::string request;
        request.reserve(512 + body.size());
        request += method;
        request += ' ';
        request += path_;
        request += " HTTP/1.1\r\nHost: ";
        request += url_.host_header;
        request += "\r\nUser-Agent: vitals/" VITALS_VERSION_STRING "\r\n";
        if (!content_type.empty()) {
            request += "Content-Type: ";
            request += content_type;
            request += "\r\n";
        }
        if (!authorization_.empty()) {
            request += "Authorization: ";
            request += authorization_;
            request += "\r\n";
        }
        request += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
        request += body;

        const auto timeout_note = " (timeout " + std::to_string(opts_.timeout.count()) + " ms)";
        vitals::detail::tcp_socket s;
        if (!s.connect(url_.host, url_.port, deadline)) return fail(method, 0, s.error() + timeout_note);
        if (!s.send_all(request, deadline)) return fail(method, 0, s.error() + timeout_note);

        std::string in;
        const auto head_end = s.read_until(in, "\r\n\r\n", max_answer, deadline);
        if (!head_end) return fail(method, 0, s.error() + timeout_note);
        const std::string_view head = std::string_view(in).substr(0, *head_end);
        // "HTTP/1.x NNN reason"
        if (head.size() < 12 || !head.starts_with("HTTP/1.") || head[8] != ' ' || head[9] < '1' || head[9] > '5' ||
            head[10] < '0' || head[10] > '9' || head[11] < '0' || head[11] > '9' ||
            (head.size() > 12 && head[12] != ' ' && head[12] != '\r'))
            return fail(method, 0, "malformed status line: '" + std::string(head.substr(0, head.find('\r'))) + "'");
        detail::http_answer a;
        a.status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
        const std::string_view status_line = head.substr(0, head.find("\r\n"));

        std::optional<std::size_t> content_length;
        bool chunked = false;
        for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;) {
            const auto next = head.find("\r\n", at + 2);
            const std::string_view line = head.substr(at + 2, next == std::string_view::npos ? next : next - at - 2);
            at = next;
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            const std::string name = detail::ascii_lower(line.substr(0, colon));
            const std::string_view value = detail::trim(line.substr(colon + 1));
            if (name == "content-length") {
                std::size_t n = 0;
                bool digits = !value.empty() && value.size() < 16;
                for (const char c : value) {
                    if (c < '0' || c > '9') digits = false;
                    n = n * 10 + static_cast<std::size_t>(c - '0');
                }
                if (!digits) return fail(method, 0, "malformed Content-Length in the answer");
                content_length = n;
            } else if (name == "transfer-encoding") {
                chunked = detail::ascii_lower(value).find("chunked") != std::string::npos;
            }
        }
        const std::size_t body_at = *head_end + 4;
        if (!chunked && content_length) {
            if (*content_length > max_answer) return fail(method, a.status, "answer too long");
            if (!s.read_at_least(in, body_at + *content_length, deadline))
                return fail(method, a.status, s.error() + timeout_note);
            a.body = in.substr(body_at, *content_length);
        } else {
            // No length: the body ends where the connection does (we asked for Connection: close).
            for (;;) {
                const auto st = s.read_some(in, max_answer + 1 - std::min(in.size(), max_answer), deadline);
                if (st == vitals::detail::tcp_socket::read_status::closed) break;
                if (st == vitals::detail::tcp_socket::read_status::failed)
                    return fail(method, a.status, s.error() + timeout_note);
                if (in.size() > max_answer) return fail(method, a.status, "answer too long");
            }
            if (chunked) {
                auto b = detail::dechunk(std::string_view(in).substr(body_at));
                if (!b) return fail(method, a.status, "malformed chunked answer");
                a.body = std::move(*b);
            } else {
                a.body = in.substr(body_at);
            }
        }
        if (a.status >= 200 && a.status < 300) {
            push_result r;
            r.ok = true;
            r.status = a.status;
            return r;
        }
        std::string why = "the gateway answered '" + std::string(status_line.substr(9)) + "'";
        const auto text = detail::trim(a.body);
        if (!text.empty()) why += ": " + std::string(text);
        return fail(method, a.status, why);
    }

    pushgateway_options opts_;
    detail::http_url url_;
    std::string path_;
    std::string authorization_;
};

}  // namespace vitals::push
