#!/usr/bin/env python3
"""Write everything that follows deploy/knobs.yml.

    python3 deploy/tools/generate.py          # rewrite the generated files
    python3 deploy/tools/generate.py --check  # exit 1, naming each stale file

From the knobs it writes:
  * deploy/prometheus/plex-sharing-rules.yml: the header table between the
    BEGIN/END knobs markers, and in each alert marked `# knobs: <key>` its
    expression, `for`, severity and runbook_url (the rest of the file is
    edited by hand);
  * deploy/kubernetes/prometheusrule.yaml: the same groups as a PrometheusRule;
  * docs/runbook.md: the alert table between its BEGIN/END markers;
  * grafana/dashboards/*.json: through grafana/generate.py, whose colour
    thresholds come from the knobs.

deploy/check.sh runs --check. Needs PyYAML.
"""
import importlib.util
import pathlib
import re
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import knobs as knobs_mod  # noqa: E402

ROOT = knobs_mod.ROOT
RULES = ROOT / "deploy/prometheus/plex-sharing-rules.yml"
PROMETHEUSRULE = ROOT / "deploy/kubernetes/prometheusrule.yaml"
RUNBOOK = ROOT / "docs/runbook.md"
GRAFANA = ROOT / "grafana/generate.py"

RULES_BEGIN = "# BEGIN knobs table (deploy/tools/generate.py writes it from deploy/knobs.yml)"
RULES_END = "# END knobs table"
RUNBOOK_BEGIN = "<!-- BEGIN alert table (deploy/tools/generate.py writes it from deploy/knobs.yml) -->"
RUNBOOK_END = "<!-- END alert table -->"

# The expression of each alert, and the same in words for the runbook table.
EXPRESSIONS = {
    "high_score_warning": ("plex_sharing_user_score >= {threshold}", None),
    "high_score_critical": ("plex_sharing_user_score >= {threshold}", None),
    "account_across_servers": ("plex_sharing_account_score >= {threshold}", None),
    "teleportation": ("plex_sharing_user_teleportations > {threshold}", None),
    "vpn_likely": ("plex_sharing_user_same_device_jumps >= {threshold}", None),
    "concurrent_networks": ("plex_sharing_user_live_networks >= {threshold}", None),
    "exporter_down": ("plex_sharing_up == 0", None),
    "refresh_stale": ("time() - plex_sharing_last_refresh_success_timestamp_seconds > {threshold_seconds}",
                      "last successful refresh older than {threshold}"),
    "target_down": ('up{{job="{job}"}} == 0', None),
    "exporter_absent": ('absent(up{{job="{job}"}})', 'no `up{{job="{job}"}}` series at all'),
}
# Alerts that fire when the exporter is gone: their runbook link cannot ask it.
EXPORTER_GONE = {"target_down", "exporter_absent"}

PROMETHEUSRULE_HEADER = """\
# GENERATED from deploy/prometheus/plex-sharing-rules.yml by
# deploy/tools/generate.py: edit the rules file (or deploy/knobs.yml), not this one.
# deploy/check.sh fails while the groups differ.
#
# Its Prometheus must select this object: add the label its ruleSelector wants
# (kube-prometheus-stack: `release: <helm release name>`).
"""


class GenerateError(Exception):
    pass


def fmt_number(v):
    return str(int(v)) if float(v).is_integer() else str(v)


def expression(key, k, job):
    a = k["alerts"][key]
    fields = {"job": job, "threshold": a.get("threshold", "")}
    if key == "refresh_stale":
        fields["threshold_seconds"] = knobs_mod.seconds(a["threshold"])
    elif "threshold" in a:
        fields["threshold"] = fmt_number(a["threshold"])
    expr, words = EXPRESSIONS[key]
    return expr.format(**fields), (words.format(**fields) if words else f"`{expr.format(**fields)}`")


def runbook_url(key, k):
    """The runbook_url annotation (a Prometheus template) of one alert."""
    anchor = k["alerts"][key]["alert"].lower()
    rb = k["runbook"]
    if rb["base_url"]:
        return f"{rb['base_url']}#{anchor}"
    if key in EXPORTER_GONE:
        # The exporter may be down or gone: take the last URL any exporter of
        # the job published (it opens once one is back), else the fallback.
        lookup = (f'printf "last_over_time(plex_sharing_web_info{{job=%q}}[{rb["lookback"]}])" '
                  "$labels.job")
        fallback = rb["fallback_base_url"]
    else:
        lookup = ('printf "plex_sharing_web_info{job=%q,instance=%q}" '
                  "$labels.job $labels.instance")
        fallback = "http://{{ $labels.instance }}"
    return (f'{{{{ with {lookup} | query }}}}{{{{ . | first | label "external_url" }}}}'
            f"{{{{ else }}}}{fallback}{{{{ end }}}}/runbook#{anchor}")


