// Test fixtures for code that talks to real servers: free ports, temporary
// directories, child processes with bounded waits, redis-server and
// PostgreSQL instances on loopback, and scripted fake peers.
//
// Everything here is bounded in time so that a broken environment fails a
// test instead of hanging the suite, and everything binds to loopback only.
// Ports are picked at run time so test executables can run in parallel.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace vitals::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// A TCP port on 127.0.0.1 that was free a moment ago. The kernel picks it,
/// so parallel test executables do not collide; the small window before the
/// caller binds it is covered by retrying server starts.
inline std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const int err = errno;
        ::close(fd);
        throw std::system_error(err, std::generic_category(), "bind/getsockname");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

/// A fresh directory under the system temp dir, removed with its contents on
/// destruction.
class temp_dir {
public:
    /// Creates "<tmp>/<prefix>XXXXXX".
    explicit temp_dir(std::string_view prefix = "vitals-test-") {
        std::string tmpl = (fs::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    /// The directory.
    [[nodiscard]] const fs::path& path() const noexcept { return path_; }

private:
    fs::path path_;
};

/// Absolute path of an executable found in `extra_dirs` or $PATH, or empty.
inline fs::path find_program(std::string_view name, const std::vector<fs::path>& extra_dirs = {}) {
    std::vector<fs::path> dirs = extra_dirs;
    if (const char* path = std::getenv("PATH")) {
        std::stringstream ss(path);
        std::string d;
        while (std::getline(ss, d, ':'))
            if (!d.empty()) dirs.emplace_back(d);
    }
    for (const char* d : {"/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin"}) dirs.emplace_back(d);
    for (const auto& d : dirs) {
        const fs::path candidate = d / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

/// Reads up to the last `max` bytes of a file, for failure diagnostics.
inline std::string tail_of_file(const fs::path& p, std::size_t max = 4000) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return "(no log at " + p.string() + ")";
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (all.size() > max) all.erase(0, all.size() - max);
    return all;
}

/// User/group to drop to in a child process.
struct run_as {
    /// Target user id.
    uid_t uid;
    /// Target group id.
    gid_t gid;
};

/// The account to run PostgreSQL as: postgres refuses to start as root, so
/// when the tests run as root the server runs as the "postgres" user.
inline std::optional<run_as> postgres_account() {
    if (::geteuid() != 0) return std::nullopt;
    const passwd* pw = ::getpwnam("postgres");  // called once per start, from one thread
    if (pw == nullptr) throw std::runtime_error("running as root but there is no 'postgres' user to run PostgreSQL as");
    return run_as{pw->pw_uid, pw->pw_gid};
}

/// Settings for starting a child process.
struct spawn_options {
    /// Working directory (empty: inherit).
    fs::path cwd;
    /// File receiving stdout and stderr (empty: /dev/null).
    fs::path log;
    /// Identity to switch to before exec.
    std::optional<run_as> user;
};

/// A child process in its own process group; killed (group-wide) on
/// destruction so a failing test never leaves servers behind.
class child_process {
public:
    child_process() = default;

    /// Starts argv[0] (an absolute path) with the given arguments.
    explicit child_process(const std::vector<std::string>& argv, const spawn_options& opts = {}) {
        if (argv.empty()) throw std::invalid_argument("child_process: empty argv");
        // Everything the child needs is prepared before fork: after fork in a
        // multi-threaded process only async-signal-safe calls are allowed.
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const std::string cwd = opts.cwd.string();
        const std::string log = opts.log.empty() ? std::string("/dev/null") : opts.log.string();
        const pid_t pid = ::fork();
        if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
        if (pid == 0) {
            ::setpgid(0, 0);
            const int in = ::open("/dev/null", O_RDONLY);
            const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (in < 0 || out < 0) ::_exit(126);
            ::dup2(in, 0);
            ::dup2(out, 1);
            ::dup2(out, 2);
            if (opts.user) {
                if (::fchown(out, opts.user->uid, opts.user->gid) != 0) ::_exit(126);
                if (::setgid(opts.user->gid) != 0 || ::setgroups(0, nullptr) != 0 || ::setuid(opts.user->uid) != 0)
                    ::_exit(126);
            }
            if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
            ::execv(args[0], args.data());
            ::_exit(127);
        }
        // Also set from the parent: closes the race where we signal the group
        // before the child has called setpgid itself.
        ::setpgid(pid, pid);
        pid_ = pid;
    }

    ~child_process() { kill_now(); }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    /// Takes over another child.
    child_process(child_process&& o) noexcept : pid_(std::exchange(o.pid_, -1)), status_(o.status_) {}
    /// Kills the current child, then takes over another.
    child_process& operator=(child_process&& o) noexcept {
        if (this != &o) {
            kill_now();
            pid_ = std::exchange(o.pid_, -1);
            status_ = o.status_;
        }
        return *this;
    }

    /// Process id, or -1 when there is no child.
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    /// Whether the child is still running (reaps it if it has exited).
    bool running() {
        if (pid_ < 0) return false;
        int st = 0;
        const pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
            status_ = st;
            pid_ = -1;
            return false;
        }
        return true;
    }

    /// Waits up to `limit` for the child to exit; its exit code (or 128+signal),
    /// or nullopt if it is still running.
    std::optional<int> wait_for(std::chrono::milliseconds limit) {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (running()) {
            if (std::chrono::steady_clock::now() >= until) return std::nullopt;
            std::this_thread::sleep_for(10ms);
        }
        return exit_code();
    }

    /// Exit code of the finished child (128+signal if killed).
    [[nodiscard]] int exit_code() const noexcept {
        if (WIFEXITED(status_)) return WEXITSTATUS(status_);
        if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
        return -1;
    }

    /// Sends `sig`, waits up to `grace`, then kills the whole process group.
    void stop(int sig = SIGTERM, std::chrono::milliseconds grace = 10s) {
        if (!running()) return;
        ::kill(pid_, sig);
        if (!wait_for(grace)) kill_now();
    }

private:
    // Kills the whole group while the leader is not yet reaped, so the group id
    // cannot have been recycled; helpers it forked (postgres backends) go too.
    void kill_now() noexcept {
        if (pid_ < 0) return;
        ::kill(-pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);  // SIGKILL cannot be ignored: this returns promptly
        status_ = st;
        pid_ = -1;
    }

    pid_t pid_ = -1;
    int status_ = 0;
};

/// Runs a program to completion within `limit`; returns its exit code, or
/// throws if it does not finish in time (after killing it).
inline int run_program(const std::vector<std::string>& argv, const spawn_options& opts,
                       std::chrono::milliseconds limit) {
    child_process p(argv, opts);
    const auto code = p.wait_for(limit);
    if (!code) {
        p.stop(SIGKILL, 1s);
        throw std::runtime_error(argv[0] + " did not finish within " + std::to_string(limit.count()) + " ms");
    }
    return *code;
}

/// Connects to 127.0.0.1:port with a short timeout; used to wait for servers.
inline bool can_connect(std::uint16_t port, std::chrono::milliseconds timeout = 200ms) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (!ok && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
            int err = 0;
            socklen_t len = sizeof err;
            ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
        }
    }
    ::close(fd);
    return ok;
}

