//! The reference script's terminal reports, column for column: the device breakdown,
//! the concurrent-session timeline and IP usage by watch time.
//!
//! Every piece of outside text (user, platform, player and place names, titles) is
//! printed through [`Shown`], which replaces terminal and bidirectional controls: a
//! sharer names their device, and the owner's terminal must not obey that name.

use std::io::{self, Write};

use super::Context;
use crate::detect::UserFinding;
use crate::format::{fmt_duration, fmt_time, fmt_with};
use crate::untrusted::Shown;

const RULE: &str = "==============================================================================";
const THIN: &str = "------------------------------------------------------------------------------";

/// The line printed when nobody is flagged.
pub const NOBODY_FLAGGED: &str = "No users flagged for potential account sharing.";

fn ip_display(ip: &std::net::IpAddr, ctx: &Context) -> String {
    match ctx.locations.get(ip) {
        Some(loc) => format!("{ip} ({})", Shown(loc)),
        None => ip.to_string(),
    }
}

/// Device-centric view: one block per flagged user, one row per device.
pub fn device_report(
    out: &mut dyn Write,
    flagged: &[&UserFinding],
    ctx: &Context,
    max_speed_kmh: f64,
) -> io::Result<()> {
    writeln!(out, "\n{RULE}")?;
    writeln!(out, " DEVICE BREAKDOWN  —  {} user(s) flagged", flagged.len())?;
    writeln!(out, "{RULE}\n")?;
    for r in flagged {
        writeln!(out, "  {}  (user_id: {})", Shown(&r.user), r.user_id)?;
        writeln!(
            out,
            "  Score: {}  |  Devices: {}  |  Heavy devices: {}  |  Concurrent sessions: {}  |  Concurrent device pairs: {}",
            r.score, r.devices, r.heavy_devices, r.concurrent_sessions, r.concurrent_device_pairs
        )?;
        writeln!(
            out,
            "  Total plays: {}  |  Total watch time: {}",
            r.plays,
            fmt_duration(r.watch_time_seconds)
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "    {:<16} {:<24} {:>6} {:>11}  IPs",
            "Platform", "Player", "Plays", "Watch Time"
        )?;
        writeln!(
            out,
            "    {} {} {} {}  {}",
            "-".repeat(16),
            "-".repeat(24),
            "-".repeat(6),
            "-".repeat(11),
            "-".repeat(30)
        )?;
        for d in &r.device_usage {
            let ips: Vec<String> = d.ips.iter().map(|ip| ip_display(ip, ctx)).collect();
            let ip_str = if ips.is_empty() {
                "—".to_string()
            } else {
                ips.join(", ")
            };
            writeln!(
                out,
                "    {:<16} {:<24} {:>6} {:>11}  {}",
                Shown(&d.platform),
                Shown(&d.player),
                d.plays,
                fmt_duration(d.watch_time_seconds),
                ip_str
            )?;
        }
        // Same-device jumps (a VPN, most likely) are not teleportations; the pages show them.
        let teleports: Vec<&crate::detect::Jump> = r.jumps.iter().filter(|j| !j.same_device).collect();
        if !teleports.is_empty() {
            writeln!(out, "\n    TELEPORTATION DETECTED  ({} event(s)):", teleports.len())?;
            for j in teleports.iter().take(10) {
                let (f, t) = (&j.from, &j.to);
                let city = |p: &crate::detect::Place| p.city.clone().unwrap_or_else(|| "?".into());
                let region = |p: &crate::detect::Place| p.region.clone().unwrap_or_default();
                writeln!(
                    out,
                    "      {} {}, {}  -->  {} {}, {}",
                    fmt_time(f.time, &ctx.tz),
                    Shown(&city(&f.place)),
                    Shown(&region(&f.place)),
                    fmt_time(t.time, &ctx.tz),
                    Shown(&city(&t.place)),
                    Shown(&region(&t.place))
                )?;
                writeln!(
                    out,
                    "        {:.0} km in {:.1}h  ({:.0} km/h — max plausible: {} km/h)",
                    j.distance_km, j.hours, j.speed_kmh, max_speed_kmh
                )?;
                writeln!(out, "        Devices: {} -> {}", Shown(&f.platform), Shown(&t.platform))?;
            }
        }
        // Never in the reference profile, whose report this block reproduces.
        if !r.isp_pools.is_empty() {
            writeln!(out, "\n    ONE HOME, TWO PLACES (ISP address pools, not evidence):")?;
            for p in &r.isp_pools {
                writeln!(
                    out,
                    "      {} ({})  <->  {} ({})  —  {:.0} km apart, {} switches on {}",
                    p.networks[0],
                    Shown(&p.places[0]),
                    p.networks[1],
                    Shown(&p.places[1]),
                    p.distance_km,
                    p.switches,
                    Shown(&p.machine_id)
                )?;
            }
        }
        writeln!(out, "\n{THIN}\n")?;
    }
    Ok(())
}

