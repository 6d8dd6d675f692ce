//! The run's verdict: one pure function from what the run found and what it
//! covered to (status, exit code), and the one sentence that says it.

mod class;
mod signature;

pub use class::{ClassCounts, FailureClass, RetryOn};
pub use signature::{CrossKind, Signature, SignatureCount, SignatureTally};

use crate::exit::Exit;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every phase ran and every check held.
    Pass,
    /// Nothing failed, but a phase did not run (e.g. `--iterations 0`, or the
    /// service's rate limit outlasted the budget): not "parity holds".
    Incomplete,
    /// A parity or contract failure was found.
    Fail,
    /// The run could not be carried out (stack never ready, interrupted, nothing tested).
    Error,
}

/// What a run tested and what it did not, for the verdict line, `analysis.json`,
/// JUnit and the step summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Coverage {
    /// `docker`, `local` or `external`.
    pub backend: String,
    /// The instance URLs tested.
    pub targets: Vec<String>,
    /// The webprofile image ids tested (Docker).
    pub images: Vec<String>,
    pub smoke_attempts: u32,
    /// Contract checks that ran (passed or failed).
    pub checks: u32,
    pub checks_skipped: u32,
    pub iterations: u32,
    /// Requests sent to the service, every one traced.
    pub exchanges: u64,
    /// Exchange pairs compared with the reference (`--reference`).
    pub diff_pairs: u32,
    /// Phases that did not run, each with why ("cross-instance: --iterations 0").
    pub not_run: Vec<String>,
    /// Every way the run was judged more leniently than the contract, with
    /// where it came from ("--allow-stale: …", "PARITY_STRICT=false: …").
    pub relaxations: Vec<String>,
}

impl Coverage {
    fn tested_anything(&self) -> bool {
        self.smoke_attempts > 0 || self.checks > 0 || self.iterations > 0 || self.diff_pairs > 0
    }

    /// "local (http://127.0.0.1:1, http://127.0.0.1:2): smoke 1 attempt, 15 checks
    /// (3 skipped), 5 iterations, 212 exchanges".
    pub fn describe(&self) -> String {
        let mut targets: Vec<&str> = Vec::new();
        for target in &self.targets {
            if !targets.contains(&target.as_str()) {
                targets.push(target);
            }
        }
        let targets = if self.images.is_empty() {
            targets.join(", ")
        } else {
            format!("{}; images {}", targets.join(", "), self.images.join(", "))
        };
        let backend = if self.backend.is_empty() { "no stack" } else { &self.backend };
        let targets = if targets.is_empty() { String::new() } else { format!(" ({targets})") };
        if !self.tested_anything() {
            return format!("{backend}{targets}: nothing");
        }
        let mut what = Vec::new();
        if self.smoke_attempts > 0 {
            what.push(format!("smoke {} attempt(s)", self.smoke_attempts));
        }
        if self.checks > 0 || self.checks_skipped > 0 {
            let skipped = if self.checks_skipped > 0 {
                format!(" ({} skipped)", self.checks_skipped)
            } else {
                String::new()
            };
            what.push(format!("{} checks{skipped}", self.checks));
        }
        if self.iterations > 0 {
            what.push(format!("{} cross-instance iterations", self.iterations));
        }
        if self.diff_pairs > 0 {
            what.push(format!("{} exchange pairs diffed against the reference", self.diff_pairs));
        }
        what.push(format!("{} exchanges", self.exchanges));
        format!("{backend}{targets}: {}", what.join(", "))
    }
}

/// Everything the verdict depends on.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    pub strict: bool,
    pub interrupted: bool,
    /// The stack never came up or never got ready.
    pub stack_failed: bool,
    /// Failures that stand: a failed smoke (once, by its deciding class), failed checks, failed iterations.
    pub failures: ClassCounts,
    pub coverage: Coverage,
}

impl Findings {
    /// Failures that say something about the service: a door open, a stale
    /// read, a broken contract — not a call that could not be carried out.
    fn findings(&self) -> u64 {
        FailureClass::ALL.into_iter().filter(|c| c.is_finding()).map(|c| self.failures.get(c)).sum()
    }

