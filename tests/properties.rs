//! Property tests (issue 7, part 3; issue 11): arbitrary input through the lenient
//! Tautulli row decoder, the address classifier, the detection core and the user page's
//! pictures. Nothing may panic, and the invariants below hold for every input proptest
//! can think of.
//!
//! Bounded so CI runs them with `cargo test`: 256 cases per property (a few seconds in
//! a debug build). `PROPTEST_CASES=100000 cargo test --release --test properties` runs
//! a longer search.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use plex_sharing_exporter::detect::network::{canonical, is_private};
use plex_sharing_exporter::detect::{
    analyze_all, DeviceUsage, DistanceUnknown, IpUsage, Jump, JumpEnd, Network, Overlap, Place, Places, Rules,
    ScoringProfile, Session, Span, Strings, Trusted, UserFinding, UserInfo,
};
use plex_sharing_exporter::tautulli::lenient::MaybeRow;
use plex_sharing_exporter::tautulli::model::{parse_ip, GeoRow, LiveRow, Page, UserRow, MAX_SESSION_SECONDS};
use plex_sharing_exporter::tautulli::{DecodeStats, HistoryRow};
use plex_sharing_exporter::web::mask::IpView;
use plex_sharing_exporter::web::svg::{
    self, MAX_DAY_LINES, MAX_LANES, MAX_MAP_JUMPS, MAX_OVERLAP_MARKS, MAX_SESSION_BARS,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// "Now" for decoding: rows may start up to two days after it.
const NOW: i64 = 1_800_000_000;
const YEAR_2000: i64 = 946_684_800;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- decoder

/// Short strings, often numeric-looking, sometimes not text at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        prop::sample::select(vec![
            "",
            " ",
            "null",
            "NaN",
            "inf",
            "-inf",
            "1e400",
            "-0",
            " 42 ",
            "0x10",
            "1_000",
            "١٢٣",
            "9223372036854775808",
            "-9223372036854775809",
            "1.5e3",
            "cellular",
            "playing",
        ])
        .prop_map(str::to_string),
    ]
}

/// Any JSON scalar, biased towards what Tautulli puts in a field.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)), // NaN and infinities become null
        (NOW - 40 * 86_400..NOW + 3 * 86_400).prop_map(Value::from),
        (-100_000i64..400_000).prop_map(Value::from),
        (NOW - 40 * 86_400..NOW + 3 * 86_400).prop_map(|t| Value::from(t.to_string())),
        text().prop_map(Value::from),
    ]
}

/// Any JSON value, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(field(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "row_id",
    "id",
    "user_id",
    "user",
    "friendly_name",
    "started",
    "stopped",
    "play_duration",
    "duration",
    "paused_counter",
    "machine_id",
    "platform",
    "player",
    "ip_address",
    "relayed",
    "location",
    "full_title",
    "title",
    "state",
    "username",
    "city",
    "region",
    "country",
    "code",
    "latitude",
    "longitude",
    "accuracy",
    "session_key",
];

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(str::to_string),
        1 => text(),
    ]
}

/// An object with Tautulli's field names and arbitrary values; sometimes not an object.
fn row() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => prop::collection::btree_map(field(), prop_oneof![4 => scalar(), 1 => json_value()], 0..14)
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        1 => json_value(),
    ]
}

fn decode_page<T: serde::de::DeserializeOwned>(text: &str) -> Result<Page<T>, serde_json::Error> {
    serde_json::from_str(text)
}

