#!/usr/bin/env python3
"""Consistency checks of the monitoring bundle (grafana/, deploy/, docs/runbook.md).

Called by deploy/check.sh, one sub-command per check; each prints what it
found and exits 1 on a problem. Run from the repository root:

    python3 deploy/tools/check_bundle.py <check> [args]

The metric contract comes from deploy/check.sh (CONTRACT_METRICS), passed in
the environment variable PLEX_SHARING_CONTRACT_METRICS, one name per line.
Needs PyYAML.
"""
import glob
import json
import os
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path.cwd()
RULES = ROOT / "deploy/prometheus/plex-sharing-rules.yml"
RULE_TESTS = sorted((ROOT / "deploy/prometheus/tests").glob("*.test.yml"))
PROMETHEUSRULE = ROOT / "deploy/kubernetes/prometheusrule.yaml"
RUNBOOK = ROOT / "docs/runbook.md"
DASHBOARDS = sorted((ROOT / "grafana/dashboards").glob("*.json"))
COMPOSE = ROOT / "deploy/docker-compose.yml"
KUSTOMIZATION = ROOT / "deploy/kubernetes/kustomization.yaml"
PROMETHEUS_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy/alertmanager/alertmanager.yml"
GRAFANA_PROVISIONING = ROOT / "grafana/provisioning"

EXPECTED_DASHBOARD_UIDS = {"plex-sharing-overview", "plex-sharing-user"}
DS_REF = {"type": "prometheus", "uid": "${datasource}"}
SEVERITIES = {"info", "warning", "critical"}
RECORD_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$")
ALERT_NAME = re.compile(r"^PlexSharing[A-Z][A-Za-z0-9]+$")
IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
SELECTOR = re.compile(r"\b(plex_sharing_[a-z0-9_]+)\b(\{[^}]*\})?")

problems = []


def problem(msg):
    problems.append(msg)
    print(f"  problem: {msg}")


def rel(path):
    return os.path.relpath(path, ROOT)


def load_yaml(path):
    return yaml.safe_load(pathlib.Path(path).read_text(encoding="utf-8"))


def contract():
    names = [n.strip() for n in os.environ.get("PLEX_SHARING_CONTRACT_METRICS", "").split()]
    names = [n for n in names if n]
    if not names:
        sys.exit("PLEX_SHARING_CONTRACT_METRICS is empty: run this through deploy/check.sh")
    return set(names)


def rule_groups():
    return load_yaml(RULES)["groups"]


def all_rules():
    for group in rule_groups():
        for rule in group["rules"]:
            yield rule


def walk_panels(panels):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def dashboards():
    for path in DASHBOARDS:
        yield path, json.loads(path.read_text(encoding="utf-8"))


def dashboard_exprs(board):
    """(where, expr) for every PromQL expression of a dashboard: panel
    targets, and the PromQL inside label_values()/query_result() variables."""
    for panel in walk_panels(board.get("panels", [])):
        for t in panel.get("targets", []):
            if "expr" in t:
                yield f"panel {panel.get('title')!r} target {t.get('refId')}", t["expr"]
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var.get("query")
        if isinstance(q, dict):
            q = q.get("query", "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", q, re.S)
        if m:
            yield f"variable ${var['name']}", m.group(1)
            continue
        m = re.fullmatch(r"\s*query_result\((.*)\)\s*", q, re.S)
        if m:
            yield f"variable ${var['name']}", m.group(1)
            continue
        if re.fullmatch(r"\s*label_values\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", q):
            continue
        yield f"variable ${var['name']}", q


def rule_texts():
    """(where, text) for every expression and annotation of the rules."""
    for rule in all_rules():
        name = rule.get("alert") or rule.get("record")
        yield f"rule {name} expr", rule["expr"]
        for key, value in (rule.get("annotations") or {}).items():
            yield f"rule {name} annotation {key}", value


def github_anchors(markdown):
    """Anchors GitHub generates for the headings of a markdown document."""
    anchors, seen = set(), {}
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(2))  # [text](url) -> text
        text = re.sub(r"[`*]", "", text)
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def check_parse():
    files = []
    for top in ("grafana", "deploy"):
        for pattern in ("*.yml", "*.yaml", "*.json"):
            files += (ROOT / top).rglob(pattern)
    for path in sorted(set(files)):
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            else:
                list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except Exception as e:  # noqa: BLE001 - report any parse error
            problem(f"{rel(path)}: {e}")
    print(f"  parsed {len(files)} YAML/JSON files")


