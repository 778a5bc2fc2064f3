//! The demo's simulated month: about 25 users with planted behaviours (sharers, a mild
//! sharer, a teleporter, LAN households, IPv6 users, a genuine traveller, ordinary
//! households), their GeoIP table, and what is streaming right now. Deterministic for a
//! given `now` and seed.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::json;

use super::rng::Rng;
use super::{geo_row, user_row, Dataset, SessionSpec};
use crate::detect::{Asn, Place};

/// Which users were built to share and which to be honest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Planted {
    /// Accounts used from several homes at once.
    pub sharers: Vec<i64>,
    /// One person whose sessions jump between distant cities within minutes.
    pub teleporters: Vec<i64>,
    /// Everyone else: households, travellers, LAN and IPv6 users.
    pub honest: Vec<i64>,
    /// Users streaming from two networks right now.
    pub live_multi_network: Vec<i64>,
    /// Accounts used by two households at once, one on each server: honest on either
    /// server alone (so also in `honest`), sharing across servers.
    pub across_servers: Vec<i64>,
    /// Accounts on both servers from one home (also in `honest`).
    pub honest_across_servers: Vec<i64>,
}

/// The generated world.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What the simulated Tautulli serves.
    pub dataset: Dataset,
    /// The built-in GeoIP table.
    pub places: HashMap<IpAddr, Place>,
    /// The planted truth.
    pub planted: Planted,
    /// A second server of the same owner ([`SECOND_SERVER`]), shared with some of the same
    /// accounts: what the account view across servers joins.
    pub second: Dataset,
}

/// The name of the demo's second simulated server.
pub const SECOND_SERVER: &str = "demo-4k";

const CITIES: [(&str, &str, &str, &str, f64, f64); 12] = [
    ("New York", "New York", "United States", "US", 40.7128, -74.0060),
    ("Chicago", "Illinois", "United States", "US", 41.8781, -87.6298),
    ("Los Angeles", "California", "United States", "US", 34.0522, -118.2437),
    ("Seattle", "Washington", "United States", "US", 47.6062, -122.3321),
    ("Toronto", "Ontario", "Canada", "CA", 43.6532, -79.3832),
    ("London", "England", "United Kingdom", "GB", 51.5074, -0.1278),
    ("Paris", "Île-de-France", "France", "FR", 48.8566, 2.3522),
    ("Berlin", "Land Berlin", "Germany", "DE", 52.5200, 13.4050),
    ("Madrid", "Madrid", "Spain", "ES", 40.4168, -3.7038),
    ("Tokyo", "Tokyo", "Japan", "JP", 35.6762, 139.6503),
    ("Sydney", "New South Wales", "Australia", "AU", -33.8688, 151.2093),
    ("São Paulo", "São Paulo", "Brazil", "BR", -23.5505, -46.6333),
];

struct Builder {
    rng: Rng,
    now: i64,
    data: Dataset,
    places: HashMap<IpAddr, Place>,
    row: i64,
    next_ip: u32,
    names: HashMap<i64, (String, String)>,
}

const DAY: i64 = 86_400;

impl Builder {
    fn user(&mut self, id: i64, username: &str, friendly: &str) -> i64 {
        self.data.users.push(user_row(id, username, friendly));
        self.names.insert(id, (username.to_string(), friendly.to_string()));
        id
    }

    /// A fresh public IPv4 address located in `city`.
    fn public_ip(&mut self, city: usize) -> String {
        self.next_ip += 1;
        let n = self.next_ip;
        let ip = format!(
            "{}.{}.{}.{}",
            81 + (n / 60_000) % 20,
            (n / 250) % 250,
            10 + city,
            1 + n % 250
        );
        self.locate(&ip, city);
        ip
    }

