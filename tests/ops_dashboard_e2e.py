#!/usr/bin/env python3
"""The shipped Grafana dashboard against the demo's real output: Prometheus 2.42 scrapes the demo
service (examples/service) while requests of every kind reach it, then the dashboard's variables
and every panel's expression are queried as Grafana would send them, and each must return series.

A panel whose expression names a label the demo does not set, or a metric it does not export, or
whose $service/$environment selection matches nothing, comes back empty here.

    ops_dashboard_e2e.py SERVICE_BINARY DASHBOARD_JSON [PROMETHEUS]

Skips (exit 77) without Prometheus. Every loop is bounded in count and time; both processes are
stopped at the end.
"""
import json
import os
import pathlib
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SERVICE, ENVIRONMENT = "dashboard-e2e", "ci"
RATE_INTERVAL = "20s"  # Grafana's $__rate_interval for a 1s scrape interval is at least 4 scrapes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def wait_for_line(proc, prefix, seconds):
    """The rest of the first stdout line that starts with `prefix`, or None after `seconds`."""
    deadline = time.monotonic() + seconds
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if not ready:
            if proc.poll() is not None:
                return None
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            return None
        buf += chunk
        for line in buf.decode(errors="replace").splitlines():
            if line.startswith(prefix):
                return line[len(prefix):].strip()
    return None


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def traffic(port, rounds):
    """Requests of every kind the panels show: successes, client errors, health and readiness."""
    base = f"http://127.0.0.1:{port}"
    for i in range(rounds):
        get(base + "/v1/health")
        get(base + "/v1/ready")
        get(base + "/v1/events/1")
        get(base + f"/v1/events/{900 + i}")  # 404: a failed request
        get(base + "/v1/ready/no_such_check")
        get(base + "/v1/metrics")


def panel_queries(dashboard):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = (target["expr"].replace("$service", SERVICE).replace("$environment", ENVIRONMENT)
                    .replace("$__rate_interval", RATE_INTERVAL))
            yield panel["title"], expr


def main(service_binary, dashboard_path, prometheus=None):
    prometheus = prometheus or shutil.which("prometheus") or "/usr/bin/prometheus"
    if not os.access(prometheus, os.X_OK):
        print("prometheus not found: skipped")
        return 77
    dashboard = json.loads(pathlib.Path(dashboard_path).read_text())
    tmp = tempfile.mkdtemp(prefix="vitals-dashboard-")
    svc = prom = None
    try:
        env = dict(os.environ, SERVICE_NAME=SERVICE, ENVIRONMENT=ENVIRONMENT,
                   EVENT_STORE_DIR=os.path.join(tmp, "events"))
        for var in ("DATABASE_URL", "REDIS_URL", "REDIS_HOST"):
            env.pop(var, None)
        svc = subprocess.Popen([service_binary, "--port", "0", "--host", "127.0.0.1"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env)
        port = wait_for_line(svc, "listening on", 20)
        if not port:
            print("the demo service did not start")
            return 1
        port = int(port)
        prom_port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        pathlib.Path(config).write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: vitals-dashboard\n    metrics_path: /v1/metrics\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
        prom = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp}/data",
                                 f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        api = f"http://127.0.0.1:{prom_port}/api/v1"
        # Traffic while Prometheus takes a few scrapes: rate() needs two samples in its window.
        deadline = time.monotonic() + 60
        scraped = False
        while time.monotonic() < deadline:
            traffic(port, 3)
            code, body = get(f"{api}/query?query=" + urllib.parse.quote("count_over_time(up[1m])"))
            if code == 200 and '"result":[{' in body:
                v = json.loads(body)["data"]["result"][0]["value"][1]
                if float(v) >= 6:
                    scraped = True
                    break
            time.sleep(0.5)
        if not scraped:
            print("Prometheus did not scrape the demo six times within 60 s")
            return 1
        failures = 0
        # The variables, as Grafana's label_values() asks for them.
        for label, match, want in (("environment", "uptime_seconds", ENVIRONMENT),
                                   ("service", f'uptime_seconds{{environment=~"{ENVIRONMENT}"}}', SERVICE)):
            code, body = get(f"{api}/label/{label}/values?" + urllib.parse.urlencode({"match[]": match}))
            values = json.loads(body)["data"] if code == 200 else []
            ok = want in values
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} variable ${label}: {values}")
        for title, expr in panel_queries(dashboard):
            code, body = get(f"{api}/query?query=" + urllib.parse.quote(expr), timeout=5)
            result = json.loads(body)["data"]["result"] if code == 200 else None
            ok = bool(result)
            failures += not ok
            shown = f"{len(result)} series" if result else (f"HTTP {code}: {body[:200]}" if code != 200 else "empty")
            print(f"{'ok  ' if ok else 'FAIL'} {title}: {shown}\n      {expr}")
        print(f"dashboard against the demo: {failures} failure(s)")
        return 1 if failures else 0
    finally:
        stop(prom)
        stop(svc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