/// A redis-server on 127.0.0.1 with persistence disabled.
class redis_server {
public:
    /// Path of redis-server ($VITALS_REDIS_SERVER, then PATH), or throws with a
    /// message saying what to install.
    static fs::path binary() {
        if (const char* env = std::getenv("VITALS_REDIS_SERVER"); env != nullptr && *env != '\0') {
            if (::access(env, X_OK) != 0)
                throw std::runtime_error(std::string("VITALS_REDIS_SERVER=") + env + " is not executable");
            return env;
        }
        fs::path p = find_program("redis-server");
        if (p.empty())
            throw std::runtime_error(
                "redis-server not found in PATH or /usr/bin; install it (e.g. apt-get install redis-server) "
                "or set VITALS_REDIS_SERVER");
        return p;
    }

    /// Starts the server (with --requirepass when `password` is non-empty) and
    /// waits until it accepts connections. Throws with the log on failure.
    explicit redis_server(std::string password = {}) : password_(std::move(password)) { start(); }

    /// Port the server listens on.
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    /// Starts again on the same port after stop().
    void start() {
        const fs::path bin = binary();
        std::string last_log;
        // A few attempts: the chosen port can be taken by someone else between
        // free_port() and the server's bind.
        for (int attempt = 0; attempt < 3; ++attempt) {
            if (port_ == 0 || attempt > 0) port_ = free_port();
            std::vector<std::string> argv{bin.string(),
                                          "--port",
                                          std::to_string(port_),
                                          "--bind",
                                          "127.0.0.1",
                                          "--save",
                                          "",
                                          "--appendonly",
                                          "no",
                                          "--daemonize",
                                          "no",
                                          "--dir",
                                          dir_.path().string(),
                                          "--protected-mode",
                                          "no"};
            if (!password_.empty()) {
                argv.push_back("--requirepass");
                argv.push_back(password_);
            }
            const fs::path log = dir_.path() / "redis.log";
            proc_ = child_process(argv, {.cwd = dir_.path(), .log = log, .user = std::nullopt});
            const auto until = std::chrono::steady_clock::now() + 15s;
            while (std::chrono::steady_clock::now() < until && proc_.running()) {
                if (can_connect(port_)) return;
                std::this_thread::sleep_for(20ms);
            }
            last_log = tail_of_file(log);
            proc_.stop(SIGKILL, 2s);
        }
        throw std::runtime_error("redis-server did not start; log:\n" + last_log);
    }

