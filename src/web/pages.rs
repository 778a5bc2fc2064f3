//! The HTML pages of `serve` and `demo`: pure functions from snapshots and [`Settings`]
//! to a complete document. No script and no external resources (styles are inline),
//! so the pages work offline and under the strict Content-Security-Policy the handlers
//! send. Everything that came from Tautulli or GeoIP (names, devices, titles, places,
//! addresses) goes through [`escape`]: Tautulli's API does not escape anything.
//!
//! Links are path-absolute under the route prefix (the path of `--web.external-url`), so
//! they work both through the reverse proxy and when the exporter is reached directly.
//! Times are UTC, written as ISO 8601 with `Z`.

use std::fmt::Write as _;

use super::escape;
use super::mask::IpView;
use super::svg::{self, fmt_utc};
use crate::detect::UserFinding;
use crate::report::fmt_duration;
use crate::snapshot::{Health, Live, Snapshot};

/// What every page needs besides the data.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Route prefix (path of the external URL), "" for none; no trailing slash.
    pub prefix: String,
    /// Path of the metrics endpoint.
    pub telemetry_path: String,
    /// How addresses are shown (`--web.mask-ips`).
    pub ips: IpView,
    /// The flag threshold (`--min-score`), shown beside the score.
    pub min_score: f64,
    /// The impossible-travel speed (`--max-speed-kmh`), shown beside each jump.
    pub max_speed_kmh: f64,
}

/// One server as the pages see it.
#[derive(Debug, Clone, Copy)]
pub struct ServerView<'a> {
    /// Its name (the `server` label).
    pub name: &'a str,
    /// How its refreshes go.
    pub health: &'a Health,
    /// Its latest data, if any refresh succeeded yet.
    pub snapshot: Option<&'a Snapshot>,
}

