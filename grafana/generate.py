#!/usr/bin/env python3
"""Generate the Grafana dashboards of plex-sharing-exporter.

The JSON files in grafana/dashboards/ are the deliverable (importable through
the UI or provisioned from files); this script is their source, the way a
monitoring mixin renders jsonnet. Edit here, then:

    python3 grafana/generate.py            # rewrite grafana/dashboards/*.json
    python3 grafana/generate.py --check    # exit 1 if the JSON is out of date

deploy/check.sh runs --check (through deploy/tools/generate.py). The alert
thresholds the panels colour by come from deploy/knobs.yml (needs PyYAML).

Conventions kept by every panel (deploy/check.sh verifies them):
  * datasource is the ${datasource} variable, never a fixed uid;
  * every selector on an exporter metric carries the $job matcher;
  * no instance is hard-coded; links use Grafana variables and explicit
    formats (:raw for base URLs, :percentencode for path and query parts).
"""

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "dashboards"

DS = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["plex", "plex-sharing"]
SCHEMA_VERSION = 39

OVERVIEW_UID = "plex-sharing-overview"
USER_UID = "plex-sharing-user"

# Colour steps come from the alert thresholds in deploy/knobs.yml, which the
# rules are generated from too.
sys.path.insert(0, str(HERE.parent / "deploy" / "tools"))
import knobs  # noqa: E402

_ALERTS = knobs.load()["alerts"]
SCORE_WARNING = _ALERTS["high_score_warning"]["threshold"]
SCORE_CRITICAL = _ALERTS["high_score_critical"]["threshold"]
# Score at which PlexSharingAccountAcrossServers starts counting.
ACCOUNT_SCORE = _ALERTS["account_across_servers"]["threshold"]
# Live networks at which PlexSharingConcurrentNetworks starts counting.
LIVE_NETWORKS = _ALERTS["concurrent_networks"]["threshold"]
# Same-device jumps at which PlexSharingVpnLikely starts counting.
VPN_LIKELY = _ALERTS["vpn_likely"]["threshold"]
# Refresh age (seconds) at which PlexSharingRefreshStale starts counting.
REFRESH_STALE = knobs.seconds(_ALERTS["refresh_stale"]["threshold"])


# --------------------------------------------------------------------------
# Small builders
# --------------------------------------------------------------------------

class Grid:
    """Hands out panel ids and gridPos left to right, top to bottom."""

    def __init__(self):
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_h = 0

    def place(self, panel, w, h):
        if self.x + w > 24:
            self.newline()
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return panel

    def newline(self):
        if self.x:
            self.y += self.row_h
        self.x = 0
        self.row_h = 0

    def row(self, title):
        self.newline()
        panel = {
            "type": "row",
            "title": title,
            "collapsed": False,
            "panels": [],
        }
        self.place(panel, 24, 1)
        self.newline()
        return panel


def target(expr, legend="", ref="A", instant=False, table=False):
    t = {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "refId": ref,
    }
    if table:
        t["format"] = "table"
    return t


def thresholds(*steps):
    """steps: (value, colour) pairs after the base colour given first."""
    base, *rest = steps
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": c, "value": v} for v, c in rest],
    }


SCORE_THRESHOLDS = thresholds("green", (SCORE_WARNING, "orange"), (SCORE_CRITICAL, "red"))
ANY_IS_BAD = thresholds("green", (1, "red"))
ANY_IS_NOTABLE = thresholds("green", (1, "orange"))
ACCOUNT_THRESHOLDS = thresholds("green", (ACCOUNT_SCORE, "orange"))
NEUTRAL = thresholds("blue")


def stat(title, expr, description, unit="none", th=None, mappings=None,
         legend="", color_mode="value", links=None, text_mode="auto"):
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, legend)],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "decimals": 0 if unit == "none" else None,
                "color": {"mode": "thresholds"},
                "thresholds": th or NEUTRAL,
                "mappings": mappings or [],
                "links": links or [],
            },
            "overrides": [],
        },
        "options": {
            "colorMode": color_mode,
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": text_mode,
            "wideLayout": True,
            "showPercentChange": False,
        },
    }


