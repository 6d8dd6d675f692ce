//! `flakiness/cross/summary.json`: the numbers people act on.

use super::aggregate::CrossAggregate;
use super::collect::{Collection, SkippedFile};
use super::github::DownloadFailure;
use crate::scenario::cross::{self, PairLatency, Percentiles};
use crate::stats::{percentile, rate, wilson, Interval, Z_95};
use crate::verdict::{ClassCounts, FailureClass};
use serde::{Deserialize, Serialize};

/// The runbook calls more than this many consecutive failing runs a major alert.
pub const MAJOR_ALERT_STREAK: u64 = 3;

/// The aggregated cross-instance metrics. The first six fields are the
/// upstream ones; every field defaults, so older summaries still read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrossSummary {
    pub run_total: u64,
    /// Runs with at least one failed iteration.
    pub run_failures: u64,
    pub iter_total: u64,
    pub iter_failures: u64,
    /// run_failures / run_total (0 with no runs).
    pub run_failure_rate: f64,
    /// iter_failures / iter_total (0 with no iterations).
    pub iter_failure_rate: f64,
    /// 95% Wilson score interval of the run failure rate.
    pub run_failure_rate_ci95: Option<Interval>,
    /// 95% Wilson score interval of the iteration failure rate.
    pub iter_failure_rate_ci95: Option<Interval>,
    /// The headline: iterations that failed with a stale read (a revoked
    /// token answered active), per iteration run. A security finding.
    pub stale_read: Option<ClassRate>,
    /// Iterations that failed for the infrastructure (refused, reset,
    /// timeout, 5xx), per iteration run: not a finding about revocation.
    pub infrastructure: Option<ClassRate>,
    /// Failed iterations by class (`unknown` for old files that cannot tell).
    pub failure_classes: ClassCounts,
    /// Consecutive failing runs, counted back from the most recent.
    pub current_failing_streak: u64,
    /// Those runs' labels, most recent first.
    pub current_failing_streak_runs: Vec<String>,
    /// More than [`MAJOR_ALERT_STREAK`] consecutive failing runs.
    pub major_alert: bool,
    /// Revoke → inactive latency over every iteration that records it.
    pub latency_ms: Option<LatencySummary>,
    /// Stale reads over every iteration that records them.
    pub stale_reads: Option<StaleReadSummary>,
    /// Staleness proven (`stale_ms`) over every iteration that records it.
    pub stale_ms: Option<Percentiles>,
    /// When the revoke was visible by (`visible_by_ms`), over every iteration that records it.
    pub visible_by_ms: Option<Percentiles>,
    /// The newest run's (revoker, observer) latency matrix.
    pub latest_matrix: Vec<PairLatency>,
    /// Labels of the oldest and newest runs.
    pub first_run: Option<String>,
    pub last_run: Option<String>,
    /// Files that could not be used, with the reason.
    pub skipped_files: Vec<SkippedFile>,
    /// GitHub runs whose artifacts could not be downloaded, with the reason.
    pub download_errors: Vec<DownloadFailure>,
}

/// How often one failure class occurred among the iterations run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassRate {
    pub iterations: u64,
    pub rate: f64,
    pub rate_ci95: Option<Interval>,
}

