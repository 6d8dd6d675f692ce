//! The words of every notification, built from the run's `analysis.json`
//! or the collector's summary: pure functions, tested here.

use crate::analysis::Analysis;
use crate::flakiness::summary::CrossSummary;
use crate::flakiness::thresholds::{Assessment, ThresholdVerdict};
use crate::report::outcome;

/// "Cross-instance: …", when iterations ran.
fn cross_line(run: &Analysis) -> Option<String> {
    run.cross.as_ref().filter(|c| c.iterations > 0).map(|c| format!("Cross-instance: {}", outcome::cross(c)))
}

/// Where the run happened, for titles and links (GitHub Actions variables).
#[derive(Clone, Debug, Default)]
pub struct RunContext {
    pub repository: Option<String>,
    /// Link to the workflow run, when GitHub Actions says where it is.
    pub run_url: Option<String>,
}

impl RunContext {
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> RunContext {
        let repository = env("GITHUB_REPOSITORY");
        let run_url = match (env("GITHUB_SERVER_URL"), &repository, env("GITHUB_RUN_ID")) {
            (Some(server), Some(repo), Some(id)) => {
                Some(format!("{}/{repo}/actions/runs/{id}", server.trim_end_matches('/')))
            }
            _ => None,
        };
        RunContext { repository, run_url }
    }

    fn suffix(&self) -> String {
        match (&self.repository, &self.run_url) {
            (Some(repo), Some(url)) => format!(" — {repo} (<{url}|run>)"),
            (Some(repo), None) => format!(" — {repo}"),
            _ => String::new(),
        }
    }
}

/// The Slack message after a run that did not pass.
pub fn run_failure_slack(outcome: &Analysis, context: &RunContext) -> String {
    let title = outcome::headline(outcome).text;
    let mut lines = vec![format!(":x: *webprofile: {title}*{}", context.suffix())];
    lines.extend(outcome::what_failed(outcome, 8));
    lines.extend(cross_line(outcome));
    lines.extend(outcome::evidence(outcome));
    lines.join("\n")
}

/// The Markdown summary for a PR comment, an issue or a check run.
pub fn run_markdown(outcome: &Analysis, context: &RunContext) -> String {
    let headline = outcome::headline(outcome);
    let mut text = format!("### webprofile parity: {} {}\n\n", headline.icon, headline.text);
    if !outcome.verdict.is_empty() {
        text.push_str(&format!(
            "> {}\n\n",
            crate::escape::excerpt(&crate::escape::one_line(&outcome.verdict), 600)
        ));
    }
    for line in outcome::what_failed(outcome, 8) {
        text.push_str(&format!("- {line}\n"));
    }
    for line in cross_line(outcome).into_iter().chain(outcome::evidence(outcome)) {
        text.push_str(&format!("- {line}\n"));
    }
    if let Some(smoke) = outcome.smoke.as_ref().filter(|s| s.success && s.flaky) {
        text.push_str(&format!("- Revocation immediacy: {}\n", outcome::smoke(smoke)));
    }
    text.push_str(&format!(
        "\nRun `{}` (backend {}, exit code {}).",
        outcome.run_id, outcome.backend, outcome.exit_code
    ));
    if let Some(url) = &context.run_url {
        text.push_str(&format!(" [Workflow run]({url}); artifacts: `webprofile-parity-artifacts`."));
    }
    text.push('\n');
    text
}

/// The weekly Slack summary after `parity collect`: an alert prefix when the
/// cross thresholds are exceeded.
pub fn collect_slack(summary: &CrossSummary, judgement: &Assessment, dashboard_url: Option<&str>) -> String {
    let head = match judgement.verdict {
        ThresholdVerdict::Exceeded => {
            ":rotating_light: *ALERT: webprofile parity cross-instance thresholds exceeded*"
        }
        ThresholdVerdict::Ok => ":white_check_mark: *webprofile parity weekly flakiness summary*",
        ThresholdVerdict::NoData => {
            ":grey_question: *webprofile parity weekly flakiness summary: no runs collected*"
        }
    };
    let mut lines = vec![head.to_string()];
    lines.extend(cross_metric_lines(summary, judgement));
    if let Some(url) = dashboard_url {
        lines.push(format!("Dashboard: {url}"));
    }
    lines.join("\n")
}

