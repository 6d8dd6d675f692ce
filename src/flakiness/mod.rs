//! The flakiness collector's data pipeline, from files on disk to a verdict:
//!
//! ```text
//! collect (list, copy, read) ─► parse (lenient, never panics)
//!        └─► aggregate (per run) ─► summary (rates, intervals, streak) ─► thresholds (verdict)
//! ```
//!
//! Everything here is pure data or reads files; rendering and writing the
//! artifacts is `report`'s job.

pub mod aggregate;
pub mod collect;
pub mod github;
pub mod parse;
pub mod signatures;
pub mod summary;
pub mod thresholds;

pub use aggregate::{CrossAggregate, RerunAggregate, RunRow};
pub use collect::{CollectError, Collection, CrossRun, RerunRun, SkippedFile};
pub use summary::CrossSummary;
pub use thresholds::{ThresholdVerdict, Thresholds};

/// Paths under `<out>/flakiness/`, as the runbook spells them.
pub mod names {
    pub const COLLECTED_DIR: &str = "collected";
    pub const RAW_DIR: &str = "raw";
    pub const AGGREGATE_JSON: &str = "aggregate.json";
    pub const REPORT_TXT: &str = "report.txt";
    pub const CROSS_DIR: &str = "cross";
    pub const AGGREGATE_CROSS_JSON: &str = "cross/aggregate_cross.json";
    pub const SUMMARY_JSON: &str = "cross/summary.json";
    pub const CROSS_REPORT_TXT: &str = "cross/report.txt";
    pub const TREND_JSON: &str = "cross/trend.json";
    pub const STATUS_JSON: &str = "cross/status.json";
    pub const STATUS_SVG: &str = "cross/status.svg";
    pub const DASHBOARD_HTML: &str = "cross/dashboard.html";
    /// Every failure signature across the collected runs (`parity signatures`).
    pub const SIGNATURES_JSON: &str = "cross/signatures.json";
    /// A collected run's `analysis.json`, under `raw/<id>/`.
    pub const RUN_ANALYSIS: &str = "analysis.json";
    /// What triggered a collected run (`schedule`, `push`, …), under `raw/<id>/`.
    pub const RUN_EVENT: &str = "event.txt";
    /// The name the current, not yet copied, cross results are aggregated under.
    pub const LATEST_CROSS: &str = "run_local_latest_cross.json";
}