proptest! {
    #![proptest_config(config())]

    /// Any page of any rows decodes (an object always does), every element is
    /// accounted for, and no conversion panics. Sessions that come out are sane.
    #[test]
    fn history_pages_decode_and_convert_without_panicking(
        rows in prop::collection::vec(row(), 0..12),
        records in scalar(),
    ) {
        let text = json!({"recordsFiltered": records, "data": rows}).to_string();
        let page: Page<HistoryRow> = decode_page(&text).expect("a page object always decodes");
        prop_assert_eq!(page.data.len(), rows.len());
        let mut strings = Strings::default();
        let mut stats = DecodeStats::default();
        let (mut ok, mut skipped) = (0u64, 0u64);
        for r in page.data {
            let MaybeRow::Row(r) = r else { continue };
            let _ = r.user_info();
            match r.into_session(&mut strings, NOW, &mut stats) {
                Ok(s) => {
                    ok += 1;
                    prop_assert!((YEAR_2000..=NOW + 2 * 86_400).contains(&s.started), "{s:?}");
                    prop_assert!(s.stopped() >= s.started, "{s:?}");
                    prop_assert!(s.stopped() - s.started <= 2 * MAX_SESSION_SECONDS, "{s:?}");
                    prop_assert!(i64::from(s.play_seconds) <= MAX_SESSION_SECONDS);
                    prop_assert!(i64::from(s.paused_seconds) <= MAX_SESSION_SECONDS);
                    for allowance in [0, 600, u32::MAX] {
                        let end = s.effective_end(allowance);
                        prop_assert!(end >= s.started && end - s.started <= 2 * MAX_SESSION_SECONDS, "{s:?}");
                    }
                }
                Err(reason) => {
                    skipped += 1;
                    stats.skip(reason);
                }
            }
        }
        prop_assert_eq!(stats.total_skipped(), skipped);
        prop_assert!(stats.bad_ip + stats.negative_duration + stats.absurd_duration <= 3 * (ok + skipped));
    }

    /// Users, live streams and GeoIP answers decode from anything too.
    #[test]
    fn other_tables_decode_without_panicking(rows in prop::collection::vec(row(), 0..8), one in row()) {
        let text = json!({"recordsFiltered": rows.len(), "data": rows}).to_string();
        let users: Page<UserRow> = decode_page(&text).expect("users page");
        for u in users.data {
            if let MaybeRow::Row(u) = u {
                let _ = u.into_user();
            }
        }
        let live = json!({"sessions": rows}).to_string();
        if let Ok(a) = serde_json::from_str::<plex_sharing_exporter::tautulli::model::Activity>(&live) {
            for s in a.sessions {
                if let MaybeRow::Row(s) = s {
                    let _: Option<_> = LiveRow::into_stream(s);
                }
            }
        }
        if let Ok(g) = serde_json::from_value::<GeoRow>(one) {
            if let Some(p) = g.into_place() {
                prop_assert!(p.latitude.is_finite() && p.longitude.is_finite());
                let _ = p.label();
            }
        }
    }

    /// Arbitrary bytes never panic the decoder (they may fail it).
    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_slice::<Page<HistoryRow>>(&bytes);
        let _ = serde_json::from_slice::<Page<UserRow>>(&bytes);
        let _ = serde_json::from_slice::<GeoRow>(&bytes);
    }

    /// A cut JSON page fails cleanly, never panics.
    #[test]
    fn truncated_pages_fail_cleanly(rows in prop::collection::vec(row(), 1..6), cut in any::<prop::sample::Index>()) {
        let text = json!({"recordsFiltered": rows.len(), "data": rows}).to_string();
        let at = cut.index(text.len());
        if let Some(prefix) = text.get(..at) {
            let _ = decode_page::<HistoryRow>(prefix);
        }
    }
}

// ---------------------------------------------------------------- addresses

/// Addresses biased towards the edges of the private ranges.
fn ip() -> impl Strategy<Value = IpAddr> {
    let v4_prefix = prop::sample::select(vec![
        [10, 0],
        [172, 15],
        [172, 16],
        [172, 31],
        [172, 32],
        [192, 168],
        [192, 169],
        [127, 0],
        [169, 254],
        [0, 0],
        [100, 64],
        [8, 8],
    ]);
    prop_oneof![
        any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        (v4_prefix, any::<[u8; 2]>()).prop_map(|(p, l)| IpAddr::V4(Ipv4Addr::new(p[0], p[1], l[0], l[1]))),
        any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
        (
            prop::sample::select(vec![
                0xfc00u16, 0xfd12, 0xfe80, 0xfebf, 0xfec0, 0xfbff, 0x2001, 0x2a02, 0, 0x2002, 0x3fff, 0x3ffe, 0xff02,
                0x0100, 0x0064
            ]),
            any::<u128>()
        )
            .prop_map(|(hi, lo)| IpAddr::V6(Ipv6Addr::from((u128::from(hi) << 112) | (lo >> 16)))),
        any::<u32>().prop_map(|v| IpAddr::V6(Ipv4Addr::from(v).to_ipv6_mapped())),
        // NAT64 and Teredo, which carry an IPv4 address.
        any::<u32>().prop_map(|v| IpAddr::V6(Ipv6Addr::from((0x0064_ff9bu128 << 96) | u128::from(v)))),
        any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from((0x2001_0000u128 << 96) | (v >> 32)))),
        Just(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        Just(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
    ]
}