    /// Every failure is the service or the network failing (no answer, 5xx):
    /// nothing was learnt about parity, so the run could not be carried out
    /// — never "parity FAILED".
    fn only_infrastructure_failed(&self) -> bool {
        self.findings() == 0 && self.failures.get(FailureClass::Infrastructure) > 0
    }

    /// Calls the service's rate limit kept from being carried out.
    fn rate_limited(&self) -> u64 {
        self.failures.get(FailureClass::RateLimited)
    }
}

/// The status and exit code of a run.
pub fn decide(f: &Findings) -> (RunStatus, Exit) {
    if f.interrupted {
        return (RunStatus::Error, Exit::Interrupted);
    }
    if f.stack_failed {
        return (RunStatus::Error, Exit::Infrastructure);
    }
    if f.findings() > 0 {
        return (RunStatus::Fail, if f.strict { Exit::ParityFailure } else { Exit::Ok });
    }
    if f.only_infrastructure_failed() {
        return (RunStatus::Error, Exit::Infrastructure);
    }
    if f.rate_limited() > 0 {
        return (RunStatus::Incomplete, Exit::Infrastructure);
    }
    if !f.coverage.tested_anything() {
        return (RunStatus::Error, Exit::Infrastructure);
    }
    if !f.coverage.not_run.is_empty() {
        return (RunStatus::Incomplete, Exit::Ok);
    }
    (RunStatus::Pass, Exit::Ok)
}

