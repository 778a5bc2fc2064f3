//! Places the owner pins (`--geoip-override CIDR=LAT,LON[,LABEL]`): what an owner knows
//! (their own ISP's address pool, a relative's address) beats any database, so these are
//! answered before every provider and never cached or expired.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::check_place;
use crate::detect::Place;

/// Most overrides accepted: each address is checked against all of them.
pub const MAX_OVERRIDES: usize = 10_000;

/// One pinned network.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The addresses it covers.
    pub net: IpNet,
    /// Where they are.
    pub place: Arc<Place>,
}

/// Why an override cannot be used; each names the text given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// Not `CIDR=LAT,LON[,LABEL]`.
    #[error("{0:?} is not CIDR=LAT,LON[,LABEL] (e.g. 81.2.0.0/16=52.52,13.40,Berlin)")]
    Syntax(String),
    /// The part before `=` is no network or address.
    #[error("{0:?}: the part before '=' is not a CIDR network or address")]
    Network(String),
    /// A coordinate that is no number, or no place on Earth.
    #[error("{text:?}: {field} is not a number in range (latitude -90..90, longitude -180..180)")]
    Coordinate {
        /// The whole text.
        text: String,
        /// `latitude` or `longitude`.
        field: &'static str,
    },
    /// More than [`MAX_OVERRIDES`].
    #[error("more than {MAX_OVERRIDES} overrides")]
    TooMany,
}

impl Override {
    /// Parse `CIDR=LAT,LON[,LABEL]`. The label is what pages and reports show (it may hold
    /// commas); without one, the network itself is shown. A single address pins just it.
    pub fn parse(text: &str) -> Result<Override, OverrideError> {
        let (cidr, coords) = text.split_once('=').ok_or_else(|| OverrideError::Syntax(text.into()))?;
        let cidr = cidr.trim();
        let net: IpNet = cidr
            .parse()
            .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| OverrideError::Network(text.into()))?;
        let mut parts = coords.splitn(3, ',');
        let (Some(lat), Some(lon)) = (parts.next(), parts.next()) else {
            return Err(OverrideError::Syntax(text.into()));
        };
        let number = |s: &str, field| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or(OverrideError::Coordinate {
                    text: text.into(),
                    field,
                })
        };
        let label = parts.next().map(str::trim).filter(|l| !l.is_empty());
        let place = Place {
            city: Some(label.map_or_else(|| format!("{} (pinned)", net.trunc()), str::to_string)),
            region: None,
            country: None,
            country_code: None,
            latitude: number(lat, "latitude")?,
            longitude: number(lon, "longitude")?,
            accuracy_radius_km: None,
            asn: None,
        };
        if let Err(field) = check_place(&place) {
            return Err(OverrideError::Coordinate {
                text: text.into(),
                field,
            });
        }
        Ok(Override {
            net: net.trunc(),
            place: Arc::new(place),
        })
    }
}

/// Every override, most specific network first, so a /32 inside a pinned /16 wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides(Vec<Override>);

impl Overrides {
    /// The overrides of `texts`, in any order.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Overrides, OverrideError> {
        if texts.len() > MAX_OVERRIDES {
            return Err(OverrideError::TooMany);
        }
        let mut all = texts
            .iter()
            .map(|t| Override::parse(t.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by_key(|o| std::cmp::Reverse(o.net.prefix_len()));
        Ok(Overrides(all))
    }

    /// These overrides and `more` in one set, most specific network first.
    pub fn merged(self, more: Overrides) -> Result<Overrides, OverrideError> {
        let mut all = self.0;
        all.extend(more.0);
        if all.len() > MAX_OVERRIDES {
            return Err(OverrideError::TooMany);
        }
        all.sort_by_key(|o| std::cmp::Reverse(o.net.prefix_len()));
        Ok(Overrides(all))
    }

    /// Where `ip` is pinned, if it is.
    pub fn find(&self, ip: IpAddr) -> Option<&Arc<Place>> {
        self.0.iter().find(|o| o.net.contains(&ip)).map(|o| &o.place)
    }

    /// True when nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many networks are pinned.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_most_specific_network_wins() {
        let o = Overrides::parse(&[
            "81.2.0.0/16=52.52,13.40,Berlin, DE",
            "81.2.3.4=48.14,11.58,Munich",
            "2a02:8100::/32=53.55,9.99",
        ])
        .unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(o.find(ip("81.2.3.4")).unwrap().label(), "Munich");
        let berlin = o.find(ip("81.2.200.1")).unwrap();
        assert_eq!(berlin.label(), "Berlin, DE", "a label may hold commas");
        assert_eq!((berlin.latitude, berlin.longitude), (52.52, 13.40));
        assert_eq!(o.find(ip("2a02:8100:1::7")).unwrap().label(), "2a02:8100::/32 (pinned)");
        assert!(o.find(ip("81.3.0.1")).is_none());
        // Merged sets keep the most specific network first, whichever set it came from.
        let wide = Overrides::parse(&["81.2.0.0/16=52.52,13.40,Berlin"]).unwrap();
        let narrow = Overrides::parse(&["81.2.3.4=48.14,11.58,Munich"]).unwrap();
        let both = wide.merged(narrow).unwrap();
        assert_eq!(both.find(ip("81.2.3.4")).unwrap().label(), "Munich");
    }

    #[test]
    fn bad_overrides_name_what_is_wrong() {
        let err = |t: &str| Override::parse(t).unwrap_err().to_string();
        assert!(err("81.2.0.0/16").contains("is not CIDR=LAT,LON"));
        assert!(err("81.2.0.0/16=52.5").contains("is not CIDR=LAT,LON"));
        assert!(err("berlin=52.5,13.4").contains("before '=' is not a CIDR"));
        assert!(err("81.2.0.0/16=95,13.4").contains("latitude"));
        assert!(err("81.2.0.0/16=52,1e300").contains("longitude"));
        assert!(err("81.2.0.0/16=NaN,13.4").contains("latitude"));
        let many = vec!["1.2.3.4=1,1"; MAX_OVERRIDES + 1];
        assert_eq!(Overrides::parse(&many), Err(OverrideError::TooMany));
        let half = Overrides::parse(&vec!["1.2.3.4=1,1"; MAX_OVERRIDES / 2 + 1]).unwrap();
        assert_eq!(half.clone().merged(half), Err(OverrideError::TooMany));
    }
}
