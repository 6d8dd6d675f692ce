//! The run's outcome in words, said once for every report of it — the
//! console, the step summary, the PR comment and issue, the check run and
//! Slack each only lay these phrases out. The whole sentence (what was
//! tested, what was not, the exit code) is `verdict::sentence`, in
//! `analysis.json`'s `verdict`.

use crate::analysis::{Analysis, RunStatus, SmokeSummary, SuiteCounts};
use crate::escape::excerpt;
use crate::scenario::cross::CrossTotals;
use crate::scenario::suite::CheckStatus;

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

/// The smoke: "PASS after 1 attempt(s)", "FAIL [stale-read] after 3 attempt(s)".
pub fn smoke(s: &SmokeSummary) -> String {
    format!(
        "{}{} after {} attempt(s){}",
        if s.success { "PASS" } else { "FAIL" },
        s.class.map(|c| format!(" [{c}]")).unwrap_or_default(),
        s.attempts,
        if s.flaky { " (flaky: passed after infrastructure failures)" } else { "" }
    )
}

/// The suite: "22 passed, 1 failed, 0 skipped".
pub fn suite(s: &SuiteCounts) -> String {
    format!("{} passed, {} failed, {} skipped", s.passed, s.failed, s.skipped)
}

/// The iterations: "2/10 iterations failed (2 stale-read), 2 stale read(s), revoke → inactive p95 3.1 ms".
pub fn cross(c: &CrossTotals) -> String {
    let classes = if c.classes.is_empty() { String::new() } else { format!(" ({})", c.classes.describe()) };
    format!(
        "{}/{} iterations failed{classes}, {} stale read(s){}",
        c.failures,
        c.iterations,
        c.stale_reads,
        c.latency_ms_p95.map(|p| format!(", revoke → inactive p95 {p:.1} ms")).unwrap_or_default()
    )
}

/// Each phase of the run, named, with what it found or why it did not run.
pub fn phases(analysis: &Analysis) -> [(&'static str, String); 3] {
    let not_run = |phase: &str| {
        analysis
            .coverage
            .not_run
            .iter()
            .find(|n| n.starts_with(phase))
            .map_or_else(|| "not run".to_string(), |n| format!("not run ({n})"))
    };
    const SMOKE: &str = "revocation immediacy";
    const SUITE: &str = "contract suite";
    const CROSS: &str = "cross-instance";
    [
        (SMOKE, analysis.smoke.as_ref().map_or_else(|| not_run(SMOKE), smoke)),
        (SUITE, analysis.suite.as_ref().map_or_else(|| not_run(SUITE), suite)),
        (CROSS, analysis.cross.as_ref().filter(|c| c.iterations > 0).map_or_else(|| not_run(CROSS), cross)),
    ]
}

/// What went wrong, one line each, most important first: security findings,
/// the failures by class, errors, a failed smoke with its reason, the failed
/// checks (the first `shown`, with their details).
pub fn what_failed(analysis: &Analysis, shown: usize) -> Vec<String> {
    let mut lines: Vec<String> = analysis
        .security_findings()
        .iter()
        .map(|finding| format!("SECURITY: {}", excerpt(finding, 300)))
        .collect();
    if !analysis.failure_classes.is_empty() {
        lines.push(format!("Failures by class: {}", analysis.failure_classes.describe()));
    }
    lines.extend(analysis.errors.iter().map(|error| format!("Error: {}", excerpt(error, 300))));
    if let Some(failed) = analysis.smoke.as_ref().filter(|s| !s.success) {
        let reason = failed.reason.as_deref().unwrap_or("no reason recorded");
        lines.push(format!("Revocation immediacy: {} — {}", smoke(failed), excerpt(reason, 300)));
    }
    let failed: Vec<_> = analysis.checks.iter().filter(|c| c.status == CheckStatus::Fail).collect();
    if !failed.is_empty() {
        let names: Vec<String> = failed
            .iter()
            .take(shown)
            .map(|c| {
                let class = c.class.map(|c| format!(" [{c}]")).unwrap_or_default();
                match &c.detail {
                    Some(d) => format!("{}{class} ({})", c.name, excerpt(d, 120)),
                    None => format!("{}{class}", c.name),
                }
            })
            .collect();
        let more = failed.len().saturating_sub(shown);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        lines.push(format!("Contract suite: {} check(s) failed: {}{more}", failed.len(), names.join("; ")));
    }
    lines
}

/// "Evidence: iteration-4, iteration-5 and 3 more (…)": the first few
/// packet names, never a local path (it means nothing in CI).
pub fn evidence(analysis: &Analysis) -> Option<String> {
    let packets = &analysis.evidence.packets;
    if packets.is_empty() {
        return None;
    }
    let shown: Vec<&str> = packets.iter().take(3).map(String::as_str).collect();
    let more = packets.len() - shown.len() + analysis.evidence.not_written as usize;
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    Some(format!(
        "Evidence: {}{more} (webprofile-parity/evidence/ in the artifacts; `parity replay` reruns one)",
        shown.join(", ")
    ))
}
