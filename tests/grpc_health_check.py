#!/usr/bin/env python3
"""examples/grpc_service's grpc.health.v1 service probed by an independent client: Python's grpcio
(Debian's python3-grpcio) with stubs that grpc_tools.protoc (python3-grpc-tools) generates from
Debian's grpc-proto health.proto. A real redis-server, started here, goes down and up: Check must
answer SERVING / NOT_SERVING accordingly, and a Watch stream must see both changes. Then the
admin port's scrape must count exactly the Checks made (promtool accepts it), and SIGTERM must
send NOT_SERVING to the watcher, end its stream and stop the service.

    grpc_health_check.py SERVICE_BINARY
"""
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

PROTO_DIR = "/usr/share/grpc-proto/grpc/health/v1"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stubs(out):
    """Generates health_pb2 and health_pb2_grpc into `out` and imports them."""
    from grpc_tools import protoc  # python3-grpc-tools

    rc = protoc.main(["protoc", "-I" + PROTO_DIR, "--python_out=" + out, "--grpc_python_out=" + out,
                      os.path.join(PROTO_DIR, "health.proto")])
    if rc != 0:
        fail("grpc_tools.protoc failed on " + PROTO_DIR + "/health.proto")
    sys.path.insert(0, out)
    import health_pb2
    import health_pb2_grpc
    return health_pb2, health_pb2_grpc


class Redis:
    def __init__(self, workdir):
        self.exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(self.exe):
            fail("redis-server not found: apt-get install redis-server")
        self.port = free_port()
        self.dir = workdir
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        fail("redis-server did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


def main(binary):
    import grpc  # python3-grpcio

    work = tempfile.mkdtemp(prefix="vitals-grpc-health-")
    svc = None
    redis = Redis(work)
    try:
        pb2, pb2_grpc = stubs(work)
        redis.start()
        svc = subprocess.Popen([binary, "--port", "0", "--admin-port", "0", "--redis", "127.0.0.1:%d" % redis.port],
                               stdout=subprocess.PIPE, text=True)
        ports = {}
        deadline = time.time() + 15
        while len(ports) < 2 and time.time() < deadline:
            line = svc.stdout.readline()
            if not line:
                fail("the service exited before listening")
            if line.startswith("admin listening on "):
                ports["admin"] = int(line.split()[-1])
            elif line.startswith("listening on "):
                ports["grpc"] = int(line.split()[-1])
        if len(ports) < 2:
            fail("the service did not print both ports")
        channel = grpc.insecure_channel("127.0.0.1:%d" % ports["grpc"])
        stub = pb2_grpc.HealthStub(channel)
        S = pb2.HealthCheckResponse
        checks = 0

        def check(service):
            nonlocal checks
            checks += 1
            return stub.Check(pb2.HealthCheckRequest(service=service), timeout=5).status

        def await_status(service, want):
            last = None
            for _ in range(200):  # 10 s at most
                last = check(service)
                if last == want:
                    return
                time.sleep(0.05)
            fail("Check(%r) = %s, wanted %s" % (service, S.ServingStatus.Name(last), S.ServingStatus.Name(want)))

        await_status("", S.SERVING)
        await_status("vitals.example.KeyValue", S.SERVING)
        try:
            check("no.such.Service")
            fail("Check of an unknown service answered")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                fail("unknown service: %s, wanted NOT_FOUND" % e.code())

        seen = queue.Queue()
        watch = stub.Watch(pb2.HealthCheckRequest(service="vitals.example.KeyValue"), timeout=60)

        def reader():
            try:
                for r in watch:
                    seen.put(r.status)
                seen.put("end")
            except grpc.RpcError as e:
                seen.put("error: %s" % e.code())

        t = threading.Thread(target=reader, daemon=True)
        t.start()

        def expect_watch(want):
            try:
                got = seen.get(timeout=10)
            except queue.Empty:
                fail("Watch sent nothing within 10 s, wanted %s" % want)
            if got != want:
                fail("Watch sent %r, wanted %r" % (got, want))

        expect_watch(S.SERVING)
        redis.stop()
        await_status("vitals.example.KeyValue", S.NOT_SERVING)
        await_status("", S.NOT_SERVING)
        expect_watch(S.NOT_SERVING)
        redis.start()
        await_status("vitals.example.KeyValue", S.SERVING)
        expect_watch(S.SERVING)
        print("ok: Check and Watch followed redis down and up (%d checks)" % checks)

        scrape = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % ports["admin"], timeout=5).read().decode()
        started = sum(float(l.rsplit(" ", 1)[1]) for l in scrape.splitlines()
                      if l.startswith("grpc_server_started_total{") and 'grpc_method="Check"' in l)
        if started != checks + 1:  # the service's own Check at start
            fail("grpc_server_started_total{Check} = %s, wanted %d" % (started, checks + 1))
        not_found = [l for l in scrape.splitlines() if l.startswith("grpc_server_handled_total{")
                     and 'grpc_method="Check"' in l and 'grpc_code="NotFound"' in l]
        if len(not_found) != 1 or not not_found[0].endswith(" 1"):
            fail("handled{Check,NotFound}: %s" % not_found)
        promtool = shutil.which("promtool") or "/usr/bin/promtool"
        r = subprocess.run([promtool, "check", "metrics"], input=scrape, capture_output=True, text=True)
        if r.returncode != 0:
            fail("promtool check metrics: " + r.stdout + r.stderr)
        print("ok: scrape counts %d Checks, promtool accepts it" % checks)

        svc.send_signal(signal.SIGTERM)
        expect_watch(S.NOT_SERVING)
        expect_watch("end")
        if svc.wait(timeout=10) != 0:
            fail("the service exited with %s" % svc.returncode)
        svc = None
        print("ok: SIGTERM sent NOT_SERVING to the watcher and ended its stream")
    finally:
        if svc:
            svc.kill()
            svc.wait()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