    /// Stops the server and waits (bounded) for it to exit.
    void stop() { proc_.stop(SIGTERM, 10s); }

private:
    temp_dir dir_{"vitals-redis-"};
    std::string password_;
    std::uint16_t port_ = 0;
    child_process proc_;
};

/// Settings for postgres_server.
struct postgres_server_options {
    /// Content for pg_hba.conf, written before the first start; empty keeps
    /// initdb's (trust for everyone). Include a "local" line that lets the
    /// superuser in (e.g. "local all postgres trust") for sql() to work.
    std::string hba{};
    /// Extra server settings, each "name=value", passed as -c options.
    std::vector<std::string> settings{};
};

/// A throw-away PostgreSQL cluster on 127.0.0.1 (trust authentication unless
/// told otherwise, no fsync), with its Unix socket in the cluster's own temp
/// dir. The server's stderr, its log, goes to log_file().
class postgres_server {
public:
    /// Directory with initdb/postgres: $VITALS_PG_BINDIR, the newest
    /// /usr/lib/postgresql/<version>/bin, then PATH. Throws if none.
    static fs::path bindir() {
        if (const char* env = std::getenv("VITALS_PG_BINDIR"); env != nullptr && *env != '\0') {
            if (::access((fs::path(env) / "postgres").c_str(), X_OK) != 0)
                throw std::runtime_error(std::string("VITALS_PG_BINDIR=") + env + " has no executable 'postgres'");
            return env;
        }
        fs::path best;
        int best_version = -1;
        std::error_code ec;
        for (const auto& d : fs::directory_iterator("/usr/lib/postgresql", ec)) {
            const auto name = d.path().filename().string();
            int v = std::atoi(name.c_str());
            if (v > best_version && ::access((d.path() / "bin" / "postgres").c_str(), X_OK) == 0) {
                best_version = v;
                best = d.path() / "bin";
            }
        }
        if (!best.empty()) return best;
        const fs::path initdb = find_program("initdb");
        if (!initdb.empty() && ::access((initdb.parent_path() / "postgres").c_str(), X_OK) == 0)
            return initdb.parent_path();
        throw std::runtime_error(
            "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH; "
            "install them (e.g. apt-get install postgresql) or set VITALS_PG_BINDIR");
    }

    /// Creates the cluster and starts the server. Throws with logs on failure.
    postgres_server() : postgres_server(postgres_server_options{}) {}

    /// The same with a pg_hba.conf and settings of the caller's choosing.
    explicit postgres_server(postgres_server_options options) : options_(std::move(options)) {
        bin_ = bindir();
        user_ = postgres_account();
        if (user_ && ::chown(dir_.path().c_str(), user_->uid, user_->gid) != 0)
            throw std::system_error(errno, std::generic_category(), "chown temp dir to postgres");
        const fs::path log = dir_.path() / "initdb.log";
        const int rc = run_program({(bin_ / "initdb").string(), "-D", data().string(), "-A", "trust", "-U", "postgres",
                                    "--no-sync", "--no-locale", "-E", "UTF8"},
                                   {.cwd = dir_.path(), .log = log, .user = user_}, 180s);
        if (rc != 0) throw std::runtime_error("initdb failed (exit " + std::to_string(rc) + "):\n" + tail_of_file(log));
        if (!options_.hba.empty()) {
            std::ofstream hba(data() / "pg_hba.conf", std::ios::trunc);
            hba << options_.hba << '\n';
            if (!hba) throw std::runtime_error("cannot write pg_hba.conf");
        }
        start();
    }