    fn locate(&mut self, ip: &str, city: usize) {
        let (name, region, country, code, lat, lon) = CITIES[city % CITIES.len()];
        if let Ok(addr) = ip.parse::<IpAddr>() {
            self.places.insert(
                addr,
                Place {
                    city: Some(name.into()),
                    region: Some(region.into()),
                    country: Some(country.into()),
                    country_code: Some(code.into()),
                    latitude: lat,
                    longitude: lon,
                    accuracy_radius_km: Some(20.0),
                    // One made-up ISP per city, from the private-use AS numbers.
                    asn: Some(Asn {
                        number: 64_512 + (city % CITIES.len()) as u32,
                        organization: Some(format!("{name} Broadband")),
                    }),
                },
            );
            self.data
                .geo
                .insert(ip.to_string(), geo_row(name, region, country, code, lat, lon));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn play(&mut self, user_id: i64, device: &str, platform: &str, ip: &str, started: i64, play: i64, paused: i64) {
        if started + play + paused >= self.now - 60 {
            return; // not finished yet: Tautulli has no history row for it
        }
        self.row += 1;
        let (user, friendly) = self.names.get(&user_id).cloned().unwrap_or_default();
        let titles = [
            "Severance - Half Loop",
            "Bluey - Keepy Uppy",
            "Dune",
            "The Office - Diversity Day",
            "Shōgun - Anjin",
            "Arrival",
            "Planet Earth II - Cities",
        ];
        let title = titles[(self.row as usize) % titles.len()];
        let spec = SessionSpec {
            row_id: self.row,
            user_id,
            user,
            friendly_name: friendly,
            started,
            play,
            paused,
            machine_id: format!("{device}-{user_id}"),
            platform: platform.to_string(),
            player: device.to_string(),
            ip: ip.to_string(),
            title: title.to_string(),
            relayed: false,
            cellular: false,
        };
        self.data.history.push(spec.to_row());
    }

    /// A viewing start on `day` days ago, in the evening of a city at `utc_offset` hours.
    fn evening(&mut self, day: i64, utc_offset: i64) -> i64 {
        let midnight = (self.now / DAY - day) * DAY;
        midnight + (19 - utc_offset) * 3600 + self.rng.range(0, 3 * 3600)
    }

    fn live(&mut self, user_id: i64, device: &str, platform: &str, ip: &str) {
        let (user, friendly) = self.names.get(&user_id).cloned().unwrap_or_default();
        let key = self.data.activity.len() + 100;
        self.data.activity.push(json!({
            "session_key": key.to_string(), "session_id": format!("s{key}"), "user_id": user_id,
            "user": user, "username": user, "friendly_name": friendly, "ip_address": ip,
            "ip_address_public": ip, "machine_id": format!("{device}-{user_id}"), "player": device,
            "platform": platform, "product": format!("Plex for {platform}"), "state": "playing",
            "location": "wan", "relayed": 0, "local": 0, "full_title": "Severance - Half Loop",
            "media_type": "episode", "view_offset": "600000", "duration": "3000000", "progress_percent": "20"
        }));
    }
}

/// Build the demo world for `now` (epoch seconds).
pub fn demo(now: i64, seed: u64) -> Scenario {
    let mut b = Builder {
        rng: Rng::new(seed ^ 0x5eed),
        now,
        data: Dataset::default(),
        places: HashMap::new(),
        row: 0,
        next_ip: 0,
        names: HashMap::new(),
    };
    let mut planted = Planted::default();
    let days = 30;

    // Sharers: 2-4 homes in different cities, each with its own devices, overlapping evenings.
    let sharers = [
        (1001, "jamal.k", "Jamal K.", vec![0, 5]),
        (1002, "priya_s", "Priya S.", vec![1, 2, 6]),
        (1003, "mateo77", "Mateo R.", vec![3, 7, 9, 11]),
        (1004, "zoe_f", "Zoë & \"Friends\" <test>", vec![4, 8]),
    ];
    for (id, uname, name, cities) in sharers {
        b.user(id, uname, name);
        planted.sharers.push(id);
        let homes: Vec<(String, usize)> = cities.iter().map(|&c| (b.public_ip(c), c)).collect();
        for day in 1..days {
            for (h, (ip, _)) in homes.iter().enumerate() {
                if b.rng.below(10) < 6 {
                    let t = b.evening(day, 0) + h as i64 * 900;
                    let device = ["LivingRoom-TV", "Bedroom-Roku", "iPad", "Den-AppleTV"][h % 4];
                    let platform = ["Roku", "Roku", "iOS", "tvOS"][h % 4];
                    let play = b.rng.range(1800, 6000);
                    b.play(id, device, platform, ip, t, play, 0);
                }
            }
        }
    }
    // A mild sharer: home every evening, another household one evening a week.
    let mild = b.user(1005, "dana.w", "Dana W.");
    planted.sharers.push(mild);
    let (home, other) = (b.public_ip(1), b.public_ip(3));
    for day in 1..days {
        let t = b.evening(day, 0);
        b.play(mild, "Shield", "Android", &home, t, 3600, 120);
        if day % 7 == 3 {
            b.play(mild, "Sister-FireTV", "Android", &other, t + 1200, 3000, 0);
        }
    }
    // A teleporter: one person, two devices, New York and Tokyo minutes apart, never concurrent.
    let tele = b.user(1006, "hiro.t", "Hiro T.");
    planted.teleporters.push(tele);
    let (ny, tokyo) = (b.public_ip(0), b.public_ip(9));
    for day in 1..days {
        let t = b.evening(day, 0);
        b.play(tele, "MacBook", "macOS", &ny, t, 2400, 0);
        if day % 3 == 0 {
            b.play(tele, "iPhone", "iOS", &tokyo, t + 2400 + 600, 1800, 0);
            b.play(tele, "MacBook", "macOS", &ny, t + 2400 + 600 + 1800 + 900, 1800, 0);
        }
    }
    // LAN households: every device on the server's LAN (three private ranges), overlapping.
    for (id, uname, name, ips) in [
        (
            2001,
            "owner",
            "Server Owner",
            ["192.168.1.20", "192.168.1.21", "192.168.1.22"],
        ),
        (2002, "kids", "The Kids", ["10.0.0.30", "10.0.0.31", "10.0.1.32"]),
        (
            2003,
            "guest.room",
            "Guest Room",
            ["172.20.3.4", "172.20.3.5", "192.168.1.40"],
        ),
    ] {
        b.user(id, uname, name);
        planted.honest.push(id);
        for day in 1..days {
            for (k, ip) in ips.iter().enumerate() {
                let t = b.evening(day, 0) + k as i64 * 300;
                b.play(
                    id,
                    ["Living-TV", "Kid-iPad", "Laptop"][k],
                    ["Roku", "iOS", "Windows"][k],
                    ip,
                    t,
                    3000,
                    300,
                );
            }
        }
    }
    // IPv6 users: privacy addresses rotating inside one /64, and dual-stack from one home.
    let v6 = b.user(2004, "ines.v6", "Ines V.");
    planted.honest.push(v6);
    for day in 1..days {
        let ip = format!(
            "2a02:a440:101:9219:{:x}:{:x}::1",
            b.rng.below(0xffff),
            b.rng.below(0xffff)
        );
        b.locate(&ip, 6);
        let t = b.evening(day, 0);
        b.play(v6, "Pixel", "Android", &ip, t, 2400, 0);
        let ip2 = format!("2a02:a440:101:9219:{:x}::2", b.rng.below(0xffff));
        b.locate(&ip2, 6);
        b.play(v6, "TV", "LG", &ip2, t + 600, 2400, 0);
    }
    let dual = b.user(2005, "bjorn", "Björn J.");
    planted.honest.push(dual);
    let v4 = b.public_ip(7);
    for day in 1..days {
        let t = b.evening(day, 0);
        b.play(dual, "Desktop", "Windows", &v4, t, 3600, 0);
    }
    // A genuine traveller: home in London, flies to New York (7 h flight), watches there.
    let trav = b.user(2006, "aoife", "Aoife M.");
    planted.honest.push(trav);
    let (london, nyc) = (b.public_ip(5), b.public_ip(0));
    for day in 1..days {
        let t = b.evening(day, 0);
        let (ip, device) = if (10..14).contains(&day) {
            (&nyc, "iPhone")
        } else {
            (&london, "Apple TV")
        };
        b.play(
            trav,
            device,
            if device == "iPhone" { "iOS" } else { "tvOS" },
            ip,
            t,
            3000,
            0,
        );
    }
    // Ordinary households: a TV at home, a phone on the same address or a cellular one nearby.
    for k in 0..11 {
        let id = 3001 + k;
        let city = (k as usize) % CITIES.len();
        let names = [
            "Alice", "Bob", "Carlos", "Erin", "Frank", "Grace", "Kate", "Liam", "Maya", "Noah", "Olga",
        ];
        b.user(
            id,
            &names[k as usize].to_lowercase(),
            &format!("{} {}", names[k as usize], ["Smith", "Chen", "Rossi"][k as usize % 3]),
        );
        planted.honest.push(id);
        let home = b.public_ip(city);
        let cell = b.public_ip(city);
        for day in 1..days {
            if b.rng.below(10) < 7 {
                let t = b.evening(day, 0);
                let (play, paused) = (b.rng.range(1200, 5400), b.rng.range(0, 600));
                b.play(id, "TV", "Roku", &home, t, play, paused);
                if b.rng.below(4) == 0 {
                    let ip = if b.rng.below(2) == 0 {
                        home.clone()
                    } else {
                        cell.clone()
                    };
                    b.play(id, "Phone", "iOS", &ip, t + 7200, 1200, 0);
                }
            }
        }
    }
    // A home on an ISP whose address pool GeoIP splits between Chicago and Los Angeles:
    // the router's address moves mid-evening, so the phone starts on the other half while
    // the TV's session still shows the first. One home (an ISP pool), never flagged.
    let pooled = b.user(2007, "ruth.p", "Ruth P.");
    planted.honest.push(pooled);
    let (first, second) = (b.public_ip(1), b.public_ip(2));
    for ip in [&first, &second] {
        if let Some(p) = ip.parse().ok().and_then(|ip: IpAddr| b.places.get_mut(&ip)) {
            p.asn = Some(Asn {
                number: 64_600,
                organization: Some("Midwest Cable".into()),
            });
        }
    }
    for day in 1..days {
        let t = b.evening(day, 0);
        b.play(pooled, "TV", "Roku", &first, t, 2 * 3600, 0);
        b.play(pooled, "Phone", "iOS", &second, t + 5400, 3600, 0);
        b.play(pooled, "TV", "Roku", &second, t + 3 * 3600, 3600, 0);
    }

    // Right now: a sharer streaming from two homes, an ordinary user at home.
    let (ip_a, ip_b) = (b.public_ip(0), b.public_ip(5));
    b.live(1001, "LivingRoom-TV", "Roku", &ip_a);
    b.live(1001, "Bedroom-Roku", "Roku", &ip_b);
    planted.live_multi_network.push(1001);
    let ip_c = b.public_ip(1);
    b.live(3001, "TV", "Roku", &ip_c);

    // The owner's second server (4K films), shared with two of the same accounts.
    let mut k4 = Builder {
        rng: Rng::new(seed ^ 0x4b4b),
        now,
        data: Dataset::default(),
        places: HashMap::new(),
        row: 0,
        next_ip: 50_000,
        names: HashMap::new(),
    };
    // One login, two households: Lena's TV in Berlin on this server while someone in Tokyo
    // watches the 4K server, the same evenings. Either server alone sees one household.
    for k in [&mut b, &mut k4] {
        k.user(4001, "lena.b", "Lena B.");
        k.user(4002, "omar.h", "Omar H.");
    }
    planted.honest.extend([4001, 4002]);
    planted.across_servers.push(4001);
    planted.honest_across_servers.push(4002);
    let (berlin, tokyo) = (b.public_ip(7), k4.public_ip(9));
    for day in (2..days).step_by(2) {
        let t = b.evening(day, 0);
        b.play(4001, "TV", "Roku", &berlin, t, 3600, 0);
        k4.play(4001, "iPad", "iOS", &tokyo, t + 900, 3600, 0);
    }
    // One home, both servers: Omar's TV on this server, his Shield on the 4K one.
    let home = b.public_ip(8);
    k4.locate(&home, 8);
    for day in 1..days {
        let t = b.evening(day, 0);
        b.play(4002, "TV", "Roku", &home, t, 2400, 0);
        if day % 3 == 0 {
            k4.play(4002, "Shield", "Android", &home, t + 600, 5400, 0);
        }
    }
    let mut places = b.places;
    places.extend(k4.places);

    Scenario {
        dataset: b.data,
        places,
        planted,
        second: k4.data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_has_about_25_users_and_is_deterministic() {
        let a = demo(1_800_000_000, 1);
        let b = demo(1_800_000_000, 1);
        assert!((22..=30).contains(&a.dataset.users.len()), "{}", a.dataset.users.len());
        assert_eq!(a.dataset.history, b.dataset.history);
        assert_eq!(a.planted.sharers.len(), 5);
        assert!(a
            .dataset
            .history
            .iter()
            .all(|r| r["stopped"].as_i64().unwrap() < 1_800_000_000));
        assert_eq!(a.dataset.activity.len(), 3);
        assert_eq!(a.second.history, b.second.history);
    }

    /// The account planted across servers is flagged by the account view, at the
    /// PlexSharingAccountAcrossServers threshold (50), and by neither server alone; the
    /// account on both servers from one home is not flagged at all.
    #[test]
    fn the_second_server_plants_one_account_shared_across_servers() {
        use crate::detect::{accounts::accounts, analyze_all, Rules, ServerWindow};
        use crate::tautulli::{DecodeStats, HistoryRow};
        let now = 1_800_000_000;
        let world = demo(now, 1);
        let rules = Rules::default();
        let windows: Vec<(crate::detect::Strings, Vec<crate::detect::Session>)> = [&world.dataset, &world.second]
            .iter()
            .map(|d| {
                let mut strings = crate::detect::Strings::default();
                let mut stats = DecodeStats::default();
                let sessions = d
                    .history
                    .iter()
                    .filter_map(|r| serde_json::from_value::<HistoryRow>(r.clone()).ok())
                    .filter_map(|r| r.into_session(&mut strings, now, &mut stats).ok())
                    .collect();
                (strings, sessions)
            })
            .collect();
        let users = std::collections::BTreeMap::new();
        for (strings, sessions) in &windows {
            for f in analyze_all(sessions, &users, strings, &world.places, &rules) {
                if [4001, 4002].contains(&f.user_id) {
                    assert!(!f.flagged, "{} alone: {:?}", f.user_id, f.score_terms);
                }
            }
        }
        let parts: Vec<ServerWindow> = windows
            .iter()
            .zip(["demo", SECOND_SERVER])
            .map(|((strings, sessions), server)| ServerWindow {
                server,
                sessions,
                strings,
                places: &world.places,
                users: &users,
                refreshed_at: now,
                stale: false,
            })
            .collect();
        let found = accounts(&parts, &rules);
        let ids: Vec<i64> = found.iter().map(|a| a.finding.user_id).collect();
        assert_eq!(ids, vec![4001, 4002]);
        assert!(
            found[0].finding.flagged && found[0].finding.score >= 50.0,
            "{:?}",
            found[0].finding.score_terms
        );
        assert!(!found[1].finding.flagged, "{:?}", found[1].finding.score_terms);
    }
}
