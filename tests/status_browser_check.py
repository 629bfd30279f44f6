#!/usr/bin/env python3
"""Headless Chromium loads the demo's status page under traffic.

    status_browser_check.py SERVICE_BINARY SCREENSHOT.png

Starts the demo (slots every second, counts held for 60 s so that the page and its JSON show one
reading), sends it a bounded mix of requests (found, not found, created, failed, crashed), then
has Chromium (Debian's `chromium`) load /v1/status from the traffic port and the admin port. The
page must load without console errors (a CSP violation or a failed load is one), every SVG path
must have a non-empty `d`, and every number in the route and check tables must equal
?format=json's, formatted as the page formats it. The screenshot is kept at SCREENSHOT.png.
Skips (exit 77) without Chromium.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser

SKIP = 77


class Dom(HTMLParser):
    """The route rows, check rows and SVG paths of the page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows = []  # (kind, {class: text})
        self.paths = []  # (svg class, d)
        self._row = None
        self._cell = None
        self._svg = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and a.get("class") in ("window", "check"):
            self._row = (a["class"], {})
        elif tag == "td" and self._row is not None:
            self._cell = [c for c in a.get("class", "").split() if c != "n"]
            self._text = ""
        elif tag == "svg":
            self._svg = a.get("class", "")
        elif tag == "path":
            self.paths.append((self._svg, a.get("d", "")))

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None and self._cell:
            self._row[1][self._cell[0]] = self._text
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._text += data


def fixed(v, scale=1.0, decimals=3):
    return "\u2013" if v is None else "%.*f" % (decimals, v * scale)


def get(url, data=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def chromium(binary, url, workdir, *extra):
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--user-data-dir=" + os.path.join(workdir, "profile"),
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000", *extra, url]
    r = subprocess.run(args, capture_output=True, text=True, timeout=90)
    return r.returncode, r.stdout, r.stderr


def console_errors(stderr):
    bad = []
    for line in stderr.splitlines():
        if "CONSOLE" in line or "Refused to" in line or "Content Security Policy" in line \
                or "Failed to load resource" in line:
            bad.append(line)
    return bad


def compare(dom_html, data, errors, where):
    dom = Dom()
    dom.feed(dom_html)
    windows = [cells for kind, cells in dom.rows if kind == "window"]
    checks = [cells for kind, cells in dom.rows if kind == "check"]
    expected = []
    for r in data["routes"]:
        for i, w in enumerate(r["windows"]):
            e = {"rate": fixed(w["requests_per_second"]), "error-ratio": fixed(w["error_ratio"], 100),
                 "p50": fixed(w["p50_seconds"], 1e3), "p95": fixed(w["p95_seconds"], 1e3),
                 "p99": fixed(w["p99_seconds"], 1e3),
                 "errors": ", ".join(f"{k} {fixed(v)}" for k, v in w["errors_per_second"].items())}
            if i == 0:
                e["method"], e["endpoint"] = r["method"], r["endpoint"]
            expected.append(e)
    if len(windows) != len(expected):
        errors.append(f"{where}: {len(windows)} route rows shown, {len(expected)} in the JSON")
    for shown, want in zip(windows, expected):
        for k, v in want.items():
            if shown.get(k) != v:
                errors.append(f"{where}: {k} shown {shown.get(k)!r}, JSON says {v!r}")
    for shown, c in zip(checks, data["readiness"]["checks"]):
        for k, v in (("name", c["name"]), ("latency", fixed(c["latency_seconds"], 1e3)),
                     ("age", fixed(c["age_seconds"], 1, 1))):
            if shown.get(k) != v:
                errors.append(f"{where}: check {k} shown {shown.get(k)!r}, JSON says {v!r}")
    if len(checks) != len(data["readiness"]["checks"]):
        errors.append(f"{where}: {len(checks)} checks shown, {len(data['readiness']['checks'])} in the JSON")
    spark = [d for cls, d in dom.paths if cls.startswith("spark")]
    if len(spark) != 2 * len(data["routes"]):
        errors.append(f"{where}: {len(spark)} sparklines for {len(data['routes'])} routes")
    for cls, d in dom.paths:
        if not d.strip():
            errors.append(f"{where}: an empty path in svg.{cls}")
    if not any(d.count("L") >= 2 for cls, d in dom.paths if cls == "spark p99"):
        errors.append(f"{where}: no p99 sparkline has three points or more")
    return len(windows)


def main(service, screenshot):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("status_browser_check: skipped, no chromium (Debian package 'chromium')")
        return SKIP
    work = tempfile.mkdtemp(prefix="vitals-status-")
    proc = subprocess.Popen([service, "--host", "127.0.0.1", "--port", "0", "--admin-port", "0",
                             "--event-store", os.path.join(work, "events"), "--check-interval-ms", "200",
                             "--status-interval-ms", "1000", "--status-refresh-ms", "60000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    errors = []
    try:
        ports = {}
        deadline = time.monotonic() + 20
        while len(ports) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.match(r"(admin )?listening on (\d+)", line)
            if m:
                ports["admin" if m.group(1) else "main"] = int(m.group(2))
        if len(ports) < 2:
            print("status_browser_check: the demo did not start:", proc.stderr.read() if proc.poll() else "")
            return 1
        base = f"http://127.0.0.1:{ports['main']}"
        # Traffic over three slots: bounded in count (4 × 40 × 4 requests) and in time.
        for rnd in range(4):
            for i in range(40):
                get(base + "/v1/events/1")
                get(base + "/v1/events/999")
                get(base + "/v1/events", data=b"payload %d" % i)
                get(base + ("/v1/fail" if i % 4 else "/v1/crash"))
            time.sleep(1.05)
        for name, port in (("main", ports["main"]), ("admin", ports["admin"])):
            url = f"http://127.0.0.1:{port}/v1/status"
            status, body = get(url + "?format=json")
            if status != 200:
                errors.append(f"{name}: ?format=json answered {status}")
                continue
            data = json.loads(body)
            rc, dom, err = chromium(browser, url, work, "--dump-dom")
            if rc != 0 or "<html" not in dom:
                errors.append(f"{name}: chromium --dump-dom failed ({rc}): {err[-2000:]}")
                continue
            errors += [f"{name}: console: {line}" for line in console_errors(err)]
            status, body = get(url + "?format=json")
            after = json.loads(body)
            if after["as_of"] != data["as_of"]:
                errors.append(f"{name}: the JSON changed while the page loaded (as_of)")
            rows = compare(dom, data, errors, name)
            print(f"status_browser_check: {name}: {rows} route rows, {len(data['readiness']['checks'])} checks compared")
        # The console check can fail: a page that logs an error must be caught by it.
        _, _, err = chromium(browser, "data:text/html,<p>x</p><script>console.error('planted')</script>", work,
                             "--dump-dom")
        if not any("planted" in line for line in console_errors(err)):
            errors.append("a planted console error was not seen: the console check is blind")
        rc, _, err = chromium(browser, base + "/v1/status", work, "--screenshot=" + screenshot,
                              "--window-size=1400,1000", "--hide-scrollbars")
        errors += [f"screenshot: console: {line}" for line in console_errors(err)]
        if rc != 0 or not os.path.exists(screenshot) or os.path.getsize(screenshot) < 1000:
            errors.append(f"no screenshot ({rc}): {err[-2000:]}")
        else:
            print(f"status_browser_check: screenshot {screenshot} ({os.path.getsize(screenshot)} bytes)")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    for e in errors:
        print("status_browser_check:", e)
    if not errors:
        print("status_browser_check: ok")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
