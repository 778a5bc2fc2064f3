#!/usr/bin/env python3
"""Write deploy/kubernetes/prometheusrule.yaml from deploy/prometheus/plex-sharing-rules.yml.

The PrometheusRule carries exactly the groups of the plain rules file, so one
set of rules (and its promtool unit tests) serves both Prometheus set-ups.

    python3 deploy/kubernetes/gen-prometheusrule.py          # rewrite
    python3 deploy/kubernetes/gen-prometheusrule.py --check  # exit 1 if stale

deploy/check.sh also compares the two files' groups. Needs PyYAML.
"""
import pathlib
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
RULES = HERE.parent / "prometheus" / "plex-sharing-rules.yml"
OUT = HERE / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/plex-sharing-rules.yml by
# deploy/kubernetes/gen-prometheusrule.py: edit the rules file, not this one.
# deploy/check.sh fails while the groups differ.
#
# Its Prometheus must select this object: add the label its ruleSelector wants
# (kube-prometheus-stack: `release: <helm release name>`).
"""


class Dumper(yaml.SafeDumper):
    pass


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _str)


def render():
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "plex-sharing",
            "labels": {"app.kubernetes.io/name": "plex-sharing-exporter"},
        },
        "spec": {"groups": groups},
    }
    body = yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1 << 16)
    return HEADER + body


def main(argv):
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"out of date: {OUT} (run python3 {pathlib.Path(__file__).name})", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
