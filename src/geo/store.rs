//! The GeoIP cache on disk (`--geoip.cache-file`): what was looked up, by which
//! provider and when, so a restart of `serve` or the next `report` asks no provider again
//! for an address still within its TTL. The file holds addresses and places only (never
//! the API key), is written whole to a temporary file and renamed over the old one (a
//! crash leaves the old file or the new, never half of one), and is readable by its owner
//! only. A file that is not one of ours, or is damaged, is ignored with one warning.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::check_place;
use crate::detect::Place;

/// What the file says it is; anything else is a foreign file.
const FORMAT: &str = "plex-sharing-exporter geoip cache";
/// The layout version this build reads and writes.
const VERSION: u32 = 1;
/// Largest file read: far beyond the default 100,000 addresses (about 25 MB).
const MAX_FILE_BYTES: u64 = 256 << 20;

/// One remembered lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The (canonical) address.
    pub ip: IpAddr,
    /// The provider that answered (`mmdb`, `tautulli`, `table`), or that failed last.
    pub provider: String,
    /// When it was looked up, epoch seconds.
    pub looked_up: i64,
    /// Where it is; none for an address no provider knows or a failed lookup.
    pub place: Option<Place>,
    /// The lookup failed (kept for the shorter failure TTL).
    pub failed: bool,
}

#[derive(Serialize, Deserialize)]
struct Document {
    format: String,
    version: u32,
    entries: Vec<Entry>,
}

/// Why the file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// It cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is larger than any cache this exporter writes.
    #[error("{}: larger than {} MiB, not a cache this exporter wrote", path.display(), MAX_FILE_BYTES >> 20)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// It is not JSON of the cache's shape.
    #[error("{}: not a GeoIP cache file ({source})", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Where the JSON breaks.
        source: serde_json::Error,
    },
    /// It is some other program's file, or another version's.
    #[error("{}: written by something else ({format:?} version {version})", path.display())]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What it says it is.
        format: String,
        /// Its version.
        version: u32,
    },
}

/// The entries of the file at `path` (none when it does not exist yet), keeping at most
/// `max_entries` and dropping any whose place is no place on Earth.
pub fn read(path: &Path, max_entries: usize) -> Result<Vec<Entry>, StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut text = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(StoreError::TooLarge { path: path.to_owned() });
    }
    let doc: Document = serde_json::from_slice(&text).map_err(|source| StoreError::Damaged {
        path: path.to_owned(),
        source,
    })?;
    if doc.format != FORMAT || doc.version != VERSION {
        return Err(StoreError::Foreign {
            path: path.to_owned(),
            format: doc.format,
            version: doc.version,
        });
    }
    let mut entries = doc.entries;
    entries.retain(|e| e.place.as_ref().is_none_or(|p| check_place(p).is_ok()));
    entries.truncate(max_entries);
    Ok(entries)
}

/// Replace the file at `path` with `entries`: written to a temporary file beside it,
/// flushed, then renamed over it.
pub fn write(path: &Path, entries: Vec<Entry>) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let doc = Document {
        format: FORMAT.into(),
        version: VERSION,
        entries,
    };
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io)?;
    let body = serde_json::to_vec(&doc).map_err(|e| io(std::io::Error::other(e)))?;
    file.write_all(&body).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::place;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("geo-store-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("cache.json")
    }

    fn entry(ip: &str, place: Option<Place>, failed: bool) -> Entry {
        Entry {
            ip: ip.parse().unwrap(),
            provider: "tautulli".into(),
            looked_up: 1_800_000_000,
            place,
            failed,
        }
    }

    #[test]
    fn entries_survive_a_round_trip() {
        let path = temp("round-trip");
        let entries = vec![
            entry("81.1.1.1", Some(place("New York", 40.7, -74.0)), false),
            entry("94.4.4.4", None, false),
            entry("95.5.5.5", None, true),
        ];
        write(&path, entries.clone()).unwrap();
        assert_eq!(read(&path, 10).unwrap(), entries);
        assert_eq!(read(&path, 2).unwrap().len(), 2, "never more than the cache holds");
        assert!(!path.with_file_name("cache.json.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "addresses and places are private");
        }
    }

    #[test]
    fn a_missing_file_is_an_empty_cache() {
        assert_eq!(read(&temp("missing").with_file_name("none.json"), 10).unwrap(), []);
    }

    #[test]
    fn damaged_foreign_and_impossible_contents_are_refused_or_dropped() {
        let path = temp("bad");
        std::fs::write(&path, b"{\"format\": \"plex-sharing-exp").unwrap();
        assert!(matches!(read(&path, 10), Err(StoreError::Damaged { .. })));
        std::fs::write(&path, br#"{"format": "something else", "version": 1, "entries": []}"#).unwrap();
        assert!(matches!(read(&path, 10), Err(StoreError::Foreign { .. })));
        std::fs::write(
            &path,
            format!(r#"{{"format": "{FORMAT}", "version": 99, "entries": []}}"#),
        )
        .unwrap();
        assert!(matches!(read(&path, 10), Err(StoreError::Foreign { .. })));
        let mut off_globe = place("Nowhere", 40.0, 0.0);
        off_globe.longitude = 1e300;
        write(&path, vec![entry("81.1.1.1", Some(off_globe), false)]).unwrap();
        assert_eq!(read(&path, 10).unwrap(), [], "a place off the globe is dropped");
    }
}
