#!/usr/bin/env python3
"""Slow clients against the demo service, as an attacker would try them, on loopback only.

Starts SERVICE (examples/service) with --port 0 --admin-port 0, holds SLOW connections that send
a request head one byte every INTERVAL seconds and IDLE keep-alive connections that made one
request and then say nothing, and meanwhile probes /v1/health on the traffic port and /health on
the admin port (a new connection each, TIMEOUT seconds each). Prints how many probes were
answered and their p50/p99, then stops everything. Every loop is bounded.

    scripts/slowloris.py SERVICE [--slow 64] [--idle 64] [--probes 20] [--interval 2]
                                 [--timeout 2] [--no-admin]

--no-admin leaves out --admin-port (for a build of the demo that predates it).
"""
import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import time


def start(service, admin):
    args = [service, "--port", "0", "--host", "127.0.0.1"] + (["--admin-port", "0"] if admin else [])
    env = dict(os.environ, EVENT_STORE_DIR="/tmp/slowloris-event-store")
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    port = admin_port = None
    # Blocking reads of whole lines, bounded by an alarm (select() would not see lines that the
    # file object has already buffered).
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError()))
    signal.alarm(20)
    try:
        while port is None:
            line = p.stdout.readline().decode()
            if not line:
                break
            if line.startswith("admin listening on "):
                admin_port = int(line.split()[-1])
            elif line.startswith("listening on "):
                port = int(line.split()[-1])
    except TimeoutError:
        pass
    signal.alarm(0)
    if port is None:
        p.kill()
        sys.exit("service did not start")
    return p, port, admin_port


def probe(port, path, timeout):
    """Seconds to a complete answer on a new connection, or None."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while time.monotonic() - t0 < timeout:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"HTTP/1.1 200"):
                return time.monotonic() - t0
    except OSError:
        pass
    return None


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("service")
    ap.add_argument("--slow", type=int, default=64)
    ap.add_argument("--idle", type=int, default=64)
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--no-admin", action="store_true")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    proc, port, admin_port = start(a.service, not a.no_admin)
    head = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000
    held = []
    try:
        for _ in range(a.slow):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setblocking(False)
            s.send(head[:1])
            held.append(("slow", s))
        for _ in range(a.idle):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.setblocking(False)
            held.append(("idle", s))
        time.sleep(0.5)
        results = {"traffic /v1/health": [], "admin /health": []}
        answered = {k: 0 for k in results}
        sent = 1
        last_drip = time.monotonic()
        for i in range(a.probes):
            if time.monotonic() - last_drip >= a.interval:
                for kind, s in held:
                    if kind == "slow":
                        try:
                            s.send(head[sent:sent + 1])
                        except OSError:
                            pass
                sent += 1
                last_drip = time.monotonic()
            for name, (p, path) in {"traffic /v1/health": (port, "/v1/health"),
                                    "admin /health": (admin_port, "/health")}.items():
                if p is None:
                    continue
                t = probe(p, path, a.timeout)
                if t is not None:
                    answered[name] += 1
                    results[name].append(t * 1000)
        closed = 0
        for kind, s in held:
            try:
                for _ in range(64):  # what the server sent, then its close (bounded)
                    if s.recv(65536) == b"":
                        closed += 1
                        break
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        print(f"{a.slow} slow (a byte every {a.interval:g} s) + {a.idle} idle keep-alive connections held; "
              f"{closed} of them closed by the server during the run")
        for name, ms in results.items():
            if name.startswith("admin") and admin_port is None:
                continue
            print(f"  {name}: {answered[name]}/{a.probes} answered within {a.timeout:g} s"
                  + (f", p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms" if ms else ""))
    finally:
        for _, s in held:
            s.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