const CSS: &str = r#"
:root{--fg:#1d232a;--muted:#5b6672;--line:#dde2e7;--alt:#f6f8fa;--accent:#1f5fa8;--red:#c62828}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:#fff}
header{background:#1d232a}
header nav{max-width:78rem;margin:0 auto;padding:.65rem 1.2rem;display:flex;gap:1.5rem;align-items:baseline}
header a{color:#e8edf2;text-decoration:none}header a:hover{color:#fff;text-decoration:underline}
header a.brand{font-weight:700;color:#fff;margin-right:auto}
main{max-width:78rem;margin:0 auto;padding:.8rem 1.2rem 2rem}
a{color:var(--accent)}
h1{font-size:1.65rem;margin:.5rem 0 .2rem}
h2{font-size:1.2rem;margin:2.2rem 0 .7rem;padding-bottom:.3rem;border-bottom:2px solid var(--line)}
.sub,.muted{color:var(--muted)}
.crumbs{margin:.4rem 0 0;font-size:.9rem;color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{padding:.38rem .55rem;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
thead th{background:var(--alt);font-weight:600;white-space:nowrap}
tbody tr:hover{background:#f9fbfd}
.nw{white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot td{font-weight:700;border-top:2px solid var(--line)}
tr.date th{background:#eef2f6;font-weight:600}
.badge{display:inline-block;padding:.08rem .55rem;border-radius:1rem;font-size:.78rem;font-weight:700;vertical-align:middle;white-space:nowrap}
.flag{background:#fde8e8;color:var(--red)}.ok{background:#e7f3ea;color:#2e7d32}.warn{background:#fff4e0;color:#8a5300}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(7.6rem,1fr));gap:.7rem;margin:1rem 0 .5rem}
.card{border:1px solid var(--line);border-radius:.5rem;padding:.55rem .8rem;background:#fff}
.card .v{font-size:1.35rem;font-weight:700;font-variant-numeric:tabular-nums;white-space:nowrap}
.card .k{color:var(--muted);font-size:.83rem}
.card.hot .v{color:var(--red)}
td.user{min-width:11rem}td.score{font-weight:700}td.hot{color:var(--red)}
figure{margin:0}
svg{width:100%;height:auto;display:block;border:1px solid var(--line);border-radius:.4rem}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1.3rem;font-size:.85rem;color:var(--muted);margin:.55rem 0 0}
.sw{display:inline-block;width:.85rem;height:.85rem;border-radius:2px;vertical-align:-1px;margin-right:.35rem}
form.filter{margin:.7rem 0 1rem;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
select,button{font:inherit;padding:.2rem .5rem}
details{margin-top:.8rem}summary{cursor:pointer;color:var(--accent)}
code{font-size:.86em;background:var(--alt);padding:0 .25rem;border-radius:3px}
footer{max-width:78rem;margin:0 auto;padding:.8rem 1.2rem 1.5rem;color:var(--muted);font-size:.84rem;border-top:1px solid var(--line)}
"#;

fn layout(s: &Settings, title: &str, body: &str) -> String {
    let p = escape(&s.prefix);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Plex Sharing Exporter</title>
<link rel="icon" href="data:,">
<style>{CSS}</style>
</head><body>
<header><nav><a class="brand" href="{p}/">Plex Sharing Exporter</a><a href="{p}/users">Users</a><a href="{p}{metrics}">Metrics</a></nav></header>
<main>
{body}
</main>
<footer>Times are UTC (ISO 8601). plex-sharing-exporter {version}.</footer>
</body></html>
"#,
        title = escape(title),
        metrics = escape(&s.telemetry_path),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// A number as people write it: `242`, `12.5`.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn user_href(s: &Settings, server: &str, user_id: i64) -> String {
    format!("{}/users/{}/{user_id}", escape(&s.prefix), escape(server))
}

fn flag_badge(f: &UserFinding) -> &'static str {
    if f.flagged {
        r#"<span class="badge flag">flagged</span>"#
    } else {
        ""
    }
}

/// The landing page: what this is, where to go, and how each server is doing.
pub fn landing(s: &Settings, servers: &[ServerView]) -> String {
    let p = escape(&s.prefix);
    let mut rows = String::new();
    for v in servers {
        let h = v.health;
        let status = if h.up {
            r#"<span class="badge ok">up</span>"#
        } else if h.attempts == 0 {
            r#"<span class="badge warn">starting</span>"#
        } else {
            r#"<span class="badge flag">DOWN</span>"#
        };
        let snap = v.snapshot;
        let _ = write!(
            rows,
            r#"<tr><td><a href="{p}/users?server={q}">{name}</a></td><td>{status}</td><td class="num">{sessions}</td><td class="num">{users}</td><td class="num">{flagged}</td><td>{error}</td></tr>"#,
            q = escape(v.name),
            name = escape(v.name),
            sessions = snap.map(|s| s.rows).unwrap_or(0),
            users = snap.map(|s| s.findings.len()).unwrap_or(0),
            flagged = snap
                .map(|s| s.findings.iter().filter(|f| f.flagged).count())
                .unwrap_or(0),
            error = escape(h.last_error.as_deref().unwrap_or("")),
        );
    }
    let body = format!(
        r#"<h1>Plex Sharing Exporter</h1>
<p class="sub">Finds Plex account sharing in Tautulli's history: streams from different networks at the same time, and travel faster than a plane.</p>
<ul>
<li><a href="{p}/users">Users</a>: every user in the window, most suspicious first, each with a full report (<a href="{p}/api/v1/users">JSON</a>)</li>
<li><a href="{p}{metrics}">Metrics</a> for Prometheus</li>
<li><a href="{p}/-/healthy">Health</a> · <a href="{p}/-/ready">Readiness</a></li>
</ul>
<h2>Servers</h2>
<div class="scroll"><table><thead><tr><th>Server</th><th>Status</th><th class="num">Sessions</th><th class="num">Users</th><th class="num">Flagged</th><th>Last error</th></tr></thead>
<tbody>{rows}</tbody></table></div>"#,
        metrics = escape(&s.telemetry_path),
    );
    layout(s, "Home", &body)
}

/// `/users`: every user of every server (or of `filter` only), highest score first.
/// The caller answers 404 for a `filter` that names no server.
pub fn users(s: &Settings, servers: &[ServerView], filter: Option<&str>) -> String {
    let p = escape(&s.prefix);
    let shown: Vec<&ServerView> = servers.iter().filter(|v| filter.is_none_or(|f| f == v.name)).collect();
    let mut rows: Vec<(&str, &Snapshot, &UserFinding)> = Vec::new();
    for v in &shown {
        if let Some(snap) = v.snapshot {
            rows.extend(snap.findings.iter().map(|f| (v.name, snap, &**f)));
        }
    }
    rows.sort_by(|a, b| {
        b.2.score
            .total_cmp(&a.2.score)
            .then(b.2.concurrent_sessions.cmp(&a.2.concurrent_sessions))
            .then(a.2.user.cmp(&b.2.user))
            .then(a.0.cmp(b.0))
            .then(a.2.user_id.cmp(&b.2.user_id))
    });
    let mut options = String::from(r#"<option value="">all servers</option>"#);
    for v in servers {
        let _ = write!(
            options,
            r#"<option value="{n}"{sel}>{n}</option>"#,
            n = escape(v.name),
            sel = if filter == Some(v.name) { " selected" } else { "" },
        );
    }
    let waiting: Vec<String> = shown
        .iter()
        .filter(|v| v.snapshot.is_none())
        .map(|v| escape(v.name))
        .collect();
    let flagged = rows.iter().filter(|r| r.2.flagged).count();
    let windows: Vec<String> = shown
        .iter()
        .filter_map(|v| v.snapshot)
        .map(|snap| format!("{} – {}", fmt_utc(snap.window.0), fmt_utc(snap.window.1)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut table = String::new();
    for (rank, (server, snap, f)) in rows.iter().enumerate() {
        let live = snap.live.get(&f.user_id).cloned().unwrap_or_default();
        let _ = write!(
            table,
            r#"<tr><td class="num">{rank}</td><td class="user"><a href="{href}">{name}</a><div class="muted">{username}</div></td><td>{server}</td><td class="num score{hot}">{score}</td><td>{badge}</td><td class="num">{devices}</td><td class="num">{heavy}</td><td class="num">{networks}</td><td class="num">{pairs}</td><td class="num">{sessions}</td><td class="num">{teleports}</td><td class="num">{live}</td><td class="num">{plays}</td><td class="num">{watch}</td></tr>"#,
            rank = rank + 1,
            href = user_href(s, server, f.user_id),
            name = escape(&f.user),
            badge = flag_badge(f),
            username = escape(&f.username),
            server = escape(server),
            hot = if f.flagged { " hot" } else { "" },
            score = num(f.score),
            devices = f.devices,
            heavy = f.heavy_devices,
            networks = f.networks,
            pairs = f.concurrent_device_pairs,
            sessions = f.concurrent_sessions,
            teleports = f.teleportations,
            live = live_text(&live),
            plays = f.plays,
            watch = fmt_duration(f.watch_time_seconds),
        );
    }
    let mut notes = String::new();
    if !waiting.is_empty() {
        let _ = write!(
            notes,
            r#"<p><span class="badge warn">waiting</span> No data yet from {}: the first refresh has not succeeded.</p>"#,
            waiting.join(", ")
        );
    }
    if rows.is_empty() && waiting.is_empty() {
        notes.push_str("<p>Nobody has history in the window.</p>");
    }
    let api = match filter {
        Some(f) => format!("{p}/api/v1/users?server={}", escape(f)),
        None => format!("{p}/api/v1/users"),
    };
    let body = format!(
        r#"<h1>Users</h1>
<p class="sub">{count} user(s), <b>{flagged} flagged</b> (score ≥ {min}) · window {windows} · <a href="{api}">JSON</a></p>
<form class="filter" method="get" action="{p}/users"><label for="server">Server</label> <select id="server" name="server">{options}</select> <button type="submit">Show</button></form>
{notes}
<div class="scroll"><table class="users"><thead><tr><th class="num">#</th><th>User</th><th>Server</th><th class="num">Score</th><th></th><th class="num" title="distinct devices">Devices</th><th class="num" title="devices with many plays">Heavy</th><th class="num" title="distinct networks (the LAN counts once)">Networks</th><th class="num" title="device pairs streaming at the same time from different networks">Pairs</th><th class="num" title="overlapping session pairs from different devices and networks">Overlaps</th><th class="num" title="impossible-travel jumps">Teleports</th><th class="num" title="streams playing now">Live</th><th class="num">Plays</th><th class="num">Watch time</th></tr></thead>
<tbody>{table}</tbody></table></div>"#,
        count = rows.len(),
        min = num(s.min_score),
        windows = if windows.is_empty() {
            "—".to_string()
        } else {
            windows.join("; ")
        },
    );
    layout(s, "Users", &body)
}

fn live_text(live: &Live) -> String {
    match (live.streams, live.networks) {
        (0, _) => "—".into(),
        (n, nets) if nets > 1 => format!(
            r#"<span class="badge flag" title="{n} streams from {nets} networks right now">{n} · {nets} nets</span>"#
        ),
        (n, _) => n.to_string(),
    }
}

/// An address with its location, as every table shows it.
fn ip_cell(s: &Settings, snap: &Snapshot, ip: std::net::IpAddr) -> String {
    match snap.locations.get(&ip) {
        Some(l) => format!("{} <span class=\"muted\">({})</span>", escape(&s.ips.ip(ip)), escape(l)),
        None => escape(&s.ips.ip(ip)),
    }
}

/// `/users/{server}/{user_id}`: the reference script's three reports for one user, the
/// teleportation events, the score explained term by term, and the pictures.
pub fn user(s: &Settings, server: &str, snap: &Snapshot, f: &UserFinding) -> String {
    let p = escape(&s.prefix);
    let live = snap.live.get(&f.user_id).cloned().unwrap_or_default();
    let mut b = String::new();
    let username = if f.username.is_empty() {
        String::new()
    } else {
        format!("{} · ", escape(&f.username))
    };
    let _ = write!(
        b,
        r#"<p class="crumbs"><a href="{p}/users">Users</a> › <a href="{p}/users?server={sq}">{sn}</a></p>
<h1>{name} {badge}</h1>
<p class="sub">{username}user id {id} · server {sn} · window {w0} – {w1} · <a href="{p}/api/v1/users/{sq}/{id}">JSON</a></p>
"#,
        sq = escape(server),
        sn = escape(server),
        name = escape(&f.user),
        badge = if f.flagged {
            r#"<span class="badge flag">flagged</span>"#
        } else {
            r#"<span class="badge ok">not flagged</span>"#
        },
        id = f.user_id,
        w0 = fmt_utc(snap.window.0),
        w1 = fmt_utc(snap.window.1),
    );
    // Summary cards.
    let card = |b: &mut String, key: &str, value: String, hot: bool| {
        let _ = write!(
            b,
            r#"<div class="card{}"><div class="v">{value}</div><div class="k">{key}</div></div>"#,
            if hot { " hot" } else { "" }
        );
    };
    b.push_str(r#"<div class="cards">"#);
    card(
        &mut b,
        &format!("score (flag ≥ {})", num(s.min_score)),
        num(f.score),
        f.flagged,
    );
    card(
        &mut b,
        "devices (heavy)",
        format!("{} ({})", f.devices, f.heavy_devices),
        false,
    );
    card(&mut b, "networks", f.networks.to_string(), false);
    card(
        &mut b,
        "concurrent sessions",
        f.concurrent_sessions.to_string(),
        f.concurrent_sessions > 0,
    );
    card(
        &mut b,
        "concurrent device pairs",
        f.concurrent_device_pairs.to_string(),
        f.concurrent_device_pairs > 0,
    );
    card(
        &mut b,
        "teleportations",
        f.teleportations.to_string(),
        f.teleportations > 0,
    );
    card(&mut b, "plays", f.plays.to_string(), false);
    card(&mut b, "watch time", fmt_duration(f.watch_time_seconds), false);
    card(
        &mut b,
        "live (networks)",
        format!("{} ({})", live.streams, live.networks),
        live.networks > 1,
    );
    b.push_str("</div>");

    // Why the score is what it is.
    let _ = write!(
        b,
        r#"<h2 id="score">Why the score is {}</h2>
<div class="scroll"><table class="terms"><thead><tr><th>Term</th><th>What is counted</th><th class="num">Count</th><th class="num">Weight</th><th class="num">Points</th></tr></thead><tbody>"#,
        num(f.score)
    );
    for t in &f.score_terms {
        let _ = write!(
            b,
            r#"<tr><td><code>{}</code></td><td>{}</td><td class="num">{}</td><td class="num">× {}</td><td class="num">{}</td></tr>"#,
            escape(t.name),
            escape(t.description),
            t.count,
            num(t.weight),
            num(t.points),
        );
    }
    let _ = write!(
        b,
        r#"</tbody><tfoot><tr><td colspan="4">Score{}</td><td class="num">{}</td></tr></tfoot></table></div>"#,
        if f.flagged {
            format!(" — at or above {}: flagged", num(s.min_score))
        } else {
            format!(" — flagged at {} or more", num(s.min_score))
        },
        num(f.score)
    );

    // The timeline picture.
    let t = svg::timeline(f, snap.window, s.ips, &snap.locations);
    b.push_str(r#"<h2 id="picture">Sessions across the window</h2><figure>"#);
    b.push_str(&t.svg);
    b.push_str(r#"<figcaption class="legend">"#);
    for e in &t.legend {
        let _ = write!(
            b,
            r#"<span><span class="sw" style="background:{}"></span>{}</span>"#,
            e.color,
            escape(&e.label)
        );
    }
    b.push_str("</figcaption></figure>");
    if f.device_usage.len() > svg::MAX_LANES {
        let _ = write!(
            b,
            r#"<p class="muted">The picture shows the {} most watched devices of {}.</p>"#,
            svg::MAX_LANES,
            f.device_usage.len()
        );
    }
    if t.sessions_not_drawn > 0 {
        let _ = write!(
            b,
            r#"<p class="muted">{} sessions are not drawn: the picture shows at most {} (concurrent ones first, then the most recent).</p>"#,
            t.sessions_not_drawn,
            svg::MAX_SESSION_BARS
        );
    }

    // Report 1: device breakdown.
    let _ = write!(
        b,
        r#"<h2 id="devices">Device breakdown</h2>
<p class="sub">Devices: {} · Heavy devices: {} · Concurrent sessions: {} · Concurrent device pairs: {} · Total plays: {} · Total watch time: {}</p>
<div class="scroll"><table class="devices"><thead><tr><th>Platform</th><th>Player</th><th>Device</th><th class="num">Plays</th><th class="num">Watch time</th><th>IPs</th></tr></thead><tbody>"#,
        f.devices,
        f.heavy_devices,
        f.concurrent_sessions,
        f.concurrent_device_pairs,
        f.plays,
        fmt_duration(f.watch_time_seconds)
    );
    for d in &f.device_usage {
        let ips: Vec<String> = d.ips.iter().map(|ip| ip_cell(s, snap, *ip)).collect();
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td><code>{}</code>{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            escape(&d.platform),
            escape(&d.player),
            escape(&d.machine_id),
            if d.heavy {
                r#" <span class="badge warn">heavy</span>"#
            } else {
                ""
            },
            d.plays,
            fmt_duration(d.watch_time_seconds),
            if ips.is_empty() {
                "—".to_string()
            } else {
                ips.join("<br>")
            },
        );
    }
    b.push_str("</tbody></table></div>");

    // Teleportation events.
    let _ = write!(
        b,
        r#"<h2 id="teleportations">Teleportation events ({})</h2>"#,
        f.jumps.len()
    );
    if f.jumps.is_empty() {
        b.push_str(if snap.locations.is_empty() {
            r#"<p class="muted">None: addresses are not located (enable <code>--geoip-db</code> or <code>--geo</code>).</p>"#
        } else {
            r#"<p class="muted">None detected.</p>"#
        });
    } else {
        if let Some(map) = svg::travel_map(&f.jumps) {
            b.push_str(r#"<figure>"#);
            b.push_str(&map);
            b.push_str("</figure>");
        }
        let _ = write!(
            b,
            r#"<p class="sub">Consecutive sessions too far apart for the time between them (faster than {} km/h, after subtracting GeoIP accuracy).</p>
<div class="scroll"><table class="jumps"><thead><tr><th>From</th><th>To</th><th class="num">Distance</th><th class="num">Time</th><th class="num">Speed</th><th>Devices</th></tr></thead><tbody>"#,
            num(s.max_speed_kmh)
        );
        for j in &f.jumps {
            let end = |e: &crate::detect::JumpEnd| {
                format!(
                    "<span class=\"nw\">{}</span><br>{}<div class=\"muted\">{}</div>",
                    fmt_utc(e.time),
                    escape(&e.place.label()),
                    escape(&s.ips.ip(e.ip)),
                )
            };
            let _ = write!(
                b,
                r#"<tr><td>{}</td><td>{}</td><td class="num">{:.0} km</td><td class="num">{:.1} h</td><td class="num">{:.0} km/h</td><td class="nw">{} → {}</td></tr>"#,
                end(&j.from),
                end(&j.to),
                j.distance_km,
                j.hours,
                j.speed_kmh,
                escape(&j.from.platform),
                escape(&j.to.platform),
            );
        }
        b.push_str("</tbody></table></div>");
    }

    // Report 2: the concurrent-session timeline.
    let _ = write!(b, r#"<h2 id="timeline">Concurrent-session timeline</h2>"#);
    if f.timeline.is_empty() {
        b.push_str(r#"<p class="muted">No concurrent sessions.</p>"#);
    } else {
        let _ = write!(
            b,
            r#"<p class="sub">Sessions that ran at the same time as another device on another network: {} session(s) in {} overlapping pair(s).</p>
<div class="scroll"><table class="sessions"><thead><tr><th>Time</th><th class="num">Played</th><th>Platform</th><th>Player</th><th>IP</th><th>Title</th></tr></thead><tbody>"#,
            f.timeline.len(),
            f.overlaps.len()
        );
        let mut current = String::new();
        for e in &f.timeline {
            let date = fmt_utc(e.started).chars().take(10).collect::<String>();
            if date != current {
                let _ = write!(b, r#"<tr class="date"><th colspan="6">{date}</th></tr>"#);
                current = date;
            }
            let _ = write!(
                b,
                r#"<tr><td class="nw">{}–{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                fmt_utc(e.started).get(11..).unwrap_or(""),
                fmt_utc(e.ended).get(11..).unwrap_or(""),
                fmt_duration(u64::from(e.play_seconds)),
                escape(&e.platform),
                escape(&e.player),
                e.ip.map(|ip| ip_cell(s, snap, ip)).unwrap_or_else(|| "?".into()),
                escape(if e.title.is_empty() { "?" } else { &e.title }),
            );
        }
        b.push_str("</tbody></table></div>");
        let _ = write!(
            b,
            r#"<details><summary>The {} overlapping pair(s)</summary><div class="scroll"><table class="overlaps"><thead><tr><th>From</th><th class="num">Both playing</th><th>First device</th><th>Second device</th></tr></thead><tbody>"#,
            f.overlaps.len()
        );
        for o in &f.overlaps {
            let side = |machine: &str, ip: Option<std::net::IpAddr>| {
                format!(
                    "<code>{}</code> {}",
                    escape(machine),
                    ip.map(|ip| ip_cell(s, snap, ip)).unwrap_or_default()
                )
            };
            let _ = write!(
                b,
                r#"<tr><td>{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>"#,
                fmt_utc(o.started),
                fmt_duration(u64::try_from(o.seconds).unwrap_or(0)),
                side(&o.first_machine_id, o.first_ip),
                side(&o.second_machine_id, o.second_ip),
            );
        }
        b.push_str("</tbody></table></div></details>");
    }

    // Report 3: IP usage by watch time.
    let total: u64 = f.ip_usage.iter().map(|i| i.watch_time_seconds).sum();
    let plays: u64 = f.ip_usage.iter().map(|i| i.plays).sum();
    let _ = write!(
        b,
        r#"<h2 id="ips">IP usage by watch time</h2>
<p class="sub">Total: {plays} plays, {} watch time, {} unique IP(s)</p>
<div class="scroll"><table class="ips"><thead><tr><th>IP</th><th>Network</th><th class="num">Plays</th><th class="num">Watch time</th><th class="num">Share</th><th>Platforms</th></tr></thead><tbody>"#,
        fmt_duration(total),
        f.ip_usage.len()
    );
    for u in &f.ip_usage {
        let pct = if total > 0 {
            u.watch_time_seconds as f64 / total as f64 * 100.0
        } else {
            0.0
        };
        let platforms: Vec<String> = u.platforms.iter().map(|p| escape(p)).collect();
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{pct:.0}%</td><td>{}</td></tr>"#,
            ip_cell(s, snap, u.ip),
            escape(&s.ips.network(u.ip)),
            u.plays,
            fmt_duration(u.watch_time_seconds),
            platforms.join(", "),
        );
    }
    b.push_str("</tbody></table></div>");
    layout(s, &f.user, &b)
}

/// A page for a missing server or user, or data not there yet.
pub fn message(s: &Settings, title: &str, text: &str) -> String {
    let p = escape(&s.prefix);
    let body = format!(
        r#"<h1>{}</h1><p>{}</p><p><a href="{p}/users">All users</a></p>"#,
        escape(title),
        escape(text)
    );
    layout(s, title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::Builder;
    use crate::detect::{analyze_user, Places, Rules, UserInfo};

    fn snapshot(name: &str) -> Snapshot {
        let mut b = Builder::default();
        b.add(7, "tv", "81.1.1.1", 1000, 3600);
        b.add(7, "phone", "82.2.2.2", 2000, 3600);
        let info = UserInfo {
            user_id: 7,
            name: name.into(),
            username: "u<7>".into(),
        };
        let f = analyze_user(&info, &b.sorted(), &b.strings, &Places::new(), &Rules::default());
        Snapshot {
            server: "home".into(),
            findings: vec![std::sync::Arc::new(f)],
            window: (0, 86_400),
            ..Snapshot::default()
        }
    }

    #[test]
    fn the_user_page_escapes_names_and_links_under_the_prefix() {
        let snap = snapshot("Zoë & \"Friends\" <test>");
        let s = Settings {
            prefix: "/exporter".into(),
            telemetry_path: "/metrics".into(),
            ..Settings::default()
        };
        let html = user(&s, "home", &snap, &snap.findings[0]);
        assert!(!html.contains("<test>") && !html.contains("u<7>"));
        assert!(html.contains("Zoë &amp; &quot;Friends&quot; &lt;test&gt;"));
        assert!(html.contains(r#"href="/exporter/users""#));
        assert!(html.contains(r#"href="/exporter/api/v1/users/home/7""#));
        assert!(html.contains("<svg"));
    }

    #[test]
    fn numbers_print_without_needless_decimals() {
        assert_eq!(num(242.0), "242");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(0.0), "0");
    }
}
