//! The plain-text reports: `flakiness/report.txt` (rerun reports) and
//! `flakiness/cross/report.txt` (cross-instance runs).

use crate::escape::one_line;
use crate::flakiness::aggregate::{CrossAggregate, RerunAggregate};
use crate::flakiness::thresholds::Assessment;
use crate::flakiness::CrossSummary;
use crate::stats::Interval;
use std::fmt::Write as _;

pub fn rerun_report(aggregate: &RerunAggregate) -> String {
    let mut out = format!(
        "rerun reports: {} collected, {} passed, {} failed, {} flaky\n",
        aggregate.count, aggregate.success, aggregate.failure, aggregate.flaky
    );
    if !aggregate.failure_classes.is_empty() {
        let _ = writeln!(out, "failed attempts by class: {}", aggregate.failure_classes.describe());
    }
    for run in &aggregate.runs {
        let verdict = match (run.success, run.flaky) {
            (true, true) => "FLAKY",
            (true, false) => "PASS",
            (false, _) => "FAIL",
        };
        let _ = writeln!(out, "  {verdict:<5} {} ({} attempt(s))", one_line(&run.file), run.attempts);
    }
    skipped_lines(&mut out, aggregate.skipped_files.iter().map(|s| s.reason.as_str()));
    out
}

pub fn cross_report(summary: &CrossSummary, aggregate: &CrossAggregate, judgement: &Assessment) -> String {
    let mut out = String::from("cross-instance flakiness\n");
    let _ = writeln!(
        out,
        "runs:       {} collected, {} failing ({}{})",
        summary.run_total,
        summary.run_failures,
        percent(summary.run_failure_rate),
        interval(summary.run_failure_rate_ci95)
    );
    let _ = writeln!(
        out,
        "iterations: {} run, {} failed ({}{})",
        summary.iter_total,
        summary.iter_failures,
        percent(summary.iter_failure_rate),
        interval(summary.iter_failure_rate_ci95)
    );
    match &summary.stale_read {
        Some(stale) => {
            let _ = writeln!(
                out,
                "stale reads (the headline): {} iteration(s), {}{}",
                stale.iterations,
                percent(stale.rate),
                interval(stale.rate_ci95)
            );
        }
        None => out.push_str("stale reads (the headline): no iterations collected\n"),
    }
    if let Some(infra) = &summary.infrastructure {
        let _ = writeln!(
            out,
            "infrastructure errors: {} iteration(s), {}{}",
            infra.iterations,
            percent(infra.rate),
            interval(infra.rate_ci95)
        );
    }
    if !summary.failure_classes.is_empty() {
        let _ = writeln!(out, "failed iterations by class: {}", summary.failure_classes.describe());
    }
    let _ = writeln!(
        out,
        "current failing streak: {} run(s){}",
        summary.current_failing_streak,
        if summary.major_alert { " — major alert (more than 3 consecutive)" } else { "" }
    );
    if let Some(l) = &summary.latency_ms {
        let _ = writeln!(
            out,
            "revoke → inactive latency: p50 {:.3} ms, p95 {:.3} ms, max {:.3} ms ({} samples)",
            l.p50, l.p95, l.max, l.samples
        );
    }
    if let Some(s) = &summary.stale_reads {
        let _ =
            writeln!(out, "stale reads: {} in {} iteration(s) of {} run(s)", s.total, s.iterations, s.runs);
    }
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    for (what, p) in [
        ("staleness proven (stale_ms)", &summary.stale_ms),
        ("visible by (visible_by_ms)", &summary.visible_by_ms),
    ] {
        if let Some(p) = p {
            let _ = writeln!(out, "{what}: p50 {} ms, p99 {} ms, max {} ms", ms(p.p50), ms(p.p99), ms(p.max));
        }
    }
    if !summary.latest_matrix.is_empty() {
        let _ = writeln!(out, "latency matrix of the newest run:");
        for line in crate::scenario::cross::render_matrix(&summary.latest_matrix) {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out, "verdict: {judgement}");
    if !aggregate.runs.is_empty() {
        out.push_str("runs, oldest first:\n");
    }
    for run in &aggregate.runs {
        let _ = write!(
            out,
            "  {} {} {}/{} iterations passed",
            if run.failed { "FAIL" } else { "PASS" },
            one_line(&run.label),
            run.iterations - run.failures,
            run.iterations
        );
        if let Some(stale) = run.stale_reads.filter(|s| *s > 0) {
            let _ = write!(out, ", {stale} stale read(s)");
        }
        let _ = writeln!(out, " ({})", one_line(&run.file));
        for failed in &run.failed_iterations {
            let _ = writeln!(
                out,
                "      iteration {}{}: {}",
                failed.iteration,
                failed.class.map(|c| format!(" [{c}]")).unwrap_or_default(),
                one_line(failed.reason.as_deref().unwrap_or("no reason recorded"))
            );
        }
    }
    skipped_lines(&mut out, summary.skipped_files.iter().map(|s| s.reason.as_str()));
    out
}

fn skipped_lines<'a>(out: &mut String, reasons: impl ExactSizeIterator<Item = &'a str>) {
    if reasons.len() > 0 {
        let _ = writeln!(out, "skipped files ({}):", reasons.len());
        for reason in reasons {
            let _ = writeln!(out, "  {}", one_line(reason));
        }
    }
}