fn cross_metric_lines(summary: &CrossSummary, judgement: &Assessment) -> Vec<String> {
    let t = &judgement.thresholds;
    let mut lines = Vec::new();
    if let Some(stale) = &summary.stale_read {
        lines.push(format!(
            "Stale reads: {}/{} iterations = {:.2}%{}",
            stale.iterations,
            summary.iter_total,
            stale.rate * 100.0,
            stale.rate_ci95.map(|i| format!(" ({})", i.describe(2))).unwrap_or_default()
        ));
    }
    if let Some(infra) = summary.infrastructure.as_ref().filter(|i| i.iterations > 0) {
        lines.push(format!(
            "Infrastructure errors: {}/{} iterations = {:.2}%",
            infra.iterations,
            summary.iter_total,
            infra.rate * 100.0
        ));
    }
    lines.extend([
        format!(
            "Runs: {}/{} failed (threshold {}){}",
            summary.run_failures,
            summary.run_total,
            t.run_failures,
            if judgement.runs_exceeded { " — exceeded" } else { "" }
        ),
        format!(
            "Iterations: {}/{} failed = {:.2}% (threshold {:.2}%){}",
            summary.iter_failures,
            summary.iter_total,
            judgement.iter_rate * 100.0,
            t.iter_failure_rate * 100.0,
            if judgement.rate_exceeded { " — exceeded" } else { "" }
        ),
    ]);
    if let Some(slo) = t.latency_slo_ms {
        lines.push(format!(
            "Latency: p99 staleness proven {} (SLO {slo} ms){}",
            judgement.stale_ms_p99.map_or("-".to_string(), |p| format!("{p:.1} ms")),
            if judgement.slo_exceeded { " — exceeded" } else { "" }
        ));
    }
    if summary.current_failing_streak > 0 {
        lines.push(format!("Current streak: {} consecutive failing run(s)", summary.current_failing_streak));
    }
    if let Some(latency) = &summary.latency_ms {
        lines.push(format!(
            "Revoke→inactive latency: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            latency.p50, latency.p95, latency.max
        ));
    }
    lines
}

