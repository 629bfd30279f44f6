#!/usr/bin/env python3
"""Checks ops/kubernetes against itself, against ops/prometheus and against the demo's routes:

- every manifest has the kind and apiVersion it should;
- the Service's selector, the ServiceMonitor's and the PodMonitor's select what they should (the
  Deployment's pods, the Service), and the ports they name exist there;
- probes and scrape paths are routes examples/service.cpp serves, on a port of the container;
- the ServiceMonitor's and PodMonitor's job name is the one rules.yml's vitals_target:up selects,
  which is also scrape.yml's job;
- prometheusrule.yaml carries exactly rules.yml's groups and is what generate_prometheusrule.py
  writes;
- every rule of rules.yml is exercised by rules_test.yml (alerts both firing and not firing);
- grpc-service.yaml (examples/grpc_service.cpp, found beside service.cpp): its Service selects
  its pods, its `grpc:` probes ask the port the example's --port gives, liveness asks a name the
  example answers as live, readiness the empty name (overall readiness).

A selector that only half matches, or a renamed port, is accepted by kubectl and fails silently
in the cluster (no targets, a probe against nothing): hence this check.

    ops_kubernetes_check.py OPS_DIR path/to/examples/service.cpp
"""
import importlib.util
import pathlib
import re
import sys

import yaml

errors = []


def fail(msg):
    errors.append(msg)


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def expect_kind(doc, name, api_version, kind):
    if doc.get("apiVersion") != api_version or doc.get("kind") != kind:
        fail(f"{name}: expected {api_version} {kind}, got {doc.get('apiVersion')} {doc.get('kind')}")


def match_labels(selector, labels, what):
    """selector.matchLabels (or a plain Service selector) must be non-empty and a subset of labels."""
    if "matchExpressions" in selector:
        fail(f"{what}: matchExpressions are not checked here; use matchLabels")
    wanted = selector["matchLabels"] if "matchLabels" in selector else selector
    if not wanted:
        fail(f"{what}: empty selector (would select everything)")
        return
    for k, v in wanted.items():
        if labels.get(k) != v:
            fail(f"{what}: selects {k}={v!r}, but the target has {k}={labels.get(k)!r}")


def demo_routes(service_cpp):
    text = pathlib.Path(service_cpp).read_text()
    return set(re.findall(r'\bget\("(/[^"]*)"', text))


