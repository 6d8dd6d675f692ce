//! The run's outcome in a few words, said once for every place that heads a
//! report with it: the step summary, the PR comment and issue, the check
//! run's title and Slack. The whole sentence (what was tested, what was not,
//! the exit code) is `verdict::sentence`, in `analysis.json`'s `verdict`.

use crate::analysis::{Analysis, RunStatus};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headline {
    pub icon: &'static str,
    pub text: &'static str,
}

pub fn headline(analysis: &Analysis) -> Headline {
    let (icon, text) = match analysis.status {
        RunStatus::Pass => ("✅", "parity holds"),
        RunStatus::Incomplete => ("⚠️", "no failure, but parity is NOT proven"),
        RunStatus::Fail if !analysis.strict => ("⚠️", "parity FAILED (informational, not strict)"),
        RunStatus::Fail => ("❌", "parity FAILED"),
        RunStatus::Error if analysis.interrupted_in.is_some() && !analysis.failure_classes.is_empty() => {
            ("❌", "interrupted after finding failures — parity does NOT hold")
        }
        RunStatus::Error => ("❗", "the run could not be carried out"),
    };
    Headline { icon, text }
}
