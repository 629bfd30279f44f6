// Test support: an in-process checker of OpenMetrics 1.0 text, for fuzzers and sweeps that render
// too often to start the Python parser for each render. It enforces every rule the strict parser
// (python3-prometheus-client's openmetrics.parser) applies — value rules for counter-like samples,
// histogram consistency, grouping, metadata, exemplars — and is stricter where vitals promises
// more (no duplicate series, numbers in the forms vitals writes). tests/hostile_values_test.cpp
// checks that it agrees with the Python parser on thousands of renders and rejects every kind of
// body the Python parser rejects, so a pass here stands for a pass there.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <vitals/core/names.hpp>
#include <vitals/detail/text.hpp>

namespace vitals_test {

namespace detail_om {

struct sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;  // unescaped, in order
    double value = 0;
    bool integral = false;  // the value is written as an integer or is integer-valued
    bool has_exemplar = false;
};

// The number forms vitals writes: integers, decimals with optional exponent, NaN, +Inf, -Inf.
inline bool parse_number(std::string_view s, double& out) {
    if (s == "NaN") return out = std::nan(""), true;
    if (s == "+Inf") return out = INFINITY, true;
    if (s == "-Inf") return out = -INFINITY, true;
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    const std::size_t digits_from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    bool any = i > digits_from;
    if (i < s.size() && s[i] == '.') {
        ++i;
        const std::size_t f = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        any = any || i > f;
    }
    if (!any) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        const std::size_t e = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == e) return false;
    }
    if (i != s.size()) return false;
    const std::string tmp(s);
    out = std::strtod(tmp.c_str(), nullptr);
    return true;
}

