//! Rerun on flake: tries on a [`Backoff`] schedule, the attempts they produced, and the
//! `flakiness.json` / `ui/index.html` report both `parity run` (for the smoke)
//! and `parity rerun` (for any command) write.

use crate::clock::{millis, rfc3339};
use crate::lenient;
use crate::retry::{Backoff, Limit};
use crate::verdict::{FailureClass, RetryOn};
use chrono::Utc;
use maud::{html, PreEscaped, DOCTYPE};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Instant;

/// How one try ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Tried {
    pub rc: i32,
    /// Why it failed, when the attempt knows (a parity run does; an arbitrary command does not).
    pub class: Option<FailureClass>,
    pub reason: Option<String>,
}

impl Tried {
    pub fn passed() -> Tried {
        Tried { rc: 0, class: None, reason: None }
    }
}

/// One try, as `flakiness.json` records it (fields read leniently, see `lenient`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Attempt {
    #[serde(default, deserialize_with = "lenient::count_or_zero")]
    pub attempt: u32,
    #[serde(default, deserialize_with = "lenient::code_or_zero")]
    pub rc: i32,
    #[serde(default, deserialize_with = "lenient::whole_millis")]
    pub duration_ms: u64,
    /// Why it failed; null when it passed or when the command did not say.
    #[serde(default, deserialize_with = "lenient::class")]
    pub class: Option<FailureClass>,
    #[serde(default, deserialize_with = "lenient::text", skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `flakiness.json`, as `parity run` and `parity rerun` write it and as the
/// collector reads any producer's: only `success` is required.
/// `start_ts, end_ts, success, attempts` are the upstream fields.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FlakinessReport {
    #[serde(default, deserialize_with = "lenient::text_or_empty")]
    pub start_ts: String,
    #[serde(default, deserialize_with = "lenient::text_or_empty")]
    pub end_ts: String,
    pub success: bool,
    #[serde(default, deserialize_with = "lenient::list")]
    pub attempts: Vec<Attempt>,
    /// Passed after failed attempts whose failures could be infrastructure.
    #[serde(default, deserialize_with = "lenient::flag")]
    pub flaky: bool,
    /// What was retried ("node parity smoke", or the command line); empty when unknown.
    #[serde(default, deserialize_with = "lenient::text_or_empty")]
    pub subject: String,
    /// The class that decided a failure: the first stale read, contract or
    /// harness failure of any attempt, else the last attempt's class.
    #[serde(default, deserialize_with = "lenient::class")]
    pub class: Option<FailureClass>,
    #[serde(default)]
    pub retry_on: RetryOn,
}

impl FlakinessReport {
    /// When the retries began, if the file said so in RFC 3339.
    pub fn started(&self) -> Option<chrono::DateTime<Utc>> {
        chrono::DateTime::parse_from_rfc3339(&self.start_ts).ok().map(|t| t.with_timezone(&Utc))
    }

    /// The classes of the failed attempts that recorded one.
    pub fn failure_classes(&self) -> impl Iterator<Item = FailureClass> + '_ {
        self.attempts.iter().filter(|a| a.rc != 0).filter_map(|a| a.class)
    }
}

/// Runs `attempt(n)` until it passes, fails in a way `retry_on` does not
/// retry, or `schedule`'s tries (or time) are spent. A failure that cannot be infrastructure
/// (a stale read, a contract or harness failure) fails the whole, whatever
/// later attempts do: cargo-nextest's `flaky-result = "fail"`.
/// All attempts' values are returned in order.
pub async fn with_retries<T, F, Fut>(
    schedule: Backoff,
    retry_on: RetryOn,
    subject: &str,
    mut attempt: F,
) -> (FlakinessReport, Vec<T>)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = (Tried, T)>,
{
    let start_ts = rfc3339(&Utc::now());
    let mut attempts = Vec::new();
    let mut values = Vec::new();
    let begun = Instant::now();
    for n in 1..=schedule.most_tries() {
        if n > 1 {
            tokio::select! {
                () = tokio::time::sleep(schedule.pause(n - 1, None)) => {}
                _ = crate::signals::termination() => break,
            }
        }
        let started = Instant::now();
        let (tried, value) = attempt(n).await;
        // An interrupted attempt (130), or a signal to this process, ends the
        // rerun: a person or CI asked it to stop, which is no flake.
        let stopped = tried.rc == crate::exit::Exit::Interrupted.code() || crate::signals::received();
        let time_left = match schedule.limit {
            Limit::Within(within) => begun.elapsed() < within,
            Limit::Tries(_) => true,
        };
        let retry = tried.rc != 0 && !stopped && time_left && retry_on.retries(tried.class);
        attempts.push(Attempt {
            attempt: n,
            rc: tried.rc,
            duration_ms: millis(started.elapsed()).round() as u64,
            class: tried.class,
            reason: tried.reason,
        });
        values.push(value);
        if !retry {
            break;
        }
    }
    let unforgiven = attempts.iter().filter(|a| a.rc != 0).find_map(|a| a.class.filter(|c| !c.forgivable()));
    let last = attempts.last();
    let success = last.is_some_and(|a| a.rc == 0) && unforgiven.is_none();
    let class = if success { None } else { unforgiven.or_else(|| last.and_then(|a| a.class)) };
    let report = FlakinessReport {
        start_ts,
        end_ts: rfc3339(&Utc::now()),
        success,
        flaky: success && attempts.len() > 1,
        attempts,
        subject: subject.to_string(),
        class,
        retry_on,
    };
    (report, values)
}

