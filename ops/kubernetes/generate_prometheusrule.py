#!/usr/bin/env python3
"""Writes prometheusrule.yaml, the Prometheus Operator's PrometheusRule holding the groups of
ops/prometheus/rules.yml, so that the rules are written (and promtool-tested) in one place.

    ops/kubernetes/generate_prometheusrule.py            # rewrite prometheusrule.yaml
    ops/kubernetes/generate_prometheusrule.py --check    # exit 1 if it is out of date

The groups are copied as text, indented under `spec:`, so that the comments explaining each rule
survive; tests/ops_kubernetes_check.py also compares the two files' groups structurally.
"""
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
RULES = HERE.parent / "prometheus" / "rules.yml"
OUT = HERE / "prometheusrule.yaml"

HEADER = """\
# GENERATED from ops/prometheus/rules.yml by ops/kubernetes/generate_prometheusrule.py: edit
# rules.yml and run the script, never this file. The Prometheus Operator loads the groups below
# into every Prometheus whose ruleSelector matches this resource's labels (kube-prometheus-stack's
# Helm chart wants release: <release name> unless told otherwise).
#
# Checked by tests/ops_kubernetes_check.py (meson test --suite ops): its groups equal rules.yml's,
# which promtool checks and tests.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: vitals
  labels:
    app.kubernetes.io/name: vitals-demo
spec:
"""


def generate(rules_text):
    lines = rules_text.splitlines()
    # rules.yml's own header describes the file for Prometheus; the groups start at `groups:`.
    start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
    body = ["  " + line if line.strip() else "" for line in lines[start:]]
    return HEADER + "\n".join(body) + "\n"


def main(argv):
    text = generate(RULES.read_text())
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run {pathlib.Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
