"""deploy/knobs.yml, read and checked: what the generators build from.

Used by deploy/tools/generate.py (rules, PrometheusRule, runbook table) and
grafana/generate.py (dashboard thresholds). Needs PyYAML.
"""
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
KNOBS = ROOT / "deploy/knobs.yml"

DURATION = re.compile(r"^([0-9]+)([smhdw])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SEVERITIES = ("info", "warning", "critical")

# Per knob key: the alert it sets, whether it has a threshold and how that is read.
#   number: a plain number; duration: a Prometheus duration (e.g. 15m).
ALERT_KNOBS = {
    "high_score_warning": ("PlexSharingHighScore", "number"),
    "high_score_critical": ("PlexSharingHighScore", "number"),
    "account_across_servers": ("PlexSharingAccountAcrossServers", "number"),
    "teleportation": ("PlexSharingTeleportation", "number"),
    "vpn_likely": ("PlexSharingVpnLikely", "number"),
    "concurrent_networks": ("PlexSharingConcurrentNetworks", "number"),
    "exporter_down": ("PlexSharingExporterDown", None),
    "refresh_stale": ("PlexSharingRefreshStale", "duration"),
    "target_down": ("PlexSharingTargetDown", None),
    "exporter_absent": ("PlexSharingExporterAbsent", None),
}


class KnobError(Exception):
    pass


def seconds(duration):
    m = DURATION.match(str(duration))
    if not m:
        raise KnobError(f"{duration!r} is not a duration like 30s, 15m, 2h, 7d")
    return int(m.group(1)) * UNIT_SECONDS[m.group(2)]


def load(path=KNOBS):
    """The knobs, checked: a KnobError names the first bad entry."""
    doc = yaml.safe_load(pathlib.Path(path).read_text(encoding="utf-8")) or {}
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    job = doc.get("scrape_job")
    if not isinstance(job, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]+", job):
        raise KnobError(f"{where}: scrape_job must be a plain job name")
    rb = doc.get("runbook") or {}
    base = rb.get("base_url", "")
    if base and not re.fullmatch(r"https?://[^\s'\"#{}]+", base):
        raise KnobError(f"{where}: runbook.base_url must be empty or an http(s) URL without '#'")
    fallback = rb.get("fallback_base_url", "")
    if not re.fullmatch(r"https?://[^\s'\"#{}]+", str(fallback)):
        raise KnobError(f"{where}: runbook.fallback_base_url must be an http(s) URL")
    try:
        seconds(rb.get("lookback"))
    except KnobError as e:
        raise KnobError(f"{where}: runbook.lookback: {e}") from None
    alerts = doc.get("alerts") or {}
    if set(alerts) != set(ALERT_KNOBS):
        raise KnobError(f"{where}: alerts must list exactly {', '.join(ALERT_KNOBS)}")
    for key, (alert, kind) in ALERT_KNOBS.items():
        a = alerts[key]
        if a.get("alert") != alert:
            raise KnobError(f"{where}: alerts.{key}.alert must be {alert}")
        if a.get("severity") not in SEVERITIES:
            raise KnobError(f"{where}: alerts.{key}.severity must be one of {', '.join(SEVERITIES)}")
        try:
            seconds(a.get("for"))
            if kind == "duration":
                seconds(a.get("threshold"))
        except KnobError as e:
            raise KnobError(f"{where}: alerts.{key}: {e}") from None
        if kind == "number" and (isinstance(a.get("threshold"), bool)
                                 or not isinstance(a.get("threshold"), (int, float))):
            raise KnobError(f"{where}: alerts.{key}.threshold must be a number")
        if kind is None and "threshold" in a:
            raise KnobError(f"{where}: alerts.{key} has no threshold")
    return {"scrape_job": job, "runbook": {"base_url": base, "fallback_base_url": fallback,
                                           "lookback": rb["lookback"]}, "alerts": alerts}
