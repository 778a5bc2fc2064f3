//! Detection throughput: `analyze_all` over a synthetic window of 500 users × 2000
//! sessions (1,000,000 rows) on one thread. Run with `cargo bench --bench detect`.
//! Prints the best of several runs; the target is under 1 s. Then the account view over
//! the same sessions split between two servers (every other user on both, half their
//! sessions on each): what `serve` adds per refresh with several servers.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use plex_sharing_exporter::detect::{
    accounts::accounts_changed, analyze_all, incremental::Analysis, Place, Places, Rules, ServerWindow, Session,
    Strings, UserInfo,
};
use plex_sharing_exporter::simulator::rng::Rng;

const CITIES: [(&str, f64, f64); 8] = [
    ("New York", 40.71, -74.0),
    ("London", 51.5, -0.12),
    ("Paris", 48.85, 2.35),
    ("Chicago", 41.88, -87.63),
    ("Tokyo", 35.68, 139.65),
    ("Sydney", -33.87, 151.2),
    ("Berlin", 52.52, 13.4),
    ("Toronto", 43.65, -79.38),
];

fn world(users: u64, per_user: u64) -> (Vec<Session>, Strings, Places, BTreeMap<i64, UserInfo>) {
    let mut rng = Rng::new(42);
    let mut strings = Strings::default();
    let mut places = Places::new();
    let mut sessions = Vec::with_capacity((users * per_user) as usize);
    let mut infos = BTreeMap::new();
    let now = 1_800_000_000i64;
    let titles: Vec<_> = (0..500)
        .map(|i| strings.intern(&format!("Show {i} - Episode")))
        .collect();
    let platforms: Vec<_> = ["Roku", "iOS", "Android", "Chrome", "tvOS"]
        .iter()
        .map(|p| strings.intern(p))
        .collect();
    let mut row = 0i64;
    for u in 0..users {
        let user_id = 1000 + u as i64;
        infos.insert(
            user_id,
            UserInfo {
                user_id,
                name: format!("User {u}"),
                username: format!("u{u}"),
            },
        );
        // 15% sharers (several homes), 10% LAN households, 5% travellers, the rest normal.
        let kind = rng.below(100);
        let homes = if kind < 15 {
            2 + rng.below(3)
        } else if kind < 30 {
            1
        } else {
            1 + u64::from(kind < 35)
        };
        let devices = 1 + rng.below(4);
        let mut home_ips = Vec::new();
        for _ in 0..homes {
            let ip = if (15..25).contains(&kind) {
                IpAddr::V4(Ipv4Addr::new(192, 168, 1, rng.below(250) as u8 + 2))
            } else {
                IpAddr::V4(Ipv4Addr::new(
                    20 + rng.below(200) as u8,
                    rng.below(256) as u8,
                    rng.below(256) as u8,
                    1 + rng.below(250) as u8,
                ))
            };
            if !ip.to_string().starts_with("192.168") {
                let (city, lat, lon) = CITIES[rng.below(CITIES.len() as u64) as usize];
                places.insert(
                    ip,
                    Place {
                        city: Some(city.into()),
                        region: None,
                        country: None,
                        country_code: None,
                        latitude: lat,
                        longitude: lon,
                        accuracy_radius_km: Some(20.0),
                        asn: None,
                    },
                );
            }
            home_ips.push(ip);
        }
        let machines: Vec<_> = (0..devices.max(homes))
            .map(|d| strings.intern(&format!("m-{u}-{d}")))
            .collect();
        for _ in 0..per_user {
            row += 1;
            let d = rng.below(machines.len() as u64) as usize;
            let started = now - 30 * 86_400 + rng.below(30 * 86_400) as i64;
            let play = 600 + rng.below(7200) as u32;
            sessions.push(Session {
                row_id: row,
                user_id,
                started,
                stopped_after: play,
                play_seconds: play,
                paused_seconds: 0,
                ip: Some(home_ips[d % home_ips.len()]),
                machine: machines[d],
                platform: platforms[d % platforms.len()],
                player: platforms[d % platforms.len()],
                title: titles[rng.below(titles.len() as u64) as usize],
                relayed: false,
                cellular: false,
            });
        }
    }
    (sessions, strings, places, infos)
}

fn main() {
    let (users, per_user) = (500, 2000);
    let (sessions, strings, places, infos) = world(users, per_user);
    let rules = Rules::default();
    let mut best = f64::MAX;
    let mut flagged = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let findings = analyze_all(black_box(&sessions), &infos, &strings, &places, &rules);
        best = best.min(t.elapsed().as_secs_f64());
        flagged = findings.iter().filter(|f| f.flagged).count();
        black_box(findings);
    }
    println!(
        "detect: {} sessions, {users} users, {} located addresses: best {:.3} s over 5 runs ({:.2} M sessions/s, one thread); {flagged} flagged",
        sessions.len(),
        places.len(),
        best,
        sessions.len() as f64 / best / 1e6
    );

    let (mut one, mut two) = (Vec::new(), Vec::new());
    for s in &sessions {
        if s.user_id % 2 == 0 && s.row_id % 2 == 0 {
            two.push(*s);
        } else {
            one.push(*s);
        }
    }
    let window = |server, sessions| ServerWindow {
        server,
        sessions,
        strings: &strings,
        places: &places,
        users: &infos,
        refreshed_at: 0,
        stale: false,
    };
    let windows = [window("one", &one[..]), window("two", &two[..])];
    let (mut best, mut shared, mut last) = (f64::MAX, 0, Analysis::default());
    for _ in 0..3 {
        let t = Instant::now();
        let (found, analysis) = accounts_changed(black_box(&windows), &rules, &Analysis::default());
        best = best.min(t.elapsed().as_secs_f64());
        shared = found.len();
        last = analysis;
        black_box(found);
    }
    // What `serve` does after a refresh that changed nothing of these accounts.
    let mut again = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let found = accounts_changed(black_box(&windows), &rules, &last);
        again = again.min(t.elapsed().as_secs_f64());
        black_box(found);
    }
    println!(
        "accounts: {} + {} sessions on two servers, {shared} accounts on both: best {best:.3} s over 3 runs; \
         again with nothing changed: best {again:.3} s",
        one.len(),
        two.len()
    );
}