def timeseries(title, targets, description, unit="none", links=None,
               overrides=None, draw="line", stack=False, th=None, decimals=None):
    custom = {
        "drawStyle": draw,
        "lineInterpolation": "stepAfter",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "axisSoftMin": 0,
    }
    if th is not None:
        custom["thresholdsStyle"] = {"mode": "dashed"}
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "decimals": decimals,
                "min": 0,
                "color": {"mode": "palette-classic"},
                "custom": custom,
                "thresholds": th or thresholds("green"),
                "links": links or [],
            },
            "overrides": overrides or [],
        },
        "options": {
            "legend": {"displayMode": "table", "placement": "right",
                       "calcs": ["lastNotNull", "max"], "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def link(title, url, blank=False):
    return {"title": title, "url": url, "targetBlank": blank}


def var_query(name, label, query, multi=False, include_all=False, hide=0,
              regex="", sort=1, all_value=None):
    v = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": query,
        "definition": query,
        "refresh": 2,  # on time range change: users and servers come and go
        "regex": regex,
        "sort": sort,
        "multi": multi,
        "includeAll": include_all,
        "hide": hide,
        "current": {},
        "options": [],
    }
    if all_value is not None:
        v["allValue"] = all_value
    return v


def var_datasource():
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "regex": "",
        "refresh": 1,
        "hide": 0,
        "current": {},
        "options": [],
    }


def dashboard(uid, title, description, panels, variables, links, refresh="1m",
              time_from="now-24h"):
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "description": "Prometheus that scrapes plex-sharing-exporter",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__elements": {},
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
            {"type": "panel", "id": "table", "name": "Table", "version": ""},
            {"type": "panel", "id": "bargauge", "name": "Bar gauge", "version": ""},
            {"type": "panel", "id": "text", "name": "Text", "version": ""},
        ],
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "id": None,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": links,
        "templating": {"list": variables},
        "panels": panels,
    }


# --------------------------------------------------------------------------
# Overview dashboard
# --------------------------------------------------------------------------

SEL = 'job=~"$job",instance=~"$instance",server=~"$server"'
SEL_INSTANCE = 'job=~"$job",instance=~"$instance"'

# Link from a row of a table (fields from labels) or from a series (labels).
USER_DASH_FROM_TABLE = (
    f"/d/{USER_UID}/plex-sharing-user?${{datasource:queryparam}}"
    "&var-job=${__data.fields.job:percentencode}"
    "&var-server=${__data.fields.server:percentencode}"
    "&var-user=${__data.fields.user:percentencode}"
    "&${__url_time_range}"
)
REPORT_FROM_TABLE = (
    "${__data.fields.external_url:raw}/users/"
    "${__data.fields.server:percentencode}/${__data.fields.user_id:percentencode}"
)
USER_DASH_FROM_SERIES = (
    f"/d/{USER_UID}/plex-sharing-user?${{datasource:queryparam}}"
    "&var-job=${__field.labels.job:percentencode}"
    "&var-server=${__field.labels.server:percentencode}"
    "&var-user=${__field.labels.user:percentencode}"
    "&${__url_time_range}"
)
USER_LINKS_FROM_TABLE = [
    link("User dashboard: ${__data.fields.user}", USER_DASH_FROM_TABLE),
    link("Evidence report: ${__data.fields.user}", REPORT_FROM_TABLE, blank=True),
]
USER_LINKS_FROM_SERIES = [
    link("User dashboard: ${__field.labels.user}", USER_DASH_FROM_SERIES),
]


def with_external_url(expr):
    """Add the exporter's external_url label (from plex_sharing_web_info) to
    every per-user sample, so table rows can link to the report page. Users of
    an exporter without plex_sharing_web_info are kept, without the label."""
    return (
        f"(\n  ({expr})\n  * on (job, instance) group_left (external_url)\n"
        f"  plex_sharing_web_info{{{SEL_INSTANCE}}}\n)\n"
        f"or on (job, instance, server, user_id)\n  ({expr})"
    )


