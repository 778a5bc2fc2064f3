//! The suspicion score: a weighted sum of counted evidence, returned term by term so
//! every report can say why a score is what it is.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// What the score counts, from the other detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Distinct devices.
    pub devices: usize,
    /// Devices with many plays.
    pub heavy_devices: usize,
    /// Overlapping session pairs across devices and networks.
    pub concurrent_sessions: usize,
    /// Distinct device pairs among them.
    pub concurrent_device_pairs: usize,
    /// Impossible-travel jumps.
    pub teleportations: usize,
    /// Distinct networks.
    pub networks: usize,
}

/// A named set of weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoringProfile {
    /// The reference script's formula and weights, unchanged.
    Reference,
}

impl FromStr for ScoringProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reference" => Ok(ScoringProfile::Reference),
            other => Err(format!(
                "unknown scoring profile {other:?} (known: reference)"
            )),
        }
    }
}

impl fmt::Display for ScoringProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScoringProfile::Reference => f.write_str("reference"),
        }
    }
}

/// Points per counted item. Every weight can be overridden on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    /// Per device beyond the first.
    pub extra_device: f64,
    /// Per distinct device pair seen streaming concurrently from different networks.
    pub concurrent_device_pair: f64,
    /// Per concurrent session pair, up to `concurrent_session_cap` pairs.
    pub concurrent_session: f64,
    /// Cap on the concurrent session pairs that score.
    pub concurrent_session_cap: usize,
    /// Per heavy device beyond the first.
    pub extra_heavy_device: f64,
    /// Per impossible-travel jump.
    pub teleportation: f64,
    /// Per network beyond the first.
    pub extra_network: f64,
}

/// The score formula in force: a profile and its (possibly overridden) weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scoring {
    /// The profile the weights started from.
    pub profile: ScoringProfile,
    /// The weights.
    pub weights: Weights,
}

/// One term of a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreTerm {
    /// Machine name of the term.
    pub name: &'static str,
    /// What is counted, in words.
    pub description: &'static str,
    /// How many were counted (after any cap or "beyond the first").
    pub count: usize,
    /// Points per item.
    pub weight: f64,
    /// count × weight.
    pub points: f64,
}

impl Scoring {
    /// The weights of `profile`.
    pub fn from_profile(profile: ScoringProfile) -> Scoring {
        let weights = match profile {
            ScoringProfile::Reference => Weights {
                extra_device: 10.0,
                concurrent_device_pair: 25.0,
                concurrent_session: 2.0,
                concurrent_session_cap: 50,
                extra_heavy_device: 15.0,
                teleportation: 30.0,
                extra_network: 0.0,
            },
        };
        Scoring { profile, weights }
    }

    /// The score's terms for `c`; the score is the sum of their points.
    pub fn terms(&self, c: &Counts) -> Vec<ScoreTerm> {
        let w = &self.weights;
        let term = |name, description, count: usize, weight: f64| ScoreTerm {
            name,
            description,
            count,
            weight,
            points: count as f64 * weight,
        };
        vec![
            term(
                "extra_devices",
                "devices beyond the first",
                c.devices.saturating_sub(1),
                w.extra_device,
            ),
            term(
                "concurrent_device_pairs",
                "device pairs streaming at the same time from different networks",
                c.concurrent_device_pairs,
                w.concurrent_device_pair,
            ),
            term(
                "concurrent_sessions",
                "overlapping session pairs from different devices and networks (capped)",
                c.concurrent_sessions.min(w.concurrent_session_cap),
                w.concurrent_session,
            ),
            term(
                "extra_heavy_devices",
                "heavily used devices beyond the first",
                c.heavy_devices.saturating_sub(1),
                w.extra_heavy_device,
            ),
            term(
                "teleportations",
                "impossible-travel jumps",
                c.teleportations,
                w.teleportation,
            ),
            term(
                "extra_networks",
                "networks beyond the first",
                c.networks.saturating_sub(1),
                w.extra_network,
            ),
        ]
    }

    /// The total score for `c`.
    pub fn score(&self, c: &Counts) -> f64 {
        self.terms(c).iter().map(|t| t.points).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Scoring {
        Scoring::from_profile(ScoringProfile::Reference)
    }

    #[test]
    fn reference_formula_matches_the_script_by_hand() {
        // (4-1)*10 + 2*25 + min(7,50)*2 + max(0,3-1)*15 + 1*30 = 30+50+14+30+30 = 154
        let c = Counts {
            devices: 4,
            heavy_devices: 3,
            concurrent_sessions: 7,
            concurrent_device_pairs: 2,
            teleportations: 1,
            networks: 5,
        };
        assert_eq!(reference().score(&c), 154.0);
    }

    #[test]
    fn concurrent_sessions_are_capped_at_fifty() {
        let c = Counts {
            concurrent_sessions: 80,
            ..Counts::default()
        };
        assert_eq!(reference().score(&c), 100.0);
    }

    #[test]
    fn an_honest_three_device_household_scores_fifty_under_the_reference() {
        // The flaw issue #6 describes: (3-1)*10 + (3-1)*15 = 50.
        let c = Counts {
            devices: 3,
            heavy_devices: 3,
            networks: 1,
            ..Counts::default()
        };
        assert_eq!(reference().score(&c), 50.0);
    }

    #[test]
    fn no_devices_scores_zero_without_underflow() {
        assert_eq!(reference().score(&Counts::default()), 0.0);
    }

    #[test]
    fn every_term_is_named_and_sums_to_the_score() {
        let c = Counts {
            devices: 2,
            concurrent_device_pairs: 1,
            concurrent_sessions: 3,
            ..Counts::default()
        };
        let terms = reference().terms(&c);
        assert_eq!(terms.len(), 6);
        assert_eq!(
            terms.iter().map(|t| t.points).sum::<f64>(),
            10.0 + 25.0 + 6.0
        );
        assert!(terms
            .iter()
            .all(|t| !t.name.is_empty() && !t.description.is_empty()));
    }

    #[test]
    fn profile_names_parse() {
        assert_eq!(
            "reference".parse::<ScoringProfile>(),
            Ok(ScoringProfile::Reference)
        );
        assert!("nope".parse::<ScoringProfile>().is_err());
    }
}
