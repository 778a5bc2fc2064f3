//! `--web.config.file`: the Prometheus exporter-toolkit web configuration (TLS and basic
//! auth users with bcrypt hashes), plus a `bearer_tokens` extension for clients that
//! send `Authorization: Bearer` (Grafana, scripts).
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt        # relative paths are relative to this file
//!   key_file: server.key
//!   min_version: TLS12           # or TLS13; TLS10/TLS11 are not offered by rustls
//! basic_auth_users:
//!   alice: $2y$10$...            # bcrypt hash (htpasswd -nBC 10 alice)
//! bearer_tokens:
//!   grafana: sha256:5e88...      # SHA-256 of the token (printf %s "$TOKEN" | sha256sum)
//! ```
//!
//! The file is read at start-up and again on every reload (SIGHUP, `POST /-/reload`);
//! every problem is one error naming the flag (exit 2 at start-up; at a reload the old
//! configuration stays). Unknown keys are errors, so a typo never silently turns auth
//! off. With users or tokens configured every route needs credentials except
//! `/-/healthy` and `/-/ready`, which orchestrators probe without any.
//!
//! Bearer tokens are stored as SHA-256 digests rather than bcrypt hashes: tokens are long
//! random strings (nothing to brute-force), and a digest is cheap to check on every
//! scrape. Passwords get bcrypt, whose cost would make every scrape slow, so a verified
//! (user, password, hash) triple is remembered by its digest (as exporter-toolkit does).
//! bcrypt runs one check at a time (as exporter-toolkit does): a flood of wrong passwords
//! then costs one core, and remembered credentials never wait for it.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;

use super::tls::{self, MinVersion};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    tls_server_config: Option<TlsSection>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
    #[serde(default)]
    bearer_tokens: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(default)]
    min_version: Option<String>,
}

/// The validated web configuration.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Serve HTTPS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Require credentials (None: open).
    pub auth: Option<Arc<Auth>>,
}

/// What is wrong with a web configuration file, and where; without the flag name (the
/// caller adds it). No variant carries a password or a token.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's content is wrong.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: Box<WebConfigError>,
    },
    /// Not YAML of this schema (an unknown key included).
    #[error("{0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// A protocol version rustls does not speak.
    #[error("tls_server_config.min_version: {0} is not offered (rustls speaks TLS12 and TLS13)")]
    VersionNotOffered(String),
    /// Not a protocol version name.
    #[error("tls_server_config.min_version: {0:?} is not TLS12 or TLS13")]
    VersionUnknown(String),
    /// The certificate or key cannot be used.
    #[error("tls_server_config: {0}")]
    Tls(#[from] tls::TlsError),
    /// HTTP and HTTPS cannot be swapped on a running listener.
    #[error("tls_server_config: switching between HTTP and HTTPS needs a restart")]
    NeedsRestart,
    /// A user name basic auth cannot carry.
    #[error("basic_auth_users: {0:?} is not a usable user name (empty or contains ':')")]
    UserName(String),
    /// A password hash that is not bcrypt (the hash itself is not repeated).
    #[error("basic_auth_users.{user}: not a bcrypt hash ({source}); make one with `htpasswd -nBC 10 {user}`")]
    NotBcrypt {
        /// The user.
        user: String,
        /// What bcrypt found.
        source: bcrypt::BcryptError,
    },
    /// A token digest without its `sha256:` prefix.
    #[error("bearer_tokens.{0}: must be sha256:<64 hex digits>, the SHA-256 of the token")]
    TokenPrefix(String),
    /// A token digest that is not 64 hex digits.
    #[error("bearer_tokens.{name}: {hex:?} is not 64 hex digits (printf %s \"$TOKEN\" | sha256sum)")]
    TokenDigest {
        /// The token's name.
        name: String,
        /// What was given after `sha256:`.
        hex: String,
    },
}

