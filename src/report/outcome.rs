//! The run's outcome in a few words, said once for every place that heads a
//! report with it: the step summary, the PR comment and issue, the check
//! run's title and Slack. The whole sentence (what was tested, what was not,
//! the exit code) is `verdict::sentence`, in `analysis.json`'s `verdict`.

use crate::artifacts::{Analysis, RunStatus};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headline {
    pub icon: &'static str,
    pub text: &'static str,
    /// Whether it is a failure to act on (a finding, or findings before an interruption).
    pub failed: bool,
}

pub fn headline(analysis: &Analysis) -> Headline {
    let (icon, text, failed) = match analysis.status {
        RunStatus::Pass => ("✅", "parity holds", false),
        RunStatus::Incomplete => ("⚠️", "no failure, but parity is NOT proven", false),
        RunStatus::Fail if !analysis.strict => ("⚠️", "parity FAILED (informational, not strict)", true),
        RunStatus::Fail => ("❌", "parity FAILED", true),
        RunStatus::Error if analysis.interrupted_in.is_some() && !analysis.failure_classes.is_empty() => {
            ("❌", "interrupted after finding failures — parity does NOT hold", true)
        }
        RunStatus::Error => ("❗", "the run could not be carried out", false),
    };
    Headline { icon, text, failed }
}