def check_metrics():
    names = contract()
    records = {r["record"] for r in all_rules() if "record" in r}
    used = set()
    sources = [(f"{rel(RULES)}: {w}", t) for w, t in rule_texts()]
    for path, board in dashboards():
        sources += [(f"{rel(path)}: {w}", e) for w, e in dashboard_exprs(board)]
    for where, text in sources:
        for ident in IDENT.findall(text):
            if ":" in ident and "plex_sharing" in ident:
                if ident not in records:
                    problem(f"{where}: {ident} is not a recording rule in {rel(RULES)}")
            elif ident.startswith("plex_sharing_"):
                used.add(ident)
                if ident not in names:
                    problem(f"{where}: {ident} is not in the metric contract (deploy/check.sh)")
    print(f"  {len(sources)} expressions use {len(used)} of the {len(names)} contract metrics")
    unused = sorted(names - used)
    if unused:
        print(f"  note: not used by any rule or dashboard: {', '.join(unused)}")


def check_rules_lint():
    alerts = [r for r in all_rules() if "alert" in r]
    records = [r for r in all_rules() if "record" in r]
    for r in records:
        if not RECORD_NAME.match(r["record"]):
            problem(f"recording rule {r['record']}: not named level:metric:operation")
    for r in alerts:
        name = r["alert"]
        labels, ann = r.get("labels") or {}, r.get("annotations") or {}
        if not ALERT_NAME.match(name):
            problem(f"alert {name}: not CamelCase with the PlexSharing prefix")
        if labels.get("severity") not in SEVERITIES:
            problem(f"alert {name}: severity label must be one of {sorted(SEVERITIES)}")
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                problem(f"alert {name}: missing annotation {key}")
        if "{{" in ann.get("summary", ""):
            problem(f"alert {name}: summary must be a static sentence")
        if "{{" not in ann.get("description", ""):
            problem(f"alert {name}: description should name labels and the value")
        if not ann.get("runbook_url", "").endswith(f"#{name.lower()}"):
            problem(f"alert {name}: runbook_url should end with #{name.lower()}")
        if "plex_sharing_user_" in r["expr"]:
            if "report_url" not in ann:
                problem(f"alert {name}: per-user alert without report_url")
            if "$labels.user" not in ann.get("description", ""):
                problem(f"alert {name}: description should name {{{{ $labels.user }}}}")
        if "for" not in r:
            problem(f"alert {name}: no `for` (every alert here should ride out one bad scrape)")
    # Alerts sharing a name must differ in severity (warning/critical pairs).
    seen = {}
    for r in alerts:
        key = (r["alert"], r["labels"].get("severity"))
        if key in seen:
            problem(f"alert {r['alert']}: two rules with severity {key[1]}")
        seen[key] = True
    print(f"  {len(alerts)} alerting rules, {len(records)} recording rules")


