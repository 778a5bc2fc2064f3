//! The pages in a real browser: headless Chromium (Debian's `chromium`, which CI
//! installs) loads them from an in-process exporter, and the test reads the DOM it built
//! (what a person sees: names, numbers, the pictures) and its console log, which must be
//! empty: the pages have no script, so any console line is a problem (a CSP violation,
//! a failed resource, an error).
//!
//! Without Chromium the test fails and says how to install it; it never skips.

use std::path::PathBuf;
use std::time::Duration;

use crate::helpers::TempDir;
use crate::pages::{Setup, Site};

fn chromium() -> PathBuf {
    let candidate = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        candidate.exists(),
        "the browser test needs Chromium at {}: install Debian's package \
         (apt-get install chromium) or set CHROMIUM to its path",
        candidate.display()
    );
    candidate
}

/// What Chromium made of a page.
struct Loaded {
    dom: String,
    console: Vec<String>,
}

/// Load `url` headless and return the DOM after load and the console lines.
async fn load(url: &str) -> Loaded {
    let profile = TempDir::new("chromium");
    let run = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom", url])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("chromium finished within 90 s")
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}\n{stderr}",
        out.status
    );
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        // Console messages are logged as `...:CONSOLE:<line>] "text", source: ...`.
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(str::to_owned)
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_renders_the_reports_with_a_clean_console() {
    // The console check itself works: a page with a script error is caught.
    let broken = load("data:text/html,<p>x</p><script>undefinedFunction()</script>").await;
    assert!(
        broken.console.iter().any(|l| l.contains("Uncaught")),
        "the console check sees nothing: {:?}",
        broken.console
    );

    let site = Site::start(Setup::standard()).await;

    let page = load(&format!("{}/users/home/101", site.url)).await;
    assert!(page.console.is_empty(), "console: {:#?}", page.console);
    let dom = &page.dom;
    assert!(dom.contains("<h1>Sam Sharer"), "{dom}");
    assert!(dom.contains("Why the score is 170"));
    assert!(dom.contains("× 20"), "score weights are shown");
    assert!(dom.contains(r#"<svg class="timeline""#), "the timeline picture");
    assert_eq!(dom.matches(r#"class="lane""#).count(), 3, "lanes");
    assert!(dom.contains(r#"<svg class="map""#), "the travel map");
    assert!(dom.contains("New York") && dom.contains("London"));

    let list = load(&format!("{}/users", site.url)).await;
    assert!(list.console.is_empty(), "console: {:#?}", list.console);
    let rows = list.dom.matches("<tr><td class=\"num\">").count();
    assert_eq!(rows, 4, "one row per user: {}", list.dom);
    let at = |name: &str| list.dom.find(name).unwrap_or_else(|| panic!("{name} not shown"));
    assert!(at("Sam Sharer") < at("Solo Viewer"), "sorted by score");

    // The odd name is text, not markup, once the browser has parsed the page.
    let odd = load(&format!("{}/users/home/104", site.url)).await;
    assert!(odd.console.is_empty(), "console: {:#?}", odd.console);
    assert!(!odd.dom.contains("<test>"), "{}", odd.dom);
    assert!(odd.dom.contains("Zoë &amp; \"Friends\" &lt;test&gt;"));
}