/// The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4, Teredo), written
/// independently of the classifier.
fn embedded_oracle(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let o = v6.octets();
    let net = |n: &str| n.parse::<ipnet::IpNet>().expect("oracle network").contains(&ip);
    let v4 = |b: [u8; 4]| IpAddr::V4(Ipv4Addr::from(b));
    if net("::ffff:0:0/96") || net("64:ff9b::/96") {
        v4([o[12], o[13], o[14], o[15]])
    } else if net("2002::/16") {
        v4([o[2], o[3], o[4], o[5]])
    } else if net("2001::/32") {
        v4([!o[12], !o[13], !o[14], !o[15]])
    } else {
        ip
    }
}

/// What "not public" means (the IANA special-purpose registries, multicast and
/// reserved space), written independently of the classifier.
fn private_oracle(ip: IpAddr) -> bool {
    let ip = embedded_oracle(ip);
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "100::/64",
        "2001:2::/48",
        "2001:10::/28",
        "2001:20::/28",
        "2001:db8::/32",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    ]
    .iter()
    .any(|n| n.parse::<ipnet::IpNet>().expect("oracle network").contains(&ip))
}

proptest! {
    #![proptest_config(config())]

    /// Any text: no panic; whatever parses round-trips.
    #[test]
    fn parse_ip_never_panics(s in prop_oneof![any::<String>(), text()]) {
        if let Some(ip) = parse_ip(&s) {
            prop_assert_eq!(parse_ip(&ip.to_string()), Some(ip));
        }
    }

    /// The forms Tautulli stores all parse to the address.
    #[test]
    fn addresses_parse_in_every_stored_form(ip in ip(), zone in prop::sample::select(vec!["eth0", "en1", "wlan0", "1"])) {
        prop_assert_eq!(parse_ip(&ip.to_string()), Some(ip));
        prop_assert_eq!(parse_ip(&format!("  {ip}\t")), Some(ip));
        if ip.is_ipv6() {
            prop_assert_eq!(parse_ip(&format!("[{ip}]")), Some(ip));
            prop_assert_eq!(parse_ip(&format!("{ip}%{zone}")), Some(ip));
        }
    }

    /// Private ⇔ the LAN household ⇔ in one of the special-purpose ranges; an IPv6
    /// form carrying `a.b.c.d` is `a.b.c.d`; public IPv6 is grouped by /64.
    #[test]
    fn the_classifier_agrees_with_the_ranges(ip in ip(), low in any::<u64>()) {
        let net = Network::of(ip);
        let _ = net.to_string();
        prop_assert_eq!(is_private(ip), net == Network::Lan);
        prop_assert_eq!(is_private(ip), private_oracle(ip), "{}", ip);
        prop_assert_eq!(canonical(ip), embedded_oracle(ip), "{}", ip);
        match ip {
            IpAddr::V4(v4) => {
                prop_assert_eq!(Network::of(IpAddr::V6(v4.to_ipv6_mapped())), net);
                prop_assert_eq!(canonical(IpAddr::V6(v4.to_ipv6_mapped())), ip);
            }
            IpAddr::V6(v6) if canonical(ip) == ip && !is_private(ip) => {
                let sibling = Ipv6Addr::from((u128::from(v6) & !u128::from(u64::MAX)) | u128::from(low));
                if !is_private(IpAddr::V6(sibling)) {
                    prop_assert_eq!(Network::of(IpAddr::V6(sibling)), net, "same /64");
                }
            }
            IpAddr::V6(_) => {}
        }
    }
}

