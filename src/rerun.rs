//! Rerun on flake: a retry policy as data, the attempts it produced, and the
//! `flakiness.json` / `ui/index.html` report both `parity run` (for the smoke)
//! and `parity rerun` (for any command) write.

use crate::clock::{millis, rfc3339};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Total tries, at least 1.
    pub attempts: u32,
    /// Pause between a failed attempt and the next.
    pub delay: Duration,
}

/// One try, as `flakiness.json` records it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    pub attempt: u32,
    pub rc: i32,
    pub duration_ms: u64,
}

/// `flakiness.json`. `start_ts, end_ts, success, attempts` are the upstream fields.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FlakinessReport {
    pub start_ts: String,
    pub end_ts: String,
    pub success: bool,
    pub attempts: Vec<Attempt>,
    /// Passed after at least one failed attempt.
    pub flaky: bool,
    /// What was retried ("node parity smoke", or the command line).
    pub subject: String,
}

/// Runs `attempt(n)` until it returns rc 0 or the attempts are spent.
/// Each attempt yields its rc and a value; all values are returned in order.
pub async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    subject: &str,
    mut attempt: F,
) -> (FlakinessReport, Vec<T>)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = (i32, T)>,
{
    let start_ts = rfc3339(&Utc::now());
    let mut attempts = Vec::new();
    let mut values = Vec::new();
    for n in 1..=policy.attempts.max(1) {
        if n > 1 {
            tokio::time::sleep(policy.delay).await;
        }
        let started = Instant::now();
        let (rc, value) = attempt(n).await;
        attempts.push(Attempt { attempt: n, rc, duration_ms: millis(started.elapsed()).round() as u64 });
        values.push(value);
        if rc == 0 {
            break;
        }
    }
    let success = attempts.last().is_some_and(|a| a.rc == 0);
    let report = FlakinessReport {
        start_ts,
        end_ts: rfc3339(&Utc::now()),
        success,
        flaky: success && attempts.len() > 1,
        attempts,
        subject: subject.to_string(),
    };
    (report, values)
}

/// `ui/index.html`: a self-contained page (no script, no external resource).
pub fn render_ui(report: &FlakinessReport) -> String {
    let verdict = match (report.success, report.flaky) {
        (true, true) => ("flaky: passed after failing", "#b8860b"),
        (true, false) => ("passed", "#2e7d32"),
        (false, _) => ("failed on every attempt", "#c62828"),
    };
    let rows: String = report
        .attempts
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>\n",
                a.attempt,
                if a.rc == 0 { "ok" } else { "bad" },
                a.rc,
                a.duration_ms
            )
        })
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rerun report — {subject}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }}
.verdict {{ font-weight: 600; color: {color}; }}
table {{ border-collapse: collapse; margin-top: 1rem; }}
td, th {{ border: 1px solid #ccc; padding: .3rem .8rem; text-align: right; }}
.ok {{ color: #2e7d32; }} .bad {{ color: #c62828; }}
</style></head>
<body>
<h1>Rerun report</h1>
<p>{subject}: <span class="verdict">{verdict}</span></p>
<p>Started {start}, ended {end}.</p>
<table><thead><tr><th>attempt</th><th>exit code</th><th>duration (ms)</th></tr></thead>
<tbody>
{rows}</tbody></table>
</body></html>
"#,
        subject = html_escape(&report.subject),
        color = verdict.1,
        verdict = verdict.0,
        start = html_escape(&report.start_ts),
        end = html_escape(&report.end_ts),
    )
}

/// Escapes text for HTML and XML alike (`&#39;` is valid in both).
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32) -> RetryPolicy {
        RetryPolicy { attempts, delay: Duration::ZERO }
    }

    #[tokio::test]
    async fn passing_after_failing_is_flaky() {
        let (report, values) =
            with_retries(policy(3), "x", |n| async move { (if n < 2 { 1 } else { 0 }, n) }).await;
        assert!(report.success && report.flaky);
        assert_eq!(values, vec![1, 2]);
        assert_eq!(report.attempts.iter().map(|a| a.rc).collect::<Vec<_>>(), vec![1, 0]);
    }

    #[tokio::test]
    async fn first_try_pass_is_not_flaky_and_failure_uses_every_attempt() {
        let (ok, _) = with_retries(policy(3), "x", |_| async { (0, ()) }).await;
        assert!(ok.success && !ok.flaky && ok.attempts.len() == 1);
        let (bad, _) = with_retries(policy(3), "x", |_| async { (1, ()) }).await;
        assert!(!bad.success && !bad.flaky && bad.attempts.len() == 3);
    }

    #[test]
    fn ui_escapes_the_subject() {
        let report = FlakinessReport {
            start_ts: "a".into(),
            end_ts: "b".into(),
            success: false,
            attempts: vec![],
            flaky: false,
            subject: "<script>alert(1)</script>".into(),
        };
        let html = render_ui(&report);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