/// The Markdown body of a flakiness issue (or of the comment on an open one).
pub fn collect_markdown(
    summary: &CrossSummary,
    judgement: &Assessment,
    dashboard_url: Option<&str>,
) -> String {
    let mut text = String::from("Cross-instance revocation parity over the collected runs:\n\n");
    for line in cross_metric_lines(summary, judgement) {
        text.push_str(&format!("- {line}\n"));
    }
    if let (Some(first), Some(last)) = (&summary.first_run, &summary.last_run) {
        text.push_str(&format!("- Runs from {first} to {last}\n"));
    }
    if let Some(url) = dashboard_url {
        text.push_str(&format!("\nDashboard: {url}\n"));
    }
    text.push_str(
        "\nArtifacts: `parity-cross-dashboard` (dashboard.html, summary.json, trend.json). \
         Triage with the parity runbook.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flakiness::thresholds::Thresholds;

    fn failed_run() -> Analysis {
        serde_json::from_value(serde_json::json!({
            "status": "fail", "exit_code": 1, "strict": true, "run_id": "20261129T010203Z", "backend": "docker",
            "failure_classes": {"stale-read": 3, "contract": 1},
            "smoke": {"success": false, "attempts": 1, "flaky": false, "reason": "still active after 15s",
                      "class": "stale-read"},
            "checks": [
                {"name": "revoke_204", "status": "pass"},
                {"name": "x_service_origin_rejected", "status": "fail", "detail": "HTTP 200 without credentials",
                 "class": "contract"}
            ],
            "cross": {"iterations": 5, "failures": 2, "stale_reads": 7, "classes": {"stale-read": 2}},
            "errors": [],
            "evidence": {"packets": ["smoke-attempt-1", "check-x_service_origin_rejected", "iteration-2",
                                     "iteration-4"], "not_written": 1}
        }))
        .unwrap()
    }

    #[test]
    fn a_security_finding_is_the_first_line_of_slack_and_the_pr_comment() {
        let mut run = failed_run();
        run.failure_classes.add(crate::verdict::FailureClass::Security);
        run.checks[1].class = Some(crate::verdict::FailureClass::Security);
        let text = run_failure_slack(&run, &RunContext::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "SECURITY: x_service_origin_rejected — HTTP 200 without credentials", "{text}");
        assert_eq!(lines[2], "Failures by class: 1 security, 3 stale-read, 1 contract", "{text}");
        let markdown = run_markdown(&run, &RunContext::default());
        let first = markdown.lines().find(|l| l.starts_with("- ")).unwrap();
        assert!(first.starts_with("- SECURITY: x_service_origin_rejected"), "{markdown}");
    }

    #[test]
    fn a_failed_run_says_what_failed_and_the_cross_counts() {
        let context = RunContext {
            repository: Some("o/r".into()),
            run_url: Some("https://github.com/o/r/actions/runs/9".into()),
        };
        let text = run_failure_slack(&failed_run(), &context);
        assert!(text.starts_with(
            ":x: *webprofile: parity FAILED* — o/r (<https://github.com/o/r/actions/runs/9|run>)"
        ));
        assert!(text.contains("Failures by class: 3 stale-read, 1 contract"), "{text}");
        assert!(text
            .contains("Revocation immediacy: FAIL [stale-read] after 1 attempt(s) — still active after 15s"));
        assert!(text.contains(
            "Contract suite: 1 check(s) failed: x_service_origin_rejected [contract] (HTTP 200 without credentials)"
        ));
        assert!(
            text.contains("Cross-instance: 2/5 iterations failed (2 stale-read), 7 stale read(s)"),
            "{text}"
        );
        let evidence = "Evidence: smoke-attempt-1, check-x_service_origin_rejected, iteration-2 and 2 more \
                        (webprofile-parity/evidence/ in the artifacts; `parity replay` reruns one)";
        assert!(text.ends_with(evidence), "{text}");
        let markdown = run_markdown(&failed_run(), &context);
        assert!(markdown.contains("❌ parity FAILED") && markdown.contains("[Workflow run]("));
        assert!(markdown.contains(&format!("- {evidence}")), "{markdown}");
    }

    #[test]
    fn the_collect_summary_is_an_alert_only_when_thresholds_are_exceeded() {
        let summary = CrossSummary {
            run_total: 10,
            run_failures: 2,
            iter_total: 50,
            iter_failures: 3,
            ..Default::default()
        };
        let exceeded = Thresholds::default().judge(&summary);
        let text =
            collect_slack(&summary, &exceeded, Some("https://o.github.io/r/parity-cross/dashboard.html"));
        assert!(text.starts_with(":rotating_light: *ALERT"), "{text}");
        assert!(text.contains("Runs: 2/10 failed (threshold 1) — exceeded"));
        assert!(text.contains("Iterations: 3/50 failed = 6.00% (threshold 5.00%) — exceeded"));
        let lenient =
            Thresholds { run_failures: 5, iter_failure_rate: 0.5, latency_slo_ms: None }.judge(&summary);
        assert!(collect_slack(&summary, &lenient, None).starts_with(":white_check_mark:"));
        // An alert raised by the latency SLO alone says so.
        let slow = CrossSummary {
            stale_ms: Some(crate::scenario::cross::Percentiles { p99: Some(400.0), ..Default::default() }),
            ..summary
        };
        let slo =
            Thresholds { run_failures: 5, iter_failure_rate: 0.5, latency_slo_ms: Some(250.0) }.judge(&slow);
        let text = collect_slack(&slow, &slo, None);
        assert!(text.starts_with(":rotating_light: *ALERT"), "{text}");
        assert!(text.contains("Latency: p99 staleness proven 400.0 ms (SLO 250 ms) — exceeded"), "{text}");
    }
}
