//! The order of findings, most suspicious first, that the report, the snapshots and the
//! users page all show: score (highest first), then concurrent sessions (most first),
//! then display name, then user id so that the order is total.

use std::borrow::Borrow;
use std::cmp::Ordering;

use super::UserFinding;

/// Score descending, then concurrent sessions descending, then display name.
fn headline(a: &UserFinding, b: &UserFinding) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then(b.concurrent_sessions.cmp(&a.concurrent_sessions))
        .then(a.user.cmp(&b.user))
}

/// `Less` when `a` is more suspicious than `b`: score, concurrent sessions, name, user id.
pub fn by_suspicion(a: &UserFinding, b: &UserFinding) -> Ordering {
    headline(a, b).then(a.user_id.cmp(&b.user_id))
}

/// [`by_suspicion`] for findings of several servers: between users of the same name the
/// server name decides before the user id (ids are per server).
pub fn by_suspicion_across_servers(a: (&str, &UserFinding), b: (&str, &UserFinding)) -> Ordering {
    headline(a.1, b.1)
        .then(a.0.cmp(b.0))
        .then(a.1.user_id.cmp(&b.1.user_id))
}

/// Sort findings most suspicious first ([`by_suspicion`]).
pub fn sort_findings<F: Borrow<UserFinding>>(findings: &mut [F]) {
    findings.sort_by(|a, b| by_suspicion(a.borrow(), b.borrow()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(user_id: i64, user: &str, score: f64, concurrent_sessions: usize) -> UserFinding {
        UserFinding {
            user_id,
            user: user.into(),
            score,
            concurrent_sessions,
            ..UserFinding::default()
        }
    }

    #[test]
    fn score_then_concurrency_then_name_then_id() {
        let mut all = vec![
            finding(1, "Bo", 10.0, 0),
            finding(2, "Al", 10.0, 0),
            finding(3, "Cy", 10.0, 5),
            finding(4, "Di", 50.0, 0),
            finding(0, "Al", 10.0, 0),
        ];
        sort_findings(&mut all);
        let order: Vec<i64> = all.iter().map(|f| f.user_id).collect();
        assert_eq!(order, [4, 3, 0, 2, 1]);
    }

    #[test]
    fn across_servers_the_server_decides_before_the_id() {
        let (a, b) = (finding(9, "Al", 1.0, 0), finding(1, "Al", 1.0, 0));
        assert_eq!(by_suspicion(&a, &b), Ordering::Greater);
        assert_eq!(by_suspicion_across_servers(("cabin", &a), ("home", &b)), Ordering::Less);
        assert_eq!(
            by_suspicion_across_servers(("home", &a), ("home", &b)),
            Ordering::Greater
        );
    }
}