// ---------------------------------------------------------------- detection

const POOL: &[&str] = &[
    "192.168.1.10",
    "10.0.0.5",
    "172.20.3.4",
    "81.1.1.1",
    "82.2.2.2",
    "93.3.3.3",
    "::ffff:81.1.1.1",
    "2a01:4f8:1:2::1",
    "2a01:4f8:1:2::99",
    "2a02:a440::1",
    "",
];

/// One generated session: (user, device, address index, start offset, play, paused,
/// relayed, cellular).
type Spec = (i64, u8, usize, i64, u32, u32, bool, bool);

fn spec() -> impl Strategy<Value = Spec> {
    (
        1i64..=3,
        0u8..4,
        0..POOL.len(),
        0i64..8 * 3600,
        prop_oneof![Just(0u32), 1u32..7200],
        prop_oneof![3 => Just(0u32), 1 => 0u32..20_000],
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.15),
    )
}

struct History {
    sessions: Vec<Session>,
    strings: Strings,
    places: Places,
    users: BTreeMap<i64, UserInfo>,
}

fn history(specs: &[Spec], coords: &[(f64, f64)]) -> History {
    let mut strings = Strings::default();
    let title = strings.intern("Title");
    let sessions = specs
        .iter()
        .enumerate()
        .map(|(i, &(user_id, dev, ip, offset, play, paused, relayed, cellular))| {
            let device = format!("u{user_id}-d{dev}");
            let started = NOW - 86_400 + offset;
            Session {
                row_id: i as i64 + 1,
                user_id,
                started,
                stopped_after: play + paused,
                play_seconds: play,
                paused_seconds: paused,
                ip: POOL[ip].parse().ok(),
                machine: strings.intern(&device),
                platform: strings.intern("Roku"),
                player: strings.intern(&format!("{device} player")),
                title,
                relayed,
                cellular,
            }
        })
        .collect();
    let mut places = Places::new();
    for (i, addr) in POOL.iter().enumerate() {
        if let Ok(ip) = addr.parse::<IpAddr>() {
            if !is_private(ip) {
                let (latitude, longitude) = coords[i % coords.len()];
                places.insert(
                    canonical(ip),
                    Place {
                        city: Some(format!("City {i}")),
                        region: None,
                        country: Some("Somewhere".into()),
                        country_code: None,
                        latitude,
                        longitude,
                        accuracy_radius_km: (i % 2 == 0).then_some(20.0),
                        asn: None,
                    },
                );
            }
        }
    }
    let users = (1..=3)
        .map(|id| {
            (
                id,
                UserInfo {
                    user_id: id,
                    name: format!("User {id}"),
                    username: format!("u{id}"),
                },
            )
        })
        .collect();
    History {
        sessions,
        strings,
        places,
        users,
    }
}

fn rules() -> impl Strategy<Value = Rules> {
    (
        prop::sample::select(vec![ScoringProfile::Evidence, ScoringProfile::Reference]),
        0u32..900,
        0u32..1800,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(profile, min_overlap, pause, households, same_device)| {
            let mut r = Rules::for_profile(profile);
            r.min_overlap_seconds = min_overlap;
            r.pause_allowance_seconds = pause;
            r.dual_stack_is_one_household = households;
            r.devices_at_home_are_one_household = households;
            r.nearby_cellular_is_household = households;
            r.nearby_overlaps_are_apart = households;
            r.travel.same_device_counts = same_device;
            r
        })
}

fn coords() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((-80.0f64..80.0, -180.0f64..180.0), 1..5)
}

/// What must not depend on input order: counts, score, and the evidence as sets.
#[derive(Debug, PartialEq)]
struct Essence {
    user_id: i64,
    counts: [usize; 8],
    plays: u64,
    watch: u64,
    score: u64,
    flagged: bool,
    overlaps: BTreeSet<(i64, i64)>,
    jumps: BTreeSet<(i64, i64)>,
}

