//! The short Markdown summary appended to `$GITHUB_STEP_SUMMARY`.

use super::text::percent;
use crate::flakiness::aggregate::RerunAggregate;
use crate::flakiness::thresholds::{Assessment, ThresholdVerdict};
use crate::flakiness::CrossSummary;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

pub fn render(summary: &CrossSummary, reruns: &RerunAggregate, judgement: &Assessment) -> String {
    let icon = match judgement.verdict {
        ThresholdVerdict::Exceeded => "❌",
        ThresholdVerdict::Ok => "✅",
        ThresholdVerdict::NoData => "❔",
    };
    let ci =
        |i: Option<crate::stats::Interval>| i.map(|i| format!(" ({})", i.describe(2))).unwrap_or_default();
    let mut out = format!("### {icon} Cross-instance parity flakiness\n\n");
    out += "| metric | value |\n|---|---|\n";
    let _ = writeln!(
        out,
        "| failing runs | {} of {}: {}{} |",
        summary.run_failures,
        summary.run_total,
        percent(summary.run_failure_rate),
        ci(summary.run_failure_rate_ci95)
    );
    let _ = writeln!(
        out,
        "| failed iterations | {} of {}: {}{} |",
        summary.iter_failures,
        summary.iter_total,
        percent(summary.iter_failure_rate),
        ci(summary.iter_failure_rate_ci95)
    );
    let _ = writeln!(out, "| current failing streak | {} run(s) |", summary.current_failing_streak);
    if let Some(l) = &summary.latency_ms {
        let _ = writeln!(
            out,
            "| revoke → inactive p50 / p95 / max | {:.1} / {:.1} / {:.1} ms |",
            l.p50, l.p95, l.max
        );
    }
    if let Some(s) = &summary.stale_reads {
        let _ = writeln!(out, "| stale reads | {} in {} iteration(s) |", s.total, s.iterations);
    }
    let _ = writeln!(
        out,
        "| rerun reports | {} collected, {} failed, {} flaky |",
        reruns.count, reruns.failure, reruns.flaky
    );
    if !summary.skipped_files.is_empty() {
        let _ = writeln!(out, "| skipped files | {} (see summary.json) |", summary.skipped_files.len());
    }
    let _ = writeln!(out, "\n**Verdict:** {judgement}\n");
    out
}

/// Appends `markdown` to the step summary file, creating it when absent.
pub fn append(path: &Path, markdown: &str) -> std::io::Result<()> {
    let mut file = crate::files::open_for_writing(path, true)?;
    file.write_all(markdown.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flakiness::thresholds::Thresholds;

    #[test]
    fn renders_a_table_with_the_verdict_and_appends() {
        let summary =
            CrossSummary { run_total: 4, run_failures: 0, iter_total: 20, ..CrossSummary::default() };
        let md = render(&summary, &RerunAggregate::default(), &Thresholds::default().judge(&summary));
        assert!(md.starts_with("### ✅ Cross-instance parity flakiness"));
        assert!(md.contains("| failing runs | 0 of 4: 0.00% |"), "{md}");
        assert!(md.contains("**Verdict:** thresholds not exceeded"), "{md}");
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("summary.md");
        std::fs::write(&path, "before\n").unwrap();
        append(&path, &md).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("before\n### ✅"));
    }
}