def rules_text(text, k):
    """The rules file with its knob lines and header table written from k."""
    lines = text.split("\n")
    out, key, expr_next, done = [], None, False, set()
    in_table = False
    for line in lines:
        if line == RULES_BEGIN:
            in_table = True
            out.append(line)
            out += rules_table(k)
            continue
        if in_table:
            if line == RULES_END:
                in_table = False
                out.append(line)
            continue
        m = re.match(r"^(\s*)- (alert|record): (\S+)(?:\s+# knobs: (\w+))?\s*$", line)
        if m:
            key = m.group(4)
            if m.group(2) == "alert":
                if key is None:
                    raise GenerateError(f"{RULES.name}: alert {m.group(3)} has no `# knobs: <key>` marker")
                if key not in k["alerts"]:
                    raise GenerateError(f"{RULES.name}: alert {m.group(3)}: unknown knob key {key}")
                if k["alerts"][key]["alert"] != m.group(3):
                    raise GenerateError(f"{RULES.name}: knob {key} is for {k['alerts'][key]['alert']}, "
                                        f"not {m.group(3)}")
                done.add(key)
            out.append(line)
            continue
        if key is not None:
            a = k["alerts"][key]
            ind = re.match(r"^(\s*)", line).group(1)
            if expr_next:
                expr_next = False
                line = ind + expression(key, k, k["scrape_job"])[0]
            elif re.match(r"^\s*expr: \|\s*$", line):
                expr_next = True
            elif re.match(r"^\s*expr:", line):
                raise GenerateError(f"{RULES.name}: knob {key}: write the expression as a `|` block")
            elif re.match(r"^\s*for: ", line):
                line = f"{ind}for: {a['for']}"
            elif re.match(r"^\s*severity: ", line):
                line = f"{ind}severity: {a['severity']}"
            elif re.match(r"^\s*runbook_url: ", line):
                line = f"{ind}runbook_url: '{runbook_url(key, k)}'"
        out.append(line)
    if in_table:
        raise GenerateError(f"{RULES.name}: `{RULES_BEGIN}` without `{RULES_END}`")
    missing = set(k["alerts"]) - done
    if missing:
        raise GenerateError(f"{RULES.name}: no alert marked `# knobs: {sorted(missing)[0]}`")
    return "\n".join(out)


def rules_table(k):
    rows = [("knob (deploy/knobs.yml)", "alert", "severity", "fires when", "for")]
    for key, a in k["alerts"].items():
        rows.append((f"alerts.{key}", a["alert"], a["severity"],
                     expression(key, k, k["scrape_job"])[1].replace("`", ""), a["for"]))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    table = ["#   " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    base = k["runbook"]["base_url"] or "<--web.external-url>/runbook (the exporter's own page)"
    return ["#"] + table + ["#", f"#   scrape job: {k['scrape_job']}; runbook: {base}", "#"]


def runbook_text(text, k):
    begin, end = text.find(RUNBOOK_BEGIN), text.find(RUNBOOK_END)
    if begin < 0 or end < begin:
        raise GenerateError(f"{RUNBOOK.name}: needs the lines `{RUNBOOK_BEGIN}` and `{RUNBOOK_END}`")
    rows = ["| Alert | Severity | Fires when | For |", "| --- | --- | --- | --- |"]
    for key, a in k["alerts"].items():
        name = a["alert"]
        rows.append(f"| [{name}](#{name.lower()}) | {a['severity']} | "
                    f"{expression(key, k, k['scrape_job'])[1]} | {a['for']} |")
    return text[:begin] + RUNBOOK_BEGIN + "\n" + "\n".join(rows) + "\n" + text[end:]


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    str, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|" if "\n" in v else None))


def prometheusrule_text(rules):
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "plex-sharing",
            "labels": {"app.kubernetes.io/name": "plex-sharing-exporter"},
        },
        "spec": {"groups": yaml.safe_load(rules)["groups"]},
    }
    return PROMETHEUSRULE_HEADER + yaml.dump(doc, Dumper=_Dumper, sort_keys=False,
                                             allow_unicode=True, width=1 << 16)


def grafana_outputs():
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.outputs()


def outputs():
    """{path: text} of every generated file."""
    k = knobs_mod.load()
    rules = rules_text(RULES.read_text(encoding="utf-8"), k)
    out = {
        RULES: rules,
        PROMETHEUSRULE: prometheusrule_text(rules),
        RUNBOOK: runbook_text(RUNBOOK.read_text(encoding="utf-8"), k),
    }
    out.update(grafana_outputs())
    return out


def main(argv):
    check = "--check" in argv
    try:
        files = outputs()
    except (knobs_mod.KnobError, GenerateError) as e:
        print(f"generate: {e}", file=sys.stderr)
        return 2
    stale = []
    for path, text in files.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    for path in stale:
        print(f"out of date with deploy/knobs.yml: {path.relative_to(ROOT)} "
              "(run python3 deploy/tools/generate.py)", file=sys.stderr)
    if check and not stale:
        print(f"  {len(files)} generated files follow deploy/knobs.yml")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