def user_table(title, description, columns, sort_by, filter_expr=None):
    """A table with one row per user. columns: (metric, header, unit, th).
    filter_expr, if set, restricts the rows (e.g. to flagged users)."""
    targets = []
    rename = {}
    overrides = [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "custom.hidden", "value": True}],
        }
        for name in ("job", "instance", "external_url", "user_id")
    ]
    overrides.append({
        "matcher": {"id": "byName", "options": "user"},
        "properties": [
            {"id": "displayName", "value": "User"},
            {"id": "links", "value": USER_LINKS_FROM_TABLE},
        ],
    })
    overrides.append({
        "matcher": {"id": "byName", "options": "server"},
        "properties": [{"id": "displayName", "value": "Server"}],
    })
    for i, (metric, header, unit, th) in enumerate(columns):
        ref = chr(ord("A") + i)
        expr = f"{metric}{{{SEL}}}"
        if filter_expr:
            expr = f"{expr} and on (job, instance, server, user_id) {filter_expr}"
        targets.append(target(with_external_url(expr), ref=ref, instant=True, table=True))
        value_field = f"Value #{ref}"
        rename[value_field] = header
        props = [{"id": "unit", "value": unit}]
        if th is not None:
            props += [
                {"id": "thresholds", "value": th},
                {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}},
            ]
        if header == "Score":
            props.append({"id": "links", "value": [USER_LINKS_FROM_TABLE[1]]})
        overrides.append({"matcher": {"id": "byName", "options": header}, "properties": props})
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "__name__": True},
                    "indexByName": {},
                    "renameByName": rename,
                },
            },
        ],
        "fieldConfig": {
            "defaults": {
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True},
                "decimals": 0,
                "thresholds": NEUTRAL,
                "color": {"mode": "thresholds"},
                "mappings": [],
            },
            "overrides": overrides,
        },
        "options": {
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""},
            "sortBy": [{"displayName": sort_by, "desc": True}],
        },
    }


ACCOUNT_REPORT_FROM_TABLE = (
    "${__data.fields.external_url:raw}/accounts/${__data.fields.user_id:percentencode}"
)


def account_table(title, description, columns):
    """A table with one row per account on two or more servers (series without a
    server label), each linking to its account report. columns: (metric,
    header, unit, th)."""
    targets, rename = [], {}
    overrides = [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "custom.hidden", "value": True}],
        }
        for name in ("job", "instance", "external_url")
    ]
    report = [link("Account report: ${__data.fields.user}", ACCOUNT_REPORT_FROM_TABLE, blank=True)]
    overrides.append({
        "matcher": {"id": "byName", "options": "user"},
        "properties": [{"id": "displayName", "value": "Account"}, {"id": "links", "value": report}],
    })
    overrides.append({
        "matcher": {"id": "byName", "options": "user_id"},
        "properties": [{"id": "displayName", "value": "User id"}],
    })
    for i, (metric, header, unit, th) in enumerate(columns):
        ref = chr(ord("A") + i)
        expr = f"{metric}{{{SEL_INSTANCE}}}"
        expr = (
            f"(\n  ({expr})\n  * on (job, instance) group_left (external_url)\n"
            f"  plex_sharing_web_info{{{SEL_INSTANCE}}}\n)\n"
            f"or on (job, instance, user_id)\n  ({expr})"
        )
        targets.append(target(expr, ref=ref, instant=True, table=True))
        rename[f"Value #{ref}"] = header
        props = [{"id": "unit", "value": unit}]
        if th is not None:
            props += [
                {"id": "thresholds", "value": th},
                {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}},
            ]
        overrides.append({"matcher": {"id": "byName", "options": header}, "properties": props})
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "__name__": True},
                    "indexByName": {},
                    "renameByName": rename,
                },
            },
        ],
        "fieldConfig": {
            "defaults": {
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True},
                "decimals": 0,
                "thresholds": NEUTRAL,
                "color": {"mode": "thresholds"},
                "mappings": [],
            },
            "overrides": overrides,
        },
        "options": {
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""},
            "sortBy": [{"displayName": "Score", "desc": True}],
        },
    }


