//! `analysis.json`: the run's verdict and everything needed to read it.

use crate::scenario::cross::CrossTotals;
use crate::scenario::suite::CheckRecord;
use crate::stack::docker::{ChaosEvent, ContainerReport};
use serde::Serialize;

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every check held.
    Pass,
    /// A parity or contract failure was found.
    Fail,
    /// The run could not be carried out (stack never ready, store unreachable).
    Error,
}

#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    pub name: String,
    pub duration_ms: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SmokeSummary {
    pub success: bool,
    pub attempts: u32,
    pub flaky: bool,
    pub reason: Option<String>,
    pub latency_ms: Option<f64>,
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