fn essence(f: &UserFinding) -> Essence {
    let pair = |a: i64, b: i64| (a.min(b), a.max(b));
    Essence {
        user_id: f.user_id,
        counts: [
            f.devices,
            f.heavy_devices,
            f.networks,
            f.concurrent_sessions,
            f.nearby_concurrent_sessions,
            f.concurrent_device_pairs,
            f.teleportations,
            f.same_device_jumps,
        ],
        plays: f.plays,
        watch: f.watch_time_seconds,
        score: f.score.to_bits(),
        flagged: f.flagged,
        overlaps: f
            .overlaps
            .iter()
            .map(|o| pair(o.first_row_id, o.second_row_id))
            .collect(),
        jumps: f.jumps.iter().map(|j| pair(j.from.row_id, j.to.row_id)).collect(),
    }
}

fn by_user(findings: &[UserFinding]) -> BTreeMap<i64, Essence> {
    findings.iter().map(|f| (f.user_id, essence(f))).collect()
}

proptest! {
    #![proptest_config(config())]

    /// Scores are non-negative sums of their terms; counts stay within what n sessions
    /// on d devices can give; the evidence is consistent with the counts.
    #[test]
    fn detection_invariants(specs in prop::collection::vec(spec(), 0..16), coords in coords(), rules in rules()) {
        let h = history(&specs, &coords);
        let findings = analyze_all(&h.sessions, &h.users, &h.strings, &h.places, &rules);
        let users: BTreeSet<i64> = specs.iter().map(|s| s.0).collect();
        prop_assert_eq!(findings.len(), users.len());
        for f in &findings {
            let mine: Vec<&Session> = h.sessions.iter().filter(|s| s.user_id == f.user_id).collect();
            let n = mine.len();
            let d = f.devices;
            let pairs = n * n.saturating_sub(1) / 2;
            prop_assert!(f.score.is_finite() && f.score >= 0.0, "score {}", f.score);
            let sum: f64 = f.score_terms.iter().map(|t| t.points).sum();
            prop_assert!((f.score - sum).abs() < 1e-9, "score {} != sum of terms {}", f.score, sum);
            for t in &f.score_terms {
                prop_assert!(t.points >= 0.0 && (t.points - t.count as f64 * t.weight).abs() < 1e-9, "{t:?}");
            }
            prop_assert_eq!(f.flagged, f.score >= rules.min_score);
            prop_assert_eq!(f.plays as usize, n);
            prop_assert_eq!(f.watch_time_seconds, mine.iter().map(|s| u64::from(s.play_seconds)).sum::<u64>());
            prop_assert!(f.heavy_devices <= d && d <= n && f.networks <= n);
            prop_assert!(f.concurrent_sessions <= pairs, "{} > {}", f.concurrent_sessions, pairs);
            prop_assert_eq!(f.concurrent_sessions, f.overlaps.iter().filter(|o| !o.nearby).count());
            prop_assert_eq!(f.nearby_concurrent_sessions, f.overlaps.iter().filter(|o| o.nearby).count());
            prop_assert!(rules.nearby_overlaps_are_apart || f.nearby_concurrent_sessions == 0);
            prop_assert!(f.concurrent_device_pairs <= d * d.saturating_sub(1) / 2);
            prop_assert!(f.concurrent_device_pairs <= f.concurrent_sessions);
            prop_assert_eq!(f.concurrent_device_pairs == 0, f.concurrent_sessions == 0);
            prop_assert!(f.teleportations <= pairs, "{} > {}", f.teleportations, pairs);
            prop_assert_eq!(f.teleportations, f.jumps.iter().filter(|j| !j.same_device).count());
            prop_assert_eq!(f.same_device_jumps, f.jumps.iter().filter(|j| j.same_device).count());
            prop_assert!(f.teleportations + f.same_device_jumps <= pairs);
            let ids: BTreeSet<i64> = mine.iter().map(|s| s.row_id).collect();
            let mut seen = BTreeSet::new();
            for o in &f.overlaps {
                prop_assert!(ids.contains(&o.first_row_id) && ids.contains(&o.second_row_id));
                prop_assert!(o.first_row_id != o.second_row_id);
                prop_assert!(o.first_machine_id != o.second_machine_id, "{o:?}");
                prop_assert!(o.first_network != o.second_network, "{o:?}");
                prop_assert!(o.seconds > 0 && o.seconds >= i64::from(rules.min_overlap_seconds), "{o:?}");
                prop_assert_eq!(o.distance_km.is_none(), o.distance_unknown.is_some(), "{:?}", o);
                prop_assert!(!o.nearby || o.distance_km.is_some_and(|km| km < rules.travel.min_distance_km), "{:?}", o);
                prop_assert!(seen.insert((o.first_row_id.min(o.second_row_id), o.first_row_id.max(o.second_row_id))), "pair counted twice");
            }
            for j in &f.jumps {
                prop_assert!(ids.contains(&j.from.row_id) && ids.contains(&j.to.row_id));
                prop_assert!(j.speed_kmh > rules.travel.max_speed_kmh, "{j:?}");
                prop_assert!(j.hours > 0.0);
                let one_device = j.from.machine_id == j.to.machine_id;
                prop_assert_eq!(j.same_device, one_device && !rules.travel.same_device_counts, "{:?}", j);
            }
        }
    }

    /// Input order does not matter.
    #[test]
    fn detection_ignores_input_order(
        specs in prop::collection::vec(spec(), 0..16),
        coords in coords(),
        rules in rules(),
        seed in any::<u64>(),
    ) {
        let h = history(&specs, &coords);
        let expected = by_user(&analyze_all(&h.sessions, &h.users, &h.strings, &h.places, &rules));
        let mut shuffled = h.sessions.clone();
        // A deterministic Fisher-Yates from the seed (xorshift).
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let got = by_user(&analyze_all(&shuffled, &h.users, &h.strings, &h.places, &rules));
        prop_assert_eq!(got, expected);
    }

    /// Sessions that cannot be evidence (relayed, or trusted) give no overlaps and no jumps.
    #[test]
    fn no_evidence_without_usable_addresses(
        specs in prop::collection::vec(spec(), 0..16),
        coords in coords(),
        rules in rules(),
        relay in any::<bool>(),
    ) {
        let mut h = history(&specs, &coords);
        let mut rules = rules;
        if relay {
            h.sessions.iter_mut().for_each(|s| s.relayed = true);
        } else {
            rules.trusted = Trusted {
                global: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
                per_user: Vec::new(),
            };
        }
        for f in analyze_all(&h.sessions, &h.users, &h.strings, &h.places, &rules) {
            prop_assert_eq!((f.concurrent_sessions, f.concurrent_device_pairs, f.teleportations), (0, 0, 0));
        }
    }
}

