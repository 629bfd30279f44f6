// Module tests, executable side: what a render says each series holds, exactly, and what it should
// hold after a workload. Counts are compared as the integers the exposition prints, never as
// doubles, so that an increment landing in the wrong series cannot hide in rounding.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <vitals/exposition/text.hpp>

#include "../support/exposition_reader.hpp"
#include "modules.hpp"

namespace modules_test {

/// One series (sample line) and the value it must have.
struct expected_sample {
    std::string key;  // as rendered before the value: `name{labels}` or `name`
    double value;
    bool integer;  // counters, buckets, counts: must print as that exact integer
};
using expectations = std::vector<expected_sample>;

inline std::string format_number(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
        return std::to_string(static_cast<long long>(v));
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

/// One render of a registry, read back sample by sample.
class exposition {
public:
    explicit exposition(const vitals::registry& r) {
        vitals::render_text(r, text_);
        validity_ = vitals_test::read_text_exposition(text_).error;
        std::string_view rest = text_;
        while (!rest.empty()) {
            const std::size_t nl = rest.find('\n');
            const std::string_view line = rest.substr(0, nl);
            rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
            if (line.rfind("# TYPE ", 0) == 0) {
                const std::string_view decl = line.substr(7);
                families_.emplace(decl.substr(0, decl.find(' ')));
                continue;
            }
            if (line.empty() || line[0] == '#') continue;
            // Label values here never contain a space, so the value is after the last one.
            const std::size_t sp = line.rfind(' ');
            if (sp == std::string_view::npos) continue;
            samples_[std::string(line.substr(0, sp))] = std::string(line.substr(sp + 1));
        }
    }

    [[nodiscard]] const std::string& text() const noexcept { return text_; }
    /// Empty when the strict text-format reader accepts the render, or why it does not.
    [[nodiscard]] const std::string& validity() const noexcept { return validity_; }
    /// True when the render has a `# TYPE <name>` line.
    [[nodiscard]] bool has_family(const std::string& name) const { return families_.count(name) != 0; }
    /// Number of sample lines whose key starts with `prefix`.
    [[nodiscard]] std::size_t samples_starting_with(std::string_view prefix) const {
        std::size_t n = 0;
        for (const auto& [k, v] : samples_) n += std::string_view(k).substr(0, prefix.size()) == prefix;
        return n;
    }

    /// The value printed for `key`, if the render has that series.
    [[nodiscard]] std::optional<std::string> raw(const std::string& key) const {
        const auto it = samples_.find(key);
        if (it == samples_.end()) return std::nullopt;
        return it->second;
    }
    /// The value of `key` when printed as a plain decimal integer.
    [[nodiscard]] std::optional<std::uint64_t> integer(const std::string& key) const {
        const auto v = raw(key);
        if (!v) return std::nullopt;
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc{} || end != v->data() + v->size()) return std::nullopt;
        return n;
    }

    /// `key value` per line for the given series, as this render has them: compared with
    /// expected_block(), a mismatch shows every wrong series at once, and only those differ.
    [[nodiscard]] std::string actual_block(const expectations& want) const {
        std::string out;
        for (const auto& s : want) {
            out += s.key;
            out += ' ';
            const auto v = raw(s.key);
            if (!v) {
                out += "<absent>";
            } else if (s.integer) {
                const auto n = integer(s.key);
                out += n ? std::to_string(*n) : "<not an integer: " + *v + ">";
            } else {
                char* end = nullptr;
                const double d = std::strtod(v->c_str(), &end);
                out += (end == v->c_str() + v->size() && !v->empty()) ? format_number(d) : "<not a number: " + *v + ">";
            }
            out += '\n';
        }
        return out;
    }

private:
    std::string text_, validity_;
    std::map<std::string, std::string> samples_;
    std::set<std::string> families_;
};

inline std::string expected_block(const expectations& want) {
    std::string out;
    for (const auto& s : want)
        out += s.key + ' ' +
               (s.integer ? std::to_string(static_cast<std::uint64_t>(s.value)) : format_number(s.value)) + '\n';
    return out;
}

inline void expect_integer(expectations& out, std::string key, std::uint64_t value) {
    out.push_back({static_cast<std::string&&>(key), static_cast<double>(value), true});
}
inline void expect_number(expectations& out, std::string key, double value) {
    out.push_back({static_cast<std::string&&>(key), value, false});
}

inline expectations operator+(expectations a, const expectations& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// The series of a histogram (size_buckets) after `threads` threads each observed
/// i % observation_cycle for i in [0, per_thread). `labels` is the series' own label block.
inline void expect_histogram(expectations& out, const std::string& name, const std::string& labels,
                             std::uint64_t threads, std::uint64_t per_thread) {
    std::uint64_t le1 = 0, le2 = 0, le4 = 0, sum = 0;
    for (std::uint64_t i = 0; i < per_thread; ++i) {
        const std::uint64_t v = i % observation_cycle;
        le1 += v <= 1;
        le2 += v <= 2;
        le4 += v <= 4;
        sum += v;
    }
    const std::string sep = labels.empty() ? "" : ",";
    expect_integer(out, name + "_bucket{" + labels + sep + "le=\"1\"}", threads * le1);
    expect_integer(out, name + "_bucket{" + labels + sep + "le=\"2\"}", threads * le2);
    expect_integer(out, name + "_bucket{" + labels + sep + "le=\"4\"}", threads * le4);
    expect_integer(out, name + "_bucket{" + labels + sep + "le=\"+Inf\"}", threads * per_thread);
    expect_number(out, name + "_sum" + (labels.empty() ? "" : "{" + labels + "}"), static_cast<double>(threads * sum));
    expect_integer(out, name + "_count" + (labels.empty() ? "" : "{" + labels + "}"), threads * per_thread);
}

/// What one module's run() leaves in its own families, given `main_requests` increments of
/// <prefix>_requests_total{kind="main"} and `extra_events` of <prefix>_events_total made by the
/// executable.
inline expectations expected_own(const std::string& prefix, unsigned threads, unsigned per_thread,
                                 std::uint64_t main_requests = 0, std::uint64_t extra_events = 0) {
    const std::uint64_t t = threads, n = per_thread, all = t * n;
    expectations out;
    expect_integer(out, prefix + "_events_total", all + extra_events);
    expect_integer(out, prefix + "_requests_total{kind=\"lookup\"}", all);
    expect_integer(out, prefix + "_requests_total{kind=\"kept\"}", all);
    if (main_requests) expect_integer(out, prefix + "_requests_total{kind=\"main\"}", main_requests);
    expect_histogram(out, prefix + "_batch_size", "kind=\"own\"", t, n);
    expect_number(out, prefix + "_in_flight", static_cast<double>(t * (n - (n + 1) / 2)));
    return out;
}

/// What `threads` threads of run()s with `per_thread` leave in the executable's families under
/// origin="<prefix>".
inline expectations expected_share(const std::string& prefix, std::uint64_t threads, std::uint64_t per_thread) {
    expectations out;
    expect_integer(out, "shared_total{origin=\"" + prefix + "\"}", threads * per_thread);
    expect_histogram(out, "shared_size", "origin=\"" + prefix + "\"", threads, per_thread);
    return out;
}

/// Both of the above for one run().
inline expectations expected_module(const std::string& prefix, unsigned threads, unsigned per_thread,
                                    std::uint64_t main_requests = 0, std::uint64_t extra_events = 0) {
    return expected_own(prefix, threads, per_thread, main_requests, extra_events) +
           expected_share(prefix, threads, per_thread);
}

}  // namespace modules_test
