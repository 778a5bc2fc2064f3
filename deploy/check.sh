#!/usr/bin/env bash
# Validate the monitoring bundle: Grafana dashboards and provisioning,
# Prometheus rules and their unit tests, Prometheus and Alertmanager configs,
# the runbook, and the deployment files (compose, systemd, Kubernetes).
#
#   deploy/check.sh                  run every check (from any directory)
#   deploy/check.sh --strict         also fail when an optional tool is missing
#   deploy/check.sh --print-metrics  print the metric contract, one per line
#
# Needs promtool and python3 with PyYAML. Uses, when present: amtool,
# kubectl (kustomize), kubernetes-validate (PyPI), docker compose or
# docker-compose, systemd-analyze and the shell linter. On Debian/Ubuntu:
#   apt-get install -y prometheus prometheus-alertmanager python3-yaml docker-compose shellcheck
# It installs nothing itself. Exit status: 0 when every check passed.
set -euo pipefail

# ---------------------------------------------------------------------------
# The metric contract: every metric name the exporter exposes, as exposed on
# /metrics. The single source of truth for this list: rules and dashboards may
# use no other plex_sharing_* name (checked below), and the exporter's tests
# compare it with real /metrics output (`deploy/check.sh --print-metrics`).
# ---------------------------------------------------------------------------
CONTRACT_METRICS=(
  # Per user; labels server, user_id, user.
  plex_sharing_user_devices
  plex_sharing_user_heavy_devices
  plex_sharing_user_concurrent_sessions
  plex_sharing_user_nearby_concurrent_sessions
  plex_sharing_user_concurrent_device_pairs
  plex_sharing_user_teleportations
  plex_sharing_user_same_device_jumps
  plex_sharing_user_score
  plex_sharing_user_flagged
  plex_sharing_user_plays
  plex_sharing_user_watch_time_seconds
  plex_sharing_user_networks
  plex_sharing_user_live_streams
  plex_sharing_user_live_networks
  # Per account on two or more servers; labels user_id, user.
  plex_sharing_account_score
  plex_sharing_account_flagged
  plex_sharing_account_concurrent_device_pairs
  plex_sharing_account_teleportations
  plex_sharing_account_servers
  # The exporter itself.
  plex_sharing_up
  plex_sharing_refresh_duration_seconds
  plex_sharing_last_refresh_success_timestamp_seconds
  plex_sharing_history_rows
  plex_sharing_tautulli_requests_total
  plex_sharing_geoip_lookups_total
  plex_sharing_geoip_cache_entries
  plex_sharing_build_info
  plex_sharing_web_info
)

strict=0
case "${1:-}" in
  --print-metrics) printf '%s\n' "${CONTRACT_METRICS[@]}"; exit 0 ;;
  --strict) strict=1 ;;
  "") ;;
  -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--strict|--print-metrics]" >&2; exit 2 ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PLEX_SHARING_CONTRACT_METRICS="$(printf '%s\n' "${CONTRACT_METRICS[@]}")"
export PLEX_SHARING_CONTRACT_METRICS
export PYTHONDONTWRITEBYTECODE=1  # leave no __pycache__ in the tree

passed=0
failed=0
skipped=0
failures=()
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# run DESCRIPTION COMMAND...: run one check, show its output indented.
run() {
  local desc=$1 rc=0
  shift
  printf '==> %s\n' "$desc"
  "$@" >"$tmp/out" 2>&1 || rc=$?
  sed 's/^/    /' "$tmp/out"
  if ((rc == 0)); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$desc")
    printf '    FAILED (exit %d)\n' "$rc"
  fi
}

