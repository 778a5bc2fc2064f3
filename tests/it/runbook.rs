//! `/runbook`: every alert's `runbook_url` in deploy/prometheus/plex-sharing-rules.yml
//! names a section that the exporter serves, under the path of `--web.external-url`
//! and behind the same credentials as the other pages.

use std::path::Path;

use serde_yaml_ng::Value;

use crate::helpers::*;
use crate::pages::{Setup, Site};

/// `(alert, runbook_url)` of every alerting rule in the shipped rules file.
fn runbook_urls() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/plex-sharing-rules.yml");
    let rules: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            if let Some(alert) = rule["alert"].as_str() {
                let url = rule["annotations"]["runbook_url"].as_str();
                out.push((alert.to_string(), url.unwrap_or_default().to_string()));
            }
        }
    }
    out
}

/// `runbook.base_url` of deploy/knobs.yml: empty when the exporter serves the runbook.
fn runbook_base_knob() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/knobs.yml");
    let knobs: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    knobs["runbook"]["base_url"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_alerts_runbook_link_opens_a_section_of_the_exporters_runbook() {
    let (_fake, url) = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let exp = Exporter::start(&url, "k3y", &[]).await;
    let r = exp.http.get(format!("{}/runbook", exp.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let page = r.text().await.unwrap();

    let alerts = runbook_urls();
    assert_eq!(alerts.len(), 10, "{alerts:?}");
    let base = runbook_base_knob();
    for (alert, url) in &alerts {
        let anchor = alert.to_lowercase();
        // With the shipped knobs the link is <external URL of an exporter>/runbook#...,
        // the base found by a query template; with runbook.base_url set it is fixed.
        let want = if base.is_empty() {
            format!("/runbook#{anchor}")
        } else {
            format!("{base}#{anchor}")
        };
        assert!(
            url.ends_with(&format!("{{{{ end }}}}{want}")) || url == &want,
            "{alert}: {url}"
        );
        assert!(
            page.contains(&format!("<h2 id=\"{anchor}\">")),
            "{alert}: no section #{anchor}"
        );
    }
    // The runbook's own in-page links resolve too.
    for link in page.split("href=\"#").skip(1) {
        let anchor = &link[..link.find('"').unwrap()];
        assert!(page.contains(&format!("id=\"{anchor}\"")), "link to #{anchor}");
    }
    exp.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runbook_lives_under_the_external_urls_path_behind_the_credentials() {
    let mut setup = Setup::standard();
    setup.external_url = "https://proxy.example/plex-sharing/".into();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    setup.web_config = Some(format!("basic_auth_users:\n  alice: '{hash}'\n"));
    let site = Site::start(setup).await;
    assert!(site.url.ends_with("/plex-sharing"));
    let get = |auth: bool| {
        let mut r = site.http.get(format!("{}/runbook", site.url));
        if auth {
            r = r.basic_auth("alice", Some("s3cret"));
        }
        async move { r.send().await.unwrap() }
    };
    let denied = get(false).await;
    assert_eq!(denied.status(), 401);
    assert!(!denied.text().await.unwrap().contains("plexsharinghighscore"));
    let page = get(true).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<h2 id=\"plexsharinghighscore\">"));
}
