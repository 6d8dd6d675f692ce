//! `flakiness/cross/trend.json`: the time series behind the dashboard's
//! trend chart, one point per run in time order.

use crate::flakiness::CrossAggregate;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Parallel arrays, one entry per run. `labels, success_rates, failures`
/// are the upstream fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Unique: the run's UTC time, else its id.
    pub labels: Vec<String>,
    /// Passed iterations / iterations, in [0, 1].
    pub success_rates: Vec<f64>,
    /// Failed iterations.
    pub failures: Vec<u64>,
    #[serde(default)]
    pub iterations: Vec<u64>,
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub timestamps: Vec<Option<DateTime<Utc>>>,
    /// Stale reads per run, where the run recorded them.
    #[serde(default)]
    pub stale_reads: Vec<Option<u64>>,
    /// p99 staleness proven (`stale_ms`) per run, where the run recorded it.
    #[serde(default)]
    pub stale_ms_p99: Vec<Option<f64>>,
    /// p99 visibility bound (`visible_by_ms`) per run.
    #[serde(default)]
    pub visible_by_ms_p99: Vec<Option<f64>>,
}

pub fn trend(aggregate: &CrossAggregate) -> Trend {
    let runs = &aggregate.runs;
    Trend {
        labels: runs.iter().map(|r| r.label.clone()).collect(),
        success_rates: runs.iter().map(|r| r.success_rate).collect(),
        failures: runs.iter().map(|r| r.failures).collect(),
        iterations: runs.iter().map(|r| r.iterations).collect(),
        ids: runs.iter().map(|r| r.id.clone()).collect(),
        files: runs.iter().map(|r| r.file.clone()).collect(),
        timestamps: runs.iter().map(|r| r.timestamp).collect(),
        stale_reads: runs.iter().map(|r| r.stale_reads).collect(),
        stale_ms_p99: runs.iter().map(|r| r.stale_ms_p99).collect(),
        visible_by_ms_p99: runs.iter().map(|r| r.visible_by_ms_p99).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flakiness::aggregate::RunRow;

    fn row(label: &str, iterations: u64, failures: u64) -> RunRow {
        RunRow {
            file: format!("run_{label}_cross.json"),
            id: label.into(),
            label: label.into(),
            timestamp: None,
            iterations,
            failures,
            success_rate: 1.0 - failures as f64 / iterations as f64,
            failed: failures > 0,
            failure_classes: Default::default(),
            stale_reads: None,
            latency_ms_p50: None,
            latency_ms_max: None,
            stale_ms_p99: None,
            visible_by_ms_p99: None,
            failed_iterations: vec![],
            raw: None,
        }
    }

    #[test]
    fn one_point_per_run_in_order() {
        let agg = CrossAggregate { runs: vec![row("a", 5, 0), row("b", 4, 1)], ..CrossAggregate::default() };
        let t = trend(&agg);
        assert_eq!(t.labels, ["a", "b"]);
        assert_eq!(t.success_rates, [1.0, 0.75]);
        assert_eq!(t.failures, [0, 1]);
        assert_eq!(t.iterations, [5, 4]);
        let json = serde_json::to_value(&t).unwrap();
        for key in ["labels", "success_rates", "failures"] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }
}