impl ClassRate {
    fn of(class: FailureClass, classes: &ClassCounts, iter_total: u64) -> Option<ClassRate> {
        let k = classes.get(class);
        (iter_total > 0).then(|| ClassRate {
            iterations: k,
            rate: rate(k, iter_total),
            rate_ci95: wilson(k, iter_total, Z_95),
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StaleReadSummary {
    pub total: u64,
    /// Iterations that saw at least one stale read.
    pub iterations: u64,
    /// Runs that saw at least one stale read.
    pub runs: u64,
}

pub fn summarize(collection: &Collection, aggregate: &CrossAggregate) -> CrossSummary {
    let streak: Vec<String> =
        aggregate.runs.iter().rev().take_while(|r| r.failed).map(|r| r.label.clone()).collect();
    let mut latencies: Vec<f64> =
        collection.cross.iter().flat_map(|run| run.iterations.iter().filter_map(|i| i.latency_ms)).collect();
    latencies.sort_by(f64::total_cmp);
    let latency_ms = match (percentile(&latencies, 0.5), percentile(&latencies, 0.95), latencies.last()) {
        (Some(p50), Some(p95), Some(&max)) => {
            Some(LatencySummary { samples: latencies.len() as u64, p50, p95, max })
        }
        _ => None,
    };
    CrossSummary {
        run_total: aggregate.run_total,
        run_failures: aggregate.run_failures,
        iter_total: aggregate.iter_total,
        iter_failures: aggregate.iter_failures,
        run_failure_rate: rate(aggregate.run_failures, aggregate.run_total),
        iter_failure_rate: rate(aggregate.iter_failures, aggregate.iter_total),
        run_failure_rate_ci95: wilson(aggregate.run_failures, aggregate.run_total, Z_95),
        iter_failure_rate_ci95: wilson(aggregate.iter_failures, aggregate.iter_total, Z_95),
        stale_read: ClassRate::of(FailureClass::StaleRead, &aggregate.failure_classes, aggregate.iter_total),
        infrastructure: ClassRate::of(
            FailureClass::Infrastructure,
            &aggregate.failure_classes,
            aggregate.iter_total,
        ),
        failure_classes: aggregate.failure_classes.clone(),
        current_failing_streak: streak.len() as u64,
        major_alert: streak.len() as u64 > MAJOR_ALERT_STREAK,
        current_failing_streak_runs: streak,
        latency_ms,
        stale_reads: stale_reads(collection),
        stale_ms: over_iterations(collection, |i| i.stale_ms),
        visible_by_ms: over_iterations(collection, |i| i.visible_by_ms),
        latest_matrix: collection.cross.last().map(|run| cross::matrix(&run.iterations)).unwrap_or_default(),
        first_run: aggregate.runs.first().map(|r| r.label.clone()),
        last_run: aggregate.runs.last().map(|r| r.label.clone()),
        skipped_files: collection.skipped.clone(),
        download_errors: Vec::new(),
    }
}

/// Percentiles of a figure over every collected iteration; `None` when no file recorded it.
fn over_iterations(
    collection: &Collection,
    figure: impl Fn(&crate::scenario::cross::IterationResult) -> Option<f64>,
) -> Option<Percentiles> {
    let values: Vec<f64> =
        collection.cross.iter().flat_map(|run| run.iterations.iter().filter_map(&figure)).collect();
    (!values.is_empty()).then(|| Percentiles::of(values))
}

fn stale_reads(collection: &Collection) -> Option<StaleReadSummary> {
    let mut summary = StaleReadSummary::default();
    let mut recorded = false;
    for run in &collection.cross {
        let mut run_saw = false;
        for stale in run.iterations.iter().filter_map(|i| i.stale_reads) {
            recorded = true;
            summary.total += u64::from(stale);
            if stale > 0 {
                summary.iterations += 1;
                run_saw = true;
            }
        }
        summary.runs += u64::from(run_saw);
    }
    recorded.then_some(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flakiness::aggregate;
    use crate::flakiness::collect::{list_dir, load};

    fn summary_of(runs: &[&str]) -> CrossSummary {
        let tmp = tempfile::tempdir().unwrap();
        for (n, text) in runs.iter().enumerate() {
            std::fs::write(tmp.path().join(format!("run_local_2024010{}T000000Z_cross.json", n + 1)), text)
                .unwrap();
        }
        let c = load(&list_dir(tmp.path()).unwrap(), None);
        summarize(&c, &aggregate::cross(&c))
    }

    const PASS: &str = r#"[{"success": true}]"#;
    const FAIL: &str = r#"[{"success": false}]"#;

    #[test]
    fn streak_counts_back_from_the_most_recent_run() {
        assert_eq!(summary_of(&[FAIL, PASS, FAIL, FAIL]).current_failing_streak, 2);
        let s = summary_of(&[FAIL, PASS, FAIL, FAIL]);
        assert_eq!(s.current_failing_streak_runs, ["2024-01-04 00:00:00", "2024-01-03 00:00:00"]);
        assert_eq!(summary_of(&[FAIL, FAIL, PASS]).current_failing_streak, 0);
        let all = summary_of(&[FAIL, FAIL, FAIL, FAIL]);
        assert_eq!(all.current_failing_streak, 4);
        assert!(all.major_alert, "more than 3 consecutive failures");
        assert!(!summary_of(&[FAIL, FAIL, FAIL]).major_alert);
    }

    #[test]
    fn rates_intervals_latency_and_stale_reads() {
        let s = summary_of(&[
            r#"[{"success": true, "latency_ms": 1.0, "stale_reads": 0},
                {"success": true, "latency_ms": 2.0, "stale_reads": 3}]"#,
            r#"[{"success": false, "latency_ms": 10.0, "stale_reads": 5},
                {"success": true, "latency_ms": 4.0}, {"success": true}]"#,
        ]);
        assert_eq!((s.run_total, s.run_failures, s.iter_total, s.iter_failures), (2, 1, 5, 1));
        assert_eq!((s.run_failure_rate, s.iter_failure_rate), (0.5, 0.2));
        let ci = s.iter_failure_rate_ci95.unwrap();
        assert!((ci.low - 0.036_224_1).abs() < 1e-6 && (ci.high - 0.624_465_4).abs() < 1e-6);
        // Sorted latencies 1, 2, 4, 10: nearest rank p50 = 2nd, p95 = 4th.
        assert_eq!(s.latency_ms, Some(LatencySummary { samples: 4, p50: 2.0, p95: 10.0, max: 10.0 }));
        assert_eq!(s.stale_reads, Some(StaleReadSummary { total: 8, iterations: 2, runs: 2 }));
        assert_eq!(s.first_run.as_deref(), Some("2024-01-01 00:00:00"));
    }

    #[test]
    fn staleness_over_every_run_and_the_newest_runs_matrix() {
        let s = summary_of(&[
            r#"[{"success": true, "stale_ms": 0, "visible_by_ms": 3.0, "revoker": "instance2", "observer": "instance1"}]"#,
            r#"[{"success": false, "stale_reads": 4, "stale_ms": 80.0, "visible_by_ms": 95.0,
                 "revoker": "instance2", "observer": "instance1"},
                {"success": true, "stale_ms": 0, "visible_by_ms": 1.0, "revoker": "instance1", "observer": "instance2"}]"#,
            r#"[{"success": true, "latency_ms": 2.0}]"#,
        ]);
        // Older files without the fields count for nothing; the others are pooled.
        assert_eq!(s.stale_ms.as_ref().and_then(|p| p.max), Some(80.0));
        assert_eq!(s.visible_by_ms.as_ref().and_then(|p| p.p50), Some(3.0));
        assert!(s.latest_matrix.is_empty(), "the newest run recorded no roles");
        let s = summary_of(&[
            r#"[{"success": true, "stale_ms": 0, "visible_by_ms": 3.0, "revoker": "instance2", "observer": "instance1"}]"#,
            r#"[{"success": false, "stale_reads": 4, "stale_ms": 80.0, "visible_by_ms": 95.0,
                 "revoker": "instance2", "observer": "instance1"},
                {"success": true, "stale_ms": 0, "visible_by_ms": 1.0, "revoker": "instance1", "observer": "instance2"}]"#,
        ]);
        let pairs: Vec<(&str, &str, u32, u32)> = s
            .latest_matrix
            .iter()
            .map(|p| (p.revoker.as_str(), p.observer.as_str(), p.iterations, p.stale_reads))
            .collect();
        assert_eq!(
            pairs,
            [("instance1", "instance2", 1, 0), ("instance2", "instance1", 1, 4)],
            "the newest run only"
        );
        assert_eq!(summary_of(&[]).stale_ms, None);
    }

    #[test]
    fn stale_reads_and_infrastructure_are_counted_apart_with_intervals() {
        let s = summary_of(&[
            r#"[{"success": false, "class": "stale-read"}, {"success": false, "class": "infrastructure"},
                {"success": false, "class": "infrastructure"}, {"success": true}]"#,
            r#"[{"success": false, "stale_reads": 2}, {"success": false}]"#,
        ]);
        let stale = s.stale_read.clone().unwrap();
        assert_eq!(
            (stale.iterations, stale.rate),
            (2, 2.0 / 6.0),
            "one classified, one inferred from stale_reads"
        );
        let infra = s.infrastructure.clone().unwrap();
        assert_eq!((infra.iterations, infra.rate), (2, 2.0 / 6.0));
        assert!(infra.rate_ci95.unwrap().low > 0.0);
        assert_eq!(s.failure_classes.get(FailureClass::Unknown), 1);
        assert_eq!(summary_of(&[]).stale_read, None, "no iterations, no rate");
    }

    #[test]
    fn old_format_has_no_latency_or_stale_reads_and_nothing_is_zero() {
        let s = summary_of(&[PASS]);
        assert_eq!((s.latency_ms, s.stale_reads), (None, None));
        let empty = summary_of(&[]);
        assert_eq!((empty.run_total, empty.iter_failure_rate, empty.run_failure_rate_ci95), (0, 0.0, None));
    }

    #[test]
    fn an_upstream_summary_reads_with_defaults() {
        let s: CrossSummary = serde_json::from_str(
            r#"{"run_total": 3, "run_failures": 1, "iter_total": 15, "iter_failures": 2,
                "run_failure_rate": 0.333, "iter_failure_rate": 0.133}"#,
        )
        .unwrap();
        assert_eq!((s.run_total, s.iter_failures, s.current_failing_streak), (3, 2, 0));
        assert!(s.skipped_files.is_empty());
    }
}
