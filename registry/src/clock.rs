//! Time as the registry sees it: a wall clock that tests can replace, and the timestamp
//! format of the idea-lab API.
//!
//! Timestamps are microseconds since the Unix epoch so that they can be stored in SQLite and
//! compared after a restart: TTLs are measured against the wall clock, not a monotonic one,
//! because a monotonic clock means nothing to the next process.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
pub type Micros = i64;

/// The source of "now" for TTLs, staleness and `lastUpdated`.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Micros;
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Micros {
        // A clock before 1970 is a broken machine; treating it as the epoch makes everything
        // look old (stale) rather than crashing the server.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }
}

/// The last instant humantime can print (9999-12-31T23:59:59.999999Z).
const LAST_PRINTABLE: Micros = 253_402_300_799_999_999;

/// `2023-10-21T20:53:53.893639Z`: UTC, always six fractional digits, as idea-lab wrote it.
pub fn rfc3339(at: Micros) -> String {
    let clamped = u64::try_from(at.clamp(0, LAST_PRINTABLE)).unwrap_or(0);
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_micros(clamped)).to_string()
}

/// Converts a duration to microseconds, saturating (configured durations are bounded by
/// their parsers; saturation only guards arithmetic).
pub fn micros(d: Duration) -> Micros {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
pub use manual::ManualClock;

#[cfg(test)]
mod manual {
    use super::{Clock, Micros};
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    /// A clock that moves only when a test says so.
    #[derive(Debug)]
    pub struct ManualClock(AtomicI64);

    impl ManualClock {
        pub fn at(start: Micros) -> Self {
            ManualClock(AtomicI64::new(start))
        }

        pub fn advance(&self, by: Duration) {
            self.0.fetch_add(super::micros(by), Ordering::SeqCst);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Micros {
            self.0.load(Ordering::SeqCst)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_idea_lab() {
        assert_eq!(
            rfc3339(1_697_921_633_893_639),
            "2023-10-21T20:53:53.893639Z"
        );
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn out_of_range_instants_are_clamped_not_panicking() {
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.999999Z");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(Duration::from_millis(2));
        assert_eq!(clock.now(), 3_000);
    }
}