// ---------------------------------------------------------------- pictures

/// Any f64, biased towards what breaks arithmetic and what is just off the globe.
fn wild_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        prop::sample::select(vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            1e300,
            -1e300,
            1e8,
            -1e8,
            90.0,
            91.0,
            -180.0,
            -181.0,
            0.0,
            -0.0,
        ]),
        -200.0f64..200.0,
    ]
}

/// Any time, biased towards the ends of i64 and towards "recently".
fn wild_time() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        prop::sample::select(vec![i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 86_400, 0, -1]),
        NOW - 40 * 86_400..NOW + 86_400,
    ]
}

/// Text from Tautulli or GeoIP, sometimes long and made of what escaping lengthens most.
fn wild_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => text(),
        1 => (prop::sample::select(vec!["\"", "&", "<", "😀"]), 0usize..600).prop_map(|(c, n)| c.repeat(n)),
    ]
}

fn wild_place() -> impl Strategy<Value = Place> {
    (
        wild_f64(),
        wild_f64(),
        prop::option::of(wild_f64()),
        prop::option::of(wild_text()),
    )
        .prop_map(|(latitude, longitude, accuracy_radius_km, city)| Place {
            // The operator's name is outside text too: the wild city text doubles as it.
            asn: city.as_ref().map(|c| plex_sharing_exporter::detect::Asn {
                number: 64_512,
                organization: Some(c.clone()),
            }),
            city,
            region: None,
            country: Some("Somewhere".into()),
            country_code: None,
            latitude,
            longitude,
            accuracy_radius_km,
        })
}

