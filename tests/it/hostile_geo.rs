//! A hostile GeoIP answer (issue 11): Tautulli's `get_geoip_lookup` puts addresses off
//! the globe. The real `serve --geo` keeps running, leaves those addresses unlocated,
//! counts them as `outcome="invalid"`, and every user page stays small.

use plex_sharing_exporter::simulator::geo_row;
use serde_json::{json, Value};

use crate::faults::{up, FAST};
use crate::helpers::*;
use crate::serve::sample;

/// Largest user page accepted. These are about 20 KB; longitude 1e8 once made one
/// of 290 MB.
const MAX_PAGE_BYTES: usize = 2 << 20;

/// (user id, address, its `get_geoip_lookup` answer).
fn hostile() -> Vec<(i64, &'static str, Value)> {
    let mut nan = geo_row("Nowhere", "", "Atlantis", "XX", 10.0, 0.0);
    nan["longitude"] = json!("NaN");
    vec![
        (201, "85.0.0.2", geo_row("Far East", "", "Atlantis", "XX", 10.0, 1e8)),
        (
            202,
            "85.0.0.1",
            geo_row("Farther East", "", "Atlantis", "XX", 10.0, 1e300),
        ),
        (203, "85.0.0.3", nan),
        (
            204,
            "85.0.0.4",
            geo_row("Beyond the Pole", "", "Atlantis", "XX", 91.0, 0.0),
        ),
    ]
}

/// Each hostile user streams from New York and, at the same time, from the hostile
/// address on six evenings: with both located, that is six impossible jumps and a map.
fn world() -> World {
    let mut w = World::default();
    for (id, ip, answer) in hostile() {
        let name = format!("user{id}");
        w.user(id, &name, &format!("User {id}"));
        for d in 1..=6 {
            let evening = NOW - d * DAY + 8 * 3600;
            w.play(id, &format!("{name}-tv"), "Roku", "81.1.1.1", evening, 3600);
            w.play(id, &format!("{name}-phone"), "iOS", ip, evening + 1800, 3600);
        }
        w.data.geo.insert(ip.to_string(), answer);
    }
    w.geo("81.1.1.1", "New York", "United States", 40.7128, -74.0060);
    w
}

fn lookups(m: &str, outcome: &str) -> Option<f64> {
    sample(
        m,
        &format!("plex_sharing_geoip_lookups_total{{provider=\"tautulli\",outcome=\"{outcome}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn off_globe_answers_are_counted_and_user_pages_stay_small() {
    let (_fake, url) = spawn_fake(shift_to_now(world().data), "UTC").await;
    let mut flags = FAST.to_vec();
    flags.extend_from_slice(&["--geo", "--log.level", "debug"]);
    let exp = Exporter::start(&url, KEY, &flags).await;
    exp.wait_for("first refresh", |m| up(m) == Some(1.0)).await;
    for (id, ip, _) in hostile() {
        let (status, page) = exp.get(&format!("/users/home/{id}")).await;
        assert_eq!(status, 200, "user {id}");
        assert!(page.len() < MAX_PAGE_BYTES, "user {id}: page of {} bytes", page.len());
        // The hostile address is not located: no jump, no map, no place beside it.
        assert!(page.contains("Teleportation events (0)"), "user {id}");
        assert!(!page.contains(r#"class="map""#), "user {id}");
        assert!(
            page.contains(&format!("<td>{ip}</td>")),
            "user {id}: {ip} shown unlocated"
        );
        assert!(
            page.contains("New York"),
            "user {id}: the good address is still located"
        );
    }
    let m = exp.metrics().await;
    assert_eq!(up(&m), Some(1.0), "still refreshing");
    // 1e8, 1e300 and 91 are numbers off the globe; "NaN" is no number at all, which the
    // lenient decoder reads as a missing coordinate: a miss. Each asked once (cached).
    assert_eq!(lookups(&m, "invalid"), Some(3.0), "{m}");
    assert_eq!(lookups(&m, "miss"), Some(1.0), "{m}");
    assert_eq!(lookups(&m, "hit"), Some(1.0), "{m}");
    assert_eq!(exp.get("/-/healthy").await.0, 200);
    let logs = exp.stop().await;
    assert!(logs.iter().all(|l| !l.contains(KEY)), "API key in the logs");
    let rejected = logs
        .iter()
        .filter(|l| l.contains("GeoIP answer is not a place on Earth"))
        .count();
    assert_eq!(rejected, 3, "one DEBUG line per rejected answer");
}