/// Chronological view of the sessions that overlap across devices and networks.
pub fn timeline_report(out: &mut dyn Write, flagged: &[&UserFinding], ctx: &Context) -> io::Result<()> {
    writeln!(out, "\n{RULE}")?;
    writeln!(out, " SESSION TIMELINE  —  {} user(s) flagged", flagged.len())?;
    writeln!(out, "{RULE}\n")?;
    for r in flagged {
        if r.plays == 0 {
            continue;
        }
        writeln!(
            out,
            "  {}  (user_id: {})  —  score: {}",
            Shown(&r.user),
            r.user_id,
            r.score
        )?;
        writeln!(out)?;
        if r.timeline.is_empty() {
            writeln!(out, "    (no concurrent sessions)")?;
            writeln!(out, "\n{THIN}\n")?;
            continue;
        }
        let mut current_date = String::new();
        for s in &r.timeline {
            let date = fmt_with(s.started, &ctx.tz, "%Y-%m-%d");
            if date != current_date {
                writeln!(out, "    {date}")?;
                current_date = date;
            }
            let ip = s.ip.map(|ip| ip_display(&ip, ctx)).unwrap_or_else(|| "?".into());
            let mut title = s.title.to_string();
            if title.is_empty() {
                title = "?".into();
            }
            if title.chars().count() > 40 {
                title = title.chars().take(37).collect::<String>() + "...";
            }
            writeln!(
                out,
                "      {}-{}  {:>7}  {:<14} {:<20} {}",
                fmt_with(s.started, &ctx.tz, "%H:%M"),
                fmt_with(s.ended, &ctx.tz, "%H:%M"),
                fmt_duration(u64::from(s.play_seconds)),
                Shown(&s.platform),
                Shown(&s.player),
                ip
            )?;
            writeln!(out, "        {}", Shown(&title))?;
        }
        writeln!(out, "\n{THIN}\n")?;
    }
    Ok(())
}

