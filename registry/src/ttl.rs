//! Time to live: when a registration turns stale and when it is evicted.
//!
//! A registration is fresh for its TTL after its last heartbeat, stale for a grace period
//! after that (still listed, marked `stale`, so the dashboard can grey it out), and then
//! evicted. Only the time of the last heartbeat is stored, so the same answers come out
//! after a restart.

use std::time::Duration;

use crate::clock::{Micros, micros};

/// Where a registration stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Fresh,
    Stale,
    Expired,
}

/// The configured TTL bounds and grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlPolicy {
    /// The TTL of a registration that asks for none.
    pub default: Duration,
    /// The shortest TTL a registration may ask for.
    pub min: Duration,
    /// The longest TTL a registration may ask for.
    pub max: Duration,
    /// How long a stale registration stays listed before it is evicted.
    pub grace: Duration,
}

impl Default for TtlPolicy {
    /// idea-lab's dashboard called a widget stale after 15 s without a heartbeat.
    fn default() -> Self {
        TtlPolicy {
            default: Duration::from_secs(15),
            min: Duration::from_secs(1),
            max: Duration::from_secs(24 * 3600),
            grace: Duration::from_secs(300),
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "the TTL bounds must satisfy 0 < min <= default <= max (got {min:?}, {default:?}, {max:?})"
    )]
    Bounds {
        min: Duration,
        default: Duration,
        max: Duration,
    },
}

impl TtlPolicy {
    pub fn validate(self) -> Result<Self, PolicyError> {
        if self.min.is_zero() || self.min > self.default || self.default > self.max {
            return Err(PolicyError::Bounds {
                min: self.min,
                default: self.default,
                max: self.max,
            });
        }
        Ok(self)
    }

    /// The TTL for a registration that asked for `requested` seconds, or why not.
    pub fn ttl_for(&self, requested: Option<u64>) -> Result<Duration, String> {
        let Some(secs) = requested else {
            return Ok(self.default);
        };
        let ttl = Duration::from_secs(secs);
        if ttl < self.min || ttl > self.max {
            return Err(format!(
                "must be between {} and {} seconds",
                self.min.as_secs_f64().ceil(),
                self.max.as_secs()
            ));
        }
        Ok(ttl)
    }

    /// The instant a registration last seen at `updated` with `ttl` becomes stale.
    pub fn stale_at(updated: Micros, ttl: Duration) -> Micros {
        updated.saturating_add(micros(ttl))
    }

    /// The instant it is evicted.
    pub fn expires_at(&self, updated: Micros, ttl: Duration) -> Micros {
        Self::stale_at(updated, ttl).saturating_add(micros(self.grace))
    }

    pub fn liveness(&self, updated: Micros, ttl: Duration, now: Micros) -> Liveness {
        if now >= self.expires_at(updated, ttl) {
            Liveness::Expired
        } else if now >= Self::stale_at(updated, ttl) {
            Liveness::Stale
        } else {
            Liveness::Fresh
        }
    }
}

/// What a sweep must do to one registration, given what watchers were last told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepAction {
    Nothing,
    /// It turned stale since the last notification: watchers must hear of it.
    MarkStale,
    Evict,
}

/// Decides a registration's fate at `now`. `announced_stale` says whether watchers were
/// already notified that it is stale, so each transition wakes them once.
pub fn sweep_action(
    policy: &TtlPolicy,
    updated: Micros,
    ttl: Duration,
    announced_stale: bool,
    now: Micros,
) -> SweepAction {
    match policy.liveness(updated, ttl, now) {
        Liveness::Expired => SweepAction::Evict,
        Liveness::Stale if !announced_stale => SweepAction::MarkStale,
        Liveness::Stale | Liveness::Fresh => SweepAction::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn policy() -> TtlPolicy {
        TtlPolicy {
            default: Duration::from_secs(15),
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
            grace: Duration::from_secs(30),
        }
    }

    #[test]
    fn fresh_then_stale_then_expired_on_a_moving_clock() {
        let clock = ManualClock::at(1_000_000_000);
        let p = policy();
        let seen = clock.now();
        let ttl = p.default;
        assert_eq!(p.liveness(seen, ttl, clock.now()), Liveness::Fresh);
        clock.advance(Duration::from_millis(14_999));
        assert_eq!(p.liveness(seen, ttl, clock.now()), Liveness::Fresh);
        clock.advance(Duration::from_millis(1));
        assert_eq!(p.liveness(seen, ttl, clock.now()), Liveness::Stale);
        clock.advance(Duration::from_millis(29_999));
        assert_eq!(p.liveness(seen, ttl, clock.now()), Liveness::Stale);
        clock.advance(Duration::from_millis(1));
        assert_eq!(p.liveness(seen, ttl, clock.now()), Liveness::Expired);
    }

    #[test]
    fn a_stored_timestamp_gives_the_same_answer_to_a_new_process() {
        // The only state is `updated`: a fresh policy and a clock that starts later (a
        // restart) must agree with the old process about what is stale.
        let p = policy();
        let updated = 5_000_000;
        let after_restart = ManualClock::at(updated + 20_000_000);
        assert_eq!(
            p.liveness(updated, p.default, after_restart.now()),
            Liveness::Stale
        );
    }

    #[test]
    fn sweep_announces_staleness_once_and_evicts_after_grace() {
        let p = policy();
        let clock = ManualClock::at(0);
        clock.advance(Duration::from_secs(16));
        assert_eq!(
            sweep_action(&p, 0, p.default, false, clock.now()),
            SweepAction::MarkStale
        );
        assert_eq!(
            sweep_action(&p, 0, p.default, true, clock.now()),
            SweepAction::Nothing
        );
        clock.advance(Duration::from_secs(30));
        assert_eq!(
            sweep_action(&p, 0, p.default, true, clock.now()),
            SweepAction::Evict
        );
        assert_eq!(
            sweep_action(&p, 0, p.default, false, clock.now()),
            SweepAction::Evict
        );
    }

    #[test]
    fn requested_ttls_are_bounded() {
        let p = policy();
        assert_eq!(p.ttl_for(None), Ok(Duration::from_secs(15)));
        assert_eq!(p.ttl_for(Some(60)), Ok(Duration::from_secs(60)));
        assert!(p.ttl_for(Some(0)).is_err());
        assert!(p.ttl_for(Some(61)).is_err());
        assert!(p.ttl_for(Some(u64::MAX)).is_err());
    }

    #[test]
    fn invalid_bounds_are_refused() {
        let mut p = policy();
        p.min = Duration::ZERO;
        assert!(p.validate().is_err());
        let mut p = policy();
        p.default = Duration::from_secs(61);
        assert!(p.validate().is_err());
        assert!(policy().validate().is_ok());
    }

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        let p = policy();
        assert_eq!(
            p.liveness(i64::MAX - 1, Duration::MAX, i64::MAX - 1),
            Liveness::Fresh
        );
    }
}
