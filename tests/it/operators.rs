//! Network operators (`--asn-db`) in the served reports: an ISP pool that GeoIP splits
//! between two cities is one home, shown with why; a VPN's exits are marked as such.

use crate::helpers::*;

const POOL_USER: i64 = 106;
const VPN_USER: i64 = 105;

/// The standard world plus Pat, whose home address moves between two halves of one
/// Comcast pool that GeoIP puts in Chicago and Denver (1,480 km apart) every evening,
/// and Vic, whose laptop goes from Toronto (Bell) to a Sydney VPN exit (M247).
fn world() -> World {
    let mut w = World::standard();
    w.user(POOL_USER, "pat", "Pat Pool").user(VPN_USER, "vic", "Vic Vpn");
    for d in 1..=4 {
        let evening = NOW - d * DAY + 2 * 3600;
        w.play(POOL_USER, "pat-tv", "Roku", "87.7.7.1", evening, 2 * 3600);
        w.play(POOL_USER, "pat-phone", "iOS", "87.7.7.2", evening + 5400, 3600);
        w.play(POOL_USER, "pat-tv", "Roku", "87.7.7.2", evening + 3 * 3600, 3600);
        w.play(VPN_USER, "vic-laptop", "Windows", "85.5.5.5", evening, 1800);
        w.play(VPN_USER, "vic-laptop", "Windows", "86.6.6.6", evening + 2400, 1800);
    }
    w.geo("87.7.7.1", "Chicago", "United States", 41.88, -87.63)
        .geo("87.7.7.2", "Denver", "United States", 39.74, -104.99)
        .geo("85.5.5.5", "Toronto", "Canada", 43.6532, -79.3832)
        .geo("86.6.6.6", "Sydney", "Australia", -33.8688, 151.2093);
    w
}

fn write_operators(path: &std::path::Path) {
    let mut w = mmdb_writer::Writer::new("GeoLite2-ASN");
    for (net, n, org) in [
        ("87.7.7.0/24", 7922u32, "Comcast Cable Communications, LLC"),
        ("85.5.5.0/24", 577, "Bell Canada"),
        ("86.6.6.0/24", 9009, "M247 Europe SRL"),
    ] {
        let record = serde_json::json!({"autonomous_system_number": n, "autonomous_system_organization": org});
        w.insert(net.parse::<ipnet::IpNet>().unwrap(), &record).unwrap();
    }
    std::fs::write(path, w.to_bytes().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_isp_pool_is_one_home_with_its_reason_shown_and_vpn_exits_are_named() {
    let dir = TempDir::new("operators");
    let asn = dir.0.join("asn.mmdb");
    write_operators(&asn);
    let (_fake, url) = spawn_fake(shift_to_now(world().data), "UTC").await;
    let exp = Exporter::start(&url, KEY, &["--geo", "--asn-db", asn.to_str().unwrap()]).await;
    exp.wait_ready().await;

    let (code, html) = exp.get(&format!("/users/home/{POOL_USER}")).await;
    assert_eq!(code, 200, "{html}");
    assert!(html.contains(r#"<span class="badge ok">not flagged</span>"#), "{html}");
    let pools = html
        .split(r#"<h2 id="isp-pools""#)
        .nth(1)
        .unwrap_or_else(|| panic!("no ISP pool section: {html}"));
    for text in [
        "ISP address pools (1)",
        "87.7.7.1",
        "87.7.7.2",
        "Chicago",
        "Denver",
        "AS7922 Comcast",
        "pat-tv",
    ] {
        assert!(pools.contains(text), "{text} missing: {pools}");
    }
    let one = exp.get(&format!("/api/v1/users/home/{POOL_USER}")).await.1;
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["isp_pools"][0]["asn"], 7922);
    assert_eq!(v["isp_pools"][0]["switches"], 4, "one move each evening");
    assert_eq!(
        (v["concurrent_sessions"].clone(), v["teleportations"].clone()),
        (0.into(), 0.into())
    );

    let vpn = exp.get(&format!("/api/v1/users/home/{VPN_USER}")).await.1;
    let v: serde_json::Value = serde_json::from_str(&vpn).unwrap();
    let jumps = v["jumps"].as_array().expect("jumps");
    assert_eq!(jumps.len(), 4);
    assert!(
        jumps
            .iter()
            .all(|j| j["same_device"] == true && j["likely_vpn_exit"] == true),
        "{jumps:?}"
    );
    let (_, html) = exp.get(&format!("/users/home/{VPN_USER}")).await;
    assert!(html.contains("VPN or proxy exit: the ends"), "{html}");
}

/// The same history without the household rules: the pool's two halves are two homes
/// streaming at once, and Pat is flagged. The rule, not the data, keeps Pat unaccused.
#[tokio::test(flavor = "multi_thread")]
async fn without_the_household_rules_the_pool_is_two_homes() {
    let dir = TempDir::new("operators-off");
    let asn = dir.0.join("asn.mmdb");
    write_operators(&asn);
    let (_fake, url) = spawn_fake(world().data, "UTC").await;
    let r = report(
        &url,
        &[
            "--geo",
            "--asn-db",
            asn.to_str().unwrap(),
            "--format",
            "json",
            "--household-rules",
            "false",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    let pat = report_user(&doc, POOL_USER);
    assert_eq!(pat["isp_pools"], serde_json::json!([]));
    assert!(pat["teleportations"].as_u64().unwrap_or(0) > 0, "{pat}");
}
