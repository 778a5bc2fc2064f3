//! Configuration reload, as Prometheus exporters do it: SIGHUP and `POST /-/reload`
//! read `--config.file` (servers, `geoip_overrides` and `asn_db`, or the Tautulli flags' key
//! file) and `--web.config.file` again. Both files are checked before either is put in
//! force, so a file with a problem changes nothing: the old configuration stays, the
//! problem is one log line, and `plex_sharing_config_last_reload_successful` is 0 until
//! a reload succeeds.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::config::{ConfigError, ServerSource};
use crate::fleet::Fleet;
use crate::metrics::ServiceStats;
use crate::tautulli;
use crate::web::auth::{Shared, WebConfig, WebConfigError};

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The servers' configuration (`--config.file`, the key file) is wrong.
    #[error(transparent)]
    Servers(#[from] ConfigError),
    /// `--web.config.file` is wrong, or cannot be put in force without a restart.
    #[error("--web.config.file: {0}")]
    Web(#[from] WebConfigError),
    /// A server's client cannot be built.
    #[error(transparent)]
    Client(#[from] tautulli::Error),
}

/// Re-reads the configuration and puts it in force.
pub struct Reloader {
    /// Where the servers come from; None keeps the servers given at start.
    servers: Option<ServerSource>,
    web_file: Option<PathBuf>,
    fleet: Arc<Fleet>,
    web: Arc<Shared>,
    stats: Arc<ServiceStats>,
    /// One reload at a time.
    busy: Mutex<()>,
}

impl fmt::Debug for Reloader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloader")
            .field("web_file", &self.web_file)
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader for `fleet` and the web configuration `web`.
    pub fn new(
        servers: Option<ServerSource>,
        web_file: Option<PathBuf>,
        fleet: Arc<Fleet>,
        web: Arc<Shared>,
        stats: Arc<ServiceStats>,
    ) -> Reloader {
        Reloader {
            servers,
            web_file,
            fleet,
            web,
            stats,
            busy: Mutex::new(()),
        }
    }

    fn load(&self) -> Result<(), ReloadError> {
        let servers = match &self.servers {
            Some(source) => Some(source.load()?),
            None => None,
        };
        let web = match &self.web_file {
            Some(path) => Some(WebConfig::load(path)?),
            None => None,
        };
        if let Some(web) = web {
            self.web.set(web)?;
        }
        if let Some(loaded) = servers {
            let wanted = loaded.servers.into_iter().map(|s| (s.name, s.client)).collect();
            let changes = self.fleet.replace(wanted)?;
            self.fleet.locator().set_overrides(loaded.overrides);
            self.fleet.locator().set_asn_db(loaded.asn_db);
            if !changes.is_empty() {
                tracing::info!(
                    added = ?changes.added,
                    restarted = ?changes.restarted,
                    removed = ?changes.removed,
                    "servers changed"
                );
            }
        }
        Ok(())
    }
}

impl crate::web::Reload for Reloader {
    fn reload(&self) -> Result<(), crate::web::ReloadFailed> {
        let _one = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.load();
        self.stats.reloaded(result.is_ok());
        match &result {
            Ok(()) => tracing::info!("configuration reloaded"),
            Err(e) => tracing::error!(error = %e, "configuration reload failed; the previous configuration stays"),
        }
        Ok(result?)
    }
}

/// The SIGHUP listener, installed at once so that from then on SIGHUP reloads instead of
/// ending the process.
pub struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Install the handler (inside a Tokio runtime).
    pub fn install() -> Hangups {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGHUP; use POST /-/reload"))
                .ok();
            Hangups { signal }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    /// Reload on every SIGHUP, forever.
    pub async fn reload_on_each(self, reloader: Arc<Reloader>) {
        #[cfg(unix)]
        if let Some(mut signal) = self.signal {
            while signal.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the configuration");
                let r = reloader.clone();
                let _ = tokio::task::spawn_blocking(move || crate::web::Reload::reload(&*r)).await;
            }
        }
        let _ = reloader;
        std::future::pending::<()>().await
    }
}
