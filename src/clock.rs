//! One clock for the whole run: every timestamp carries both the wall time
//! (for people) and the monotonic offset since the run began (for ordering
//! and latency, immune to wall-clock steps).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    origin_wall: DateTime<Utc>,
}

/// A point in time as recorded in artifacts.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Stamp {
    /// RFC 3339 wall time, millisecond precision.
    #[serde(serialize_with = "rfc3339_ms")]
    pub wall: DateTime<Utc>,
    /// Milliseconds since the run began (monotonic).
    pub mono_ms: f64,
}

impl Clock {
    pub fn start() -> Self {
        Clock::starting_at(Utc::now())
    }

    /// A clock whose wall time starts at `wall` (now, monotonically): tests
    /// inject the date; the monotonic offsets stay real.
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        Clock { origin: Instant::now(), origin_wall: wall }
    }

    pub fn now(&self) -> Stamp {
        self.stamp_at(Instant::now())
    }

    pub fn stamp_at(&self, at: Instant) -> Stamp {
        let since = at.saturating_duration_since(self.origin);
        Stamp {
            wall: self.origin_wall + chrono::Duration::from_std(since).unwrap_or_default(),
            mono_ms: millis(since),
        }
    }

    pub fn started_wall(&self) -> DateTime<Utc> {
        self.origin_wall
    }
}

/// How long one phase of a run took (`analysis.json`'s `phases`, `--timings`).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Phase {
    pub name: String,
    pub duration_ms: f64,
    /// Requests sent to the service under test during the phase, 429'd sendings included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
}

/// Milliseconds as a float rounded to microseconds, the unit of every latency field.
pub fn millis(d: Duration) -> f64 {
    round_ms(d.as_secs_f64() * 1000.0)
}

/// Milliseconds kept to the microsecond, as every figure of a trace is.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// The compact UTC stamp of run ids, collected file names and archive
/// folders: `20261129T010203Z`.
pub const UTC_STAMP: &str = "%Y%m%dT%H%M%SZ";

/// The stamp in the tarball's name, as the runbook spells it:
/// `webprofile-parity-20261129010203.tar.gz`.
pub const TARBALL_STAMP: &str = "%Y%m%d%H%M%S";

/// A run's label for people (dashboard, reports): `2026-11-29 01:02:03`.
pub const LABEL: &str = "%Y-%m-%d %H:%M:%S";

/// A day, as GitHub's search filters want it: `2026-11-29`.
pub const DAY: &str = "%Y-%m-%d";

/// A duration as people read it: `850 ms`, `4.99 s`, `2 min 5 s`, `3 h 10 min`.
pub fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    let secs = d.as_secs();
    if ms < 10.0 {
        format!("{} ms", (ms * 100.0).round() / 100.0)
    } else if ms < 1000.0 {
        format!("{} ms", ms.round())
    } else if secs < 60 {
        format!("{} s", (d.as_secs_f64() * 100.0).round() / 100.0)
    } else if secs < 3600 {
        format!("{} min {} s", secs / 60, secs % 60)
    } else {
        format!("{} h {} min", secs / 3600, secs % 3600 / 60)
    }
}

pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn rfc3339_ms<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_monotonic_and_wall_follows() {
        let clock = Clock::start();
        let a = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        let b = clock.now();
        assert!(b.mono_ms > a.mono_ms);
        assert!(b.wall >= a.wall);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        let human = |ns: u64| human(Duration::from_nanos(ns));
        assert_eq!(human(4_999_996_155), "5 s");
        assert_eq!(human(4_990_000_000), "4.99 s");
        assert_eq!(human(850_400_000), "850 ms");
        assert_eq!(human(2_500_000), "2.5 ms");
        assert_eq!(human(125_000_000_000), "2 min 5 s");
        assert_eq!(human(11_400_000_000_000), "3 h 10 min");
    }

    #[test]
    fn millis_keeps_microseconds() {
        assert_eq!(millis(Duration::from_micros(1500)), 1.5);
    }
}