def check_rule_tests():
    alert_names = sorted({r["alert"] for r in all_rules() if "alert" in r})
    record_names = sorted({r["record"] for r in all_rules() if "record" in r})
    firing, quiet, exprs = set(), set(), []
    for path in RULE_TESTS:
        doc = load_yaml(path)
        for test in doc.get("tests", []):
            for a in test.get("alert_rule_test", []) or []:
                exp = a.get("exp_alerts") or []
                (firing if exp else quiet).add(a["alertname"])
                for e in exp:
                    if "exp_annotations" not in e:
                        problem(f"{rel(path)}: {a['alertname']} at {a['eval_time']}: "
                                "a firing expectation must list exp_annotations")
            exprs += [p["expr"] for p in test.get("promql_expr_test", []) or []]
    for name in alert_names:
        if name not in firing:
            problem(f"alert {name}: no test where it fires")
        if name not in quiet:
            problem(f"alert {name}: no test where it does not fire")
    for name in record_names:
        if not any(re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", e) for e in exprs):
            problem(f"recording rule {name}: no promql_expr_test")
    print(f"  {len(RULE_TESTS)} test file(s) cover {len(firing & quiet)}/{len(alert_names)} "
          f"alerts both ways and the recording rules")


def check_runbook():
    text = RUNBOOK.read_text(encoding="utf-8")
    anchors = github_anchors(text)
    n = 0
    for r in all_rules():
        url = (r.get("annotations") or {}).get("runbook_url")
        if not url:
            continue
        n += 1
        anchor = url.rpartition("#")[2]
        if anchor not in anchors:
            problem(f"{r['alert']}: anchor #{anchor} is not a heading in {rel(RUNBOOK)}")
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        if anchor not in anchors:
            problem(f"{rel(RUNBOOK)}: link to #{anchor}, which is no heading")
    for target in re.findall(r"\]\((\.\./[^)#]+)\)", text):
        if not (RUNBOOK.parent / target).exists():
            problem(f"{rel(RUNBOOK)}: link to {target}, which does not exist")
    print(f"  {n} runbook_url annotations resolve to headings in {rel(RUNBOOK)}")


def check_prometheusrule():
    doc = load_yaml(PROMETHEUSRULE)
    if doc.get("kind") != "PrometheusRule":
        problem(f"{rel(PROMETHEUSRULE)}: kind is {doc.get('kind')}, not PrometheusRule")
        return
    theirs, ours = doc.get("spec", {}).get("groups"), rule_groups()
    if theirs != ours:
        problem(f"{rel(PROMETHEUSRULE)}: spec.groups differ from {rel(RULES)} "
                "(run python3 deploy/tools/generate.py)")
        for g_ours, g_theirs in zip(ours, theirs or []):
            if g_ours != g_theirs:
                print(f"  first difference in group {g_ours.get('name')!r}")
                break
    else:
        print(f"  spec.groups equal the {len(ours)} groups of {rel(RULES)}")


def check_dashboards():
    uids = {}
    for path, board in dashboards():
        name = rel(path)
        uid = board.get("uid")
        if uid in uids:
            problem(f"{name}: uid {uid} also used by {uids[uid]}")
        uids[uid] = name
        if not isinstance(board.get("schemaVersion"), int) or board["schemaVersion"] < 36:
            problem(f"{name}: schemaVersion should be >= 36")
        if not {"plex", "plex-sharing"} <= set(board.get("tags", [])):
            problem(f"{name}: tags must include plex and plex-sharing")
        if board.get("id") is not None:
            problem(f"{name}: id must be null in an importable dashboard")
        inputs = [i.get("name") for i in board.get("__inputs", [])]
        if "DS_PROMETHEUS" not in inputs:
            problem(f"{name}: __inputs lacks DS_PROMETHEUS")
        variables = {v["name"]: v for v in board.get("templating", {}).get("list", [])}
        ds = variables.get("datasource")
        if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
            problem(f"{name}: needs a datasource variable `datasource` of type prometheus")
        for v in variables.values():
            if v.get("type") == "query" and v.get("datasource") != DS_REF:
                problem(f"{name}: variable ${v['name']} does not use ${{datasource}}")
        ids = set()
        for panel in walk_panels(board.get("panels", [])):
            title = panel.get("title")
            if panel.get("id") in ids:
                problem(f"{name}: panel id {panel.get('id')} used twice")
            ids.add(panel.get("id"))
            pos = panel.get("gridPos") or {}
            if pos.get("x", 0) + pos.get("w", 0) > 24:
                problem(f"{name}: panel {title!r} is wider than the grid")
            if panel.get("type") in ("row", "text"):
                continue
            if panel.get("datasource") != DS_REF:
                problem(f"{name}: panel {title!r} datasource is not ${{datasource}}")
            for t in panel.get("targets", []):
                if t.get("datasource", DS_REF) != DS_REF:
                    problem(f"{name}: panel {title!r} target {t.get('refId')} has its own datasource")
            for link in json.dumps(panel.get("fieldConfig", {})).split('"url": ')[1:]:
                m = re.match(r'"/d/([^/"?]+)', link)
                if m and m.group(1) not in EXPECTED_DASHBOARD_UIDS:
                    problem(f"{name}: panel {title!r} links to unknown dashboard {m.group(1)}")
        for where, expr in dashboard_exprs(board):
            if where == "variable $job":
                continue  # the one query that lists the jobs
            if re.search(r'instance\s*=~?\s*"[^"$]', expr) or "localhost" in expr:
                problem(f"{name}: {where}: hard-coded instance")
            for metric, matchers in SELECTOR.findall(expr):
                if not re.search(r"\bjob\s*=~?\s*\"\$job\"", matchers or ""):
                    problem(f"{name}: {where}: {metric} without a job=\"$job\" matcher")
    missing = EXPECTED_DASHBOARD_UIDS - set(uids)
    if missing:
        problem(f"missing dashboards with uid {sorted(missing)}")
    user = next((b for p, b in dashboards() if b.get("uid") == "plex-sharing-user"), None)
    if user:
        names = {v["name"] for v in user["templating"]["list"]}
        for want in ("datasource", "job", "server", "user"):
            if want not in names:
                problem(f"plex-sharing-user: variable ${want} missing")
    print(f"  {len(uids)} dashboards: {', '.join(sorted(u for u in uids if u))}")


# Values that stand in for Grafana variables when checking PromQL syntax.
GRAFANA_VARS = {
    "datasource": "prometheus", "job": "plex-sharing", "instance": ".+", "server": "home",
    "user": "alice", "user_id": "1", "topn": "10", "__rate_interval": "5m",
    "__interval": "1m", "__range": "1h", "report_base_url_fallback": "http://localhost:9595",
}


def check_dashboard_promql(out_path):
    """Write every dashboard expression, variables substituted, as a recording
    rule into out_path; deploy/check.sh then runs `promtool check rules`."""
    rules, n = [], 0
    for path, board in dashboards():
        for where, expr in dashboard_exprs(board):
            def sub(m):
                var = m.group(1) or m.group(2)
                if var not in GRAFANA_VARS:
                    problem(f"{rel(path)}: {where}: unknown variable ${var}")
                    return "x"
                return GRAFANA_VARS[var]
            promql = re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", sub, expr)
            n += 1
            rules.append({"record": f"dashboard_check:expr_{n}:promql", "expr": promql})
    pathlib.Path(out_path).write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard-promql", "rules": rules}]}, sort_keys=False),
        encoding="utf-8")
    print(f"  {n} panel and variable queries written to {out_path}")


