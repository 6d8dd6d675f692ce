//! `flakiness/cross/status.json`: the small file the daily job uploads for
//! automation and dashboards to poll.

use crate::clock::rfc3339;
use crate::flakiness::thresholds::{Assessment, ThresholdVerdict, Thresholds};
use crate::flakiness::CrossSummary;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `timestamp, summary, iter_rate, threshold_exceeded, dashboard_url` are the upstream fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// RFC 3339, UTC.
    pub timestamp: String,
    pub summary: CrossSummary,
    /// iter_failures / iter_total.
    pub iter_rate: f64,
    /// The headline: iterations failed by a stale read / iterations (0 with none).
    #[serde(default)]
    pub stale_read_rate: f64,
    /// Iterations failed by the infrastructure / iterations.
    #[serde(default)]
    pub infrastructure_rate: f64,
    /// p99 of the staleness proven (`stale_ms`) over the collected iterations.
    #[serde(default)]
    pub stale_ms_p99: Option<f64>,
    /// p99 of when the revoke was visible by (`visible_by_ms`).
    #[serde(default)]
    pub visible_by_ms_p99: Option<f64>,
    /// The latency SLO and whether the collected iterations meet it.
    #[serde(default)]
    pub latency_slo: LatencySlo,
    /// False when there is nothing to judge; see `verdict`.
    pub threshold_exceeded: bool,
    pub verdict: ThresholdVerdict,
    pub thresholds: Thresholds,
    /// From DASH_URL.
    pub dashboard_url: Option<String>,
}

/// `--latency-slo D`: p99 staleness proven at most D ms; without it the
/// strict contract's SLO, no stale read at all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencySlo {
    /// "no stale read", or "p99 stale_ms <= D ms".
    pub slo: String,
    pub slo_ms: Option<f64>,
    /// Null when there is nothing to judge (no runs, or none records `stale_ms`).
    pub met: Option<bool>,
}

impl LatencySlo {
    pub fn of(summary: &CrossSummary, judgement: &Assessment) -> LatencySlo {
        let has_data = summary.iter_total > 0;
        match judgement.thresholds.latency_slo_ms {
            Some(ms) => LatencySlo {
                slo: format!("p99 stale_ms <= {ms} ms"),
                slo_ms: Some(ms),
                met: (has_data && judgement.stale_ms_p99.is_some()).then_some(!judgement.slo_exceeded),
            },
            None => LatencySlo {
                slo: "no stale read".into(),
                slo_ms: None,
                met: has_data.then(|| {
                    summary.stale_ms.as_ref().and_then(|p| p.max).unwrap_or(0.0) == 0.0
                        && summary.stale_read.as_ref().is_none_or(|c| c.rate == 0.0)
                }),
            },
        }
    }
}

pub fn status(
    summary: &CrossSummary,
    judgement: &Assessment,
    now: DateTime<Utc>,
    dashboard_url: Option<String>,
) -> Status {
    Status {
        timestamp: rfc3339(&now),
        summary: summary.clone(),
        iter_rate: judgement.iter_rate,
        stale_read_rate: summary.stale_read.as_ref().map_or(0.0, |c| c.rate),
        infrastructure_rate: summary.infrastructure.as_ref().map_or(0.0, |c| c.rate),
        stale_ms_p99: summary.stale_ms.as_ref().and_then(|p| p.p99),
        visible_by_ms_p99: summary.visible_by_ms.as_ref().and_then(|p| p.p99),
        latency_slo: LatencySlo::of(summary, judgement),
        threshold_exceeded: judgement.verdict == ThresholdVerdict::Exceeded,
        verdict: judgement.verdict,
        thresholds: judgement.thresholds,
        dashboard_url,
    }
}

/// The parts of a `status.json` — ours or an older producer's — the badge uses.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct StatusInput {
    pub threshold_exceeded: Option<bool>,
    pub summary: Option<CrossSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn status_carries_the_verdict_and_an_rfc3339_timestamp() {
        let summary = CrossSummary {
            run_total: 2,
            run_failures: 1,
            iter_total: 10,
            iter_failures: 1,
            ..Default::default()
        };
        let judgement = Thresholds::default().judge(&summary);
        let now = Utc.with_ymd_and_hms(2024, 2, 3, 4, 5, 6).unwrap();
        let s = status(&summary, &judgement, now, Some("https://example.test/d.html".into()));
        assert_eq!(s.timestamp, "2024-02-03T04:05:06.000Z");
        assert!(DateTime::parse_from_rfc3339(&s.timestamp).is_ok());
        assert!(s.threshold_exceeded);
        assert_eq!(s.iter_rate, 0.1);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["verdict"], "exceeded");
        assert_eq!(json["summary"]["run_failures"], 1);
    }

    #[test]
    fn foreign_status_files_read_leniently() {
        let s: StatusInput = serde_json::from_str(r#"{"threshold_exceeded": true, "extra": 1}"#).unwrap();
        assert_eq!((s.threshold_exceeded, s.summary), (Some(true), None));
    }
}
