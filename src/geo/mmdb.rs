//! A local MaxMind-format database (`.mmdb`): GeoIP2/GeoLite2-City and the flat city
//! layout of DB-IP's "ip-location-db" builds (`city`, `latitude`, `longitude`,
//! `country_code` at the top level).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::GeoError;
use crate::detect::Place;

/// An opened `.mmdb` file, read into memory once.
#[derive(Clone)]
pub struct MmdbProvider {
    reader: Arc<maxminddb::Reader<Vec<u8>>>,
    path: PathBuf,
}

impl std::fmt::Debug for MmdbProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmdbProvider").field("path", &self.path).finish()
    }
}

impl MmdbProvider {
    /// Open and check the database at `path`.
    pub fn open(path: &Path) -> Result<MmdbProvider, GeoError> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| GeoError::Open {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Ok(MmdbProvider::from_reader(reader, path))
    }

    /// Use an in-memory database (tests, demo).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<MmdbProvider, GeoError> {
        let reader = maxminddb::Reader::from_source(bytes).map_err(|e| GeoError::Open {
            path: "<memory>".into(),
            detail: e.to_string(),
        })?;
        Ok(MmdbProvider::from_reader(reader, Path::new("<memory>")))
    }

    fn from_reader(reader: maxminddb::Reader<Vec<u8>>, path: &Path) -> MmdbProvider {
        MmdbProvider {
            reader: Arc::new(reader),
            path: path.to_path_buf(),
        }
    }

    /// The database's type from its metadata (`GeoLite2-City`, `DBIP-City-Lite`...).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Where `ip` is, or `None` when the database has no (usable) record.
    pub fn locate(&self, ip: IpAddr) -> Result<Option<Place>, GeoError> {
        let lookup = self
            .reader
            .lookup(ip)
            .map_err(|e| GeoError::Lookup { detail: e.to_string() });
        let record: Option<Value> = match lookup {
            Ok(result) => result
                .decode()
                .map_err(|e| GeoError::Lookup { detail: e.to_string() })?,
            // An IPv6 address in an IPv4-only database: simply unknown.
            Err(_) if ip.is_ipv6() => None,
            Err(e) => return Err(e),
        };
        Ok(record.as_ref().and_then(place_from_record))
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(m) => text(m.get("names").and_then(|n| n.get("en"))),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    v?.as_f64().filter(|f| f.is_finite())
}

/// Read either layout: GeoIP2 (`city.names.en`, `location.latitude`, ...) or the flat
/// DB-IP layout (`city`, `latitude`, `state1`, `country_code`, ...).
fn place_from_record(r: &Value) -> Option<Place> {
    let location = r.get("location");
    let latitude = number(location.and_then(|l| l.get("latitude"))).or_else(|| number(r.get("latitude")))?;
    let longitude = number(location.and_then(|l| l.get("longitude"))).or_else(|| number(r.get("longitude")))?;
    let region = text(r.get("subdivisions").and_then(|s| s.get(0)))
        .or_else(|| text(r.get("state1")))
        .or_else(|| text(r.get("region")));
    let country_code = r
        .get("country")
        .and_then(|c| c.get("iso_code"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| text(r.get("country_code")));
    let country = text(r.get("country")).or_else(|| country_code.clone());
    Some(Place {
        city: text(r.get("city")),
        region,
        country,
        country_code,
        latitude,
        longitude,
        // 0 means "no radius"; a negative one is kept so the range check rejects the record.
        accuracy_radius_km: number(location.and_then(|l| l.get("accuracy_radius"))).filter(|a| *a != 0.0),
        asn: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn db(record: Value) -> MmdbProvider {
        let mut w = mmdb_writer::Writer::new("GeoLite2-City");
        w.insert("81.1.1.0/24".parse::<ipnet::IpNet>().unwrap(), &record)
            .unwrap();
        MmdbProvider::from_bytes(w.to_bytes().unwrap()).unwrap()
    }

    fn located(record: Value) -> Option<Place> {
        db(record).locate("81.1.1.1".parse().unwrap()).unwrap()
    }

    /// The reader passes a broken record's numbers on as they are, for the locator's
    /// range check to reject and count (a reader that clamped them would hide the fault).
    #[test]
    fn out_of_range_numbers_reach_the_range_check() {
        let p = located(json!({"city": "X", "latitude": 91.0, "longitude": 1e300})).unwrap();
        assert_eq!((p.latitude, p.longitude), (91.0, 1e300));
        assert_eq!(super::super::check_place(&p), Err("latitude"));
        let p = located(json!({"city": "X", "location": {"latitude": 1.0, "longitude": 2.0, "accuracy_radius": -5.0}}))
            .unwrap();
        assert_eq!(p.accuracy_radius_km, Some(-5.0));
        assert_eq!(super::super::check_place(&p), Err("accuracy_radius"));
    }
}
