//! Per-run rows: `flakiness/aggregate.json` (rerun reports) and
//! `flakiness/cross/aggregate_cross.json` (cross-instance runs).
//!
//! Both are typed both ways (serialize and deserialize) so a later reader —
//! the dashboard — renders from the files, not from this process.

use super::collect::{Collection, SkippedFile};
use crate::stats::{percentile, rate};
use crate::verdict::{ClassCounts, FailureClass};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// `flakiness/aggregate.json`. `count, success, failure, flaky` are the upstream fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RerunAggregate {
    pub count: u64,
    pub success: u64,
    pub failure: u64,
    /// Passed after at least one failed attempt.
    pub flaky: u64,
    /// Failed attempts by class, over the reports that recorded one.
    #[serde(default)]
    pub failure_classes: ClassCounts,
    #[serde(default)]
    pub runs: Vec<RerunRow>,
    #[serde(default)]
    pub skipped_files: Vec<SkippedFile>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RerunRow {
    pub file: String,
    pub id: String,
    pub success: bool,
    pub flaky: bool,
    pub attempts: u32,
    pub subject: Option<String>,
}

/// `flakiness/cross/aggregate_cross.json`: one row per run, in time order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CrossAggregate {
    pub run_total: u64,
    pub run_failures: u64,
    pub iter_total: u64,
    pub iter_failures: u64,
    /// Failed iterations by class.
    #[serde(default)]
    pub failure_classes: ClassCounts,
    pub runs: Vec<RunRow>,
}

/// One cross-instance run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub file: String,
    pub id: String,
    /// Unique among the rows: the run's UTC time (`YYYY-mm-dd HH:MM:SS`), else its id.
    pub label: String,
    pub timestamp: Option<DateTime<Utc>>,
    pub iterations: u64,
    pub failures: u64,
    /// Passed iterations / iterations, in [0, 1].
    pub success_rate: f64,
    /// At least one iteration failed.
    pub failed: bool,
    /// Summed over the iterations that record it; absent when none does.
    pub stale_reads: Option<u64>,
    /// Failed iterations by class.
    #[serde(default)]
    pub failure_classes: ClassCounts,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_max: Option<f64>,
    /// p99 of the staleness proven (`stale_ms`), where the run recorded it.
    #[serde(default)]
    pub stale_ms_p99: Option<f64>,
    /// p99 of when the revoke was visible by (`visible_by_ms`).
    #[serde(default)]
    pub visible_by_ms_p99: Option<f64>,
    pub failed_iterations: Vec<FailedIteration>,
    /// The run's raw outputs, relative to the collected directory.
    pub raw: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailedIteration {
    pub iteration: u32,
    pub reason: Option<String>,
    #[serde(default)]
    pub class: Option<FailureClass>,
}

pub fn reruns(collection: &Collection) -> RerunAggregate {
    let runs: Vec<RerunRow> = collection
        .reruns
        .iter()
        .map(|run| RerunRow {
            file: run.file.clone(),
            id: run.id.clone(),
            success: run.record.success,
            flaky: run.record.flaky,
            attempts: run.record.attempts.len() as u32,
            subject: Some(run.record.subject.clone()).filter(|s| !s.is_empty()),
        })
        .collect();
    let count = |pred: fn(&RerunRow) -> bool| runs.iter().filter(|r| pred(r)).count() as u64;
    RerunAggregate {
        count: runs.len() as u64,
        success: count(|r| r.success),
        failure: count(|r| !r.success),
        flaky: count(|r| r.flaky),
        failure_classes: collection.reruns.iter().flat_map(|r| r.record.failure_classes()).collect(),
        skipped_files: collection
            .skipped
            .iter()
            .filter(|s| s.kind == super::collect::FileKind::Rerun)
            .cloned()
            .collect(),
        runs,
    }
}

fn p99(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    percentile(&values, 0.99)
}

