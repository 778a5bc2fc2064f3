//! `--config.file`: several Tautulli servers in YAML, and where `serve`'s servers come
//! from (the file or the flags), read at start and on every reload.

use std::path::PathBuf;

use super::tautulli::TautulliArgs;
use super::units::parse_duration;
use super::{bad, ConfigError, ServeArgs};
use crate::geo::{AsnDb, Overrides};
use crate::tautulli::ClientOptions;

/// One Tautulli server of the configuration file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    /// The `server` label: letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// Tautulli URL.
    pub url: String,
    /// API key (prefer `api_key_file`).
    #[serde(default)]
    pub api_key: Option<String>,
    /// File holding the API key.
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Request timeout, e.g. `30s`.
    #[serde(default)]
    pub timeout: Option<String>,
}

/// The configuration file.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The servers to watch.
    pub servers: Vec<ServerEntry>,
    /// Pinned places, `CIDR=LAT,LON[,LABEL]` each, as `--geoip-override` takes them.
    #[serde(default)]
    pub geoip_overrides: Vec<String>,
    /// ASN database (`.mmdb`), as `--asn-db` takes it: one for every server, since an
    /// address has one operator whichever server it streams from.
    #[serde(default)]
    pub asn_db: Option<PathBuf>,
    /// The GeoIP cache file, as `--geoip.cache-file` takes it (read at start only).
    #[serde(default)]
    pub geoip_cache_file: Option<PathBuf>,
}

/// What a load of the configuration yields: the servers and the GeoIP settings shared
/// by all of them.
#[derive(Debug)]
pub struct Loaded {
    /// The servers to watch.
    pub servers: Vec<Server>,
    /// Pinned places: the flags' and the file's.
    pub overrides: Overrides,
    /// The ASN database, from `--asn-db` or the file's `asn_db`.
    pub asn_db: Option<AsnDb>,
    /// The GeoIP cache file, from `--geoip.cache-file` or the file's `geoip_cache_file`.
    pub geoip_cache_file: Option<PathBuf>,
}

