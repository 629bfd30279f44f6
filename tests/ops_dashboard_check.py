#!/usr/bin/env python3
"""Checks ops/grafana/vitals-dashboard.json: valid JSON, a recent schema, the $service and
$environment variables, and PromQL that only names metrics vitals exports (so a renamed metric
cannot leave a dashboard panel silently empty).

    ops_dashboard_check.py path/to/vitals-dashboard.json
"""
import json
import re
import sys

# Every metric name a vitals service exports, in one place. Histograms add _bucket, _sum, _count.
VITALS_COUNTERS = {
    "service_starts_total", "http_requests_total", "http_requests_failed_total",
    "process_cpu_seconds_total",
}
VITALS_GAUGES = {
    "uptime_seconds", "http_requests_in_flight", "health_check_up",
    "process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
    "process_max_fds", "process_start_time_seconds", "vitals_build_info",
}
VITALS_HISTOGRAMS = {"http_request_duration_seconds", "health_check_duration_seconds"}
# Written by Prometheus itself for every target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

ALLOWED = (VITALS_COUNTERS | VITALS_GAUGES | PROMETHEUS_SERIES
           | {h + s for h in VITALS_HISTOGRAMS for s in ("_bucket", "_sum", "_count")})

# What the dashboard must show: rate, errors, duration, uptime, readiness.
REQUIRED = {"http_requests_total", "http_requests_failed_total", "http_request_duration_seconds_bucket",
            "uptime_seconds", "health_check_up"}

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset", "inf", "nan", "atan2"}


def metric_names(expr):
    """Metric names in a PromQL expression: identifiers that are not functions, keywords, label
    names (in {...}, by (...) and friends), durations, numbers or Grafana variables."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)        # string literals
    e = re.sub(r"\$\{[^}]*\}|\$\w+", "1", e)                                  # Grafana variables
    e = re.sub(r"\{[^}]*\}", "", e)                                            # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                                           # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def main(path):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    errors = []
    if dash.get("schemaVersion", 0) < 36:
        errors.append(f"schemaVersion {dash.get('schemaVersion')} is older than 36")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    for needed in ("service", "environment"):
        if needed not in variables:
            errors.append(f"no ${needed} template variable")
    used = set()
    for name, v in variables.items():
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", q)
        if not m:
            errors.append(f"variable {name}: expected label_values(<selector>, <label>), got {q!r}")
            continue
        found = metric_names(m.group(1))
        used |= found
        for n in found - ALLOWED:
            errors.append(f"variable {name}: {n!r} is not a metric vitals exports")
    panels = list(walk_panels(dash.get("panels", [])))
    if not panels:
        errors.append("no panels")
    for p in panels:
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            if not expr.strip():
                errors.append(f"panel {p.get('title')!r}: target {t.get('refId')} has no expr")
                continue
            for v in ("$service", "$environment"):
                if v not in expr:
                    errors.append(f"panel {p.get('title')!r}: expr does not filter on {v}: {expr}")
            found = metric_names(expr)
            if not found:
                errors.append(f"panel {p.get('title')!r}: no metric name found in {expr}")
            used |= found
            for n in sorted(found - ALLOWED):
                errors.append(f"panel {p.get('title')!r}: {n!r} is not a metric vitals exports ({expr})")
    for n in sorted(REQUIRED - used):
        errors.append(f"no panel shows {n}")
    for e in errors:
        print("vitals-dashboard.json:", e)
    if not errors:
        print(f"ok: {len(panels)} panels, metrics used: {', '.join(sorted(used))}")
    return 1 if errors else 0


if __name__ == "__main__":
    # Self-check of the extractor, so a regex slip cannot let everything through.
    assert metric_names('sum by (le) (rate(a_bucket{x="y",le!="1"}[5m])) / on(j) group_left(v) b_info') == {"a_bucket", "b_info"}
    assert metric_names('histogram_quantile(0.99, sum by (le) (rate(x_bucket{s=~"$service"}[$__rate_interval])))') == {"x_bucket"}
    assert metric_names("resets(uptime_seconds[1h]) > 0 and up == 1") == {"uptime_seconds", "up"}
    sys.exit(main(sys.argv[1]))