fn jump_end(time: i64, place: Place, machine: &str) -> JumpEnd {
    JumpEnd {
        row_id: 1,
        time,
        event: "start",
        ip: IpAddr::from([81, 1, 1, 1]),
        place,
        machine_id: machine.into(),
        platform: "Roku".into(),
    }
}

fn wild_jump() -> impl Strategy<Value = Jump> {
    (wild_place(), wild_place(), wild_f64(), wild_time(), wild_time()).prop_map(|(a, b, km, t0, t1)| Jump {
        from: jump_end(t0, a, "tv"),
        to: jump_end(t1, b, "phone"),
        distance_km: km,
        hours: 0.001,
        speed_kmh: km,
        same_device: false,
        likely_vpn_exit: false,
    })
}

/// A session span at any times, on any device and address index (mostly small ones).
fn wild_span() -> impl Strategy<Value = Span> {
    let index = || prop_oneof![8 => 0u32..64, 1 => any::<u32>()];
    (
        wild_time(),
        wild_time(),
        index(),
        prop::option::of(index()),
        any::<bool>(),
    )
        .prop_map(|(t0, t1, device, ip, concurrent)| Span::new(t0, t1, device, ip, concurrent))
}

/// A finding with arbitrary devices, addresses, overlaps and session spans (device and
/// address indices may point past the lists), and locations for some addresses.
fn wild_finding() -> impl Strategy<Value = (UserFinding, HashMap<IpAddr, String>)> {
    let device = (wild_text(), wild_text(), wild_text()).prop_map(|(machine_id, platform, player)| DeviceUsage {
        machine_id,
        platform,
        player,
        plays: 1,
        watch_time_seconds: 60,
        ips: Vec::new(),
        heavy: false,
    });
    let usage = ip().prop_map(|ip| IpUsage {
        ip,
        network: Network::of(ip).to_string(),
        plays: 1,
        watch_time_seconds: 60,
        platforms: Vec::new(),
        asn: None,
        as_organization: None,
    });
    let overlap = (
        (wild_time(), wild_time(), wild_text(), prop::option::of(ip())),
        (
            prop::option::of(wild_text()),
            prop::option::of(-1e9f64..1e9),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((started, seconds, machine, ip), (place, distance_km, nearby))| Overlap {
                first_row_id: 1,
                second_row_id: 2,
                first_machine_id: machine.as_str().into(),
                second_machine_id: "other".into(),
                first_ip: ip,
                second_ip: None,
                first_network: Network::Lan,
                second_network: Network::Lan,
                first_platform: machine.as_str().into(),
                second_platform: "".into(),
                first_player: machine.as_str().into(),
                second_player: "".into(),
                first_started: started,
                first_ended: seconds,
                second_started: seconds,
                second_ended: started,
                first_place: place.clone(),
                second_place: place,
                started,
                seconds,
                distance_km,
                distance_unknown: distance_km.is_none().then_some(DistanceUnknown::CountryLevel),
                nearby,
            },
        );
    (
        wild_text(),
        prop::collection::vec(device, 0..60),
        prop::collection::vec(usage, 0..30),
        prop::collection::vec(overlap, 0..260),
        prop_oneof![3 => prop::collection::vec(wild_span(), 0..60), 1 => prop::collection::vec(wild_span(), 1900..2300)],
        prop::collection::vec(wild_text(), 0..30),
    )
        .prop_map(|(user, device_usage, ip_usage, overlaps, spans, places)| {
            let locations = ip_usage.iter().map(|u| u.ip).zip(places).collect();
            let f = UserFinding {
                user,
                device_usage,
                ip_usage,
                overlaps,
                spans,
                ..UserFinding::default()
            };
            (f, locations)
        })
}

/// Most bytes one drawn item (a lane, a day line, a bar, a grid line, a jump, a place)
/// takes: its markup (under 350 bytes) and a text of at most 200 characters, escaped
/// (at most 6 bytes a character).
const ITEM_BYTES: usize = 1_600;

/// Every position and width in the markup is finite and near the picture (no NaN, no
/// inf, no 1e300).
fn coordinates_are_sane(svg: &str) -> Result<(), TestCaseError> {
    for attr in [
        " x=\"",
        " y=\"",
        " x1=\"",
        " x2=\"",
        " y1=\"",
        " y2=\"",
        " cx=\"",
        " cy=\"",
        " width=\"",
    ] {
        for part in svg.split(attr).skip(1) {
            let v: f64 = part.split('"').next().unwrap_or("").parse().unwrap_or(f64::NAN);
            prop_assert!(v.is_finite() && v.abs() <= 10_000.0, "{attr}{v}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// The timeline of any finding over any window: no panic, every loop capped, at most
    /// ITEM_BYTES per item for a fixed number of items (about 3.8 MB), all of it on the
    /// picture.
    #[test]
    fn the_timeline_is_bounded_for_any_finding_and_window(
        (f, locations) in wild_finding(),
        window in (wild_time(), wild_time()),
        mask in any::<bool>(),
    ) {
        let t = svg::timeline(&f, window, IpView { mask }, &locations);
        let items = (MAX_LANES + 1) + (MAX_DAY_LINES as usize + 1) + MAX_OVERLAP_MARKS + MAX_SESSION_BARS + 1;
        prop_assert!(t.svg.len() <= items * ITEM_BYTES, "{} bytes", t.svg.len());
        prop_assert!(t.svg.starts_with("<svg") && t.svg.ends_with("</svg>"));
        prop_assert!(t.svg.matches(r#"class="lane""#).count() <= MAX_LANES + 1);
        prop_assert!(t.svg.matches("<line").count() <= MAX_DAY_LINES as usize + 2);
        let bars = t.svg.matches("<rect").count() - t.svg.matches(r#"<rect x="0""#).count();
        prop_assert!(bars <= MAX_OVERLAP_MARKS + MAX_SESSION_BARS, "{bars} bars");
        prop_assert!(t.legend.len() <= 12);
        coordinates_are_sane(&t.svg)?;
    }

    /// The travel map of any jumps between any places: no panic, at most 2 *
    /// MAX_MAP_JUMPS places and MAX_MAP_JUMPS jumps, at most ITEM_BYTES per item (about
    /// 300 KB), every point on the picture.
    #[test]
    fn the_travel_map_is_bounded_for_any_places(jumps in prop_oneof![
        3 => prop::collection::vec(wild_jump(), 0..12),
        1 => prop::collection::vec(wild_jump(), 40..120),
    ]) {
        if let Some(map) = svg::travel_map(&jumps) {
            prop_assert!(map.matches("<circle").count() <= 2 * MAX_MAP_JUMPS);
            // 16 grid lines each way at most, and one line per jump.
            prop_assert!(map.matches("<line").count() <= 2 * 16 + MAX_MAP_JUMPS);
            prop_assert!(map.len() <= (1 + 2 * 16 + 3 * MAX_MAP_JUMPS) * ITEM_BYTES, "{} bytes", map.len());
            coordinates_are_sane(&map)?;
        }
    }

    /// Detection given places off the globe (a GeoIP answer that slipped past the
    /// locator's check): no panic, and no jump leaves the globe or is longer than half
    /// a great circle.
    #[test]
    fn jumps_stay_on_the_globe_whatever_the_places(
        specs in prop::collection::vec(spec(), 0..16),
        places in prop::collection::vec(wild_place(), 1..6),
        rules in rules(),
    ) {
        let mut h = history(&specs, &[(0.0, 0.0)]);
        for (i, p) in h.places.values_mut().enumerate() {
            let wild = &places[i % places.len()];
            p.latitude = wild.latitude;
            p.longitude = wild.longitude;
            p.accuracy_radius_km = wild.accuracy_radius_km;
        }
        for f in analyze_all(&h.sessions, &h.users, &h.strings, &h.places, &rules) {
            prop_assert!(f.score.is_finite());
            for j in &f.jumps {
                for p in [&j.from.place, &j.to.place] {
                    prop_assert!((-90.0..=90.0).contains(&p.latitude) && (-180.0..=180.0).contains(&p.longitude), "{p:?}");
                }
                prop_assert!((0.0..=20_016.0).contains(&j.distance_km), "{j:?}");
                prop_assert!(j.speed_kmh.is_finite(), "{j:?}");
            }
        }
    }
}
