//! A local ASN database (`--asn-db`): who announces an address. Reads the MaxMind
//! format in the layouts that are free to download: GeoLite2-ASN and DB-IP's ASN Lite
//! (`autonomous_system_number`, `autonomous_system_organization`), and the flat
//! ip-location-db builds (`asn` or `as_number`, `as_organization` or `organization`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::GeoError;
use crate::detect::Asn;

/// Longest organisation name kept: names are shown beside addresses, and a hostile
/// database should not make every page heavy.
const MAX_ORGANIZATION_CHARS: usize = 120;

/// An opened ASN database, read into memory once.
#[derive(Clone)]
pub struct AsnDb {
    reader: Arc<maxminddb::Reader<Vec<u8>>>,
    path: PathBuf,
}

impl std::fmt::Debug for AsnDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsnDb").field("path", &self.path).finish()
    }
}

impl AsnDb {
    /// Open and check the database at `path`.
    pub fn open(path: &Path) -> Result<AsnDb, GeoError> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| GeoError::Open {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Ok(AsnDb {
            reader: Arc::new(reader),
            path: path.to_path_buf(),
        })
    }

    /// Use an in-memory database (tests).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<AsnDb, GeoError> {
        let reader = maxminddb::Reader::from_source(bytes).map_err(|e| GeoError::Open {
            path: "<memory>".into(),
            detail: e.to_string(),
        })?;
        Ok(AsnDb {
            reader: Arc::new(reader),
            path: PathBuf::from("<memory>"),
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who announces `ip`, or `None` when the database has no (usable) record.
    pub fn lookup(&self, ip: IpAddr) -> Result<Option<Asn>, GeoError> {
        let record: Option<Value> = match self.reader.lookup(ip) {
            Ok(result) => result
                .decode()
                .map_err(|e| GeoError::Lookup { detail: e.to_string() })?,
            // An IPv6 address in an IPv4-only database: simply unknown.
            Err(_) if ip.is_ipv6() => None,
            Err(e) => return Err(GeoError::Lookup { detail: e.to_string() }),
        };
        Ok(record.as_ref().and_then(asn_from_record))
    }
}

/// Read any of the layouts. AS numbers are 32-bit and never 0 (reserved); a record
/// without a usable number is no answer.
fn asn_from_record(r: &Value) -> Option<Asn> {
    let number = ["autonomous_system_number", "asn", "as_number"]
        .iter()
        .find_map(|k| match r.get(*k)? {
            Value::Number(n) => n.as_u64(),
            // ip-location-db writes "AS13335" in some builds.
            Value::String(s) => s.trim().trim_start_matches(['A', 'S', 'a', 's']).parse().ok(),
            _ => None,
        })
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n != 0)?;
    let organization = [
        "autonomous_system_organization",
        "as_organization",
        "organization",
        "as_name",
    ]
    .iter()
    .find_map(|k| r.get(*k)?.as_str())
    .map(|o| o.trim().chars().take(MAX_ORGANIZATION_CHARS).collect::<String>())
    .filter(|o| !o.is_empty());
    Some(Asn { number, organization })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db(kind: &str, record: Value) -> AsnDb {
        let mut w = mmdb_writer::Writer::new(kind);
        w.insert("81.1.1.0/24".parse::<ipnet::IpNet>().unwrap(), &record)
            .unwrap();
        AsnDb::from_bytes(w.to_bytes().unwrap()).unwrap()
    }

    fn asn(kind: &str, record: Value) -> Option<Asn> {
        db(kind, record).lookup("81.1.1.7".parse().unwrap()).unwrap()
    }

    #[test]
    fn reads_every_free_layout() {
        let telekom = Some(Asn {
            number: 3320,
            organization: Some("Deutsche Telekom AG".into()),
        });
        let maxmind =
            json!({"autonomous_system_number": 3320u32, "autonomous_system_organization": "Deutsche Telekom AG"});
        assert_eq!(asn("GeoLite2-ASN", maxmind.clone()), telekom, "GeoLite2-ASN");
        assert_eq!(asn("DBIP-ASN-Lite (compat=GeoLite2-ASN)", maxmind), telekom, "DB-IP");
        let flat = json!({"asn": 3320u32, "as_organization": "Deutsche Telekom AG"});
        assert_eq!(asn("ip-location-db asn", flat), telekom, "ip-location-db");
        let text = json!({"as_number": "AS3320", "organization": " Deutsche Telekom AG "});
        assert_eq!(asn("ip-location-db asn", text), telekom, "number written as text");
    }

    #[test]
    fn records_without_a_usable_number_are_no_answer() {
        assert_eq!(asn("x", json!({"autonomous_system_organization": "No number"})), None);
        assert_eq!(asn("x", json!({"asn": 0u32})), None, "AS0 is reserved");
        assert_eq!(asn("x", json!({"asn": 5_000_000_000u64})), None, "beyond 32 bits");
        assert_eq!(asn("x", json!({"asn": "many"})), None);
        let no_name = asn("x", json!({"asn": 64_512u32, "as_organization": ""})).unwrap();
        assert_eq!(no_name.organization, None);
        assert_eq!(no_name.to_string(), "AS64512");
    }

    #[test]
    fn long_names_are_cut_and_unknown_addresses_are_none() {
        let long = "x".repeat(10_000);
        let a = asn("x", json!({"asn": 1u32, "as_organization": long})).unwrap();
        assert_eq!(a.organization.map(|o| o.chars().count()), Some(MAX_ORGANIZATION_CHARS));
        let db = db("x", json!({"asn": 1u32}));
        assert_eq!(db.lookup("82.2.2.2".parse().unwrap()).unwrap(), None);
        assert_eq!(db.lookup("2a02::1".parse().unwrap()).unwrap(), None);
    }
}