inline std::size_t code_points(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// Parses `{a="x",b="y"}` at s[i] (s[i] == '{'); advances i past '}'.
inline bool parse_labels(std::string_view s, std::size_t& i, std::vector<std::pair<std::string, std::string>>& out,
                         std::string& why) {
    ++i;
    while (i < s.size() && s[i] != '}') {
        const std::size_t eq = s.find('=', i);
        if (eq == std::string_view::npos) return why = "label without '='", false;
        std::string name(s.substr(i, eq - i));
        if (!vitals::is_valid_label_name(name)) return why = "bad label name '" + name + "'", false;
        i = eq + 1;
        if (i >= s.size() || s[i] != '"') return why = "label value not quoted", false;
        ++i;
        std::string v;
        for (;;) {
            if (i >= s.size()) return why = "unterminated label value", false;
            const char c = s[i++];
            if (c == '"') break;
            if (c == '\\') {
                if (i >= s.size()) return why = "dangling escape", false;
                const char e = s[i++];
                if (e == 'n')
                    v += '\n';
                else if (e == '\\' || e == '"')
                    v += e;
                else
                    return why = "bad escape in label value", false;
            } else if (c == '\n') {
                return why = "raw newline in label value", false;
            } else {
                v += c;
            }
        }
        for (const auto& [k, _] : out)
            if (k == name) return why = "duplicate label '" + name + "'", false;
        out.emplace_back(std::move(name), std::move(v));
        if (i < s.size() && s[i] == ',') {
            ++i;
            if (i < s.size() && s[i] == '}') return why = "trailing comma in label set", false;
        } else if (i < s.size() && s[i] != '}') {
            return why = "expected ',' or '}'", false;
        }
    }
    if (i >= s.size()) return why = "unterminated label set", false;
    ++i;
    return true;
}

inline const std::string* label(const sample& s, std::string_view name) {
    for (const auto& [k, v] : s.labels)
        if (k == name) return &v;
    return nullptr;
}

// The labels that identify a sample's group (a series' samples share one): all but le on a
// bucket, quantile on a summary's quantile sample, the state label of a stateset; none for info.
inline std::string group_key(const sample& s, const std::string& family, std::string_view type) {
    std::vector<std::pair<std::string, std::string>> ls = s.labels;
    std::string_view drop;
    if (type == "info") return {};
    if ((type == "histogram" || type == "gaugehistogram") && s.name == family + "_bucket") drop = "le";
    if (type == "summary" && s.name == family) drop = "quantile";
    if (type == "stateset") drop = family;
    std::string key;
    std::map<std::string, std::string> sorted;
    for (auto& [k, v] : ls)
        if (k != drop) sorted[k] = v;
    for (const auto& [k, v] : sorted) key += k + '\x01' + v + '\x02';
    return key;
}

struct family {
    explicit family(std::string n) : name(std::move(n)) {}
    std::string name, type = "unknown";
    bool has_help = false, has_type = false, has_unit = false;
    std::string unit;
    std::vector<sample> samples;
};

inline std::vector<std::string> allowed_suffixes(std::string_view type) {
    if (type == "counter") return {"_total", "_created"};
    if (type == "summary") return {"", "_count", "_sum", "_created"};
    if (type == "histogram") return {"_count", "_sum", "_bucket", "_created"};
    if (type == "gaugehistogram") return {"_gcount", "_gsum", "_bucket"};
    if (type == "info") return {"_info"};
    return {""};
}

// The histogram rules, per group of consecutive samples.
inline std::string check_histogram(const family& f) {
    std::string group;
    bool open = false;
    double bucket = 0, value = 0;
    bool have_bucket = false, have_count = false, has_sum = false, has_gsum = false, negative_buckets = false,
         negative_gsum = false;
    double count = 0;
    auto checks = [&]() -> std::string {
        if (!have_bucket || bucket != INFINITY) return "+Inf bucket missing: " + f.name;
        if (have_count && value != count) return "count does not match +Inf value: " + f.name;
        if (has_sum && !have_count) return "_count must be present if _sum is present: " + f.name;
        if (has_gsum && !have_count) return "_gcount must be present if _gsum is present: " + f.name;
        if (!(has_sum || has_gsum) && have_count) return "_sum/_gsum must be present if _count is present: " + f.name;
        if (negative_buckets && has_sum) return "cannot have _sum with negative buckets: " + f.name;
        if (!negative_buckets && negative_gsum) return "negative _gsum with non-negative buckets: " + f.name;
        return {};
    };
    for (const sample& s : f.samples) {
        const std::string g = group_key(s, f.name, f.type);
        if (!open || g != group) {
            if (open)
                if (std::string why = checks(); !why.empty()) return why;
            open = true;
            group = g;
            have_bucket = have_count = has_sum = has_gsum = negative_buckets = negative_gsum = false;
            value = 0;
        }
        const std::string suffix = s.name.substr(f.name.size());
        if (suffix == "_bucket") {
            double b = 0;
            if (!parse_number(*label(s, "le"), b)) return "bad le on " + s.name;
            if (b < 0) negative_buckets = true;
            if (have_bucket && !(b > bucket)) return "buckets out of order: " + f.name;
            if (s.value < value) return "bucket values out of order: " + f.name;
            bucket = b;
            have_bucket = true;
            value = s.value;
        } else if (suffix == "_count" || suffix == "_gcount") {
            have_count = true;
            count = s.value;
        } else if (suffix == "_sum") {
            has_sum = true;
        } else if (suffix == "_gsum") {
            has_gsum = true;
            if (s.value < 0) negative_gsum = true;
        }
    }
    if (open) return checks();
    return {};
}

}  // namespace detail_om