pub fn percent(rate: f64) -> String {
    crate::stats::percent(rate, 2)
}

fn interval(ci: Option<Interval>) -> String {
    ci.map(|i| format!(", {}", i.describe(2))).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flakiness::aggregate::{FailedIteration, RerunRow, RunRow};
    use crate::flakiness::summary::ClassRate;
    use crate::flakiness::thresholds::Thresholds;
    use crate::stats::{wilson, Z_95};
    use crate::verdict::FailureClass;

    #[test]
    fn cross_report_lists_numbers_runs_and_failures() {
        let row = RunRow {
            file: "run_9_cross.json".into(),
            id: "9".into(),
            label: "9".into(),
            timestamp: None,
            iterations: 5,
            failures: 1,
            success_rate: 0.8,
            failed: true,
            stale_reads: Some(2),
            latency_ms_p50: None,
            latency_ms_max: None,
            stale_ms_p99: None,
            visible_by_ms_p99: None,
            failure_classes: [FailureClass::StaleRead].into_iter().collect(),
            failed_iterations: vec![FailedIteration {
                iteration: 3,
                reason: Some("still active".into()),
                class: Some(FailureClass::StaleRead),
            }],
            raw: None,
        };
        let aggregate = CrossAggregate {
            run_total: 1,
            run_failures: 1,
            iter_total: 5,
            iter_failures: 1,
            failure_classes: [FailureClass::StaleRead].into_iter().collect(),
            runs: vec![row],
        };
        let summary = CrossSummary {
            run_total: 1,
            run_failures: 1,
            iter_total: 5,
            iter_failures: 1,
            run_failure_rate: 1.0,
            iter_failure_rate: 0.2,
            iter_failure_rate_ci95: wilson(1, 5, Z_95),
            current_failing_streak: 1,
            stale_read: Some(ClassRate { iterations: 1, rate: 0.2, rate_ci95: wilson(1, 5, Z_95) }),
            infrastructure: Some(ClassRate { iterations: 0, rate: 0.0, rate_ci95: wilson(0, 5, Z_95) }),
            ..CrossSummary::default()
        };
        let text = cross_report(&summary, &aggregate, &Thresholds::default().judge(&summary));
        assert!(text.contains("iterations: 5 run, 1 failed (20.00%, 95% CI 3.62%–62.45%)"), "{text}");
        assert!(
            text.contains("stale reads (the headline): 1 iteration(s), 20.00%, 95% CI 3.62%–62.45%"),
            "{text}"
        );
        assert!(text.contains("infrastructure errors: 0 iteration(s), 0.00%"), "{text}");
        assert!(text.contains("FAIL 9 4/5 iterations passed, 2 stale read(s) (run_9_cross.json)"), "{text}");
        assert!(text.contains("iteration 3 [stale-read]: still active"), "{text}");
        assert!(text.contains("verdict: thresholds exceeded"), "{text}");
    }

    #[test]
    fn rerun_report_classifies_each_run() {
        let row = |file: &str, success, flaky| RerunRow {
            file: file.into(),
            id: file.into(),
            success,
            flaky,
            attempts: 2,
            subject: None,
        };
        let agg = RerunAggregate {
            count: 2,
            success: 1,
            failure: 1,
            flaky: 1,
            failure_classes: Default::default(),
            runs: vec![row("run_1.json", true, true), row("run_2.json", false, false)],
            skipped_files: vec![],
        };
        let text = rerun_report(&agg);
        assert!(text.starts_with("rerun reports: 2 collected, 1 passed, 1 failed, 1 flaky\n"));
        assert!(text.contains("FLAKY run_1.json") && text.contains("FAIL  run_2.json"), "{text}");
    }
}