/// `ui/index.html`: a self-contained page (no script, no external resource).
pub fn render_ui(report: &FlakinessReport) -> String {
    let failed_for = report.class.map(|c| format!("failed ({c})")).unwrap_or_else(|| "failed".into());
    let (verdict, color) = match (report.success, report.flaky) {
        (true, true) => ("flaky: passed after failing", "#b8860b"),
        (true, false) => ("passed", "#2e7d32"),
        (false, _) => (failed_for.as_str(), "#c62828"),
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Rerun report — " (report.subject) }
                style { (PreEscaped(UI_STYLE)) ".verdict { color: " (color) "; }" }
            }
            body {
                h1 { "Rerun report" }
                p { (report.subject) ": " span.verdict { (verdict) } }
                p { "Started " (report.start_ts) ", ended " (report.end_ts) "." }
                table {
                    thead { tr { th { "attempt" } th { "exit code" } th { "class" } th { "duration (ms)" } } }
                    tbody {
                        @for a in &report.attempts {
                            tr {
                                td { (a.attempt) }
                                td class=(if a.rc == 0 { "ok" } else { "bad" }) { (a.rc) }
                                td { (a.class.map_or("", FailureClass::as_str)) }
                                td { (a.duration_ms) }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

const UI_STYLE: &str = "
body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
.verdict { font-weight: 600; }
table { border-collapse: collapse; margin-top: 1rem; }
td, th { border: 1px solid #ccc; padding: .3rem .8rem; text-align: right; }
.ok { color: #2e7d32; } .bad { color: #c62828; }
";

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn failed(class: Option<FailureClass>) -> Tried {
        Tried { rc: 1, class, reason: Some("boom".into()) }
    }

    /// Attempt n (1-based) ends as `script[n - 1]`.
    async fn run(retry_on: RetryOn, script: &[Tried]) -> FlakinessReport {
        let script = script.to_vec();
        with_retries(Backoff::constant(script.len() as u32, Duration::ZERO), retry_on, "x", |n| {
            let tried = script[n as usize - 1].clone();
            async move { (tried, n) }
        })
        .await
        .0
    }

    #[tokio::test]
    async fn a_schedule_under_a_deadline_stops_retrying_once_it_has_passed() {
        let schedule =
            Backoff { first: Duration::ZERO, max: Duration::ZERO, limit: Limit::Within(Duration::ZERO) };
        let (report, _) =
            with_retries(schedule, RetryOn::Any, "x", |n| async move { (failed(None), n) }).await;
        assert_eq!(report.attempts.len(), 1);
        assert!(!report.success);
    }

    #[tokio::test]
    async fn passing_after_an_infrastructure_failure_is_flaky() {
        let report =
            run(RetryOn::default(), &[failed(Some(FailureClass::Infrastructure)), Tried::passed()]).await;
        assert!(report.success && report.flaky && report.class.is_none());
        assert_eq!(report.attempts.iter().map(|a| a.rc).collect::<Vec<_>>(), vec![1, 0]);
        assert_eq!(report.attempts[0].class, Some(FailureClass::Infrastructure));
        let plain = run(RetryOn::default(), &[failed(None), Tried::passed()]).await;
        assert!(plain.success && plain.flaky, "a command that says nothing of its failure is retried");
    }

    #[tokio::test]
    async fn a_stale_read_is_never_retried_away() {
        let stale = failed(Some(FailureClass::StaleRead));
        let report = run(RetryOn::default(), &[stale.clone(), Tried::passed(), Tried::passed()]).await;
        assert!(!report.success && !report.flaky);
        assert_eq!(report.attempts.len(), 1, "not retried by default");
        assert_eq!(report.class, Some(FailureClass::StaleRead));

        let any = run(RetryOn::Any, &[stale, Tried::passed(), Tried::passed()]).await;
        assert_eq!(any.attempts.len(), 2, "--retry-on any retries");
        assert!(!any.success && !any.flaky, "but a later pass cannot turn it into one");
        assert_eq!(any.class, Some(FailureClass::StaleRead));
    }

    #[tokio::test]
    async fn the_deciding_class_is_the_unforgivable_one() {
        let report = run(
            RetryOn::Any,
            &[
                failed(Some(FailureClass::Infrastructure)),
                failed(Some(FailureClass::Contract)),
                failed(Some(FailureClass::Infrastructure)),
            ],
        )
        .await;
        assert_eq!(report.class, Some(FailureClass::Contract));
        let infra = run(RetryOn::default(), &vec![failed(Some(FailureClass::Infrastructure)); 3]).await;
        assert!(!infra.success && infra.attempts.len() == 3);
        assert_eq!(infra.class, Some(FailureClass::Infrastructure));
    }

    #[tokio::test]
    async fn first_try_pass_is_not_flaky() {
        let ok = run(RetryOn::default(), &[Tried::passed(), failed(None)]).await;
        assert!(ok.success && !ok.flaky && ok.attempts.len() == 1);
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
            class: None,
            retry_on: RetryOn::default(),
        };
        let html = render_ui(&report);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
