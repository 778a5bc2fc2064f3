//! Memory of a 1,000,000-row window: builds the window the way `serve` does (converted
//! page by page from Tautulli rows), analyses it, and prints the process RSS at each step.
//! Run with `cargo bench --bench memory`. Linux only (reads /proc/self/status).

use std::collections::BTreeMap;

use plex_sharing_exporter::detect::incremental::{analyze_changed, Analysis};
use plex_sharing_exporter::detect::{Places, Rules};
use plex_sharing_exporter::tautulli::HistoryRow;
use plex_sharing_exporter::window::Window;

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows added to the window at once (`serve` adds them about a thousand at a time, as they
/// arrive; larger batches only raise the peak).
const PAGE: usize = 10_000;

/// Add one page of rows to the window, as `serve` gets them: with `VIA_JSON` set, encoded
/// as a Tautulli JSON page and decoded leniently; else directly.
fn add_page(window: &mut Window, rows: Vec<HistoryRow>, since: i64, now: i64) {
    if std::env::var_os("VIA_JSON").is_none() {
        window.add(rows, since, now);
        return;
    }
    let page = serde_json::json!({"recordsFiltered": rows.len(), "data": rows.iter().map(|r| serde_json::json!({
        "row_id": r.row_id, "user_id": r.user_id, "user": r.user, "friendly_name": r.friendly_name,
        "started": r.started, "stopped": r.stopped, "play_duration": r.play_duration,
        "paused_counter": r.paused_counter, "machine_id": r.machine_id, "platform": r.platform,
        "player": r.player, "ip_address": r.ip_address, "full_title": r.title, "location": "wan",
        "media_type": "episode", "thumb": "/library/metadata/1/thumb/1700000000", "guid": "plex://episode/0"
    })).collect::<Vec<_>>()});
    let body = serde_json::to_vec(&page).unwrap_or_default();
    drop((rows, page));
    let page: plex_sharing_exporter::tautulli::model::Page<HistoryRow> = serde_json::from_slice(&body).expect("page");
    drop(body);
    let rows = page
        .data
        .into_iter()
        .filter_map(|r| match r {
            plex_sharing_exporter::tautulli::lenient::MaybeRow::Row(r) => Some(r),
            _ => None,
        })
        .collect();
    window.add(rows, since, now);
}

fn main() {
    plex_sharing_exporter::memory::limit_arenas();
    let (users, per_user, days) = (500i64, 2000i64, 30i64);
    let now = 1_800_000_000i64;
    let since = now - days * 86_400;
    println!("start: {}", rss());
    let mut window = Window::full(now);
    let mut x: u64 = 1;
    let mut row = 0i64;
    for day in 0..days {
        let mut rows = Vec::new();
        for u in 0..users {
            for _ in 0..per_user / days {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                row += 1;
                let started = since + day * 86_400 + (x >> 40) as i64 % 86_400;
                let home = (x >> 20) % 3;
                rows.push(HistoryRow {
                    row_id: Some(row),
                    user_id: Some(1000 + u),
                    user: Some(format!("user{u}")),
                    friendly_name: Some(format!("User {u}")),
                    started: Some(started),
                    stopped: Some(started + 3600),
                    play_duration: Some(3000),
                    paused_counter: Some(600),
                    machine_id: Some(format!("machine-{u}-{home}")),
                    platform: Some("Roku".into()),
                    player: Some("Living Room".into()),
                    ip_address: Some(format!("{}.{}.{}.{}", 20 + u % 200, u / 200, home, 7)),
                    title: Some(format!("Show {} - Episode {}", x % 300, x % 20)),
                    ..HistoryRow::default()
                });
                if rows.len() == PAGE {
                    add_page(&mut window, std::mem::take(&mut rows), since, now);
                }
            }
        }
        add_page(&mut window, rows, since, now);
    }
    window.finish(now, days as u32);
    println!("window of {} sessions: {}", window.sessions().len(), rss());
    plex_sharing_exporter::memory::release_free_memory();
    println!("after returning freed memory to the OS: {}", rss());
    let users_map = window.users_with(&BTreeMap::new());
    let (places, rules) = (Places::new(), Rules::default());
    let analyse = |previous: &Analysis| {
        analyze_changed(
            window.sessions(),
            &users_map,
            window.strings(),
            &places,
            &rules,
            previous,
        )
    };
    let first = analyse(&Analysis::default());
    let flagged = first.findings().iter().filter(|f| f.flagged).count();
    println!("after analysis ({} users, {flagged} flagged): {}", first.len(), rss());
    plex_sharing_exporter::memory::release_free_memory();
    println!("after returning freed memory to the OS: {}", rss());
    // The next refresh, as `serve` runs it: the old findings stay published while the
    // new ones are made, and unchanged users share theirs.
    let second = analyse(&first);
    drop(first);
    plex_sharing_exporter::memory::release_free_memory();
    println!(
        "after a second analysis with nothing changed ({} users analysed again): {}",
        second.analysed,
        rss()
    );
}
