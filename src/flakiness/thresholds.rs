//! Thresholds and the verdict: exceeded when run_failures >= the run
//! threshold OR the iteration failure rate >= the rate threshold.

use super::summary::CrossSummary;
use crate::stats::rate;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const DEFAULT_RUN_FAIL_THRESHOLD: u64 = 1;
pub const DEFAULT_ITER_FAILURE_RATE_THRESHOLD: f64 = 0.05;

/// The exact rule, for `--help`.
pub const RULE_HELP: &str = "\
Thresholds are exceeded when
  run_failures >= --run-fail-threshold (runs with at least one failed iteration)
  OR iter_failures / iter_total >= --iter-failure-rate-threshold
(both comparisons inclusive: 1 failure in 20 iterations meets a 0.05 threshold).
Flags override CROSS_RUN_FAIL_THRESHOLD / CROSS_ITER_FAILURE_RATE_THRESHOLD.
With --latency-slo D (for services run with --allow-stale, where a stale read alone does
not fail an iteration) they are also exceeded when the p99 of the staleness proven
(stale_ms) over the collected iterations is above D. Without it the SLO is the
contract's: no stale read, which the two comparisons above already judge.
With no collected runs there is nothing to judge.";

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Failing runs that trigger the alert.
    pub run_failures: u64,
    /// Iteration failure rate (0–1) that triggers the alert.
    pub iter_failure_rate: f64,
    /// `--latency-slo`: the most p99 staleness proven (ms) tolerated; `None`
    /// is the strict contract, where the SLO is "no stale read".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_slo_ms: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            run_failures: DEFAULT_RUN_FAIL_THRESHOLD,
            iter_failure_rate: DEFAULT_ITER_FAILURE_RATE_THRESHOLD,
            latency_slo_ms: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdVerdict {
    /// No runs were collected.
    NoData,
    Ok,
    Exceeded,
}

impl ThresholdVerdict {
    /// For people: "no data", "ok", "exceeded".
    pub fn name(self) -> &'static str {
        match self {
            ThresholdVerdict::NoData => "no data",
            ThresholdVerdict::Ok => "ok",
            ThresholdVerdict::Exceeded => "exceeded",
        }
    }
}

/// A verdict and which comparisons tripped it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Assessment {
    pub verdict: ThresholdVerdict,
    pub run_failures: u64,
    pub run_total: u64,
    pub iter_rate: f64,
    pub runs_exceeded: bool,
    pub rate_exceeded: bool,
    /// p99 staleness proven over the collected iterations, when any recorded it.
    pub stale_ms_p99: Option<f64>,
    /// `--latency-slo` given and that p99 above it.
    pub slo_exceeded: bool,
    pub thresholds: Thresholds,
}

impl Thresholds {
    pub fn judge(&self, summary: &CrossSummary) -> Assessment {
        let iter_rate = if summary.iter_total > 0 {
            rate(summary.iter_failures, summary.iter_total)
        } else {
            summary.iter_failure_rate
        };
        let has_data = summary.run_total > 0 || summary.iter_total > 0;
        let runs_exceeded = has_data && summary.run_failures >= self.run_failures;
        let rate_exceeded = has_data && iter_rate >= self.iter_failure_rate;
        let stale_ms_p99 = summary.stale_ms.as_ref().and_then(|p| p.p99);
        let slo_exceeded =
            has_data && matches!((self.latency_slo_ms, stale_ms_p99), (Some(slo), Some(p99)) if p99 > slo);
        let verdict = match (has_data, runs_exceeded || rate_exceeded || slo_exceeded) {
            (false, _) => ThresholdVerdict::NoData,
            (true, true) => ThresholdVerdict::Exceeded,
            (true, false) => ThresholdVerdict::Ok,
        };
        Assessment {
            verdict,
            run_failures: summary.run_failures,
            run_total: summary.run_total,
            iter_rate,
            runs_exceeded,
            rate_exceeded,
            stale_ms_p99,
            slo_exceeded,
            thresholds: *self,
        }
    }
}

impl fmt::Display for Assessment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.thresholds;
        let runs = |f: &mut fmt::Formatter<'_>, op: &str| {
            write!(f, "{} failing run(s) of {} {op} {}", self.run_failures, self.run_total, t.run_failures)
        };
        let iters = |f: &mut fmt::Formatter<'_>, op: &str| {
            write!(
                f,
                "iteration failure rate {:.2}% {op} {:.2}%",
                self.iter_rate * 100.0,
                t.iter_failure_rate * 100.0
            )
        };
        let slo = |f: &mut fmt::Formatter<'_>| match t.latency_slo_ms {
            Some(limit) => write!(
                f,
                ", p99 staleness proven {} {} the {limit} ms latency SLO",
                self.stale_ms_p99.map_or("-".to_string(), |p| format!("{p:.1} ms")),
                if self.slo_exceeded { "above" } else { "within" }
            ),
            None => Ok(()),
        };
        match self.verdict {
            ThresholdVerdict::NoData => write!(f, "nothing to judge: no cross-instance runs were collected"),
            ThresholdVerdict::Ok => {
                write!(f, "thresholds not exceeded: ")?;
                runs(f, "<")?;
                write!(f, ", ")?;
                iters(f, "<")?;
                slo(f)
            }
            ThresholdVerdict::Exceeded => {
                write!(f, "thresholds exceeded: ")?;
                runs(f, if self.runs_exceeded { ">=" } else { "<" })?;
                write!(f, ", ")?;
                iters(f, if self.rate_exceeded { ">=" } else { "<" })?;
                slo(f)
            }
        }
    }
}

