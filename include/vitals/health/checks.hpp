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
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "../base/error.hpp"
#include "../detail/base64.hpp"
#include "detail/md5.hpp"
#include "detail/sha256.hpp"
#include "../detail/socket.hpp"
#include "checker.hpp"

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
    [[nodiscard]] string_ref name() const noexcept { return name_; }

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
    std::string username{};
    /// Password; empty means no AUTH is sent.
    std::string password{};
};

/// Healthy when Redis answers PING with +PONG (after AUTH when configured).
class redis_check {
public:
    /// Checks the server described by `options`.
    redis_check(std::string name, redis_options options) : name_(std::move(name)), opts_(std::move(options)) {}

    /// The check's name.
    [[nodiscard]] string_ref name() const noexcept { return name_; }

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

    static bool read_line(vitals::detail::tcp_socket& s, std::string& buffer, std::string& line, deadline_t deadline) {
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
    /// Role named in the startup message. Without a password it need not exist,
    /// but what the server logs depends on it (see postgres_check); "postgres"
    /// exists in nearly every installation.
    std::string user = "postgres";
    /// Database named in the startup message; empty means the same as `user`.
    std::string database{};
    /// Password for `user`. Empty means no credentials: the check only asks
    /// whether the server accepts connections, like pg_isready. With one, the
    /// check logs in (SCRAM-SHA-256, md5 or trust), runs SELECT 1 and ends the
    /// session with a Terminate message.
    std::string password{};
    /// Whether to send the password to a server that asks for it in clear text
    /// (pg_hba.conf method "password"). Off by default: on a connection without
    /// TLS anyone on the path could read it, and such a request is also what an
    /// impostor asks for. Refused, the request makes the check unhealthy.
    bool allow_cleartext = false;
};

namespace detail {

/// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel
/// binding (gs2 header "n,,"): client_first(), then client_final() with the
/// server's first message, then verify_server_final() with its last one. The
/// nonce is injected so that the exchange can be tested against known
/// vectors; real use passes fresh random bytes, base64-encoded.
///
/// The password is used as given: SASLprep is not applied, which makes no
/// difference for ASCII passwords (the server, too, uses those unchanged).
class scram_sha256_client {
public:
    /// Starts an exchange for `user` (PostgreSQL ignores this name and uses the
    /// one from the startup message; an empty one is fine there).
    scram_sha256_client(std::string_view user, std::string password, std::string client_nonce)
        : password_(std::move(password)), nonce_(std::move(client_nonce)) {
        first_bare_ = "n=";
        for (char c : user) {
            // saslname: ',' and '=' are escaped as =2C and =3D.
            if (c == ',')
                first_bare_ += "=2C";
            else if (c == '=')
                first_bare_ += "=3D";
            else
                first_bare_ += c;
        }
        first_bare_ += ",r=" + nonce_;
    }

    /// client-first-message: "n,,n=<user>,r=<client nonce>".
    [[nodiscard]] std::string client_first() const { return std::string(gs2_header) + first_bare_; }