    /// Port the server listens on.
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    /// Starts the server again (same cluster) after stop().
    void start() {
        std::string last_log;
        for (int attempt = 0; attempt < 3; ++attempt) {
            if (port_ == 0 || attempt > 0) port_ = free_port();
            const fs::path log = dir_.path() / "postgres.log";
            std::vector<std::string> argv{(bin_ / "postgres").string(), "-D", data().string(),      "-p",
                                          std::to_string(port_),        "-k", dir_.path().string(), "-c",
                                          "listen_addresses=127.0.0.1", "-c", "fsync=off",          "-c",
                                          "max_connections=20",         "-c", "shared_buffers=16MB"};
            for (const auto& setting : options_.settings) {
                argv.emplace_back("-c");
                argv.push_back(setting);
            }
            proc_ = child_process(argv, {.cwd = dir_.path(), .log = log, .user = user_});
            const auto until = std::chrono::steady_clock::now() + 60s;
            while (std::chrono::steady_clock::now() < until && proc_.running()) {
                if (ready()) return;
                std::this_thread::sleep_for(50ms);
            }
            last_log = tail_of_file(log);
            proc_.stop(SIGKILL, 2s);
        }
        throw std::runtime_error("postgres did not start; log:\n" + last_log);
    }

    /// Fast shutdown (SIGINT), bounded; the port is closed when this returns.
    void stop() { proc_.stop(SIGINT, 20s); }

    /// The file the server logs to (its stderr), appended to across restarts.
    [[nodiscard]] fs::path log_file() const { return dir_.path() / "postgres.log"; }

    /// Runs each statement in turn (one session, so SET carries over) with psql
    /// as the superuser over the Unix socket; throws with psql's output if one
    /// fails. Needs a pg_hba.conf "local" line that trusts "postgres".
    void sql(const std::vector<std::string>& statements) const {
        std::vector<std::string> argv{
            (bin_ / "psql").string(), "-X", "-q",       "-v", "ON_ERROR_STOP=1", "-h", dir_.path().string(), "-p",
            std::to_string(port_),    "-U", "postgres", "-d", "postgres"};
        for (const auto& s : statements) {
            argv.emplace_back("-c");
            argv.push_back(s);
        }
        const fs::path log = dir_.path() / "psql.log";
        std::error_code ec;
        fs::remove(log, ec);
        const int rc = run_program(argv, {.cwd = dir_.path(), .log = log, .user = user_}, 60s);
        if (rc != 0) throw std::runtime_error("psql failed (exit " + std::to_string(rc) + "):\n" + tail_of_file(log));
    }

    /// Waits (up to `limit`) until no client session is left: every backend
    /// has written what it logs and exited. False on timeout.
    bool wait_until_no_sessions(std::chrono::milliseconds limit = 10s) const {
        const auto until = std::chrono::steady_clock::now() + limit;
        for (;;) {
            if (client_backends() == 0) return true;
            if (std::chrono::steady_clock::now() >= until) return false;
            std::this_thread::sleep_for(10ms);
        }
    }

private:
    [[nodiscard]] fs::path data() const { return dir_.path() / "data"; }

    // Children of the postmaster that serve (or are about to serve) a client.
    // Backends retitle themselves "postgres: user db 127.0.0.1(port) state"
    // or "... [local] ..."; one just forked still shows the postmaster's own
    // command line. Auxiliary processes (checkpointer, walwriter, ...) are
    // neither.
    [[nodiscard]] int client_backends() const {
        const pid_t postmaster = proc_.pid();
        if (postmaster < 0) return 0;
        int count = 0;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator("/proc", ec)) {
            const std::string pid = entry.path().filename().string();
            if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
            std::ifstream stat(entry.path() / "stat");
            std::string line;
            if (!std::getline(stat, line)) continue;
            // "pid (comm) state ppid ...": comm may hold spaces, so parse after ')'.
            const auto close = line.rfind(')');
            if (close == std::string::npos) continue;
            std::istringstream rest(line.substr(close + 1));
            std::string state;
            long ppid = 0;
            if (!(rest >> state >> ppid) || ppid != postmaster) continue;
            // A process that exits between the two reads makes read() of its
            // cmdline fail with ESRCH, which istreambuf_iterator would throw; such
            // a process serves nobody any more.
            std::string title;
            try {
                std::ifstream cmd(entry.path() / "cmdline", std::ios::binary);
                title.assign(std::istreambuf_iterator<char>(cmd), std::istreambuf_iterator<char>());
            } catch (const std::ios_base::failure&) {
                continue;
            }
            if (title.find('(') != std::string::npos || title.find("[local]") != std::string::npos ||
                title.starts_with((bin_ / "postgres").string()))
                ++count;
        }
        return count;
    }

    // The postmaster writes "ready" as the status line of postmaster.pid once
    // it accepts connections; that is what pg_ctl -w waits for as well. The
    // TCP check guards against reading a stale file from a previous run.
    [[nodiscard]] bool ready() const {
        std::ifstream in(data() / "postmaster.pid");
        std::string line;
        bool found = false;
        while (std::getline(in, line)) {
            const auto b = line.find_first_not_of(' ');
            const auto e = line.find_last_not_of(' ');
            if (b != std::string::npos && line.substr(b, e - b + 1) == "ready") found = true;
        }
        return found && can_connect(port_);
    }

    postgres_server_options options_;
    temp_dir dir_{"vitals-pg-"};
    fs::path bin_;
    std::optional<run_as> user_;
    std::uint16_t port_ = 0;
    child_process proc_;
};