def main(ops_dir, service_cpp):
    ops = pathlib.Path(ops_dir)
    k8s = ops / "kubernetes"
    routes = demo_routes(service_cpp)
    if not {"/v1/health", "/v1/ready", "/v1/metrics"} <= routes:
        fail(f"{service_cpp}: expected the routes /v1/health, /v1/ready, /v1/metrics, found {sorted(routes)}")

    scrape = load(ops / "prometheus" / "scrape.yml")
    rules = load(ops / "prometheus" / "rules.yml")
    rules_test = load(ops / "prometheus" / "rules_test.yml")
    deployment = load(k8s / "deployment.yaml")
    service = load(k8s / "service.yaml")
    service_monitor = load(k8s / "servicemonitor.yaml")
    pod_monitor = load(k8s / "podmonitor.yaml")
    prometheus_rule = load(k8s / "prometheusrule.yaml")

    expect_kind(deployment, "deployment.yaml", "apps/v1", "Deployment")
    expect_kind(service, "service.yaml", "v1", "Service")
    expect_kind(service_monitor, "servicemonitor.yaml", "monitoring.coreos.com/v1", "ServiceMonitor")
    expect_kind(pod_monitor, "podmonitor.yaml", "monitoring.coreos.com/v1", "PodMonitor")
    expect_kind(prometheus_rule, "prometheusrule.yaml", "monitoring.coreos.com/v1", "PrometheusRule")

    # The job the rules select, and the one scrape.yml names: the monitors must produce it.
    jobs = [r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("record") == "vitals_target:up"]
    m = re.fullmatch(r'\s*up\{job="([^"]+)"\}\s*', jobs[0]) if len(jobs) == 1 else None
    if not m:
        fail(f"rules.yml: expected one vitals_target:up rule of the form up{{job=\"...\"}}, got {jobs}")
        rules_job = None
    else:
        rules_job = m.group(1)
    scrape_jobs = {c["job_name"]: c for c in scrape["scrape_configs"]}
    if rules_job not in scrape_jobs:
        fail(f"scrape.yml: no job {rules_job!r}, the job rules.yml's vitals_target:up selects")
    metrics_path = scrape_jobs.get(rules_job, {}).get("metrics_path", "/metrics")
    if metrics_path not in routes:
        fail(f"scrape.yml: metrics_path {metrics_path} is not a route of the demo")
    # Every alert on targets goes through the one selector, never a job of its own.
    for g in rules["groups"]:
        for r in g["rules"]:
            if "alert" in r and re.search(r"\bjob\s*=", r["expr"]):
                fail(f"rules.yml: {r['alert']} selects a job itself; use vitals_target:up")

    # Deployment: its selector, its container's ports and probes.
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"].get("labels", {})
    match_labels(deployment["spec"]["selector"], pod_labels, "deployment.yaml spec.selector")
    containers = pod["spec"]["containers"]
    if len(containers) != 1:
        fail(f"deployment.yaml: expected one container, got {len(containers)}")
    container = containers[0]
    named_ports = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    numbers = {p["containerPort"] for p in container.get("ports", [])}
    if "http" not in named_ports:
        fail("deployment.yaml: the container has no port named http")
    args = container.get("args", [])
    if "--port" in args and int(args[args.index("--port") + 1]) != named_ports.get("http"):
        fail(f"deployment.yaml: the demo listens on --port {args[args.index('--port') + 1]}, "
             f"but the http port is {named_ports.get('http')}")
    for probe_name, path in (("startupProbe", "/v1/health"), ("livenessProbe", "/v1/health"),
                             ("readinessProbe", "/v1/ready")):
        probe = container.get(probe_name)
        if not probe or "httpGet" not in probe:
            fail(f"deployment.yaml: no {probe_name} with httpGet")
            continue
        get = probe["httpGet"]
        if get.get("path") != path:
            fail(f"deployment.yaml: {probe_name} asks {get.get('path')}, expected {path}")
        if get.get("path") not in routes:
            fail(f"deployment.yaml: {probe_name} path {get.get('path')} is not a route of the demo")
        port = get.get("port")
        if port not in named_ports and port not in numbers:
            fail(f"deployment.yaml: {probe_name} port {port!r} is not a port of the container")
    if "startupProbe" in container and "initialDelaySeconds" in container.get("livenessProbe", {}):
        fail("deployment.yaml: livenessProbe.initialDelaySeconds next to a startupProbe (which replaces it)")
    annotations = pod["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/path", metrics_path) != metrics_path:
        fail("deployment.yaml: prometheus.io/path differs from scrape.yml's metrics_path")
    if annotations.get("prometheus.io/port") not in (None, str(named_ports.get("http"))):
        fail("deployment.yaml: prometheus.io/port is not the container's http port")
    env = {e["name"] for e in container.get("env", [])}
    if "SERVICE_NAME" not in env:
        fail("deployment.yaml: SERVICE_NAME (the service label) is not set")

    # Service: selects the pods, targets a container port.
    service_labels = service["metadata"].get("labels", {})
    match_labels(service["spec"]["selector"], pod_labels, "service.yaml spec.selector")
    service_ports = {p.get("name") for p in service["spec"]["ports"]}
    for p in service["spec"]["ports"]:
        target = p.get("targetPort", p["port"])
        if target not in named_ports and target not in numbers:
            fail(f"service.yaml: targetPort {target!r} is not a port of the container")

    def check_endpoint(name, ep, ports, what):
        if ep.get("port") not in ports:
            fail(f"{name}: endpoint port {ep.get('port')!r} is not a named port of the {what} {sorted(ports)}")
        if ep.get("path") != metrics_path:
            fail(f"{name}: path {ep.get('path')} differs from scrape.yml's metrics_path {metrics_path}")
        if ep.get("honorLabels") is not True:
            fail(f"{name}: honorLabels must be true, or a target label `service` renames vitals' own")

    def check_job(name, spec, labels):
        key = spec.get("jobLabel")
        if key is None or labels.get(key) != rules_job:
            fail(f"{name}: jobLabel {key!r} gives job {labels.get(key)!r}; rules.yml selects job {rules_job!r}")

    # ServiceMonitor: selects the Service, scrapes one of its named ports.
    sm = service_monitor["spec"]
    match_labels(sm["selector"], service_labels, "servicemonitor.yaml spec.selector")
    if not sm.get("endpoints"):
        fail("servicemonitor.yaml: no endpoints")
    for ep in sm.get("endpoints", []):
        check_endpoint("servicemonitor.yaml", ep, service_ports, "Service")
    check_job("servicemonitor.yaml", sm, service_labels)

    # PodMonitor: selects the pods, scrapes one of the container's named ports.
    pm = pod_monitor["spec"]
    match_labels(pm["selector"], pod_labels, "podmonitor.yaml spec.selector")
    if not pm.get("podMetricsEndpoints"):
        fail("podmonitor.yaml: no podMetricsEndpoints")
    for ep in pm.get("podMetricsEndpoints", []):
        check_endpoint("podmonitor.yaml", ep, set(named_ports), "container")
    check_job("podmonitor.yaml", pm, pod_labels)

    # PrometheusRule: the same groups as rules.yml, and the generator's output.
    if prometheus_rule.get("spec", {}).get("groups") != rules["groups"]:
        fail("prometheusrule.yaml: its groups differ from rules.yml's; run ops/kubernetes/generate_prometheusrule.py")
    spec = importlib.util.spec_from_file_location("generate_prometheusrule", k8s / "generate_prometheusrule.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    if (k8s / "prometheusrule.yaml").read_text() != gen.generate((ops / "prometheus" / "rules.yml").read_text()):
        fail("prometheusrule.yaml: not what generate_prometheusrule.py writes (edited by hand?); rerun it")

    # Coverage of rules_test.yml: each record evaluated, each alert seen firing and not firing.
    exprs = " ".join(t["expr"] for case in rules_test["tests"] for t in case.get("promql_expr_test", []))
    alert_cases = {}
    for case in rules_test["tests"]:
        for t in case.get("alert_rule_test", []):
            alert_cases.setdefault(t["alertname"], set()).add(bool(t.get("exp_alerts")))
    for g in rules["groups"]:
        for r in g["rules"]:
            if "record" in r and not re.search(r"(?<![\w:])" + re.escape(r["record"]) + r"(?![\w:])", exprs):
                fail(f"rules_test.yml: no promql_expr_test evaluates {r['record']}")
            if "alert" in r and alert_cases.get(r["alert"]) != {True, False}:
                fail(f"rules_test.yml: {r['alert']} needs a case where it fires and one where it does not")

    check_grpc(k8s / "grpc-service.yaml", pathlib.Path(service_cpp).parent / "grpc_service.cpp")

    for e in errors:
        print("ops/kubernetes:", e, file=sys.stderr)
    if not errors:
        print(f"ops/kubernetes: 6 manifests and {sum(len(g['rules']) for g in rules['groups'])} rules consistent")
    return 1 if errors else 0


# --- gRPC (grpc-service.yaml) ---
def check_grpc(manifest, grpc_cpp):
    """The gRPC example's Deployment and Service, and its probes against what the example answers."""
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    kinds = {d.get("kind"): d for d in docs}
    if set(kinds) != {"Deployment", "Service"}:
        fail(f"grpc-service.yaml: expected a Deployment and a Service, got {sorted(kinds)}")
        return
    deployment, service = kinds["Deployment"], kinds["Service"]
    expect_kind(deployment, "grpc-service.yaml", "apps/v1", "Deployment")
    expect_kind(service, "grpc-service.yaml", "v1", "Service")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"].get("labels", {})
    match_labels(deployment["spec"]["selector"], labels, "grpc-service.yaml Deployment spec.selector")
    match_labels(service["spec"]["selector"], labels, "grpc-service.yaml Service spec.selector")
    container = pod["spec"]["containers"][0]
    named = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    for p in service["spec"]["ports"]:
        if p.get("targetPort", p["port"]) not in set(named) | set(named.values()):
            fail(f"grpc-service.yaml: Service targetPort {p.get('targetPort')!r} is not a container port")
    args = container.get("args", [])
    grpc_port = int(args[args.index("--port") + 1]) if "--port" in args else None
    if grpc_port is None or named.get("grpc") != grpc_port:
        fail(f"grpc-service.yaml: --port {grpc_port} is not the container's grpc port {named.get('grpc')}")
    admin = int(args[args.index("--admin-port") + 1]) if "--admin-port" in args else None
    if str(admin) != pod["metadata"].get("annotations", {}).get("prometheus.io/port"):
        fail("grpc-service.yaml: prometheus.io/port is not --admin-port")
    text = grpc_cpp.read_text()
    live = set(re.findall(r'live_services = \{([^}]*)\}', text))
    live_names = {n for group in live for n in re.findall(r'"([^"]*)"', group)}
    for name, want_live in (("startupProbe", True), ("livenessProbe", True), ("readinessProbe", False)):
        probe = container.get(name, {}).get("grpc")
        if not probe:
            fail(f"grpc-service.yaml: no {name} with grpc")
            continue
        if probe.get("port") != grpc_port:  # the kubelet's grpc probe takes a number only
            fail(f"grpc-service.yaml: {name} asks port {probe.get('port')!r}, the example listens on {grpc_port}")
        svc = probe.get("service", "")
        if want_live and svc not in live_names:
            fail(f"grpc-service.yaml: {name} asks {svc!r}, which grpc_service.cpp does not answer as live "
                 f"({sorted(live_names)}): a dependency outage would restart the pod")
        if not want_live and svc != "":
            fail(f"grpc-service.yaml: {name} asks {svc!r}; readiness is the empty name (overall readiness)")
# --- end gRPC ---


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