/// Checks an OpenMetrics 1.0 text exposition; returns why it is invalid, or empty when valid.
inline std::string check_openmetrics(std::string_view text) {
    using namespace detail_om;
    if (!vitals::detail::is_valid_utf8(text)) return "invalid UTF-8";
    std::vector<family> families;
    std::set<std::string> seen_names, seen_series;
    bool eof = false;
    std::size_t pos = 0, line_no = 0;
    auto fail = [&](const std::string& why) { return "line " + std::to_string(line_no) + ": " + why; };
    auto close_family = [&]() -> std::string {
        if (families.empty()) return {};
        const family& f = families.back();
        std::set<std::string> names;  // the names the family takes: its own and its samples'
        names.insert(f.name);
        for (const std::string& suffix : allowed_suffixes(f.type)) names.insert(f.name + suffix);
        for (const std::string& n : names)
            if (!seen_names.insert(n).second) return "clashing name: " + n;
        if (f.has_unit && !(f.name.size() > f.unit.size() + 1 && f.name.ends_with("_" + f.unit)))
            return "unit does not match metric name: " + f.name;
        if (f.has_unit && (f.type == "info" || f.type == "stateset")) return "units not allowed for " + f.type;
        if (f.type == "histogram" || f.type == "gaugehistogram") return check_histogram(f);
        return {};
    };
    std::set<std::string> groups_seen;
    std::string current_group;
    while (pos < text.size()) {
        ++line_no;
        const std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) return fail("missing final newline");
        const std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (eof) return fail("line after # EOF");
        if (line.empty()) return fail("blank line");
        if (line == "# EOF") {
            eof = true;
            continue;
        }
        if (line[0] == '#') {
            // # KIND name rest
            if (line.size() < 2 || line[1] != ' ') return fail("bad comment line");
            const std::size_t a = line.find(' ', 2);
            if (a == std::string_view::npos) return fail("metadata without name");
            const std::string_view kind = line.substr(2, a - 2);
            const std::size_t b = line.find(' ', a + 1);
            if (b == std::string_view::npos) return fail("metadata without value");
            const std::string name(line.substr(a + 1, b - a - 1));
            const std::string_view rest = line.substr(b + 1);
            if (!vitals::is_valid_metric_name(name)) return fail("bad metric name in metadata");
            if (!families.empty() && families.back().name == name && !families.back().samples.empty())
                return fail("metadata after samples");
            if (families.empty() || families.back().name != name) {
                if (std::string why = close_family(); !why.empty()) return fail(why);
                families.emplace_back(name);
                groups_seen.clear();
                current_group.clear();
            }
            family& f = families.back();
            if (kind == "HELP") {
                if (f.has_help) return fail("more than one HELP");
                f.has_help = true;
                for (std::size_t i = 0; i < rest.size(); ++i)
                    if (rest[i] == '\\' &&
                        (i + 1 == rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n' && rest[i + 1] != '"')))
                        return fail("bad escape in HELP");
                    else if (rest[i] == '\\')
                        ++i;
            } else if (kind == "TYPE") {
                if (f.has_type) return fail("more than one TYPE");
                static const std::set<std::string_view> types = {"counter", "gauge", "histogram", "gaugehistogram",
                                                                 "summary", "info",  "stateset",  "unknown"};
                if (!types.contains(rest)) return fail("invalid TYPE '" + std::string(rest) + "'");
                f.has_type = true;
                f.type = rest;
            } else if (kind == "UNIT") {
                if (f.has_unit) return fail("more than one UNIT");
                f.has_unit = true;
                f.unit = rest;
            } else {
                return fail("unknown metadata '" + std::string(kind) + "'");
            }
            continue;
        }

        // A sample: name[{labels}] value[ timestamp][ # {labels} value[ timestamp]]
        sample s;
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
        s.name = line.substr(0, i);
        if (!vitals::is_valid_metric_name(s.name)) return fail("bad sample name '" + s.name + "'");
        std::string why;
        if (i < line.size() && line[i] == '{' && !parse_labels(line, i, s.labels, why)) return fail(why);
        if (i >= line.size() || line[i] != ' ') return fail("no value");
        ++i;
        std::size_t end = line.find(' ', i);
        const std::string_view value = line.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
        if (!parse_number(value, s.value)) return fail("bad value '" + std::string(value) + "'");
        s.integral = std::isfinite(s.value) && s.value == std::floor(s.value);
        if (end != std::string_view::npos) {
            std::string_view tail = line.substr(end + 1);
            if (!tail.starts_with("# ")) {
                // A timestamp, then perhaps an exemplar.
                const std::size_t sp = tail.find(' ');
                double ts = 0;
                if (!parse_number(tail.substr(0, sp), ts) || !std::isfinite(ts)) return fail("bad timestamp");
                tail = sp == std::string_view::npos ? std::string_view{} : tail.substr(sp + 1);
                if (!tail.empty() && !tail.starts_with("# ")) return fail("junk after timestamp");
            }
            if (!tail.empty()) {
                // Exemplar: # {labels} value[ timestamp]
                std::size_t k = 2;
                if (k >= tail.size() || tail[k] != '{') return fail("exemplar without labels");
                std::vector<std::pair<std::string, std::string>> ex;
                if (!parse_labels(tail, k, ex, why)) return fail("exemplar: " + why);
                std::size_t runes = 0;
                for (const auto& [n, v] : ex) {
                    runes += code_points(n) + code_points(v);
                    // The Python parser ends an exemplar's labels at the first '}', even quoted.
                    if (v.find('}') != std::string::npos) return fail("'}' in an exemplar label value");
                }
                if (runes > 128) return fail("exemplar labels are too long");
                if (k >= tail.size() || tail[k] != ' ') return fail("exemplar without value");
                ++k;
                const std::size_t sp = tail.find(' ', k);
                double ev = 0;
                if (!parse_number(tail.substr(k, sp == std::string_view::npos ? sp : sp - k), ev))
                    return fail("bad exemplar value");
                if (sp != std::string_view::npos) {
                    double ts = 0;
                    if (!parse_number(tail.substr(sp + 1), ts) || !std::isfinite(ts))
                        return fail("bad exemplar timestamp");
                }
                s.has_exemplar = true;
            }
        }

        // Which family the sample belongs to: the open one if its type allows the name, else a
        // new family of unknown type.
        bool belongs = false;
        if (!families.empty())
            for (const std::string& suffix : allowed_suffixes(families.back().type))
                belongs |= s.name == families.back().name + suffix;
        if (!belongs) {
            if (std::string w = close_family(); !w.empty()) return fail(w);
            families.emplace_back(s.name);
            groups_seen.clear();
            current_group.clear();
        }
        family& f = families.back();
        const std::string suffix = s.name.substr(f.name.size());

        if (f.type == "stateset" && !label(s, f.name)) return fail("stateset missing label");
        if (suffix == "_bucket") {
            const std::string* le = label(s, "le");
            double b = 0;
            if (!le || *le == "NaN" || !parse_number(*le, b)) return fail("invalid le label");
            if (b == INFINITY && *le != "+Inf") return fail("uncanonical +Inf le");
            if (!s.integral) return fail("bucket value must be an integer");
        }
        if ((suffix == "_count" || suffix == "_gcount") && !s.integral) return fail("count value must be an integer");
        if (f.type == "summary" && suffix.empty()) {
            const std::string* q = label(s, "quantile");
            double qv = -1;
            if (!q || !parse_number(*q, qv) || !(qv >= 0 && qv <= 1)) return fail("invalid quantile label");
            if (s.value < 0) return fail("quantile values cannot be negative");
        }
        const std::string g = group_key(s, f.name, f.type);
        if (!f.samples.empty() && g != current_group && groups_seen.contains(g)) return fail("invalid metric grouping");
        current_group = g;
        groups_seen.insert(g);
        if (f.type == "stateset" && s.value != 0 && s.value != 1) return fail("stateset value not 0 or 1");
        if (f.type == "info" && s.value != 1) return fail("info value not 1");
        static const std::set<std::string_view> counter_like = {"_total",  "_sum",    "_count",
                                                                "_bucket", "_gcount", "_gsum"};
        if (counter_like.contains(suffix) && std::isnan(s.value)) return fail("counter-like sample is NaN");
        if (counter_like.contains(suffix) && suffix != "_gsum" && s.value < 0)
            return fail("counter-like sample is negative");
        if (s.has_exemplar && !((f.type == "histogram" || f.type == "gaugehistogram") && suffix == "_bucket") &&
            !(f.type == "counter" && suffix == "_total"))
            return fail("exemplar on a sample that cannot have one");
        std::string key = s.name;
        for (const auto& [k, v] : s.labels) key += '\x01' + k + '\x02' + v;
        if (!seen_series.insert(key).second) return fail("duplicate series " + s.name);
        f.samples.push_back(std::move(s));
    }
    if (std::string why = close_family(); !why.empty()) return why;
    if (!eof) return "missing # EOF at end";
    return {};
}

}  // namespace vitals_test