/// Per-user usage by address, most watched first; users by total watch time.
pub fn ip_report(out: &mut dyn Write, users: &[&UserFinding], ctx: &Context) -> io::Result<()> {
    let mut users: Vec<&&UserFinding> = users.iter().filter(|u| u.plays > 0).collect();
    users.sort_by(|a, b| {
        b.watch_time_seconds
            .cmp(&a.watch_time_seconds)
            .then(a.user_id.cmp(&b.user_id))
    });
    writeln!(out, "\n{RULE}")?;
    writeln!(out, " IP USAGE BY USER  —  {} user(s)", users.len())?;
    writeln!(out, "{RULE}\n")?;
    for u in users {
        writeln!(out, "  {}  (user_id: {})", Shown(&u.user), u.user_id)?;
        let total: u64 = u.ip_usage.iter().map(|i| i.watch_time_seconds).sum();
        let plays: u64 = u.ip_usage.iter().map(|i| i.plays).sum();
        writeln!(
            out,
            "  Total: {} plays, {} watch time, {} unique IP(s)",
            plays,
            fmt_duration(total),
            u.ip_usage.len()
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "    {:<22} {:>6} {:>11} {:>5}  Devices",
            "IP", "Plays", "Watch Time", "Pct"
        )?;
        writeln!(
            out,
            "    {} {} {} {}  {}",
            "-".repeat(22),
            "-".repeat(6),
            "-".repeat(11),
            "-".repeat(5),
            "-".repeat(30)
        )?;
        for i in &u.ip_usage {
            let pct = if total > 0 {
                i.watch_time_seconds as f64 / total as f64 * 100.0
            } else {
                0.0
            };
            writeln!(
                out,
                "    {:<22} {:>6} {:>11} {:>4.0}%  {}",
                ip_display(&i.ip, ctx),
                i.plays,
                fmt_duration(i.watch_time_seconds),
                pct,
                i.platforms
                    .iter()
                    .map(|p| Shown(p).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        writeln!(out, "\n{THIN}\n")?;
    }
    Ok(())
}

/// Most overlapping pairs and jumps printed per account in [`across_servers_report`].
const ACROSS_SERVERS_EVIDENCE: usize = 10;

/// The accounts seen on two or more servers, their sessions on all of them analysed
/// together: one block per account, flagged first, with the server of each side of the
/// overlaps and jumps of a flagged one.
pub fn across_servers_report(
    out: &mut dyn Write,
    accounts: &[crate::detect::AccountFinding],
    ctx: &Context,
) -> io::Result<()> {
    let flagged = accounts.iter().filter(|a| a.finding.flagged).count();
    writeln!(out, "\n{RULE}")?;
    writeln!(
        out,
        " ACROSS SERVERS  —  {} account(s) on two or more servers, {flagged} flagged",
        accounts.len()
    )?;
    writeln!(out, "{RULE}\n")?;
    if accounts.is_empty() {
        writeln!(out, "  No account has sessions on two or more servers in the window.")?;
    }
    for a in accounts {
        let f = &a.finding;
        let on = |row_id: i64| a.origin(row_id).map(|(s, _)| s).unwrap_or("?");
        let mark = if f.flagged { "  [FLAGGED]" } else { "" };
        writeln!(out, "  {}  (user_id: {}){mark}", Shown(&f.user), f.user_id)?;
        writeln!(
            out,
            "  Servers: {}",
            a.servers
                .iter()
                .map(|s| Shown(s).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(
            out,
            "  Score: {}  |  Devices: {}  |  Concurrent sessions: {}  |  Concurrent device pairs: {}  |  Teleportations: {}",
            f.score, f.devices, f.concurrent_sessions, f.concurrent_device_pairs, f.teleportations
        )?;
        writeln!(
            out,
            "  Total plays: {}  |  Total watch time: {}",
            f.plays,
            fmt_duration(f.watch_time_seconds)
        )?;
        if f.flagged {
            let pairs: Vec<_> = f.overlaps.iter().filter(|o| !o.nearby).collect();
            for o in pairs.iter().take(ACROSS_SERVERS_EVIDENCE) {
                let side = |row_id: i64, player: &str, platform: &str, ip: Option<std::net::IpAddr>| {
                    let at = ip.map(|ip| ip_display(&ip, ctx)).unwrap_or_else(|| "?".into());
                    format!("{} · {} ({}) · {at}", Shown(on(row_id)), Shown(player), Shown(platform))
                };
                writeln!(
                    out,
                    "    {}  {}  ||  {}",
                    fmt_time(o.started, &ctx.tz),
                    side(o.first_row_id, &o.first_player, &o.first_platform, o.first_ip),
                    side(o.second_row_id, &o.second_player, &o.second_platform, o.second_ip)
                )?;
            }
            if pairs.len() > ACROSS_SERVERS_EVIDENCE {
                writeln!(
                    out,
                    "    ... and {} more overlapping pair(s)",
                    pairs.len() - ACROSS_SERVERS_EVIDENCE
                )?;
            }
            let jumps: Vec<_> = f.jumps.iter().filter(|j| !j.same_device).collect();
            for j in jumps.iter().take(ACROSS_SERVERS_EVIDENCE) {
                writeln!(
                    out,
                    "    Jump {} {} ({}) -> {} {} ({}): {:.0} km at {:.0} km/h",
                    fmt_time(j.from.time, &ctx.tz),
                    Shown(&j.from.place.label()),
                    Shown(on(j.from.row_id)),
                    fmt_time(j.to.time, &ctx.tz),
                    Shown(&j.to.place.label()),
                    Shown(on(j.to.row_id)),
                    j.distance_km,
                    j.speed_kmh
                )?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}