impl WebConfig {
    /// Read and validate the file at `path`.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        WebConfig::parse(&text, base).map_err(|e| WebConfigError::InFile {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// Validate the YAML `text`; relative certificate paths are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<WebConfig, WebConfigError> {
        let doc: FileDoc = if text.trim().is_empty() {
            FileDoc::default()
        } else {
            serde_yaml_ng::from_str(text)?
        };
        let tls = match doc.tls_server_config {
            None => None,
            Some(t) => {
                let min = match t.min_version.as_deref() {
                    None | Some("TLS12") => MinVersion::Tls12,
                    Some("TLS13") => MinVersion::Tls13,
                    Some(v @ ("TLS10" | "TLS11")) => return Err(WebConfigError::VersionNotOffered(v.to_owned())),
                    Some(other) => return Err(WebConfigError::VersionUnknown(other.to_owned())),
                };
                let cert = base.join(&t.cert_file);
                let key = base.join(&t.key_file);
                Some(tls::server_config(&cert, &key, min)?)
            }
        };
        for (user, hash) in &doc.basic_auth_users {
            if user.is_empty() || user.contains(':') {
                return Err(WebConfigError::UserName(user.clone()));
            }
            bcrypt::HashParts::from_str(hash).map_err(|source| WebConfigError::NotBcrypt {
                user: user.clone(),
                source,
            })?;
        }
        let mut tokens = Vec::new();
        for (name, digest) in &doc.bearer_tokens {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or_else(|| WebConfigError::TokenPrefix(name.clone()))?;
            let bytes = decode_hex32(hex).ok_or_else(|| WebConfigError::TokenDigest {
                name: name.clone(),
                hex: hex.to_owned(),
            })?;
            tokens.push((name.clone(), bytes));
        }
        // Unknown users are checked against the most expensive hash in the file, so
        // their answer takes as long as the slowest known user's.
        let stand_in = doc
            .basic_auth_users
            .values()
            .max_by_key(|h| bcrypt::HashParts::from_str(h).map(|p| p.get_cost()).unwrap_or(0))
            .cloned();
        let auth = if doc.basic_auth_users.is_empty() && tokens.is_empty() {
            None
        } else {
            Some(Arc::new(Auth {
                users: doc.basic_auth_users,
                tokens,
                stand_in,
                verified: Mutex::new(HashSet::new()),
            }))
        };
        Ok(WebConfig { tls, auth })
    }
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        // Length-prefix each part so ("ab", "c") and ("a", "bc") differ.
        ctx.update(&(p.len() as u64).to_be_bytes());
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn token_digest(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// Equal in time independent of where the first difference is.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Most verified passwords remembered; the set is emptied when full.
const CACHE_CAPACITY: usize = 1024;

/// One bcrypt check at a time, process-wide (and across reloads).
static BCRYPT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Who may read the reports and metrics.
pub struct Auth {
    users: BTreeMap<String, String>,
    tokens: Vec<(String, [u8; 32])>,
    /// The hash an unknown user's password is checked against (the costliest one).
    stand_in: Option<String>,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("tokens", &self.tokens.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .finish()
    }
}

impl Auth {
    /// True when the `Authorization` header value carries valid credentials.
    pub async fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            let digest = token_digest(rest.trim());
            // Check every token so the time taken does not say which one was close.
            return self.tokens.iter().fold(false, |ok, (_, d)| same(d, &digest) | ok);
        }
        if !scheme.eq_ignore_ascii_case("basic") || self.users.is_empty() {
            return false;
        }
        let Some(decoded) = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        else {
            return false;
        };
        let Some((user, password)) = decoded.split_once(':') else {
            return false;
        };
        // An unknown user still costs the costliest bcrypt check, so timing does not
        // tell which user names exist.
        let (known, hash) = match (self.users.get(user), &self.stand_in) {
            (Some(h), _) => (true, h.clone()),
            (None, Some(h)) => (false, h.clone()),
            (None, None) => return false,
        };
        let key = sha256(&[user.as_bytes(), password.as_bytes(), hash.as_bytes()]);
        if known && self.verified.lock().is_ok_and(|v| v.contains(&key)) {
            return true;
        }
        let Ok(_turn) = BCRYPT.acquire().await else {
            return false;
        };
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if known && ok {
            if let Ok(mut v) = self.verified.lock() {
                if v.len() >= CACHE_CAPACITY {
                    v.clear();
                }
                v.insert(key);
            }
        }
        known && ok
    }

    fn challenge(&self) -> Vec<HeaderValue> {
        let mut out = Vec::new();
        if !self.users.is_empty() {
            out.push(HeaderValue::from_static(
                "Basic realm=\"plex-sharing-exporter\", charset=\"UTF-8\"",
            ));
        }
        if !self.tokens.is_empty() {
            out.push(HeaderValue::from_static("Bearer realm=\"plex-sharing-exporter\""));
        }
        out
    }
}

/// The web configuration in force. A reload replaces it: later requests check the new
/// credentials, and later connections get the new certificate.
#[derive(Debug, Default)]
pub struct Shared(RwLock<WebConfig>);

impl Shared {
    /// Start with `config`.
    pub fn new(config: WebConfig) -> Shared {
        Shared(RwLock::new(config))
    }

    /// The configuration now in force.
    pub fn get(&self) -> WebConfig {
        match self.0.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Put `config` in force. Switching between HTTP and HTTPS needs a restart (the
    /// listener and every link would change), so such a change is refused.
    pub fn set(&self, config: WebConfig) -> Result<(), WebConfigError> {
        let mut current = match self.0.write() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if current.tls.is_some() != config.tls.is_some() {
            return Err(WebConfigError::NeedsRestart);
        }
        *current = config;
        Ok(())
    }
}

/// Middleware: pass requests with valid credentials (or any request while no
/// credentials are configured), answer 401 to the rest.
pub async fn require(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let Some(auth) = shared.get().auth else {
        return next.run(req).await;
    };
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if auth.allows(header.as_deref()).await {
        return next.run(req).await;
    }
    tracing::debug!(path = %req.uri().path(), "unauthorized request");
    let mut resp = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    for v in auth.challenge() {
        resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
    }
    resp
}

#[cfg(test)]
mod tests;
