// vitals — the process metrics every Prometheus client library exports (names, types and HELP as
// in client_golang), so dashboards and alerts written for other services work unchanged: CPU time,
// resident and virtual memory, open and maximum file descriptors, start time.
//
// Values are read from Linux's /proc/self when the registry is rendered; nothing runs between
// scrapes. Where a value cannot be read (not Linux, /proc not mounted, a parse failure) that metric
// renders NaN for the scrape, so the series stays present and a broken read is visible instead of
// looking like zero. process_max_fds comes from getrlimit() and works on any POSIX system.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "../core/registry.hpp"

namespace vitals {
namespace detail {

/// What one read of /proc/self/stat yields, already in the units Prometheus expects except the
/// start time, which stays in clock ticks since boot (turning it into epoch seconds needs the boot
/// time from /proc/stat, which never changes and is read once).
struct proc_self_stat {
    double cpu_seconds = 0;     // utime + stime
    double virtual_bytes = 0;   // vsize
    double resident_bytes = 0;  // rss pages * page size
    double start_ticks = 0;     // starttime
};

/// Reads a small file whole; nullopt when it cannot be opened or read. Plain POSIX calls: /proc
/// files report size 0, so anything that trusts the size would read nothing.
inline std::optional<std::string> read_small_file(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

/// Parses the text of /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself
/// contain spaces and parentheses, so fields are counted from the last ')'.
inline std::optional<proc_self_stat> parse_proc_stat(std::string_view text, double clock_ticks, double page_size) {
    const auto close = text.rfind(')');
    if (close == std::string_view::npos || clock_ticks <= 0 || page_size <= 0) return std::nullopt;
    text.remove_prefix(close + 1);
    // After ')' the next field is number 3 (state); we need fields 14, 15, 22, 23 and 24.
    double field[25] = {};
    int number = 2;
    std::size_t i = 0;
    while (number < 24) {
        while (i < text.size() && text[i] == ' ') ++i;
        if (i >= text.size()) return std::nullopt;
        const std::size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\n') ++i;
        ++number;
        if (number >= 14) {
            const std::string token(text.substr(start, i - start));
            char* end = nullptr;
            field[number] = std::strtod(token.c_str(), &end);
            if (end == token.c_str() || *end != '\0') return std::nullopt;
        }
    }
    proc_self_stat s;
    s.cpu_seconds = (field[14] + field[15]) / clock_ticks;
    s.start_ticks = field[22];
    s.virtual_bytes = field[23];
    s.resident_bytes = field[24] * page_size;
    return s;
}

/// Parses the `btime` line (boot time, seconds since the epoch) of /proc/stat.
inline std::optional<double> parse_boot_time(std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        const auto line = text.substr(pos, eol - pos);
        if (line.starts_with("btime ")) {
            const std::string value(line.substr(6));
            char* end = nullptr;
            const double v = std::strtod(value.c_str(), &end);
            if (end == value.c_str()) return std::nullopt;
            return v;
        }
        pos = eol + 1;
    }
    return std::nullopt;
}

/// Number of open file descriptors, not counting the one used to list them.
inline std::optional<double> count_open_fds() {
#if defined(__linux__)
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir) return std::nullopt;
    const std::string own = std::to_string(::dirfd(dir));
    double n = 0;
    while (const dirent* e = ::readdir(dir)) {
        const std::string_view name = e->d_name;
        if (name == "." || name == ".." || name == own) continue;
        ++n;
    }
    ::closedir(dir);
    return n;
#else
    return std::nullopt;
#endif
}

/// The soft limit on open file descriptors (+Inf when unlimited).
inline std::optional<double> max_open_fds() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::nullopt;
    if (lim.rlim_cur == RLIM_INFINITY) return std::numeric_limits<double>::infinity();
    return static_cast<double>(lim.rlim_cur);
}

/// Shared by the process metrics of one registry. One render reads /proc/self/stat once: the
/// first metric rendered (CPU time) refreshes the snapshot and the memory metrics rendered right
/// after reuse it, unless it is older than `reuse_for` (another render order, a slow render).
class process_reader {
public:
    static constexpr std::chrono::milliseconds reuse_for{100};

    double cpu_seconds() { return get(true, &proc_self_stat::cpu_seconds); }
    double virtual_bytes() { return get(false, &proc_self_stat::virtual_bytes); }
    double resident_bytes() { return get(false, &proc_self_stat::resident_bytes); }

    /// Boot time plus the start tick, computed once: neither changes while the process runs.
    double start_time_seconds() {
        std::lock_guard lock(mu_);
        if (start_time_) return *start_time_;
        const auto stat = refresh_locked();
        const auto proc_stat = read_small_file("/proc/stat");
        const auto boot = proc_stat ? parse_boot_time(*proc_stat) : std::nullopt;
        if (!stat || !boot || clock_ticks() <= 0) return std::nan("");
        start_time_ = *boot + stat->start_ticks / clock_ticks();
        return *start_time_;
    }

private:
    static double clock_ticks() { return static_cast<double>(::sysconf(_SC_CLK_TCK)); }
    static double page_size() { return static_cast<double>(::sysconf(_SC_PAGESIZE)); }

    double get(bool refresh, double proc_self_stat::*field) {
        std::lock_guard lock(mu_);
        const auto now = std::chrono::steady_clock::now();
        const auto& s = (refresh || !last_ || now - taken_at_ > reuse_for) ? refresh_locked() : last_;
        return s ? (*s).*field : std::nan("");
    }

    const std::optional<proc_self_stat>& refresh_locked() {
#if defined(__linux__)
        const auto text = read_small_file("/proc/self/stat");
        last_ = text ? parse_proc_stat(*text, clock_ticks(), page_size()) : std::nullopt;
#else
        last_.reset();
#endif
        taken_at_ = std::chrono::steady_clock::now();
        return last_;
    }

    std::mutex mu_;
    std::optional<proc_self_stat> last_;
    std::chrono::steady_clock::time_point taken_at_{};
    std::optional<double> start_time_;
};

}  // namespace detail

/// Registers the standard process metrics in `r`:
/// - `process_cpu_seconds_total` (counter),
/// - `process_resident_memory_bytes`, `process_virtual_memory_bytes` (gauges),
/// - `process_open_fds`, `process_max_fds` (gauges),
/// - `process_start_time_seconds` (gauge, seconds since the epoch).
/// Calling it again on the same registry is harmless (the same families get fresh functions).
/// A value that cannot be read renders NaN; see the top of this header.
inline void register_process_metrics(registry& r) {
    auto reader = std::make_shared<detail::process_reader>();
    auto nan_if_missing = [](std::optional<double> v) { return v ? *v : std::nan(""); };
    r.callback_counter<"process_cpu_seconds_total">("Total user and system CPU time spent in seconds.").set([reader] {
        return reader->cpu_seconds();
    });
    r.callback_gauge<"process_resident_memory_bytes">("Resident memory size in bytes.").set([reader] {
        return reader->resident_bytes();
    });
    r.callback_gauge<"process_virtual_memory_bytes">("Virtual memory size in bytes.").set([reader] {
        return reader->virtual_bytes();
    });
    r.callback_gauge<"process_open_fds">("Number of open file descriptors.").set([nan_if_missing] {
        return nan_if_missing(detail::count_open_fds());
    });
    r.callback_gauge<"process_max_fds">("Maximum number of open file descriptors.").set([nan_if_missing] {
        return nan_if_missing(detail::max_open_fds());
    });
    r.callback_gauge<"process_start_time_seconds">("Start time of the process since unix epoch in seconds.")
        .set([reader] { return reader->start_time_seconds(); });
}

}  // namespace vitals
