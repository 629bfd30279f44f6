// Test support: a strict, in-process reader of Prometheus text format 0.0.4, so fuzzers and
// stress tests can check every render without starting a process. It rejects anything a
// Prometheus scrape would reject, and also what vitals promises beyond the format: families
// contiguous with HELP/TYPE first, no duplicate series, histograms self-consistent.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <vitals/core/names.hpp>
#include <vitals/detail/text.hpp>

namespace vitals_test {

struct parsed_sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;  // unescaped
    double value = 0;
};

struct parsed_family {
    std::string name, help, type;
    std::vector<parsed_sample> samples;
};

struct parse_result {
    std::vector<parsed_family> families;
    std::string error;  // empty when the exposition is valid
    [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

namespace detail_reader {

inline bool parse_value(std::string_view s, double& out) {
    if (s == "NaN") return out = std::nan(""), true;
    if (s == "+Inf" || s == "Inf") return out = INFINITY, true;
    if (s == "-Inf") return out = -INFINITY, true;
    if (s.empty()) return false;
    std::string tmp(s);
    char* end = nullptr;
    out = std::strtod(tmp.c_str(), &end);
    return end == tmp.c_str() + tmp.size() && !std::isnan(out) && !std::isinf(out);
}

inline std::string_view family_of(std::string_view sample, std::string_view type) {
    auto strip = [&](std::string_view suffix) -> std::optional<std::string_view> {
        if (sample.size() > suffix.size() && sample.ends_with(suffix))
            return sample.substr(0, sample.size() - suffix.size());
        return std::nullopt;
    };
    if (type == "histogram")
        for (auto suf : {"_bucket", "_sum", "_count"})
            if (auto b = strip(suf)) return *b;
    if (type == "summary")
        for (auto suf : {"_sum", "_count"})
            if (auto b = strip(suf)) return *b;
    return sample;
}

}  // namespace detail_reader

/// Parses and validates a text 0.0.4 exposition.
inline parse_result read_text_exposition(std::string_view text) {
    using namespace detail_reader;
    parse_result r;
    auto fail = [&](std::size_t line_no, const std::string& why) {
        r.error = "line " + std::to_string(line_no) + ": " + why;
        return r;
    };
    if (!vitals::detail::is_valid_utf8(text)) return fail(0, "invalid UTF-8");
    if (!text.empty() && text.back() != '\n') return fail(0, "missing final newline");
    std::set<std::string> seen_families, seen_series;
    std::size_t pos = 0, line_no = 0;
    while (pos < text.size()) {
        ++line_no;
        const std::size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty()) continue;
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
            const bool help = line[2] == 'H';
            std::string_view rest = line.substr(7);
            const std::size_t sp = rest.find(' ');
            std::string name(rest.substr(0, sp));
            std::string_view arg = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
            if (!vitals::is_valid_metric_name(name)) return fail(line_no, "bad metric name '" + name + "'");
            if (r.families.empty() || r.families.back().name != name) {
                if (!seen_families.insert(name).second) return fail(line_no, "family '" + name + "' not contiguous");
                r.families.push_back({name, {}, "untyped", {}});
            }
            auto& fam = r.families.back();
            if (!fam.samples.empty()) return fail(line_no, "HELP/TYPE after samples");
            if (help) {
                std::string h;
                for (std::size_t i = 0; i < arg.size(); ++i) {
                    if (arg[i] == '\\' && i + 1 < arg.size() && (arg[i + 1] == '\\' || arg[i + 1] == 'n')) {
                        h += arg[i + 1] == 'n' ? '\n' : '\\';
                        ++i;
                    } else {
                        h += arg[i];
                    }
                }
                fam.help = h;
            } else {
                static const std::set<std::string_view> types = {"counter", "gauge", "histogram", "summary", "untyped"};
                if (!types.contains(arg)) return fail(line_no, "bad type '" + std::string(arg) + "'");
                fam.type = arg;
            }
            continue;
        }
        if (line.starts_with("#")) continue;  // a comment
        parsed_sample s;
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
        s.name = line.substr(0, i);
        if (!vitals::is_valid_metric_name(s.name)) return fail(line_no, "bad sample name '" + s.name + "'");
        if (i < line.size() && line[i] == '{') {
            ++i;
            while (i < line.size() && line[i] != '}') {
                std::size_t eq = line.find('=', i);
                if (eq == std::string_view::npos) return fail(line_no, "label without '='");
                std::string lname(line.substr(i, eq - i));
                if (!vitals::is_valid_label_name(lname)) return fail(line_no, "bad label name '" + lname + "'");
                i = eq + 1;
                if (i >= line.size() || line[i] != '"') return fail(line_no, "label value not quoted");
                ++i;
                std::string v;
                for (;;) {
                    if (i >= line.size()) return fail(line_no, "unterminated label value");
                    const char c = line[i++];
                    if (c == '"') break;
                    if (c == '\\') {
                        if (i >= line.size()) return fail(line_no, "dangling escape");
                        const char e = line[i++];
                        if (e == 'n')
                            v += '\n';
                        else if (e == '\\' || e == '"')
                            v += e;
                        else
                            return fail(line_no, "bad escape");
                    } else {
                        v += c;
                    }
                }
                for (const auto& [k, _] : s.labels)
                    if (k == lname) return fail(line_no, "duplicate label '" + lname + "'");
                s.labels.emplace_back(lname, v);
                if (i < line.size() && line[i] == ',') ++i;
            }
            if (i >= line.size()) return fail(line_no, "unterminated label set");
            ++i;
        }
        if (i >= line.size() || line[i] != ' ') return fail(line_no, "no value");
        std::string_view value = line.substr(i + 1);
        if (const auto sp = value.find(' '); sp != std::string_view::npos) value = value.substr(0, sp);  // timestamp
        if (!parse_value(value, s.value)) return fail(line_no, "bad value '" + std::string(value) + "'");
        if (r.families.empty()) return fail(line_no, "sample before any TYPE");
        auto& fam = r.families.back();
        if (family_of(s.name, fam.type) != fam.name)
            return fail(line_no, "sample '" + s.name + "' outside its family '" + fam.name + "'");
        std::string key = s.name;
        for (const auto& [k, v] : s.labels) key += '\x01' + k + '\x02' + v;
        if (!seen_series.insert(key).second) return fail(line_no, "duplicate series " + s.name);
        fam.samples.push_back(std::move(s));
    }
    // Histograms: per series, buckets non-decreasing in le order and +Inf == _count.
    for (const auto& fam : r.families) {
        if (fam.type != "histogram") continue;
        std::map<std::string, std::vector<std::pair<double, double>>> buckets;
        std::map<std::string, double> counts;
        for (const auto& s : fam.samples) {
            std::string id;
            double le = NAN;
            for (const auto& [k, v] : s.labels) {
                if (k == "le")
                    parse_value(v, le);
                else
                    id += k + "=" + v + ",";
            }
            if (s.name == fam.name + "_bucket") buckets[id].emplace_back(le, s.value);
            if (s.name == fam.name + "_count") counts[id] = s.value;
        }
        for (const auto& [id, b] : buckets) {
            for (std::size_t k = 1; k < b.size(); ++k)
                if (!(b[k - 1].first < b[k].first) || b[k - 1].second > b[k].second)
                    return r.error = "histogram " + fam.name + " buckets not increasing", r;
            if (b.empty() || b.back().first != INFINITY) return r.error = "histogram " + fam.name + " lacks +Inf", r;
            if (!counts.contains(id) || counts[id] != b.back().second)
                return r.error = "histogram " + fam.name + " +Inf != _count", r;
        }
    }
    return r;
}

}  // namespace vitals_test