/// The last line of a run: the verdict, what was tested, what was not, the exit code.
pub fn sentence(f: &Findings, status: RunStatus, exit: Exit) -> String {
    let verdict = match status {
        RunStatus::Pass => "parity holds".to_string(),
        RunStatus::Incomplete if f.rate_limited() > 0 => format!(
            "incomplete: the service's rate limit outlasted the budget — {} check(s) or iteration(s) \
             not carried out (not a parity finding); parity is NOT proven",
            f.rate_limited()
        ),
        RunStatus::Incomplete => "no failure, but parity is NOT proven".to_string(),
        RunStatus::Fail if !f.strict => {
            format!("parity FAILED ({}; informational, not strict)", f.failures.describe())
        }
        RunStatus::Fail => format!("parity FAILED ({})", f.failures.describe()),
        RunStatus::Error if f.interrupted && !f.failures.is_empty() => format!(
            "the run was interrupted — after it had already found failures ({}): parity does NOT hold",
            f.failures.describe()
        ),
        RunStatus::Error if f.interrupted => "the run was interrupted".to_string(),
        RunStatus::Error if !f.stack_failed && !f.coverage.tested_anything() => {
            "nothing was tested: no check ran".to_string()
        }
        RunStatus::Error if f.only_infrastructure_failed() => format!(
            "the run could not be carried out: every failure was the service or the network failing \
             (no answer or 5xx: {})",
            f.failures.describe()
        ),
        RunStatus::Error => "the run could not be carried out".to_string(),
    };
    let not_run = if f.coverage.not_run.is_empty() {
        String::new()
    } else {
        format!("; not run: {}", f.coverage.not_run.join("; "))
    };
    let relaxed = if f.coverage.relaxations.is_empty() {
        String::new()
    } else {
        format!(" — relaxed: {}", f.coverage.relaxations.join("; "))
    };
    format!("{verdict} — tested {}{not_run}{relaxed} — exit {exit}", f.coverage.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered() -> Coverage {
        Coverage {
            backend: "local".into(),
            targets: vec!["http://a".into(), "http://b".into()],
            smoke_attempts: 1,
            checks: 15,
            checks_skipped: 0,
            iterations: 5,
            exchanges: 120,
            ..Coverage::default()
        }
    }

    fn findings() -> Findings {
        Findings { strict: true, coverage: covered(), ..Findings::default() }
    }

    #[test]
    fn a_complete_clean_run_holds() {
        let f = findings();
        assert_eq!(decide(&f), (RunStatus::Pass, Exit::Ok));
        let line = sentence(&f, RunStatus::Pass, Exit::Ok);
        assert_eq!(
            line,
            "parity holds — tested local (http://a, http://b): smoke 1 attempt(s), 15 checks, \
             5 cross-instance iterations, 120 exchanges — exit 0"
        );
    }

    #[test]
    fn any_standing_failure_fails_and_strictness_decides_the_exit() {
        let mut f = findings();
        f.failures.add(FailureClass::StaleRead);
        assert_eq!(decide(&f), (RunStatus::Fail, Exit::ParityFailure));
        f.strict = false;
        assert_eq!(decide(&f), (RunStatus::Fail, Exit::Ok));
        assert!(
            sentence(&f, RunStatus::Fail, Exit::Ok).starts_with("parity FAILED (1 stale-read; informational")
        );
    }

    #[test]
    fn a_service_that_only_failed_is_an_infrastructure_error_not_a_parity_failure() {
        let mut f = findings();
        f.failures.add(FailureClass::Infrastructure);
        f.failures.add(FailureClass::Infrastructure);
        assert_eq!(decide(&f), (RunStatus::Error, Exit::Infrastructure));
        f.strict = false;
        assert_eq!(
            decide(&f),
            (RunStatus::Error, Exit::Infrastructure),
            "not a finding to be informational about"
        );
        let line = sentence(&f, RunStatus::Error, Exit::Infrastructure);
        assert!(line.contains("every failure was the service or the network failing"), "{line}");
        f.failures.add(FailureClass::Contract);
        f.strict = true;
        assert_eq!(decide(&f), (RunStatus::Fail, Exit::ParityFailure), "one real finding is a failure");
    }

    #[test]
    fn a_rate_limit_that_outlasted_the_budget_is_incomplete_never_a_failure() {
        let mut f = findings();
        f.failures.add(FailureClass::RateLimited);
        f.failures.add(FailureClass::RateLimited);
        assert_eq!(decide(&f), (RunStatus::Incomplete, Exit::Infrastructure));
        let line = sentence(&f, RunStatus::Incomplete, Exit::Infrastructure);
        assert!(
            line.starts_with("incomplete: the service's rate limit outlasted the budget — 2 check(s)"),
            "{line}"
        );
        assert!(!line.contains("FAILED"), "{line}");
        f.failures.add(FailureClass::StaleRead);
        assert_eq!(decide(&f), (RunStatus::Fail, Exit::ParityFailure), "a stale read found before stands");
    }

    #[test]
    fn an_interrupted_run_names_what_it_had_already_proven() {
        let mut f = findings();
        f.interrupted = true;
        f.failures.add(FailureClass::StaleRead);
        assert_eq!(decide(&f), (RunStatus::Error, Exit::Interrupted));
        let line = sentence(&f, RunStatus::Error, Exit::Interrupted);
        assert!(
            line.starts_with("the run was interrupted — after it had already found failures (1 stale-read)"),
            "{line}"
        );
    }

    #[test]
    fn a_phase_not_run_is_never_parity_holds() {
        let mut f = findings();
        f.coverage.iterations = 0;
        f.coverage.not_run = vec!["cross-instance: --iterations 0".into()];
        let (status, exit) = decide(&f);
        assert_eq!((status, exit), (RunStatus::Incomplete, Exit::Ok));
        let line = sentence(&f, status, exit);
        assert!(!line.contains("parity holds"), "{line}");
        assert!(line.contains("not run: cross-instance: --iterations 0"), "{line}");
    }

    #[test]
    fn nothing_tested_is_an_error_not_a_pass() {
        let f = Findings { strict: true, ..Findings::default() };
        assert_eq!(decide(&f), (RunStatus::Error, Exit::Infrastructure));
        assert!(sentence(&f, RunStatus::Error, Exit::Infrastructure).starts_with("nothing was tested"));
    }

    #[test]
    fn interruption_and_a_dead_stack_outrank_failures() {
        let mut f = findings();
        f.failures.add(FailureClass::Contract);
        f.stack_failed = true;
        assert_eq!(decide(&f), (RunStatus::Error, Exit::Infrastructure));
        f.interrupted = true;
        assert_eq!(decide(&f), (RunStatus::Error, Exit::Interrupted));
    }
}