def _compose_mounts(compose_dir, service):
    for v in service.get("volumes", []) or []:
        if isinstance(v, dict):
            if v.get("type") == "bind":
                yield v["source"], v["target"]
            continue
        parts = v.split(":")
        if parts[0].startswith((".", "/")):
            yield parts[0], parts[1]


def check_references():
    n = 0

    def must_exist(path, why):
        nonlocal n
        n += 1
        if not pathlib.Path(path).exists():
            problem(f"{why}: {rel(path)} does not exist")

    # docker-compose: build context, Dockerfile, bind mounts, secrets.
    compose = load_yaml(COMPOSE)
    cdir = COMPOSE.parent
    services = compose.get("services", {})
    mounts = {}
    for sname, svc in services.items():
        build = svc.get("build")
        if build:
            ctx = cdir / (build if isinstance(build, str) else build.get("context", "."))
            must_exist(ctx, f"compose {sname} build.context")
            if isinstance(build, dict) and "dockerfile" in build:
                must_exist(ctx / build["dockerfile"], f"compose {sname} build.dockerfile")
        for source, target in _compose_mounts(cdir, svc):
            must_exist(cdir / source, f"compose {sname} volume")
            mounts[(sname, target)] = (cdir / source).resolve()
    for sname, sec in (compose.get("secrets") or {}).items():
        if "file" in sec:
            must_exist(cdir / sec["file"], f"compose secret {sname}")

    # Prometheus and Alertmanager configs as mounted in compose.
    for sname, target in mounts:
        src = mounts[(sname, target)]
        if sname == "prometheus" and src != PROMETHEUS_CONFIG.parent.resolve():
            problem("compose prometheus does not mount deploy/prometheus")
        if sname == "alertmanager" and src != ALERTMANAGER_CONFIG.parent.resolve():
            problem("compose alertmanager does not mount deploy/alertmanager")

    # Grafana provisioning: files mounted, dashboard path mounted from grafana/dashboards.
    for kind in ("dashboards", "datasources"):
        src = mounts.get(("grafana", f"/etc/grafana/provisioning/{kind}"))
        if src != (GRAFANA_PROVISIONING / kind).resolve():
            problem(f"compose grafana does not mount grafana/provisioning/{kind}")
    for prov in sorted((GRAFANA_PROVISIONING / "dashboards").glob("*.y*ml")):
        for provider in load_yaml(prov).get("providers", []):
            path = provider.get("options", {}).get("path")
            src = mounts.get(("grafana", path))
            n += 1
            if src is None:
                problem(f"{rel(prov)}: dashboard path {path} is not mounted in compose")
            elif not list(src.glob("*.json")):
                problem(f"{rel(prov)}: {path} is mounted from {rel(src)}, which has no dashboards")
    for prov in sorted((GRAFANA_PROVISIONING / "datasources").glob("*.y*ml")):
        for ds in load_yaml(prov).get("datasources", []):
            host = re.sub(r"^\w+://([^:/]+).*", r"\1", ds.get("url", ""))
            n += 1
            if host not in services:
                problem(f"{rel(prov)}: data source host {host} is no compose service")

    # Prometheus: rule files (relative to the config) and targets (compose services).
    prom = load_yaml(PROMETHEUS_CONFIG)
    for rf in prom.get("rule_files", []):
        matches = glob.glob(str(PROMETHEUS_CONFIG.parent / rf))
        n += 1
        if not matches:
            problem(f"{rel(PROMETHEUS_CONFIG)}: rule_files {rf} matches nothing")
    targets = []
    for sc in prom.get("scrape_configs", []):
        for st in sc.get("static_configs", []):
            targets += st.get("targets", [])
    for am in prom.get("alerting", {}).get("alertmanagers", []):
        for st in am.get("static_configs", []):
            targets += st.get("targets", [])
    for t in targets:
        host = t.split(":")[0]
        n += 1
        if host != "localhost" and host not in services:
            problem(f"{rel(PROMETHEUS_CONFIG)}: target {t} is no compose service")

    # Alertmanager: templates (relative to the config); webhook hosts.
    am = load_yaml(ALERTMANAGER_CONFIG)
    for tpl in am.get("templates", []):
        n += 1
        if not glob.glob(str(ALERTMANAGER_CONFIG.parent / tpl)):
            problem(f"{rel(ALERTMANAGER_CONFIG)}: templates {tpl} matches nothing")
    for rcv in am.get("receivers", []):
        for wh in rcv.get("webhook_configs", []) or []:
            host = re.sub(r"^\w+://([^:/]+).*", r"\1", wh.get("url", ""))
            n += 1
            if host not in services:
                problem(f"{rel(ALERTMANAGER_CONFIG)}: webhook host {host} is no compose service")

    # Kustomization resources.
    kust = load_yaml(KUSTOMIZATION)
    for res in kust.get("resources", []):
        must_exist(KUSTOMIZATION.parent / res, f"{rel(KUSTOMIZATION)} resources")
    print(f"  {n} references checked")