pub fn cross(collection: &Collection) -> CrossAggregate {
    let mut seen = HashSet::with_capacity(collection.cross.len());
    let runs: Vec<RunRow> = collection
        .cross
        .iter()
        .map(|run| {
            let iterations = run.iterations.len() as u64;
            let failed_iterations: Vec<FailedIteration> = run
                .iterations
                .iter()
                .filter(|i| !i.success)
                .map(|i| FailedIteration {
                    iteration: i.iteration,
                    reason: i.reason.clone(),
                    class: i.failure_class(),
                })
                .collect();
            let failures = failed_iterations.len() as u64;
            let mut latencies: Vec<f64> = run.iterations.iter().filter_map(|i| i.latency_ms).collect();
            latencies.sort_by(f64::total_cmp);
            let stale: Vec<u64> =
                run.iterations.iter().filter_map(|i| i.stale_reads.map(u64::from)).collect();
            let base =
                run.timestamp.map_or_else(|| run.id.clone(), |t| t.format(crate::clock::LABEL).to_string());
            RunRow {
                file: run.file.clone(),
                id: run.id.clone(),
                label: unique_label(&mut seen, base),
                timestamp: run.timestamp,
                iterations,
                failures,
                success_rate: 1.0 - rate(failures, iterations),
                failed: failures > 0,
                stale_reads: (!stale.is_empty()).then(|| stale.iter().sum()),
                failure_classes: run.iterations.iter().filter_map(|i| i.failure_class()).collect(),
                latency_ms_p50: percentile(&latencies, 0.5),
                latency_ms_max: latencies.last().copied(),
                stale_ms_p99: p99(run.iterations.iter().filter_map(|i| i.stale_ms)),
                visible_by_ms_p99: p99(run.iterations.iter().filter_map(|i| i.visible_by_ms)),
                failed_iterations,
                raw: run.raw.clone(),
            }
        })
        .collect();
    CrossAggregate {
        run_total: runs.len() as u64,
        run_failures: runs.iter().filter(|r| r.failed).count() as u64,
        iter_total: runs.iter().map(|r| r.iterations).sum(),
        iter_failures: runs.iter().map(|r| r.failures).sum(),
        failure_classes: runs.iter().fold(ClassCounts::default(), |mut all, r| {
            all.merge(&r.failure_classes);
            all
        }),
        runs,
    }
}

/// `base`, or `base #2`, `base #3`, … when an earlier row took it.
fn unique_label(seen: &mut HashSet<String>, base: String) -> String {
    if seen.insert(base.clone()) {
        return base;
    }
    let label = (2..).map(|n| format!("{base} #{n}")).find(|l| !seen.contains(l)).unwrap_or(base);
    seen.insert(label.clone());
    label
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flakiness::collect::{list_dir, load};

    fn collection(files: &[(&str, &str)]) -> Collection {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(tmp.path().join(name), text).unwrap();
        }
        load(&list_dir(tmp.path()).unwrap(), Some(tmp.path()))
    }

    #[test]
    fn cross_rows_count_and_labels_are_unique() {
        let c = collection(&[
            (
                "run_a_cross.json",
                r#"[{"success": true, "started_at": "2024-01-01T00:00:00Z", "latency_ms": 3.0},
                                    {"success": false, "reason": "stale", "stale_reads": 2, "latency_ms": 900.0}]"#,
            ),
            ("run_b_cross.json", r#"[{"success": true, "started_at": "2024-01-01T00:00:00Z"}]"#),
            ("run_c_cross.json", r#"[{"success": true, "started_at": "2024-01-02T00:00:00Z"}]"#),
        ]);
        let agg = cross(&c);
        assert_eq!((agg.run_total, agg.run_failures, agg.iter_total, agg.iter_failures), (3, 1, 4, 1));
        let labels: Vec<&str> = agg.runs.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["2024-01-01 00:00:00", "2024-01-01 00:00:00 #2", "2024-01-02 00:00:00"]);
        let a = &agg.runs[0];
        assert_eq!((a.success_rate, a.stale_reads, a.latency_ms_max), (0.5, Some(2), Some(900.0)));
        assert_eq!(
            a.failed_iterations,
            vec![FailedIteration {
                iteration: 2,
                reason: Some("stale".into()),
                class: Some(FailureClass::StaleRead)
            }]
        );
        assert_eq!(agg.failure_classes.get(FailureClass::StaleRead), 1);
        assert_eq!(agg.runs[1].stale_reads, None, "no iteration carried stale_reads");
    }

    #[test]
    fn unique_label_skips_taken_suffixes() {
        let mut seen = HashSet::new();
        let labels: Vec<String> =
            ["x", "x #2", "x", "x"].iter().map(|b| unique_label(&mut seen, b.to_string())).collect();
        assert_eq!(labels, ["x", "x #2", "x #3", "x #4"]);
    }

    #[test]
    fn rerun_counts() {
        let c = collection(&[
            ("run_1.json", r#"{"success": true, "attempts": [{"rc": 0}]}"#),
            ("run_2.json", r#"{"success": true, "attempts": [{"rc": 1}, {"rc": 0}]}"#),
            ("run_3.json", r#"{"success": false, "attempts": [{"rc": 1}, {"rc": 1}]}"#),
            ("run_4.json", "{"),
        ]);
        let agg = reruns(&c);
        assert_eq!((agg.count, agg.success, agg.failure, agg.flaky), (3, 2, 1, 1));
        assert_eq!(agg.skipped_files.len(), 1);
    }
}
