//! The Markdown `parity run` appends to `$GITHUB_STEP_SUMMARY`, from
//! `analysis.json`'s contents (appending is `step_summary::append`).

use crate::artifacts::{Analysis, RunStatus};
use crate::scenario::suite::CheckStatus;
use std::fmt::Write as _;
use std::path::Path;

pub fn render(analysis: &Analysis) -> String {
    let (icon, verdict) = match analysis.status {
        RunStatus::Pass => ("✅", "parity holds"),
        RunStatus::Fail if !analysis.strict => ("⚠️", "parity FAILED (informational: --no-strict)"),
        RunStatus::Fail => ("❌", "parity FAILED"),
        RunStatus::Error => ("❗", "the run could not be carried out"),
    };
    let mut out = format!("### {icon} Webprofile parity: {verdict} (exit {})\n\n", analysis.exit_code);
    out += "| check | result |\n|---|---|\n";
    let smoke = match &analysis.smoke {
        Some(s) => format!(
            "{} after {} attempt(s){}",
            if s.success { "PASS" } else { "FAIL" },
            s.attempts,
            if s.flaky { " — flaky: passed after failing" } else { "" }
        ),
        None => "not run".into(),
    };
    let _ = writeln!(out, "| revocation immediacy (smoke) | {smoke} |");
    let suite = match &analysis.suite {
        Some(s) => format!("{} passed, {} failed, {} skipped", s.passed, s.failed, s.skipped),
        None => "not run".into(),
    };
    let _ = writeln!(out, "| contract suite | {suite} |");
    let cross = match &analysis.cross {
        Some(c) => format!(
            "{}/{} iterations failed, {} stale read(s){}",
            c.failures,
            c.iterations,
            c.stale_reads,
            c.latency_ms_p95.map(|p| format!(", revoke → inactive p95 {p:.1} ms")).unwrap_or_default()
        ),
        None => "not run".into(),
    };
    let _ = writeln!(out, "| cross-instance | {cross} |");
    let failing: Vec<String> = analysis
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| format!("`{}`", c.name.replace('`', "'")))
        .collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "\n**Failing checks:** {}", failing.join(", "));
    }
    for error in &analysis.errors {
        let _ = writeln!(out, "\n> {}", one_line(error));
    }
    if let Some(name) = analysis.tarball.as_deref().and_then(|t| Path::new(t).file_name()) {
        let _ = writeln!(out, "\nArtifacts: `{}`", name.to_string_lossy());
    }
    out.push('\n');
    out
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::{SmokeSummary, SuiteCounts};
    use crate::scenario::cross::CrossTotals;
    use crate::scenario::suite::CheckRecord;

    fn analysis(status: RunStatus) -> Analysis {
        Analysis {
            status,
            exit_code: if status == RunStatus::Pass { 0 } else { 1 },
            strict: true,
            run_id: "r".into(),
            backend: "local".into(),
            instances: vec![],
            store: None,
            faults: "none".into(),
            started_at: "s".into(),
            finished_at: "f".into(),
            duration_ms: 1.0,
            smoke: Some(SmokeSummary {
                success: true,
                attempts: 2,
                flaky: true,
                reason: None,
                latency_ms: None,
            }),
            suite: Some(SuiteCounts { passed: 12, failed: 1, skipped: 2 }),
            checks: vec![CheckRecord {
                name: "bad_id_400".into(),
                status: CheckStatus::Fail,
                duration_ms: 1.0,
                detail: None,
            }],
            cross: Some(CrossTotals { iterations: 5, failures: 2, stale_reads: 7, ..CrossTotals::default() }),
            flaky: true,
            phases: vec![],
            containers: vec![],
            chaos: vec![],
            errors: vec![],
            tarball: Some("ci/webprofile-parity-20240101000000.tar.gz".into()),
        }
    }

    #[test]
    fn says_the_verdict_counts_failing_checks_and_tarball() {
        let md = render(&analysis(RunStatus::Fail));
        assert!(md.starts_with("### ❌ Webprofile parity: parity FAILED (exit 1)"), "{md}");
        assert!(md.contains("| revocation immediacy (smoke) | PASS after 2 attempt(s) — flaky"), "{md}");
        assert!(md.contains("| contract suite | 12 passed, 1 failed, 2 skipped |"), "{md}");
        assert!(md.contains("| cross-instance | 2/5 iterations failed, 7 stale read(s) |"), "{md}");
        assert!(md.contains("**Failing checks:** `bad_id_400`"), "{md}");
        assert!(md.contains("Artifacts: `webprofile-parity-20240101000000.tar.gz`"), "{md}");
        assert!(render(&analysis(RunStatus::Pass)).starts_with("### ✅"));
    }
}