def check_kubernetes():
    docs = []
    kust = load_yaml(KUSTOMIZATION)
    for res in kust.get("resources", []):
        docs += [d for d in yaml.safe_load_all((KUSTOMIZATION.parent / res).read_text()) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    dep = by_kind.get("Deployment", [None])[0]
    svc = by_kind.get("Service", [None])[0]
    sm = by_kind.get("ServiceMonitor", [None])[0]
    if not (dep and svc and sm and by_kind.get("PrometheusRule")):
        problem("kubernetes: need a Deployment, Service, ServiceMonitor and PrometheusRule")
        return
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    if dep["spec"]["selector"]["matchLabels"].items() - labels.items():
        problem("Deployment selector does not match its pod labels")
    if svc["spec"]["selector"].items() - labels.items():
        problem("Service selector does not match the pod labels")
    if sm["spec"]["selector"]["matchLabels"].items() - svc["metadata"].get("labels", {}).items():
        problem("ServiceMonitor selector does not match the Service labels")
    svc_ports = {p["name"] for p in svc["spec"]["ports"]}
    for ep in sm["spec"]["endpoints"]:
        if ep.get("port") not in svc_ports:
            problem(f"ServiceMonitor endpoint port {ep.get('port')} is not a Service port")
    # The Operator names the job after the Service; the rules expect plex-sharing.
    jobs = set(re.findall(r'job="([^"]+)"', RULES.read_text(encoding="utf-8")))
    if not sm["spec"].get("jobLabel") and {svc["metadata"]["name"]} != jobs:
        problem(f"Service name {svc['metadata']['name']} (the job label) != job in rules {jobs}")
    c = pod["spec"]["containers"][0]
    if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/-/healthy":
        problem("liveness probe must GET /-/healthy")
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/-/ready":
        problem("readiness probe must GET /-/ready")
    sc = c.get("securityContext", {})
    psc = pod["spec"].get("securityContext", {})
    if not (sc.get("readOnlyRootFilesystem") and psc.get("runAsNonRoot")
            and sc.get("allowPrivilegeEscalation") is False):
        problem("container must be non-root, read-only root fs, no privilege escalation")
    secrets = {s["metadata"]["name"] for s in by_kind.get("Secret", [])}
    for vol in pod["spec"].get("volumes", []):
        name = vol.get("secret", {}).get("secretName")
        if name and name not in secrets:
            problem(f"Deployment mounts Secret {name}, which kustomization does not define")
    if any(e.get("name") == "TAUTULLI_API_KEY" for e in c.get("env", [])):
        problem("the API key must be mounted as a file, not an env var")
    print("  Deployment, Service, ServiceMonitor, Secret and PrometheusRule agree")


CHECKS = {
    "parse": check_parse,
    "metrics": check_metrics,
    "rules-lint": check_rules_lint,
    "rule-tests": check_rule_tests,
    "runbook": check_runbook,
    "prometheusrule": check_prometheusrule,
    "dashboards": check_dashboards,
    "dashboard-promql": check_dashboard_promql,
    "references": check_references,
    "kubernetes": check_kubernetes,
}


def main(argv):
    if not argv or argv[0] not in CHECKS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(CHECKS)}}} [args]")
    CHECKS[argv[0]](*argv[1:])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
