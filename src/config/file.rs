//! `--config.file`: several Tautulli servers in YAML, and where `serve`'s servers come
//! from (the file or the flags), read at start and on every reload.

use std::path::PathBuf;

use super::tautulli::TautulliArgs;
use super::units::parse_duration;
use super::{bad, ConfigError, ServeArgs};
use crate::geo::Overrides;
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
/// command line: timeouts, retries); its `geoip_overrides` come back as written.
pub fn load_config_file(
    path: &std::path::Path,
    base: &TautulliArgs,
) -> Result<(Vec<Server>, Vec<String>), ConfigError> {
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
    Ok((out, file.geoip_overrides))
}

/// Where `serve`'s servers come from: `--config.file`, or the Tautulli flags. Read at
/// start and again on every reload (which picks up a rotated key file too).
#[derive(Debug, Clone)]
pub struct ServerSource {
    config_file: Option<PathBuf>,
    tautulli: TautulliArgs,
    server_name: String,
    geoip_override: Vec<String>,
}

/// `--geoip-override` values (and the file's `geoip_overrides`) into pinned places.
pub fn parse_overrides<S: AsRef<str>>(flag: &str, texts: &[S]) -> Result<Overrides, ConfigError> {
    Overrides::parse(texts).map_err(|e| bad(flag, e.to_string()))
}

impl ServerSource {
    /// The servers to watch (from the configuration file, or the single one of the flags)
    /// and the places to pin (the flags' and the file's), the file read once.
    pub fn load(&self) -> Result<(Vec<Server>, Overrides), ConfigError> {
        let (servers, file_overrides) = match &self.config_file {
            Some(path) => {
                if self.tautulli.tautulli_url.is_some() {
                    return Err(bad(
                        "--config.file",
                        "give either --config.file or --tautulli-url, not both",
                    ));
                }
                load_config_file(path, &self.tautulli)?
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
                (vec![server], Vec::new())
            }
        };
        let flags = parse_overrides("--geoip-override", &self.geoip_override)?;
        let from_file = match &self.config_file {
            Some(path) => Overrides::parse(&file_overrides)
                .map_err(|e| bad("--config.file", format!("{}: geoip_overrides: {e}", path.display())))?,
            None => Overrides::default(),
        };
        let overrides = flags
            .merged(from_file)
            .map_err(|e| bad("--geoip-override", e.to_string()))?;
        Ok((servers, overrides))
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
        }
    }
}