# skip DESCRIPTION HINT: an optional tool is missing.
skip() {
  printf '==> %s\n    SKIPPED: %s\n' "$1" "$2"
  if ((strict)); then
    failed=$((failed + 1))
    failures+=("$1 (tool missing, --strict)")
  else
    skipped=$((skipped + 1))
  fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# ---- required tools --------------------------------------------------------
missing=()
have promtool || missing+=("promtool (Debian: apt-get install prometheus)")
if ! have python3; then
  missing+=("python3")
elif ! python3 -c 'import yaml' 2>/dev/null; then
  missing+=("PyYAML for $(command -v python3) (Debian: apt-get install python3-yaml; or pip install pyyaml)")
fi
if ((${#missing[@]})); then
  echo "deploy/check.sh: missing required tools:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 2
fi

check_py() { python3 deploy/tools/check_bundle.py "$@"; }

# ---- files parse -------------------------------------------------------------
run "every YAML/JSON file under grafana/ and deploy/ parses" check_py parse
python_syntax() { python3 -c 'import ast, sys
for f in sys.argv[1:]:
    ast.parse(open(f, encoding="utf-8").read(), f)' "$@"; }
run "Python helpers parse" python_syntax \
  grafana/generate.py deploy/tools/generate.py deploy/tools/knobs.py \
  deploy/tools/check_bundle.py deploy/alertmanager/webhook-logger.py

# ---- generated files -----------------------------------------------------------
# The rules' knob lines, the PrometheusRule, the runbook's alert table and the
# dashboards are written from deploy/knobs.yml; a stale one is named.
run "rules, PrometheusRule, runbook table and dashboards follow deploy/knobs.yml" \
  python3 deploy/tools/generate.py --check

# ---- Prometheus rules --------------------------------------------------------
run "promtool check rules deploy/prometheus/plex-sharing-rules.yml" \
  promtool check rules deploy/prometheus/plex-sharing-rules.yml
run "promtool test rules deploy/prometheus/tests/*.test.yml" \
  promtool test rules deploy/prometheus/tests/*.test.yml
run "every alert is tested firing and not firing; every recording rule is tested" \
  check_py rule-tests
run "rules follow the naming and annotation conventions" check_py rules-lint
run "every runbook_url anchor is a heading of docs/runbook.md (served at /runbook)" check_py runbook
run "PrometheusRule groups equal deploy/prometheus/plex-sharing-rules.yml" \
  check_py prometheusrule
run "promtool check config deploy/prometheus/prometheus.yml (rule paths resolve)" \
  promtool check config deploy/prometheus/prometheus.yml

# ---- Alertmanager ------------------------------------------------------------
if have amtool; then
  run "amtool check-config deploy/alertmanager/alertmanager.yml" \
    amtool check-config deploy/alertmanager/alertmanager.yml
  run "notification templates render" amtool template render \
    --template.glob='deploy/alertmanager/templates/*.tmpl' \
    --template.text='{{ template "plex_sharing.title" . }}{{ template "plex_sharing.text" . }}'
else
  skip "amtool check-config deploy/alertmanager/alertmanager.yml" \
    "amtool not found (Debian: apt-get install prometheus-alertmanager)"
fi

# ---- Grafana -------------------------------------------------------------------
run "dashboards: uids, datasource variable, \$job matchers, no hard-coded instance" \
  check_py dashboards
# Every panel and variable query, Grafana variables replaced by sample values,
# goes through promtool as a recording rule.
dashboard_promql() { check_py dashboard-promql "$1" && promtool check rules "$1"; }
run "dashboard queries are valid PromQL (promtool)" \
  dashboard_promql "$tmp/dashboard-promql.yml"

# ---- the metric contract -------------------------------------------------------
run "rules and dashboards use only contract metrics (${#CONTRACT_METRICS[@]}) and defined recording rules" \
  check_py metrics

# ---- deployment files ----------------------------------------------------------
run "files referenced by compose, provisioning, configs and kustomization exist" \
  check_py references
run "Kubernetes objects agree (selectors, ports, probes, secret, job name)" \
  check_py kubernetes

if have kubectl; then
  kustomize_build() { kubectl kustomize deploy/kubernetes >"$tmp/kubernetes.yaml" && grep -c '^kind:' "$tmp/kubernetes.yaml" | sed 's/$/ objects rendered/'; }
  run "kubectl kustomize deploy/kubernetes" kustomize_build
  if have kubernetes-validate; then
    run "Kubernetes objects match the API schemas (kubernetes-validate --strict)" \
      kubernetes-validate --strict --quiet "$tmp/kubernetes.yaml"
  else
    skip "Kubernetes API schemas" "kubernetes-validate not found (pip install kubernetes-validate)"
  fi
else
  skip "kubectl kustomize deploy/kubernetes" "kubectl not found"
fi

if have docker && docker compose version >/dev/null 2>&1; then
  run "docker compose config" docker compose -f deploy/docker-compose.yml config -q
elif have docker-compose; then
  run "docker-compose config" docker-compose -f deploy/docker-compose.yml config -q
else
  skip "docker compose config" "neither docker compose nor docker-compose (Debian: apt-get install docker-compose)"
fi

# systemd-analyze verify needs ExecStart to exist: point it at a stub.
verify_unit() {
  local dir="$tmp/systemd" out
  mkdir -p "$dir"
  printf '#!/bin/sh\n' >"$dir/plex-sharing-exporter"
  chmod +x "$dir/plex-sharing-exporter"
  sed "s#/usr/local/bin/plex-sharing-exporter#$dir/plex-sharing-exporter#" \
    deploy/systemd/plex-sharing-exporter.service >"$dir/plex-sharing-exporter.service"
  out="$(systemd-analyze verify "$dir/plex-sharing-exporter.service" 2>&1)" || { echo "$out"; return 1; }
  # It only warns about unknown or misspelled settings: treat any output as failure.
  [[ -z "$out" ]] || { echo "$out"; return 1; }
  echo "unit verified"
}
if have systemd-analyze; then
  run "systemd-analyze verify deploy/systemd/plex-sharing-exporter.service" verify_unit
else
  skip "systemd-analyze verify" "systemd-analyze not found"
fi

if have shellcheck; then
  run "shellcheck deploy/check.sh" shellcheck deploy/check.sh
else
  skip "shellcheck deploy/check.sh" "shellcheck not found (Debian: apt-get install shellcheck)"
fi

# ---- summary -------------------------------------------------------------------
echo
if ((failed)); then
  echo "Failed checks:"
  printf '  - %s\n' "${failures[@]}"
fi
echo "bundle: ${passed} passed, ${failed} failed, ${skipped} skipped"
((failed == 0))
