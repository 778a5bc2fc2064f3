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
    /// Overlapping session pairs whose sides GeoIP places close together.
    pub nearby_concurrent_sessions: usize,
    /// Distinct device pairs among the concurrent sessions.
    pub concurrent_device_pairs: usize,
    /// Impossible-travel jumps.
    pub teleportations: usize,
    /// Same-device jumps counted apart from teleportations.
    pub same_device_jumps: usize,
    /// Distinct networks.
    pub networks: usize,
    /// Networks with at least `regular_network_plays` plays.
    pub regular_networks: usize,
}

/// A named set of weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoringProfile {
    /// Evidence of sharing only: streams overlapping across households, impossible
    /// travel, many regularly used networks. Device counts are shown but score nothing.
    Evidence,
    /// The reference script's formula and weights, unchanged.
    Reference,
}

/// A `--scoring` value that names no profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scoring profile {0:?} (known: evidence, reference)")]
pub struct UnknownProfile(pub String);

impl FromStr for ScoringProfile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "evidence" => Ok(ScoringProfile::Evidence),
            "reference" => Ok(ScoringProfile::Reference),
            other => Err(UnknownProfile(other.to_string())),
        }
    }
}

impl fmt::Display for ScoringProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScoringProfile::Evidence => f.write_str("evidence"),
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
    /// Cap on the concurrent session pairs that score (and, apart, on the nearby ones).
    pub concurrent_session_cap: usize,
    /// Per nearby overlapping session pair, up to `concurrent_session_cap` pairs.
    pub nearby_concurrent_session: f64,
    /// Per heavy device beyond the first.
    pub extra_heavy_device: f64,
    /// Per impossible-travel jump, up to `teleportation_cap` jumps.
    pub teleportation: f64,
    /// Cap on the jumps that score.
    pub teleportation_cap: usize,
    /// Per same-device jump (a VPN or proxy, most likely; 0 by default: visible, not
    /// accused), up to `teleportation_cap` jumps.
    pub same_device_jump: f64,
    /// Per regularly used network beyond the first two (home and one more).
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
                nearby_concurrent_session: 0.0,
                extra_heavy_device: 15.0,
                teleportation: 30.0,
                teleportation_cap: usize::MAX,
                same_device_jump: 0.0,
                extra_network: 0.0,
            },
            ScoringProfile::Evidence => Weights {
                extra_device: 0.0,
                concurrent_device_pair: 20.0,
                concurrent_session: 5.0,
                concurrent_session_cap: 16,
                nearby_concurrent_session: 0.0,
                extra_heavy_device: 0.0,
                teleportation: 20.0,
                teleportation_cap: 10,
                same_device_jump: 0.0,
                extra_network: 10.0,
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
                "device pairs streaming at the same time from different households",
                c.concurrent_device_pairs,
                w.concurrent_device_pair,
            ),
            term(
                "concurrent_sessions",
                "overlapping session pairs from different devices and households (capped)",
                c.concurrent_sessions.min(w.concurrent_session_cap),
                w.concurrent_session,
            ),
            term(
                "nearby_concurrent_sessions",
                "overlapping session pairs located in the same area (capped)",
                c.nearby_concurrent_sessions.min(w.concurrent_session_cap),
                w.nearby_concurrent_session,
            ),
            term(
                "extra_heavy_devices",
                "heavily used devices beyond the first",
                c.heavy_devices.saturating_sub(1),
                w.extra_heavy_device,
            ),
            term(
                "teleportations",
                "impossible-travel jumps (capped)",
                c.teleportations.min(w.teleportation_cap),
                w.teleportation,
            ),
            term(
                "same_device_jumps",
                "far-apart places minutes apart on one device: likely a VPN or proxy (capped)",
                c.same_device_jumps.min(w.teleportation_cap),
                w.same_device_jump,
            ),
            term(
                "extra_regular_networks",
                "regularly used networks beyond the first two",
                c.regular_networks.saturating_sub(2),
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
            nearby_concurrent_sessions: 9,
            concurrent_device_pairs: 2,
            teleportations: 1,
            same_device_jumps: 0,
            networks: 5,
            regular_networks: 5,
        };
        assert_eq!(
            reference().score(&c),
            154.0,
            "regular networks score nothing in the reference"
        );
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
        assert_eq!(terms.len(), 8);
        assert_eq!(terms.iter().map(|t| t.points).sum::<f64>(), 10.0 + 25.0 + 6.0);
        assert!(terms.iter().all(|t| !t.name.is_empty() && !t.description.is_empty()));
    }

    fn evidence() -> Scoring {
        Scoring::from_profile(ScoringProfile::Evidence)
    }

    #[test]
    fn evidence_scores_nothing_for_devices_alone() {
        let c = Counts {
            devices: 5,
            heavy_devices: 5,
            networks: 1,
            regular_networks: 1,
            ..Counts::default()
        };
        assert_eq!(evidence().score(&c), 0.0);
    }

    #[test]
    fn evidence_score_by_hand() {
        // 1 pair * 20 + min(4,16) * 5 + min(3,10) * 20 + (4-2) * 10 = 20 + 20 + 60 + 20 = 120
        let c = Counts {
            devices: 4,
            heavy_devices: 2,
            concurrent_sessions: 4,
            nearby_concurrent_sessions: 20,
            concurrent_device_pairs: 1,
            teleportations: 3,
            same_device_jumps: 5,
            networks: 9,
            regular_networks: 4,
        };
        assert_eq!(evidence().score(&c), 120.0, "same-device jumps weigh 0");
        let many = Counts {
            teleportations: 40,
            ..Counts::default()
        };
        assert_eq!(evidence().score(&many), 200.0, "jumps are capped at 10");
        // Nearby overlaps score their own weight, capped like concurrent sessions:
        // 120 + min(20, 16) * 1.5 = 144.
        let mut weighted = evidence();
        weighted.weights.nearby_concurrent_session = 1.5;
        assert_eq!(weighted.score(&c), 144.0);
    }

    #[test]
    fn a_same_device_jump_weight_scores_its_jumps_up_to_the_jump_cap() {
        let mut scoring = evidence();
        scoring.weights.same_device_jump = 2.5;
        let c = Counts {
            same_device_jumps: 4,
            ..Counts::default()
        };
        assert_eq!(scoring.score(&c), 10.0, "4 * 2.5");
        let term = scoring.terms(&c).into_iter().find(|t| t.name == "same_device_jumps");
        assert_eq!(term.map(|t| (t.count, t.points)), Some((4, 10.0)));
        let many = Counts {
            same_device_jumps: 40,
            ..Counts::default()
        };
        assert_eq!(scoring.score(&many), 25.0, "capped at 10 like teleportations");
    }

    #[test]
    fn profile_names_parse() {
        assert_eq!("evidence".parse::<ScoringProfile>(), Ok(ScoringProfile::Evidence));
        assert_eq!("reference".parse::<ScoringProfile>(), Ok(ScoringProfile::Reference));
        assert!("nope".parse::<ScoringProfile>().is_err());
    }
}
