//! Test worlds: a small, hand-made Tautulli dataset with planted behaviours, a fake
//! Tautulli serving it on a free port, and a runner for the real binary.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::tz::TimeZone;
use plex_sharing_exporter::simulator::{geo_row, user_row, Dataset, FakeTautulli, SessionSpec};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The API key the fake accepts. Long and unique so a leak is easy to grep for.
pub const KEY: &str = "0123456789abcdef0123456789abcdef";
/// "Now" for every test: 2026-11-20 12:00 UTC.
pub const NOW: i64 = 1_795_132_800 + 12 * 3600;
pub const DAY: i64 = 86_400;

pub const SHARER: i64 = 101;
pub const FAMILY: i64 = 102;
pub const SOLO: i64 = 103;
pub const ODD_NAME: i64 = 104;

/// Builds datasets.
#[derive(Default)]
pub struct World {
    pub data: Dataset,
    next_row: i64,
}

impl World {
    pub fn user(&mut self, id: i64, username: &str, friendly: &str) -> &mut Self {
        self.data.users.push(user_row(id, username, friendly));
        self
    }

    #[allow(clippy::too_many_arguments)]
    pub fn play(&mut self, user_id: i64, device: &str, platform: &str, ip: &str, started: i64, play: i64) -> &mut Self {
        self.next_row += 1;
        let (user, friendly) = self
            .data
            .users
            .iter()
            .find(|u| u["user_id"] == user_id)
            .map(|u| {
                (
                    u["username"].as_str().unwrap_or("").to_string(),
                    u["friendly_name"].as_str().unwrap_or("").to_string(),
                )
            })
            .unwrap_or_default();
        let spec = SessionSpec {
            row_id: self.next_row,
            user_id,
            user,
            friendly_name: friendly,
            started,
            play,
            paused: 0,
            machine_id: device.to_string(),
            platform: platform.to_string(),
            player: format!("{device} player"),
            ip: ip.to_string(),
            title: format!("Show - Episode {}", self.next_row),
            relayed: false,
            cellular: false,
        };
        self.data.history.push(spec.to_row());
        self
    }

    pub fn geo(&mut self, ip: &str, city: &str, country: &str, lat: f64, lon: f64) -> &mut Self {
        self.data
            .geo
            .insert(ip.to_string(), geo_row(city, "", country, "XX", lat, lon));
        self
    }

    /// The standard world:
    /// - Sharer: a TV in New York and a phone in London streaming at the same time on six
    ///   evenings (6 overlaps, 1 device pair, 2 heavy devices; 6 jumps with GeoIP).
    /// - Family: three devices on three LAN ranges, overlapping every evening (one household).
    /// - Solo: one device, three plays.
    /// - An odd name that needs HTML/terminal care, with one play.
    pub fn standard() -> World {
        let mut w = World::default();
        w.user(SHARER, "sharer", "Sam Sharer")
            .user(FAMILY, "family", "The Family")
            .user(SOLO, "solo", "Solo Viewer")
            .user(ODD_NAME, "alex_74", "Zoë & \"Friends\" <test>");
        for d in 1..=6 {
            let evening = NOW - d * DAY + 8 * 3600; // 20:00 UTC
            w.play(SHARER, "sharer-tv", "Roku", "81.1.1.1", evening, 3600);
            w.play(SHARER, "sharer-phone", "iOS", "82.2.2.2", evening + 1800, 3600);
            w.play(FAMILY, "family-tv", "Roku", "192.168.1.10", evening, 3600);
            w.play(FAMILY, "family-ipad", "iOS", "10.0.0.5", evening + 600, 3600);
            w.play(FAMILY, "family-laptop", "Windows", "172.20.3.4", evening + 1200, 3600);
        }
        for d in 1..=3 {
            w.play(SOLO, "solo-tv", "tvOS", "93.3.3.3", NOW - d * DAY, 1800);
        }
        w.play(ODD_NAME, "odd-tv", "LG", "94.4.4.4", NOW - 2 * DAY, 600);
        w.geo("81.1.1.1", "New York", "United States", 40.7128, -74.0060)
            .geo("82.2.2.2", "London", "United Kingdom", 51.5074, -0.1278)
            .geo("93.3.3.3", "Paris", "France", 48.8566, 2.3522);
        w
    }
}

