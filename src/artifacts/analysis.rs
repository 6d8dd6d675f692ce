//! `analysis.json`: the run's verdict and everything needed to read it.

use crate::clock::Phase;
use crate::rerun::FlakinessReport;
use crate::scenario::cross::CrossTotals;
use crate::scenario::immediacy::{self, Smoke};
use crate::scenario::suite::CheckRecord;
use crate::stack::docker::{ChaosEvent, ContainerReport};
use crate::verdict::{ClassCounts, Coverage, FailureClass, RunStatus};
use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct SmokeSummary {
    pub success: bool,
    pub attempts: u32,
    pub flaky: bool,
    /// The deciding attempt's reason (the first stale read or contract failure, else the last attempt's).
    pub reason: Option<String>,
    /// The class that failed the smoke, when it failed.
    pub class: Option<FailureClass>,
    pub latency_ms: Option<f64>,
}

impl SmokeSummary {
    pub fn of(report: &FlakinessReport, smokes: &[Smoke]) -> SmokeSummary {
        let deciding = immediacy::deciding(report, smokes).map(|s| &s.report);
        SmokeSummary {
            success: report.success,
            attempts: report.attempts.len() as u32,
            flaky: report.flaky,
            reason: deciding.and_then(|r| r.reason.clone()),
            class: report.class,
            latency_ms: deciding.and_then(|r| r.latency_ms),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SuiteCounts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub status: RunStatus,
    pub exit_code: i32,
    /// The verdict in one sentence, as the console printed it.
    pub verdict: String,
    /// What was tested and what was not.
    pub coverage: Coverage,
    /// Standing failures per class: a failed smoke (once), failed checks, failed iterations.
    pub failure_classes: ClassCounts,
    /// When false, failures were reported but the exit code stayed 0.
    pub strict: bool,
    pub run_id: String,
    pub backend: String,
    pub instances: Vec<String>,
    pub store: Option<String>,
    pub faults: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: f64,
    pub smoke: Option<SmokeSummary>,
    pub suite: Option<SuiteCounts>,
    pub checks: Vec<CheckRecord>,
    pub cross: Option<CrossTotals>,
    pub flaky: bool,
    pub phases: Vec<Phase>,
    /// The Docker stack's containers as they were at the end (empty for other backends).
    pub containers: Vec<ContainerReport>,
    /// What `--chaos` did to the Docker stack.
    pub chaos: Vec<ChaosEvent>,
    /// Infrastructure or artifact errors, each one sentence.
    pub errors: Vec<String>,
    pub tarball: Option<String>,
}

impl SuiteCounts {
    pub fn of(report: &crate::scenario::suite::SuiteReport) -> Self {
        use crate::scenario::suite::CheckStatus;
        SuiteCounts {
            passed: report.count(CheckStatus::Pass),
            failed: report.count(CheckStatus::Fail),
            skipped: report.count(CheckStatus::Skip),
        }
    }
}