/// `--latency-slo`: a duration like `250ms`, in milliseconds.
pub fn parse_latency_slo(text: &str) -> Result<f64, String> {
    humantime::parse_duration(text.trim())
        .map(|d| d.as_secs_f64() * 1000.0)
        .map_err(|e| format!("`{text}` is not a duration like 250ms ({e})"))
}

/// A run threshold: a whole number of runs, at least 1.
pub fn parse_run_threshold(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{text}` is not a number of failing runs (a whole number, at least 1)")),
    }
}

/// A rate threshold: a fraction above 0 like `0.05`, or a percentage like `5%`.
pub fn parse_rate_threshold(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let value = match trimmed.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => trimmed.parse::<f64>(),
    };
    match value {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("`{text}` is not a failure rate above 0, like 0.05 or 5%")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(run_total: u64, run_failures: u64, iter_total: u64, iter_failures: u64) -> CrossSummary {
        CrossSummary { run_total, run_failures, iter_total, iter_failures, ..CrossSummary::default() }
    }

    #[test]
    fn both_comparisons_are_inclusive() {
        let t = Thresholds { run_failures: 2, iter_failure_rate: 0.05, latency_slo_ms: None };
        assert_eq!(t.judge(&summary(10, 1, 100, 4)).verdict, ThresholdVerdict::Ok);
        let runs = t.judge(&summary(10, 2, 100, 0));
        assert_eq!(
            (runs.verdict, runs.runs_exceeded, runs.rate_exceeded),
            (ThresholdVerdict::Exceeded, true, false)
        );
        // 1 in 20 is exactly 0.05.
        let rate = t.judge(&summary(10, 1, 20, 1));
        assert_eq!(
            (rate.verdict, rate.runs_exceeded, rate.rate_exceeded),
            (ThresholdVerdict::Exceeded, false, true)
        );
    }

    #[test]
    fn a_latency_slo_is_exceeded_only_by_a_p99_staleness_above_it() {
        use crate::scenario::cross::Percentiles;
        let with_p99 = |p99: f64| CrossSummary {
            stale_ms: Some(Percentiles { p99: Some(p99), ..Percentiles::default() }),
            ..summary(4, 0, 400, 0)
        };
        let t = Thresholds { run_failures: 1, iter_failure_rate: 0.05, latency_slo_ms: Some(250.0) };
        let within = t.judge(&with_p99(250.0));
        assert_eq!((within.verdict, within.slo_exceeded), (ThresholdVerdict::Ok, false));
        assert!(
            within.to_string().contains("p99 staleness proven 250.0 ms within the 250 ms latency SLO"),
            "{within}"
        );
        let above = t.judge(&with_p99(250.5));
        assert_eq!((above.verdict, above.slo_exceeded), (ThresholdVerdict::Exceeded, true));
        assert!(above.to_string().contains("above the 250 ms latency SLO"), "{above}");
        // Without an SLO the strict contract's failures decide, whatever the latency.
        assert_eq!(Thresholds::default().judge(&with_p99(900.0)).verdict, ThresholdVerdict::Ok);
        assert_eq!(parse_latency_slo("250ms"), Ok(250.0));
        assert!(parse_latency_slo("soon").is_err());
    }

    #[test]
    fn defaults_alert_on_the_first_failing_run() {
        let t = Thresholds::default();
        assert_eq!(t.judge(&summary(5, 0, 25, 0)).verdict, ThresholdVerdict::Ok);
        assert_eq!(t.judge(&summary(5, 1, 100, 1)).verdict, ThresholdVerdict::Exceeded);
        assert_eq!(t.judge(&summary(0, 0, 0, 0)).verdict, ThresholdVerdict::NoData);
    }

    #[test]
    fn the_rate_falls_back_to_the_summary_field_without_counts() {
        let mut s = summary(3, 0, 0, 0);
        s.iter_failure_rate = 0.5;
        assert_eq!(Thresholds::default().judge(&s).verdict, ThresholdVerdict::Exceeded);
    }

    #[test]
    fn verdicts_read_as_sentences() {
        let t = Thresholds::default();
        assert_eq!(
            t.judge(&summary(5, 2, 22, 3)).to_string(),
            "thresholds exceeded: 2 failing run(s) of 5 >= 1, iteration failure rate 13.64% >= 5.00%"
        );
        assert_eq!(
            Thresholds { run_failures: 3, iter_failure_rate: 0.2, latency_slo_ms: None }
                .judge(&summary(5, 2, 22, 3))
                .to_string(),
            "thresholds not exceeded: 2 failing run(s) of 5 < 3, iteration failure rate 13.64% < 20.00%"
        );
    }

    #[test]
    fn threshold_values_parse_or_say_why_not() {
        assert_eq!(parse_run_threshold("3"), Ok(3));
        assert!(parse_run_threshold("0").unwrap_err().contains("at least 1"));
        assert!(parse_run_threshold("x").is_err());
        assert_eq!(parse_rate_threshold("0.1"), Ok(0.1));
        assert_eq!(parse_rate_threshold("5%"), Ok(0.05));
        for bad in ["0", "-1", "NaN", "inf", "lots"] {
            assert!(parse_rate_threshold(bad).is_err(), "{bad}");
        }
    }
}