/// A scripted TCP peer on a loopback address, served by one background
/// thread. Each accepted connection is handed to `handler` (on that thread),
/// one at a time; handlers that deliberately stall use stall(), which ends
/// when the peer shuts down, so destruction is always prompt.
class fake_peer {
public:
    /// Per-connection behaviour; the connection is closed when it returns.
    using handler = std::function<void(fake_peer& self, int fd)>;

    /// Listens on `address` ("127.0.0.1" or "::1") at an ephemeral port.
    /// Throws std::system_error if the address cannot be bound.
    explicit fake_peer(handler h, const std::string& address = "127.0.0.1") : handler_(std::move(h)) {
        const bool v6 = address.find(':') != std::string::npos;
        listen_fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
        int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_storage ss{};
        socklen_t len = 0;
        if (v6) {
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            ::inet_pton(AF_INET6, address.c_str(), &a->sin6_addr);
            len = sizeof(sockaddr_in6);
        } else {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            ::inet_pton(AF_INET, address.c_str(), &a->sin_addr);
            len = sizeof(sockaddr_in);
        }
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(listen_fd_, 16) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
            const int err = errno;
            ::close(listen_fd_);
            throw std::system_error(err, std::generic_category(), "bind " + address);
        }
        port_ =
            ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
        thread_ = std::thread([this] { serve(); });
    }

    ~fake_peer() {
        stopping_ = true;
        thread_.join();
        ::close(listen_fd_);
    }
    fake_peer(const fake_peer&) = delete;
    fake_peer& operator=(const fake_peer&) = delete;

    /// Port the peer listens on.
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// Connections accepted so far.
    [[nodiscard]] int accepted() const noexcept { return accepted_.load(); }

    /// Everything received on connections whose handler used `read_request`.
    [[nodiscard]] std::string received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }

    /// Reads from `fd` until `terminator` was seen, 64 KiB, EOF or 5 s; returns
    /// the bytes (also recorded for received()).
    std::string read_request(int fd, std::string_view terminator) {
        std::string data;
        const auto until = std::chrono::steady_clock::now() + 5s;
        char buf[4096];
        while (data.find(terminator) == std::string::npos && data.size() < 65536 &&
               std::chrono::steady_clock::now() < until && !stopping_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            data.append(buf, static_cast<std::size_t>(n));
        }
        std::lock_guard lock(mutex_);
        received_ += data;
        return data;
    }

    /// Reads exactly `n` bytes (bounded like read_request).
    std::string read_bytes(int fd, std::size_t n) {
        std::string data;
        const auto until = std::chrono::steady_clock::now() + 5s;
        char buf[4096];
        while (data.size() < n && std::chrono::steady_clock::now() < until && !stopping_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - data.size()), 0);
            if (got <= 0) break;
            data.append(buf, static_cast<std::size_t>(got));
        }
        std::lock_guard lock(mutex_);
        received_ += data;
        return data;
    }

    /// Reads whatever the client sends until it pauses for `quiet` (bounded by
    /// 2 s in total), recording it for received().
    void drain(int fd, std::chrono::milliseconds quiet = 30ms) {
        std::string data;
        const auto until = std::chrono::steady_clock::now() + 2s;
        char buf[4096];
        while (std::chrono::steady_clock::now() < until && !stopping_ && data.size() < 65536) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            data.append(buf, static_cast<std::size_t>(n));
        }
        std::lock_guard lock(mutex_);
        received_ += data;
    }

    /// Sends all of `data`, ignoring errors (the client may have gone).
    static void send_all(int fd, std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    /// Blocks until the peer shuts down or `limit` passes; for "silent" peers.
    void stall(std::chrono::milliseconds limit = 30s) const {
        const auto until = std::chrono::steady_clock::now() + limit;
        while (!stopping_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    }

    /// Whether the peer is shutting down.
    [[nodiscard]] bool stopping() const noexcept { return stopping_.load(); }

private:
    void serve() {
        while (!stopping_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            ++accepted_;
            handler_(*this, fd);
            ::close(fd);
        }
    }

    handler handler_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> accepted_{0};
    mutable std::mutex mutex_;
    std::string received_;
    std::thread thread_;
};

}  // namespace vitals::test
