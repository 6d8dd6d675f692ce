//! The Markdown `parity run` appends to `$GITHUB_STEP_SUMMARY`, from
//! `analysis.json`'s contents (appending is `step_summary::append`).

use crate::analysis::Analysis;
use crate::escape::one_line;
use crate::scenario::suite::CheckStatus;
use std::fmt::Write as _;
use std::path::Path;

pub fn render(analysis: &Analysis) -> String {
    let super::outcome::Headline { icon, text: verdict, .. } = super::outcome::headline(analysis);
    let mut out = format!("### {icon} Webprofile parity: {verdict} (exit {})\n\n", analysis.exit_code);
    let _ = writeln!(out, "Tested {}.\n", one_line(&analysis.coverage.describe()));
    if !analysis.coverage.relaxations.is_empty() {
        let _ = writeln!(out, "**Relaxed (judged more leniently than the contract):**\n");
        for relaxed in &analysis.coverage.relaxations {
            let _ = writeln!(out, "- {}", one_line(relaxed).replace('`', "'"));
        }
        out.push('\n');
    }
    let security = analysis.security_findings();
    if !security.is_empty() {
        let _ = writeln!(out, "**🔓 Security findings ({}):**\n", security.len());
        for finding in &security {
            let _ = writeln!(out, "- {}", one_line(finding).replace('`', "'"));
        }
        out.push('\n');
    }
    if !analysis.failure_classes.is_empty() {
        let _ = writeln!(out, "**Failures by class:** {}\n", analysis.failure_classes.describe());
    }
    out += "| check | result |\n|---|---|\n";
    for (phase, result) in super::outcome::phases(analysis) {
        let _ = writeln!(out, "| {phase} | {} |", one_line(&result).replace('|', "\\|"));
    }
    let failing: Vec<String> = analysis
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| {
            let class = c.class.map(|c| format!(" ({c})")).unwrap_or_default();
            format!("`{}`{class}", c.name.replace('`', "'"))
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{RunStatus, SmokeSummary, SuiteCounts};
    use crate::scenario::cross::CrossTotals;
    use crate::scenario::suite::CheckRecord;
    use crate::verdict::{ClassCounts, Coverage, FailureClass};

    fn analysis(status: RunStatus) -> Analysis {
        Analysis {
            status,
            exit_code: if status == RunStatus::Pass { 0 } else { 1 },
            verdict: "v".into(),
            interrupted_in: None,
            coverage: Coverage {
                backend: "local".into(),
                targets: vec!["http://a".into()],
                smoke_attempts: 2,
                checks: 13,
                checks_skipped: 2,
                iterations: 5,
                exchanges: 99,
                ..Coverage::default()
            },
            failure_classes: [FailureClass::StaleRead, FailureClass::Contract]
                .into_iter()
                .collect::<ClassCounts>(),
            strict: true,
            run_id: "r".into(),
            backend: "local".into(),
            instances: vec![],
            store: None,
            faults: "none".into(),
            started_at: "s".into(),
            finished_at: "f".into(),
            duration_ms: 1.0,
            smoke: Some(SmokeSummary { success: true, attempts: 2, flaky: true, ..SmokeSummary::default() }),
            suite: Some(SuiteCounts { passed: 12, failed: 1, skipped: 2 }),
            dialect: None,
            security: vec![],
            checks: vec![CheckRecord {
                name: "bad_id_400".into(),
                kind: None,
                clause: "c".into(),
                status: CheckStatus::Fail,
                class: Some(FailureClass::Contract),
                duration_ms: 1.0,
                detail: None,
            }],
            cross: Some(CrossTotals { iterations: 5, failures: 2, stale_reads: 7, ..CrossTotals::default() }),
            flaky: true,
            phases: vec![],
            containers: vec![],
            chaos: vec![],
            errors: vec![],
            evidence: Default::default(),
            diff: None,
            tarball: Some("ci/webprofile-parity-20240101000000.tar.gz".into()),
            shard: None,
            merged_from: vec![],
            tool: None,
            rate_limit: None,
            signatures: vec![],
        }
    }

    // The whole summary of a failing run is a reviewed snapshot (tests/it/snapshots.rs).

    #[test]
    fn a_phase_not_run_says_why_and_is_not_a_pass() {
        let mut a = analysis(RunStatus::Incomplete);
        a.cross = None;
        a.coverage.not_run = vec!["cross-instance: --iterations 0".into()];
        let md = render(&a);
        assert!(md.starts_with("### ⚠️ Webprofile parity: no failure, but parity is NOT proven"), "{md}");
        assert!(md.contains("| cross-instance | not run (cross-instance: --iterations 0) |"), "{md}");
    }
}