    /// Takes server-first-message ("r=<nonce>,s=<salt>,i=<iterations>") and
    /// returns client-final-message with the proof, or nullopt (see error())
    /// when the message is malformed, does not extend our nonce, or the key
    /// derivation could not finish before `deadline`.
    std::optional<std::string> client_final(std::string_view server_first, deadline_t deadline = deadline_t::max()) {
        if (server_first.starts_with("m=")) return fail("server requires an unsupported SCRAM extension");
        std::string_view nonce, salt_b64, iterations_text;
        std::string_view rest = server_first;
        const std::pair<char, std::string_view*> fields[] = {{'r', &nonce}, {'s', &salt_b64}, {'i', &iterations_text}};
        for (const auto& [key, out] : fields) {
            if (rest.size() < 2 || rest[0] != key || rest[1] != '=')
                return fail("malformed SCRAM server-first-message");
            rest.remove_prefix(2);
            const auto comma = rest.find(',');
            *out = rest.substr(0, comma);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
        // The server's nonce must extend ours: otherwise this is a replay or not
        // an answer to this exchange.
        if (!nonce.starts_with(nonce_) || nonce.size() == nonce_.size())
            return fail("SCRAM server nonce does not extend ours");
        for (char c : nonce)
            if (c < 0x21 || c > 0x7E) return fail("malformed SCRAM server nonce");
        const auto salt = vitals::detail::base64_decode(salt_b64);
        if (!salt || salt->empty()) return fail("malformed SCRAM salt");
        std::uint64_t iterations = 0;
        if (iterations_text.empty() || iterations_text.size() > 10) return fail("malformed SCRAM iteration count");
        for (char c : iterations_text) {
            if (c < '0' || c > '9') return fail("malformed SCRAM iteration count");
            iterations = iterations * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (iterations == 0 || iterations > 0xFFFFFFFFu) return fail("malformed SCRAM iteration count");

        using vitals::health::detail::as_bytes;
        using vitals::health::detail::hmac_sha256_of;
        const std::string salted = vitals::health::detail::pbkdf2_hmac_sha256(
            password_, *salt, static_cast<std::uint32_t>(iterations), vitals::health::detail::sha256::digest_size,
            [deadline] { return clock::now() < deadline; });
        if (salted.empty()) return fail("timed out deriving the SCRAM key (i=" + std::to_string(iterations) + ")");
        const auto client_key = hmac_sha256_of(salted, "Client Key");
        const auto stored_key = vitals::health::detail::sha256_of(as_bytes(client_key));
        const std::string without_proof = "c=" + vitals::detail::base64_encode(gs2_header) + ",r=" + std::string(nonce);
        const std::string auth_message = first_bare_ + "," + std::string(server_first) + "," + without_proof;
        const auto client_signature = hmac_sha256_of(as_bytes(stored_key), auth_message);
        std::string proof(as_bytes(client_key));
        for (std::size_t i = 0; i < proof.size(); ++i)
            proof[i] = static_cast<char>(static_cast<std::uint8_t>(proof[i]) ^ client_signature[i]);
        const auto server_key = hmac_sha256_of(salted, "Server Key");
        server_signature_ = std::string(as_bytes(hmac_sha256_of(as_bytes(server_key), auth_message)));
        return without_proof + ",p=" + vitals::detail::base64_encode(proof);
    }

    /// Checks server-final-message ("v=<signature>"): true only when the server
    /// proved that it knows the password, i.e. its signature matches ours.
    bool verify_server_final(std::string_view server_final) {
        if (server_signature_.empty()) return refuse("SCRAM server-final-message before server-first-message");
        if (server_final.starts_with("e="))
            return refuse("server rejected the SCRAM proof: " + printable(server_final.substr(2)));
        if (!server_final.starts_with("v=")) return refuse("malformed SCRAM server-final-message");
        server_final.remove_prefix(2);
        const auto signature = vitals::detail::base64_decode(server_final.substr(0, server_final.find(',')));
        if (!signature || signature->size() != server_signature_.size())
            return refuse("malformed SCRAM server signature");
        unsigned diff = 0;
        for (std::size_t i = 0; i < signature->size(); ++i)
            diff |= static_cast<unsigned char>((*signature)[i]) ^ static_cast<unsigned char>(server_signature_[i]);
        if (diff != 0) return refuse("SCRAM server signature does not match (the server does not know the password)");
        return true;
    }

    /// Why the last step failed.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

private:
    static constexpr std::string_view gs2_header = "n,,";

    std::nullopt_t fail(std::string why) {
        error_ = std::move(why);
        return std::nullopt;
    }

    bool refuse(std::string why) {
        error_ = std::move(why);
        return false;
    }

    std::string password_;
    std::string nonce_;
    std::string first_bare_;
    std::string server_signature_;
    std::string error_;
};

/// `n` bytes from /dev/urandom, or nullopt when it cannot be read.
inline std::optional<std::string> random_bytes(std::size_t n) {
    const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r = ::read(fd, out.data() + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    ::close(fd);
    if (got != n) return std::nullopt;
    return out;
}

}  // namespace detail

/// Checks a PostgreSQL server over the frontend/backend protocol 3.0.
///
/// Without a password (the default) the check is judged like pg_isready: the
/// server is sent a startup message and its answer decides. An authentication
/// request, or any error except SQLSTATE 57P03 (cannot_connect_now: starting
/// up, shutting down, recovering), means the server is accepting connections -
/// even "no such role" proves that. The check then ends the conversation the
/// way the server expects, so that it logs nothing: it closes after reading an
/// authentication request (the server treats that as a client without a
/// password), and after a trust login it reads up to ReadyForQuery and sends
/// Terminate. A role that does not exist under trust authentication makes the
/// server log "FATAL: role ... does not exist" for every probe; the default
/// user, "postgres", avoids that on most installations.
///
/// With a password the check logs in - SCRAM-SHA-256 (verifying the server's
/// signature, so a server that does not know the password is unhealthy), md5,
/// trust, or cleartext only when allowed - runs `SELECT 1`, expects the row
/// "1", and sends Terminate. Any ErrorResponse (wrong password 28P01, unknown
/// database 3D000, unknown role 28000 or 28P01, ...) is unhealthy, with the
/// server's message and SQLSTATE in the result.
///
/// Every read is bounded by the deadline and every message by size
/// (max_message_size); anything malformed is unhealthy.
class postgres_check {
public:
    /// Largest backend message accepted; real ones here are a few hundred bytes.
    static constexpr std::uint32_t max_message_size = 1024 * 1024;

    /// Checks the server described by `options`.
    postgres_check(std::string name, postgres_options options) : name_(std::move(name)), opts_(std::move(options)) {}

    /// The check's name.
    [[nodiscard]] string_ref name() const noexcept { return name_; }

    /// Connects, sends a StartupMessage, and either classifies the answer (no
    /// password) or logs in and runs SELECT 1.
    check_result check(deadline_t deadline) const {
        vitals::detail::tcp_socket s;
        if (!s.connect(opts_.host, opts_.port, deadline)) return unhealthy(s.error());
        if (!s.send_all(startup_message(), deadline)) return unhealthy("postgres: " + s.error());
        conversation c{s, deadline, {}, {}};
        return opts_.password.empty() ? probe(c) : login(c);
    }

private:
    static constexpr std::uint32_t protocol_3_0 = 3u << 16;
    static constexpr std::string_view terminate{"X\0\0\0\4", 5};
    // Authentication request codes (AuthenticationXXX messages, type 'R').
    static constexpr std::uint32_t auth_ok = 0;
    static constexpr std::uint32_t auth_cleartext = 3;
    static constexpr std::uint32_t auth_md5 = 5;
    static constexpr std::uint32_t auth_sasl = 10;
    static constexpr std::uint32_t auth_sasl_continue = 11;
    static constexpr std::uint32_t auth_sasl_final = 12;

    // One backend message; `body` points into the conversation's buffer and is
    // valid until the next read.
    struct message {
        char type = 0;
        std::string_view body;
    };

    struct conversation {
        vitals::detail::tcp_socket& socket;
        deadline_t deadline;
        std::string buffer;
        std::string error;

        // Reads exactly one message (never more, so that nothing is left unread
        // when the check closes: unread data would turn the close into a reset,
        // which the server logs). Types outside `expected` fail before their
        // length is trusted, which names the culprit when something else answers.
        bool read(message& m, std::string_view expected) {
            buffer.clear();
            if (!socket.read_at_least(buffer, 5, deadline)) return fail(socket.error());
            m.type = buffer[0];
            if (expected.find(m.type) == std::string_view::npos)
                return fail("unexpected reply (message type 0x" + hex_byte(m.type) + ")");
            const std::uint32_t length = read_u32(buffer, 1);
            if (length < 4 || length > max_message_size)
                return fail("malformed reply (message type 0x" + hex_byte(m.type) + ", length " +
                            std::to_string(length) + ")");
            if (!socket.read_at_least(buffer, std::size_t{1} + length, deadline)) return fail(socket.error());
            m.body = std::string_view(buffer).substr(5);
            return true;
        }

        bool send(std::string_view bytes) { return socket.send_all(bytes, deadline) || fail(socket.error()); }

        bool fail(std::string why) {
            error = std::move(why);
            return false;
        }
    };

    // The fields of an ErrorResponse that matter here.
    struct server_error {
        std::string sqlstate;
        std::string message;
    };

    // The pg_isready-style check: the first answer decides; after a trust login
    // read to ReadyForQuery and say goodbye.
    static check_result probe(conversation& c) {
        message m;
        bool authenticated = false;
        for (;;) {
            if (!c.read(m, authenticated ? "SKNEZ" : "RNEv")) return unhealthy("postgres: " + c.error);
            if (m.type == 'E') {
                const auto e = parse_error(m.body);
                if (!e) return unhealthy("postgres: malformed error reply");
                if (e->sqlstate.size() != 5) return unhealthy("postgres: error reply without SQLSTATE");
                if (e->sqlstate == "57P03") return rejecting(*e);
                return healthy("accepting connections (startup answered " + printable(e->sqlstate) + ")");
            }
            if (m.type == 'R') {
                if (m.body.size() < 4) return unhealthy("postgres: malformed authentication request");
                // Anything but AuthenticationOk asks for credentials we do not have;
                // closing now, with the request read, is what the server expects
                // from such a client and does not log.
                if (read_u32(m.body, 0) != auth_ok) return healthy("accepting connections");
                authenticated = true;
            }
            if (m.type == 'Z') {
                (void)c.send(terminate);
                return healthy("accepting connections");
            }
            // 'N' notices, 'v' protocol negotiation, 'S' parameters, 'K' key data.
        }
    }

    // Logs in with the password, runs SELECT 1 and terminates the session.
    check_result login(conversation& c) const {
        message m;
        std::string method = "trust";
        std::optional<detail::scram_sha256_client> scram;
        enum class sasl : std::uint8_t { none, started, continued, verified } sasl_state = sasl::none;
        for (bool authenticated = false; !authenticated;) {
            if (!c.read(m, "RNEv")) return unhealthy("postgres: " + c.error);
            if (m.type == 'E') return failed("postgres login failed", m.body);
            if (m.type != 'R') continue;
            if (m.body.size() < 4) return unhealthy("postgres: malformed authentication request");
            const std::uint32_t code = read_u32(m.body, 0);
            const std::string_view data = m.body.substr(4);
            switch (code) {
                case auth_ok:
                    // Having started SCRAM, only a verified server signature counts: a
                    // server that skips it has not shown that it knows the password.
                    if (sasl_state != sasl::none && sasl_state != sasl::verified)
                        return unhealthy(
                            "postgres: server ended SCRAM authentication without proving it knows the password");
                    authenticated = true;
                    break;
                case auth_cleartext:
                    if (!opts_.allow_cleartext)
                        return unhealthy("postgres: server asks for a cleartext password (allow_cleartext is off)");
                    method = "password";
                    if (!c.send(password_message(opts_.password + '\0'))) return unhealthy("postgres: " + c.error);
                    break;
                case auth_md5: {
                    if (data.size() != 4) return unhealthy("postgres: malformed md5 authentication request");
                    method = "md5";
                    // md5(md5(password + user) + salt), in hex, after "md5".
                    const std::string inner = vitals::health::detail::md5_hex(opts_.password + opts_.user);
                    const std::string hash = "md5" + vitals::health::detail::md5_hex(inner + std::string(data));
                    if (!c.send(password_message(hash + '\0'))) return unhealthy("postgres: " + c.error);
                    break;
                }
                case auth_sasl: {
                    if (sasl_state != sasl::none)
                        return unhealthy("postgres: unexpected second SASL authentication request");
                    const auto offered = sasl_mechanisms(data);
                    if (!offered) return unhealthy("postgres: malformed SASL authentication request");
                    if (offered->find(",SCRAM-SHA-256,") == std::string::npos)
                        return unhealthy("postgres: no supported SASL mechanism offered (" +
                                         printable(std::string_view(*offered).substr(1)) + ")");
                    const auto random = detail::random_bytes(18);
                    if (!random) return unhealthy("postgres: cannot read /dev/urandom for the SCRAM nonce");
                    method = "SCRAM-SHA-256";
                    // The user name inside SCRAM is ignored by PostgreSQL (it takes the
                    // startup message's); libpq leaves it empty too.
                    scram.emplace("", opts_.password, vitals::detail::base64_encode(*random));
                    const std::string first = scram->client_first();
                    std::string body = "SCRAM-SHA-256";
                    body.push_back('\0');
                    put_u32(body, static_cast<std::uint32_t>(first.size()));
                    body += first;
                    if (!c.send(password_message(body))) return unhealthy("postgres: " + c.error);
                    sasl_state = sasl::started;
                    break;
                }
                case auth_sasl_continue: {
                    if (sasl_state != sasl::started) return unhealthy("postgres: unexpected SASLContinue");
                    const auto final_message = scram->client_final(data, c.deadline);
                    if (!final_message) return unhealthy("postgres: " + scram->error());
                    if (!c.send(password_message(*final_message))) return unhealthy("postgres: " + c.error);
                    sasl_state = sasl::continued;
                    break;
                }
                case auth_sasl_final:
                    if (sasl_state != sasl::continued) return unhealthy("postgres: unexpected SASLFinal");
                    if (!scram->verify_server_final(data)) return unhealthy("postgres: " + scram->error());
                    sasl_state = sasl::verified;
                    break;
                default:
                    return unhealthy("postgres: unsupported authentication method (request " + std::to_string(code) +
                                     ")");
            }
        }

        // Session start-up: parameters and key data until ReadyForQuery. An
        // error here is typically the database missing (3D000).
        do {
            if (!c.read(m, "SKNEZ")) return unhealthy("postgres: " + c.error);
            if (m.type == 'E') return failed("postgres login failed", m.body);
        } while (m.type != 'Z');

        static constexpr std::string_view query{"Q\0\0\0\15SELECT 1\0", 14};
        if (!c.send(query)) return unhealthy("postgres: " + c.error);
        int rows = 0;
        bool described = false;
        bool completed = false;
        std::string value;
        do {
            if (!c.read(m, "TDCNSAEZ")) return unhealthy("postgres: " + c.error);
            if (m.type == 'E') return failed("postgres SELECT 1 failed", m.body);
            if (m.type == 'T') described = true;
            if (m.type == 'C') completed = true;
            if (m.type == 'D') {
                ++rows;
                // DataRow: column count (int16), then per column a length (int32)
                // and that many bytes.
                if (m.body.size() < 6 || m.body[0] != 0 || m.body[1] != 1)
                    return unhealthy("postgres: malformed reply to SELECT 1");
                const std::uint32_t length = read_u32(m.body, 2);
                if (length != m.body.size() - 6) return unhealthy("postgres: malformed reply to SELECT 1");
                value = m.body.substr(6);
            }
        } while (m.type != 'Z');
        if (!described || !completed || rows != 1 || value != "1")
            return unhealthy("postgres: unexpected result of SELECT 1" +
                             (rows == 1 ? ": " + printable(value) : " (" + std::to_string(rows) + " rows)"));
        (void)c.send(terminate);
        return healthy("SELECT 1 ok (" + method + " login)");
    }

    static check_result rejecting(const server_error& e) {
        return unhealthy("postgres rejecting connections: " + printable(e.message) + " (57P03)");
    }

    // An ErrorResponse as an unhealthy result: "<what>: <message> (<SQLSTATE>)".
    static check_result failed(std::string_view what, std::string_view body) {
        const auto e = parse_error(body);
        if (!e) return unhealthy("postgres: malformed error reply");
        if (e->sqlstate.size() != 5)
            return unhealthy(std::string(what) + ": " + printable(e->message) + " (no SQLSTATE)");
        if (e->sqlstate == "57P03") return rejecting(*e);
        return unhealthy(std::string(what) + ": " + printable(e->message) + " (" + printable(e->sqlstate) + ")");
    }

    // ErrorResponse body: (code byte, C string) fields ended by a zero byte.
    static std::optional<server_error> parse_error(std::string_view fields) {
        server_error e;
        while (!fields.empty() && fields.front() != '\0') {
            const char code = fields.front();
            fields.remove_prefix(1);
            const auto end = fields.find('\0');
            if (end == std::string_view::npos) return std::nullopt;
            if (code == 'C') e.sqlstate = fields.substr(0, end);
            if (code == 'M') e.message = fields.substr(0, end);
            fields.remove_prefix(end + 1);
        }
        if (fields.empty()) return std::nullopt;  // the terminating zero byte is missing
        return e;
    }

    // AuthenticationSASL's mechanism names (C strings ended by an empty one),
    // as ",A,B," for whole-name matching; nullopt when malformed.
    static std::optional<std::string> sasl_mechanisms(std::string_view data) {
        std::string names = ",";
        for (;;) {
            const auto end = data.find('\0');
            if (end == std::string_view::npos) return std::nullopt;
            if (end == 0) return names;
            names += data.substr(0, end);
            names += ',';
            data.remove_prefix(end + 1);
        }
    }

    // PasswordMessage, SASLInitialResponse and SASLResponse all share type 'p'.
    static std::string password_message(std::string_view body) {
        std::string msg = "p";
        put_u32(msg, static_cast<std::uint32_t>(body.size() + 4));
        msg += body;
        return msg;
    }

    static void put_u32(std::string& out, std::uint32_t v) {
        out.push_back(static_cast<char>((v >> 24) & 0xFF));
        out.push_back(static_cast<char>((v >> 16) & 0xFF));
        out.push_back(static_cast<char>((v >> 8) & 0xFF));
        out.push_back(static_cast<char>(v & 0xFF));
    }

    static std::uint32_t read_u32(std::string_view buf, std::size_t at) {
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(buf[at + i]);
        return v;
    }

    static std::string hex_byte(char c) {
        static constexpr char digits[] = "0123456789abcdef";
        const auto u = static_cast<unsigned char>(c);
        return {digits[u >> 4], digits[u & 0xF]};
    }

    static std::string printable(std::string_view s) { return detail::printable(s); }

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
    http_check(std::string name, string_ref url) : name_(std::move(name)) { parse_url(url); }

    /// The check's name.
    [[nodiscard]] string_ref name() const noexcept { return name_; }

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
    [[nodiscard]] string_ref name() const noexcept { return name_; }

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
        if (fd < 0)
            return unhealthy("cannot create file in " + dir_.string() + ": " + vitals::detail::errno_text(errno));
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