/// `data` (built around [`NOW`]) moved by whole days so that NOW becomes today: for
/// tests of `serve`, whose window ends at the real clock.
pub fn shift_to_now(mut data: Dataset) -> Dataset {
    let days = (jiff::Timestamp::now().as_second() - NOW).div_euclid(DAY);
    data.shift_history(days * DAY);
    data
}

/// A fake Tautulli serving `data` on 127.0.0.1, with server-local dates in `tz`.
pub async fn spawn_fake(data: Dataset, tz: &str) -> (Arc<FakeTautulli>, String) {
    let tz = TimeZone::get(tz).expect("test time zone");
    let fake = FakeTautulli::new(data, KEY, tz);
    let addr: SocketAddr = fake
        .spawn("127.0.0.1:0".parse().unwrap(), "")
        .await
        .expect("bind fake tautulli");
    (fake, format!("http://{addr}"))
}

/// What a run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Fails the test if the key appears anywhere in the output.
    pub fn assert_no_key(&self) -> &Self {
        assert!(
            !self.stdout.contains(KEY) && !self.stderr.contains(KEY),
            "API key leaked:\n{}\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Run the real binary with `args` (no inherited TAUTULLI_* variables).
pub async fn run(args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_plex-sharing-exporter"))
        .args(args)
        .env_remove("TAUTULLI_URL")
        .env_remove("TAUTULLI_HOST")
        .env_remove("TAUTULLI_API_KEY")
        .env("TZ", "UTC")
        .output()
        .await
        .expect("run the binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `report` against `url` with the key, at NOW, UTC, plus `extra` flags.
pub async fn report(url: &str, extra: &[&str]) -> Run {
    let now = NOW.to_string();
    let mut args = vec![
        "report",
        "--tautulli-url",
        url,
        "--tautulli-api-key",
        KEY,
        "--now",
        &now,
        "--timezone",
        "UTC",
    ];
    args.extend_from_slice(extra);
    run(&args).await
}

/// Write a tiny GeoIP2-City-layout database (New York, London, Paris) to `path`.
pub fn write_geoip2_city(path: &Path) {
    use serde_json::json;
    let mut w = mmdb_writer::Writer::new("GeoLite2-City");
    let city = |name: &str, country: &str, iso: &str, region: &str, lat: f64, lon: f64, radius: u16| {
        json!({
            "city": {"names": {"en": name}},
            "country": {"iso_code": iso, "names": {"en": country}},
            "subdivisions": [{"names": {"en": region}}],
            "location": {"latitude": lat, "longitude": lon, "accuracy_radius": radius}
        })
    };
    w.insert(
        "81.1.1.0/24".parse::<ipnet::IpNet>().unwrap(),
        &city("New York", "United States", "US", "New York", 40.7128, -74.0060, 20),
    )
    .unwrap();
    w.insert(
        "82.2.2.0/24".parse::<ipnet::IpNet>().unwrap(),
        &city("London", "United Kingdom", "GB", "England", 51.5074, -0.1278, 20),
    )
    .unwrap();
    w.insert(
        "93.3.3.0/24".parse::<ipnet::IpNet>().unwrap(),
        &city("Paris", "France", "FR", "Île-de-France", 48.8566, 2.3522, 20),
    )
    .unwrap();
    std::fs::write(path, w.to_bytes().unwrap()).unwrap();
}

/// Every row of the window read once: `rows` received, none skipped, no count mismatch
/// in a `report --format json` document's `source`.
pub fn assert_read_once(doc: &serde_json::Value, rows: i64) {
    let source = &doc["source"];
    assert_eq!(source["rows_received"], rows, "{source}");
    assert_eq!(source["rows_skipped"], serde_json::json!({}), "{source}");
    assert_eq!(source["count_mismatches"], serde_json::json!([]), "{source}");
}

/// The `get_history` requests the fake received, in order.
pub fn history_requests(fake: &FakeTautulli) -> Vec<plex_sharing_exporter::simulator::Request> {
    fake.requests().into_iter().filter(|q| q.cmd == "get_history").collect()
}

/// The UTC date of epoch second `t`.
pub fn utc_date(t: i64) -> jiff::civil::Date {
    jiff::Timestamp::from_second(t).unwrap().to_zoned(TimeZone::UTC).date()
}

/// User `id`'s entry in a `report --format json` document (fails the test when absent).
pub fn report_user(doc: &serde_json::Value, id: i64) -> &serde_json::Value {
    doc["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["user_id"] == id))
        .unwrap_or_else(|| panic!("user {id} missing from {doc}"))
}

/// Write a tiny GeoLite2-ASN-layout database to `path`: New York's 81.1.1.0/24 on
/// Comcast (AS7922), London's 82.2.2.0/24 on Virgin Media (AS5089).
pub fn write_asn_db(path: &Path) {
    use serde_json::json;
    let mut w = mmdb_writer::Writer::new("GeoLite2-ASN");
    let asn = |n: u32, org: &str| json!({"autonomous_system_number": n, "autonomous_system_organization": org});
    w.insert(
        "81.1.1.0/24".parse::<ipnet::IpNet>().unwrap(),
        &asn(7922, "Comcast Cable Communications, LLC"),
    )
    .unwrap();
    w.insert(
        "82.2.2.0/24".parse::<ipnet::IpNet>().unwrap(),
        &asn(5089, "Virgin Media Limited"),
    )
    .unwrap();
    std::fs::write(path, w.to_bytes().unwrap()).unwrap();
}

/// Write a tiny DB-IP "ip-location-db" flat city database to `path`.
pub fn write_dbip_flat(path: &Path) {
    use serde_json::json;
    let mut w = mmdb_writer::Writer::new("DBIP-City-Lite");
    let city = |name: &str, cc: &str, state: &str, lat: f64, lon: f64| json!({"city": name, "country_code": cc, "state1": state, "latitude": lat, "longitude": lon});
    w.insert(
        "81.1.1.0/24".parse::<ipnet::IpNet>().unwrap(),
        &city("New York", "US", "New York", 40.7128, -74.0060),
    )
    .unwrap();
    w.insert(
        "82.2.2.0/24".parse::<ipnet::IpNet>().unwrap(),
        &city("London", "GB", "England", 51.5074, -0.1278),
    )
    .unwrap();
    std::fs::write(path, w.to_bytes().unwrap()).unwrap();
}

/// A fresh temporary directory (removed on drop).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir()
            .join(format!(
                "pse-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ))
            .with_extension(format!(
                "{}",
                NOW_COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

static NOW_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An exporter's web address and the client that scrapes it, shared by the in-process
/// exporters (`serve::App`, `pages::Site`) and the binary ([`Exporter`]).
pub struct Scraper {
    pub url: String,
    pub http: reqwest::Client,
    /// How long `wait_for` waits before failing the test.
    pub patience: std::time::Duration,
}

impl Scraper {
    pub fn new(url: String, patience: std::time::Duration) -> Scraper {
        Scraper::with_client(url, reqwest::Client::new(), patience)
    }

    /// With a client of your own (one that trusts a test CA, say).
    pub fn with_client(url: String, http: reqwest::Client, patience: std::time::Duration) -> Scraper {
        Scraper { url, http, patience }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.1
    }

    /// Wait until `/-/ready` answers 200 (fails the test after `patience`).
    pub async fn wait_ready(&self) {
        let step = std::time::Duration::from_millis(50);
        for _ in 0..self.patience.as_millis() / step.as_millis() {
            if let Ok(r) = self.http.get(format!("{}/-/ready", self.url)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(step).await;
        }
        panic!("{} never became ready", self.url);
    }

    /// Wait until `/metrics` satisfies `pred` (fails the test after `patience`).
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let step = std::time::Duration::from_millis(50);
        for _ in 0..self.patience.as_millis() / step.as_millis() {
            let m = self.metrics().await;
            if pred(&m) {
                return m;
            }
            tokio::time::sleep(step).await;
        }
        panic!("timed out waiting for {what}:\n{}", self.metrics().await);
    }
}

/// The `serve` binary with JSON logs, its stderr collected line by line as it comes.
pub struct Exporter {
    child: tokio::process::Child,
    web: Scraper,
    logs: Arc<Mutex<Vec<String>>>,
    /// Collects stderr until the process closes it.
    reader: tokio::task::JoinHandle<()>,
}

impl std::ops::Deref for Exporter {
    type Target = Scraper;
    fn deref(&self) -> &Scraper {
        &self.web
    }
}

impl Exporter {
    /// `serve` against `tautulli` with the key on the command line, server name `home`.
    pub async fn start(tautulli: &str, key: &str, extra: &[&str]) -> Exporter {
        let mut args = vec!["--tautulli-url", tautulli, "--tautulli-api-key", key];
        args.extend_from_slice(extra);
        Exporter::start_with(&args, &[]).await
    }

    /// `serve` with `args` (listening on a free port, server name `home`, JSON logs)
    /// and extra environment variables.
    pub async fn start_with(args: &[&str], env: &[(&str, &str)]) -> Exporter {
        let mut named = vec!["--server-name", "home"];
        named.extend_from_slice(args);
        Exporter::spawn(&named, env).await
    }

    /// `serve` with exactly `args` besides a free port and JSON logs, and extra
    /// environment variables; returns once it logged the address it listens on.
    pub async fn spawn(args: &[&str], env: &[(&str, &str)]) -> Exporter {
        Exporter::spawn_listening("127.0.0.1:0", args, env).await
    }

    /// [`Exporter::spawn`] listening on `listen` (its port should be 0).
    pub async fn spawn_listening(listen: &str, args: &[&str], env: &[(&str, &str)]) -> Exporter {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_plex-sharing-exporter"))
            .args(["--log.format", "json", "serve", "--web.listen-address", listen])
            .args(args)
            .env_remove("TAUTULLI_URL")
            .env_remove("TAUTULLI_HOST")
            .env_remove("TAUTULLI_API_KEY")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start serve");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let sink = logs.clone();
        let reader = tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                sink.lock().unwrap().push(l);
            }
        });
        let mut addr = None;
        for _ in 0..200 {
            addr = logs.lock().unwrap().iter().find_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                (v["fields"]["message"] == "listening").then(|| v["fields"]["address"].as_str().map(str::to_string))?
            });
            if addr.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let addr = addr.unwrap_or_else(|| panic!("no listening line in {:?}", logs.lock().unwrap()));
        Exporter {
            child,
            web: Scraper::new(format!("http://{addr}"), Duration::from_secs(15)),
            logs,
            reader,
        }
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Log lines so far, parsed.
    pub fn log_records(&self) -> Vec<Value> {
        self.logs()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}")))
            .collect()
    }

    /// Stop the process (SIGKILL) and return everything it logged.
    pub async fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill().await;
        self.all_logs().await
    }

    /// Ask the process to shut down (SIGTERM); its exit status (within 10 s) and
    /// everything it logged.
    pub async fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.expect("kill runs").success(), "SIGTERM to {pid}");
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("exits within 10 s of SIGTERM")
            .expect("exit status");
        (status, self.all_logs().await)
    }

    /// Send `signal` (a `kill` name such as `HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status();
        assert!(sent.expect("kill runs").success(), "SIG{signal} to {pid}");
    }

    /// True while the process has not exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Every log line, once the exited process's stderr is read to the end.
    async fn all_logs(&mut self) -> Vec<String> {
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
        self.logs()
    }
}

/// The value of the unlabelled series `name` in an exposition.
pub fn metric_value(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Two simulated servers: the standard world, and one whose only user (7, "Other User")
/// played once yesterday from 95.5.5.5.
pub async fn two_servers() -> ((Arc<FakeTautulli>, String), (Arc<FakeTautulli>, String)) {
    let standard = spawn_fake(shift_to_now(World::standard().data), "UTC").await;
    let mut other = World::default();
    other
        .user(7, "x", "Other User")
        .play(7, "tv", "Roku", "95.5.5.5", NOW - DAY, 600);
    (standard, spawn_fake(shift_to_now(other.data), "UTC").await)
}