def overview():
    g = Grid()
    panels = []

    panels.append(g.row("Account sharing"))
    panels.append(g.place(stat(
        "Users", f"count(plex_sharing_user_score{{{SEL}}}) or vector(0)",
        "Users with history in the exporter's window (--days).",
    ), 4, 4))
    panels.append(g.place(stat(
        "Flagged users", f"sum(plex_sharing_user_flagged{{{SEL}}}) or vector(0)",
        "Users whose score is at or above the exporter's --min-score.",
        th=ANY_IS_NOTABLE,
    ), 4, 4))
    panels.append(g.place(stat(
        "Users with concurrent device pairs",
        f"count(plex_sharing_user_concurrent_device_pairs{{{SEL}}} > 0) or vector(0)",
        "Users with at least one pair of devices that played at the same time "
        "from different networks in the window.",
        th=ANY_IS_NOTABLE,
    ), 4, 4))
    panels.append(g.place(stat(
        "Users with teleportations",
        f"count(plex_sharing_user_teleportations{{{SEL}}} > 0) or vector(0)",
        "Users with at least one impossible-travel jump between sessions in the window.",
        th=ANY_IS_NOTABLE,
    ), 4, 4))
    panels.append(g.place(stat(
        "Live streams", f"sum(plex_sharing_user_live_streams{{{SEL}}}) or vector(0)",
        "Streams playing right now.",
    ), 4, 4))
    panels.append(g.place(stat(
        "Live from 2+ networks",
        f"count(plex_sharing_user_live_networks{{{SEL}}} >= 2) or vector(0)",
        "Users streaming right now from two or more different networks.",
        th=ANY_IS_BAD,
    ), 4, 4))

    top = {
        "type": "bargauge",
        "title": "Top users by score",
        "description": "The highest sharing scores. Click a bar for the user's dashboard. "
                       f"Orange from {SCORE_WARNING}, red from {SCORE_CRITICAL} "
                       "(the PlexSharingHighScore thresholds).",
        "datasource": DS,
        "targets": [target(f"topk($topn, plex_sharing_user_score{{{SEL}}})",
                           "{{user}} ({{server}})", instant=True)],
        "fieldConfig": {
            "defaults": {
                "unit": "none",
                "decimals": 0,
                "min": 0,
                "color": {"mode": "thresholds"},
                "thresholds": SCORE_THRESHOLDS,
                "links": USER_LINKS_FROM_SERIES,
            },
            "overrides": [],
        },
        "options": {
            "orientation": "horizontal",
            "displayMode": "gradient",
            "valueMode": "color",
            "namePlacement": "auto",
            "showUnfilled": True,
            "sizing": "auto",
            "minVizHeight": 16,
            "maxVizHeight": 300,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
    }
    panels.append(g.place(top, 9, 12))

    panels.append(g.place(user_table(
        "Users by score",
        "Every user with history in the window, highest score first. Click a user "
        "for their dashboard or evidence report; click a score for the report.",
        [
            ("plex_sharing_user_score", "Score", "none", SCORE_THRESHOLDS),
            ("plex_sharing_user_devices", "Devices", "none", None),
            ("plex_sharing_user_heavy_devices", "Heavy devices", "none", None),
            ("plex_sharing_user_concurrent_device_pairs", "Device pairs", "none", ANY_IS_NOTABLE),
            ("plex_sharing_user_teleportations", "Teleports", "none", ANY_IS_NOTABLE),
            ("plex_sharing_user_networks", "Networks", "none", None),
            ("plex_sharing_user_live_networks", "Live networks",
             "none", thresholds("transparent", (LIVE_NETWORKS, "red"))),
            ("plex_sharing_user_plays", "Plays", "none", None),
            ("plex_sharing_user_watch_time_seconds", "Watch time", "s", None),
        ],
        sort_by="Score",
    ), 15, 12))

    panels.append(g.place(user_table(
        "Flagged users",
        "Users the exporter flags (score at or above its --min-score).",
        [
            ("plex_sharing_user_score", "Score", "none", SCORE_THRESHOLDS),
            ("plex_sharing_user_concurrent_sessions", "Concurrent sessions", "none", None),
            ("plex_sharing_user_concurrent_device_pairs", "Device pairs", "none", None),
            ("plex_sharing_user_teleportations", "Teleports", "none", None),
        ],
        sort_by="Score",
        filter_expr=f"plex_sharing_user_flagged{{{SEL}}} == 1",
    ), 12, 8))
    panels.append(g.place(user_table(
        "Streaming from several networks right now",
        "Users whose live streams come from two or more different networks at "
        "this moment (what PlexSharingConcurrentNetworks alerts on).",
        [
            ("plex_sharing_user_live_networks", "Live networks", "none", thresholds("transparent", (LIVE_NETWORKS, "red"))),
            ("plex_sharing_user_live_streams", "Live streams", "none", None),
            ("plex_sharing_user_score", "Score", "none", SCORE_THRESHOLDS),
        ],
        sort_by="Live networks",
        filter_expr=f"plex_sharing_user_live_networks{{{SEL}}} >= 2",
    ), 12, 8))

    panels.append(g.row("Accounts across servers"))
    panels.append(g.place(stat(
        "Accounts on 2+ servers",
        f"count(plex_sharing_account_servers{{{SEL_INSTANCE}}}) or vector(0)",
        "Accounts (plex.tv user ids) with sessions on two or more of the exporter's "
        "servers in the window. Their sessions on all servers are analysed together.",
    ), 4, 8))
    panels.append(g.place(stat(
        "Flagged accounts",
        f"sum(plex_sharing_account_flagged{{{SEL_INSTANCE}}}) or vector(0)",
        "Accounts whose score over every server together is at or above the "
        "exporter's --min-score.",
        th=ANY_IS_NOTABLE,
    ), 4, 8))
    panels.append(g.place(account_table(
        "Accounts across servers by score",
        "Each account on two or more servers, its sessions on all of them analysed "
        "together (the server filter does not apply). Click an account for its report, "
        f"which names the server of each session. Orange from {ACCOUNT_SCORE}: "
        "PlexSharingAccountAcrossServers.",
        [
            ("plex_sharing_account_score", "Score", "none", ACCOUNT_THRESHOLDS),
            ("plex_sharing_account_servers", "Servers", "none", None),
            ("plex_sharing_account_concurrent_device_pairs", "Device pairs", "none", ANY_IS_NOTABLE),
            ("plex_sharing_account_teleportations", "Teleports", "none", ANY_IS_NOTABLE),
        ],
    ), 16, 8))

    panels.append(g.row("Sharing signals over time"))
    panels.append(g.place(timeseries(
        "Concurrent device pairs",
        [target(f"plex_sharing_user_concurrent_device_pairs{{{SEL}}} > 0", "{{user}} ({{server}})")],
        "Per user: pairs of devices that played at the same time from different "
        "networks in the window. Users with none are not drawn.",
        links=USER_LINKS_FROM_SERIES, decimals=0,
    ), 12, 8))
    panels.append(g.place(timeseries(
        "Teleportations",
        [target(f"plex_sharing_user_teleportations{{{SEL}}} > 0", "{{user}} ({{server}})")],
        "Per user: impossible-travel jumps between consecutive sessions in the "
        "window. Users with none are not drawn.",
        links=USER_LINKS_FROM_SERIES, decimals=0,
    ), 12, 8))
    panels.append(g.place(timeseries(
        "Users streaming from 2+ networks",
        [target(f"count by (server) (plex_sharing_user_live_networks{{{SEL}}} >= 2)", "{{server}}")],
        "Per server: how many users were streaming from two or more networks at once.",
        draw="bars", decimals=0,
    ), 8, 8))
    panels.append(g.place(timeseries(
        "Live streams",
        [target(f"sum by (server) (plex_sharing_user_live_streams{{{SEL}}})", "{{server}}")],
        "Per server: streams playing.",
        decimals=0,
    ), 8, 8))
    panels.append(g.place(timeseries(
        "Flagged users",
        [target(f"sum by (server) (plex_sharing_user_flagged{{{SEL}}})", "{{server}}")],
        "Per server: users at or above the exporter's --min-score.",
        decimals=0,
    ), 8, 8))

    panels.append(g.row("Exporter health"))
    panels.append(g.place(stat(
        "Tautulli refresh",
        f"plex_sharing_up{{{SEL}}}",
        "Whether the last refresh from each Tautulli server succeeded "
        "(plex_sharing_up). A failed server keeps its last good data.",
        legend="{{server}}",
        color_mode="background",
        th=thresholds("red", (1, "green")),
        mappings=[{"type": "value", "options": {
            "0": {"text": "FAILING", "color": "red", "index": 0},
            "1": {"text": "OK", "color": "green", "index": 1},
        }}],
    ), 6, 5))
    panels.append(g.place(stat(
        "Time since last successful refresh",
        f"time() - plex_sharing_last_refresh_success_timestamp_seconds{{{SEL}}}",
        f"Red from {REFRESH_STALE // 60} minutes: PlexSharingRefreshStale's threshold.",
        unit="s", legend="{{server}}",
        th=thresholds("green", (300, "orange"), (REFRESH_STALE, "red")),
    ), 6, 5))
    panels.append(g.place(timeseries(
        "Refresh duration",
        [target(f"plex_sharing_refresh_duration_seconds{{{SEL}}}", "{{server}}")],
        "How long the last refresh from each Tautulli server took.",
        unit="s",
    ), 6, 5))
    panels.append(g.place(timeseries(
        "History rows in the window",
        [target(f"plex_sharing_history_rows{{{SEL}}}", "{{server}}")],
        "Tautulli history rows the exporter holds for the window (--days).",
        decimals=0,
    ), 6, 5))

    panels.append(g.place(timeseries(
        "Tautulli requests by outcome",
        [target(f"sum by (server, outcome) (rate(plex_sharing_tautulli_requests_total{{{SEL}}}[$__rate_interval]))",
                "{{server}} {{outcome}}")],
        "Requests to the Tautulli API per second.",
        unit="reqps", stack=True,
    ), 8, 8))
    panels.append(g.place(timeseries(
        "Tautulli request error ratio",
        # "or ... * 0": 0 rather than no data while every request succeeds (the
        # failed-outcome series only exist after a first failure).
        [target(
            f"(\n  sum by (server) (rate(plex_sharing_tautulli_requests_total{{{SEL},outcome!=\"success\"}}[$__rate_interval]))\n"
            f"  or\n  sum by (server) (rate(plex_sharing_tautulli_requests_total{{{SEL}}}[$__rate_interval])) * 0\n)\n"
            f"/\nsum by (server) (rate(plex_sharing_tautulli_requests_total{{{SEL}}}[$__rate_interval]))",
            "{{server}}")],
        "Share of Tautulli API requests that did not succeed (errors, timeouts...); "
        "0 while all succeed.",
        unit="percentunit", th=thresholds("green", (0.1, "red")),
    ), 8, 8))
    panels.append(g.place(timeseries(
        "GeoIP lookups by outcome",
        [target(f"sum by (provider, outcome) (rate(plex_sharing_geoip_lookups_total{{{SEL_INSTANCE}}}[$__rate_interval]))",
                "{{provider}} {{outcome}}")],
        "GeoIP lookups per second by provider (mmdb, tautulli, cache) and outcome. "
        "Many errors or misses make teleportation detection blind.",
        unit="ops", stack=True,
    ), 8, 8))
    panels.append(g.place(timeseries(
        "GeoIP cache entries",
        [target(f"plex_sharing_geoip_cache_entries{{{SEL_INSTANCE}}}", "{{instance}}")],
        "Addresses in the exporter's GeoIP cache.",
        decimals=0,
    ), 8, 6))
    build = {
        "type": "table",
        "title": "Exporters",
        "description": "Version of each exporter and the public URL its links use "
                       "(--web.external-url).",
        "datasource": DS,
        "targets": [target(
            f"plex_sharing_build_info{{{SEL_INSTANCE}}}\n"
            f"* on (job, instance) group_left (external_url)\nplex_sharing_web_info{{{SEL_INSTANCE}}}\n"
            f"or on (job, instance)\nplex_sharing_build_info{{{SEL_INSTANCE}}}",
            instant=True, table=True)],
        "transformations": [
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "Value": True, "__name__": True},
                "indexByName": {"job": 0, "instance": 1, "version": 2, "revision": 3, "external_url": 4},
                "renameByName": {},
            }},
        ],
        "fieldConfig": {
            "defaults": {"custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
            "overrides": [{
                "matcher": {"id": "byName", "options": "external_url"},
                "properties": [{"id": "links", "value": [
                    link("Open the exporter", "${__data.fields.external_url:raw}/", blank=True)]}],
            }],
        },
        "options": {"showHeader": True, "cellHeight": "sm",
                    "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""}},
    }
    panels.append(g.place(build, 16, 6))

    variables = [
        var_datasource(),
        var_query("job", "Job", "label_values(plex_sharing_up, job)",
                  multi=True, include_all=True),
        var_query("instance", "Instance", 'label_values(plex_sharing_up{job=~"$job"}, instance)',
                  multi=True, include_all=True, all_value=".+"),
        var_query("server", "Server",
                  'label_values(plex_sharing_up{job=~"$job",instance=~"$instance"}, server)',
                  multi=True, include_all=True, all_value=".+"),
        {
            "type": "custom",
            "name": "topn",
            "label": "Top N",
            "query": "10,20,50",
            "current": {"selected": True, "text": "10", "value": "10"},
            "options": [
                {"selected": v == "10", "text": v, "value": v} for v in ("10", "20", "50")
            ],
            "multi": False,
            "includeAll": False,
            "hide": 0,
        },
    ]
    links = [{
        "type": "dashboards", "tags": TAGS, "asDropdown": False, "title": "Plex sharing",
        "includeVars": False, "keepTime": True, "targetBlank": False, "icon": "external link",
        "tooltip": "", "url": "",
    }]
    return dashboard(
        OVERVIEW_UID, "Plex sharing / Overview",
        "Who shares their Plex account: scores, concurrent devices, teleportations "
        "and live multi-network streams from plex-sharing-exporter, plus the "
        "exporter's own health.",
        panels, variables, links,
    )


# --------------------------------------------------------------------------
# Per-user dashboard
# --------------------------------------------------------------------------

# One series per user even across exporter restarts (new pod => new instance)
# or two exporters polling the same server.
USEL = 'job="$job",server="$server",user_id="$user_id"'


def per_user(metric):
    return f"max by (server, user_id) ({metric}{{{USEL}}})"


REPORT_URL = "${report_base_url:raw}/users/${server:percentencode}/${user_id:percentencode}"
API_URL = "${report_base_url:raw}/api/v1/users/${server:percentencode}/${user_id:percentencode}"
REPORT_LINKS = [link("Evidence report for ${user}", REPORT_URL, blank=True)]


def user():
    g = Grid()
    panels = []

    header = {
        "type": "text",
        "title": "Evidence",
        "description": "The exporter's report page lists the sessions, devices, "
                       "overlaps and jumps behind every number on this dashboard.",
        "options": {
            "mode": "markdown",
            "content": (
                "**${user}** on **${server}** (user_id ${user_id}): "
                f"[open the evidence report]({REPORT_URL}) · [JSON]({API_URL})\n\n"
                "Numbers cover the exporter's history window (`--days`); *live* "
                "numbers are what is playing right now. The report address comes "
                "from `plex_sharing_web_info` (the exporter's `--web.external-url`); "
                "if the exporter does not publish it, set **Report base URL "
                "(fallback)** above."
            ),
            "code": {"language": "plaintext", "showLineNumbers": False, "showMiniMap": False},
        },
    }
    panels.append(g.place(header, 24, 3))

    def s(title, metric, description, unit="none", th=None, mappings=None):
        return stat(title, per_user(metric), description, unit=unit, th=th,
                    mappings=mappings, links=REPORT_LINKS)

    for w, p in [
        (3, s("Score", "plex_sharing_user_score",
              f"Sharing score. Orange from {SCORE_WARNING}, red from {SCORE_CRITICAL} "
              "(PlexSharingHighScore).", th=SCORE_THRESHOLDS)),
        (3, s("Flagged", "plex_sharing_user_flagged",
              "Whether the score is at or above the exporter's --min-score.",
              th=ANY_IS_NOTABLE,
              mappings=[{"type": "value", "options": {
                  "0": {"text": "No", "index": 0}, "1": {"text": "Yes", "index": 1}}}])),
        (3, s("Devices", "plex_sharing_user_devices", "Distinct devices in the window.")),
        (3, s("Heavy devices", "plex_sharing_user_heavy_devices",
              "Devices used often enough to count as someone's regular player.")),
        (3, s("Concurrent sessions", "plex_sharing_user_concurrent_sessions",
              "Overlapping sessions from different networks in the window.")),
        (3, s("Device pairs", "plex_sharing_user_concurrent_device_pairs",
              "Distinct device pairs that played at the same time from different networks.",
              th=ANY_IS_NOTABLE)),
        (3, s("Teleportations", "plex_sharing_user_teleportations",
              "Impossible-travel jumps between consecutive sessions.", th=ANY_IS_NOTABLE)),
        (3, s("Networks", "plex_sharing_user_networks", "Distinct networks in the window.")),
        (4, s("Same-device jumps", "plex_sharing_user_same_device_jumps",
              "One device in far-apart places minutes apart: likely a VPN or proxy. Counted "
              f"apart from teleportations, scores nothing by default; blue from {VPN_LIKELY} "
              "(PlexSharingVpnLikely, info).", th=thresholds("green", (VPN_LIKELY, "blue")))),
        (5, s("Plays", "plex_sharing_user_plays", "Plays in the window.")),
        (5, s("Watch time", "plex_sharing_user_watch_time_seconds",
              "Time played in the window.", unit="s")),
        (5, s("Live streams", "plex_sharing_user_live_streams", "Streams playing right now.")),
        (5, s("Live networks", "plex_sharing_user_live_networks",
              f"Distinct networks among the live streams; {LIVE_NETWORKS} or more is "
              "PlexSharingConcurrentNetworks.", th=thresholds("green", (LIVE_NETWORKS, "red")))),
    ]:
        panels.append(g.place(p, w, 4))

    def ts(title, series, description, unit="none", th=None):
        return timeseries(
            title,
            [target(per_user(m), legend, ref=chr(ord("A") + i)) for i, (m, legend) in enumerate(series)],
            description, unit=unit, links=REPORT_LINKS, th=th,
            decimals=None if unit != "none" else 0,
        )

    for p in [
        ts("Score", [("plex_sharing_user_score", "score")],
           "Sharing score over time; dashed lines are the alert thresholds.",
           th=SCORE_THRESHOLDS),
        ts("Devices", [("plex_sharing_user_devices", "devices"),
                       ("plex_sharing_user_heavy_devices", "heavy devices")],
           "Distinct and heavily used devices in the window."),
        ts("Concurrency", [("plex_sharing_user_concurrent_sessions", "concurrent sessions"),
                           ("plex_sharing_user_concurrent_device_pairs", "device pairs")],
           "Sessions that overlapped in time from different networks, and the "
           "distinct device pairs involved."),
        ts("Teleportations", [("plex_sharing_user_teleportations", "teleportations"),
                              ("plex_sharing_user_same_device_jumps", "same-device jumps (likely VPN)")],
           "Impossible-travel jumps in the window, and jumps of one device between far-apart "
           "places (likely a VPN or proxy, counted apart)."),
        ts("Networks", [("plex_sharing_user_networks", "networks in window"),
                        ("plex_sharing_user_live_networks", "live networks")],
           "Distinct networks in the window, and among the streams playing at each moment."),
        ts("Live streams", [("plex_sharing_user_live_streams", "live streams")],
           "Streams playing at each moment."),
        ts("Plays", [("plex_sharing_user_plays", "plays")], "Plays in the window."),
        ts("Watch time", [("plex_sharing_user_watch_time_seconds", "watch time")],
           "Time played in the window.", unit="s"),
    ]:
        panels.append(g.place(p, 12, 8))

    variables = [
        var_datasource(),
        var_query("job", "Job", "label_values(plex_sharing_user_score, job)"),
        var_query("server", "Server", 'label_values(plex_sharing_user_score{job="$job"}, server)'),
        var_query("user", "User",
                  'label_values(plex_sharing_user_score{job="$job",server="$server"}, user)'),
        # The stable key behind the display name: what the report URL and the
        # queries use.
        var_query("user_id", "User ID",
                  'label_values(plex_sharing_user_score{job="$job",server="$server",user="$user"}, user_id)',
                  hide=2),
        {
            "type": "textbox",
            "name": "report_base_url_fallback",
            "label": "Report base URL (fallback)",
            "description": "Used only when no exporter for this server publishes "
                           "plex_sharing_web_info (its --web.external-url).",
            "query": "http://localhost:9595",
            "current": {"selected": False, "text": "http://localhost:9595",
                        "value": "http://localhost:9595"},
            "options": [{"selected": True, "text": "http://localhost:9595",
                         "value": "http://localhost:9595"}],
            "hide": 0,
        },
        # The exporter that currently serves $server publishes its public URL
        # in plex_sharing_web_info; when none does, use the textbox above.
        var_query(
            "report_base_url", "Report base URL",
            'query_result(max by (external_url) (plex_sharing_web_info{job="$job"} '
            'and on (job, instance) plex_sharing_up{job="$job",server="$server"}) '
            'or on () label_replace(vector(1), "external_url", "$report_base_url_fallback", "", ""))',
            hide=2, regex='/external_url="([^"]+)"/', sort=0,
        ),
    ]
    links = [
        {"type": "link", "title": "Evidence report", "url": REPORT_URL, "icon": "doc",
         "targetBlank": True, "asDropdown": False, "includeVars": False, "keepTime": False,
         "tags": [], "tooltip": "The exporter's report page for this user"},
        {"type": "dashboards", "tags": TAGS, "asDropdown": False, "title": "Plex sharing",
         "includeVars": False, "keepTime": True, "targetBlank": False, "icon": "external link",
         "tooltip": "", "url": ""},
    ]
    return dashboard(
        USER_UID, "Plex sharing / User",
        "One Plex user's sharing signals over time, with a link to the "
        "exporter's evidence report.",
        panels, variables, links, time_from="now-7d",
    )


def render(d):
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"


def outputs():
    """{path: text} of every dashboard; deploy/tools/generate.py writes them too."""
    return {
        OUT / "plex-sharing-overview.json": render(overview()),
        OUT / "plex-sharing-user.json": render(user()),
    }


def main(argv):
    check = "--check" in argv
    stale = []
    for path, text in outputs().items():
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        for p in stale:
            print(f"out of date: {p.relative_to(HERE.parent)} (run python3 grafana/generate.py)",
                  file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