/// A named, validated Tautulli server.
#[derive(Debug, Clone)]
pub struct Server {
    /// `server` label.
    pub name: String,
    /// Client options.
    pub client: ClientOptions,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Read and validate a configuration file's servers (`base` gives the defaults of the
/// command line: timeouts, retries); its `geoip_overrides` and `asn_db` come back as
/// written.
pub fn load_config_file(path: &std::path::Path, base: &TautulliArgs) -> Result<(Vec<Server>, ConfigFile), ConfigError> {
    let flag = "--config.file";
    let text = std::fs::read_to_string(path).map_err(|e| bad(flag, format!("cannot read {}: {e}", path.display())))?;
    let file: ConfigFile = serde_yaml_ng::from_str(&text).map_err(|e| bad(flag, format!("{}: {e}", path.display())))?;
    if file.servers.is_empty() {
        return Err(bad(
            flag,
            format!("{}: servers: list at least one server", path.display()),
        ));
    }
    let mut out: Vec<Server> = Vec::new();
    for (i, e) in file.servers.iter().enumerate() {
        let at =
            |field: &str, problem: String| bad(flag, format!("{}: servers[{i}].{field}: {problem}", path.display()));
        if !valid_name(&e.name) {
            return Err(at(
                "name",
                format!("{:?} must be letters, digits, '.', '_' or '-'", e.name),
            ));
        }
        if out.iter().any(|s| s.name == e.name) {
            return Err(at("name", format!("{:?} is used twice", e.name)));
        }
        let args = TautulliArgs {
            tautulli_url: Some(e.url.clone()),
            tautulli_api_key: e.api_key.clone(),
            tautulli_api_key_file: e.api_key_file.clone(),
            tautulli_timeout: match &e.timeout {
                Some(t) => parse_duration(t).map_err(|p| at("timeout", p.to_string()))?,
                None => base.tautulli_timeout,
            },
            ..base.clone()
        };
        let client = args.resolve(None).map_err(|c| {
            let field = match c.flag.as_str() {
                "--tautulli-url" => "url",
                "--tautulli-api-key-file" => "api_key_file",
                "--tautulli-api-key" => "api_key",
                _ => "timeout",
            };
            at(field, c.problem)
        })?;
        out.push(Server {
            name: e.name.clone(),
            client,
        });
    }
    Ok((out, file))
}

/// Open `--asn-db` (or the file's `asn_db`): at most one of them, named in the error.
fn open_asn_db(
    flag: Option<&PathBuf>,
    file: Option<(&std::path::Path, &PathBuf)>,
) -> Result<Option<AsnDb>, ConfigError> {
    match (flag, file) {
        (Some(_), Some(_)) => Err(bad(
            "--asn-db",
            "give either --asn-db or asn_db in --config.file, not both",
        )),
        (Some(path), None) => AsnDb::open(path).map(Some).map_err(|e| bad("--asn-db", e.to_string())),
        (None, Some((config, path))) => AsnDb::open(path)
            .map(Some)
            .map_err(|e| bad("--config.file", format!("{}: asn_db: {e}", config.display()))),
        (None, None) => Ok(None),
    }
}

/// Where `serve`'s servers come from: `--config.file`, or the Tautulli flags. Read at
/// start and again on every reload (which picks up a rotated key file too).
#[derive(Debug, Clone)]
pub struct ServerSource {
    config_file: Option<PathBuf>,
    tautulli: TautulliArgs,
    server_name: String,
    geoip_override: Vec<String>,
    asn_db: Option<PathBuf>,
    geoip_cache_file: Option<PathBuf>,
}

/// `--geoip-override` values (and the file's `geoip_overrides`) into pinned places.
pub fn parse_overrides<S: AsRef<str>>(flag: &str, texts: &[S]) -> Result<Overrides, ConfigError> {
    Overrides::parse(texts).map_err(|e| bad(flag, e.to_string()))
}

impl ServerSource {
    /// The servers to watch (from the configuration file, or the single one of the flags),
    /// the places to pin (the flags' and the file's) and the ASN database, the file read
    /// once.
    pub fn load(&self) -> Result<Loaded, ConfigError> {
        let (servers, file) = match &self.config_file {
            Some(path) => {
                if self.tautulli.tautulli_url.is_some() {
                    return Err(bad(
                        "--config.file",
                        "give either --config.file or --tautulli-url, not both",
                    ));
                }
                let (servers, file) = load_config_file(path, &self.tautulli)?;
                (servers, Some(file))
            }
            None => {
                if !valid_name(&self.server_name) {
                    return Err(bad("--server-name", "must be letters, digits, '.', '_' or '-'"));
                }
                let client = self.tautulli.resolve(std::env::var("TAUTULLI_HOST").ok())?;
                let server = Server {
                    name: self.server_name.clone(),
                    client,
                };
                (vec![server], None)
            }
        };
        let flags = parse_overrides("--geoip-override", &self.geoip_override)?;
        let (from_file, file_asn_db) = match (&self.config_file, &file) {
            (Some(path), Some(file)) => (
                Overrides::parse(&file.geoip_overrides)
                    .map_err(|e| bad("--config.file", format!("{}: geoip_overrides: {e}", path.display())))?,
                file.asn_db.as_ref().map(|db| (path.as_path(), db)),
            ),
            _ => (Overrides::default(), None),
        };
        let overrides = flags
            .merged(from_file)
            .map_err(|e| bad("--geoip-override", e.to_string()))?;
        let asn_db = open_asn_db(self.asn_db.as_ref(), file_asn_db)?;
        let file_cache = file.and_then(|f| f.geoip_cache_file);
        let geoip_cache_file = match (&self.geoip_cache_file, file_cache) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "--geoip.cache-file",
                    "give either --geoip.cache-file or geoip_cache_file in --config.file, not both",
                ))
            }
            (flag, file) => flag.clone().or(file),
        };
        Ok(Loaded {
            servers,
            overrides,
            asn_db,
            geoip_cache_file,
        })
    }
}

impl super::ReportArgs {
    /// Where the servers come from (a single one given by flags is named `report`).
    pub fn server_source(&self) -> ServerSource {
        ServerSource {
            config_file: self.config_file.clone(),
            tautulli: self.tautulli.clone(),
            server_name: "report".into(),
            geoip_override: self.geoip_override.clone(),
            asn_db: self.asn_db.clone(),
            geoip_cache_file: self.geoip_cache_file.clone(),
        }
    }
}

impl ServeArgs {
    /// Where the servers come from.
    pub fn server_source(&self) -> ServerSource {
        ServerSource {
            config_file: self.config_file.clone(),
            tautulli: self.tautulli.clone(),
            server_name: self.server_name.clone(),
            geoip_override: self.geo.geoip_override.clone(),
            asn_db: self.geo.asn_db.clone(),
            geoip_cache_file: self.geo.cache_file.clone(),
        }
    }
}
