//! Cross-instance iterations: create on instance 1, revoke on instance 2,
//! poll introspect on instance 1. Each iteration has its own user.

use super::{fresh_user_id, probe_revocation, Judgement, ProbeOutcome, ProbeRoles};
use crate::clock::{Clock, Stamp};
use crate::contract::{Client, Trace};
use crate::lenient;
use crate::stats::percentile;
use crate::verdict::{ClassCounts, FailureClass};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One element of `cross-instance-results.json`, as this harness writes it
/// and as the collector reads what any version wrote: only `success` is
/// required, and a field of an odd type reads as absent. The first five
/// fields are the upstream format and keep their names.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct IterationResult {
    /// 1-based; 0 when a file did not say (the reader numbers by position).
    #[serde(default, deserialize_with = "lenient::count_or_zero")]
    pub iteration: u32,
    pub success: bool,
    #[serde(default, deserialize_with = "lenient::text")]
    pub reason: Option<String>,
    #[serde(default, deserialize_with = "lenient::status")]
    pub revoke_status: Option<u16>,
    #[serde(default)]
    pub last: Option<Value>,
    /// Why it failed (`stale-read`, `contract`, `infrastructure`, `harness`); null when it passed.
    #[serde(default, deserialize_with = "lenient::class")]
    pub class: Option<FailureClass>,
    /// From the revoke returning to the first `active:false` on the observer
    /// being seen: an upper bound (it includes that poll's own round trip).
    /// Kept for the runbook's readers; `stale_ms` and `visible_by_ms` say more.
    #[serde(default, deserialize_with = "lenient::non_negative")]
    pub latency_ms: Option<f64>,
    /// Staleness proven: invocation of the last `active:true` read less the
    /// revoke's completion; 0 when no read was stale.
    #[serde(default, deserialize_with = "lenient::non_negative")]
    pub stale_ms: Option<f64>,
    /// Completion of the first `active:false` read less the revoke's completion.
    #[serde(default, deserialize_with = "lenient::non_negative")]
    pub visible_by_ms: Option<f64>,
    /// The instance that revoked, and the one polled.
    #[serde(default, deserialize_with = "lenient::text_or_empty")]
    pub revoker: String,
    #[serde(default, deserialize_with = "lenient::text_or_empty")]
    pub observer: String,
    /// `active:true` answers after the revoke returned (absent in the oldest files).
    #[serde(default, deserialize_with = "lenient::count")]
    pub stale_reads: Option<u32>,
    #[serde(default, deserialize_with = "lenient::count_or_zero")]
    pub polls: u32,
    #[serde(default, deserialize_with = "lenient::text_or_empty")]
    pub user_id: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub token_id: Option<String>,
    /// RFC 3339; empty when a file did not say.
    #[serde(default, deserialize_with = "lenient::text_or_empty")]
    pub started_at: String,
    #[serde(default, deserialize_with = "lenient::non_negative_or_zero")]
    pub duration_ms: f64,
}

impl IterationResult {
    /// The class of a failed iteration. Files written before classes existed
    /// carry none: a failure that recorded stale reads was a stale read (the
    /// harness counted every `active:true` after the revoke); any other is unknown.
    pub fn failure_class(&self) -> Option<FailureClass> {
        if self.success {
            return None;
        }
        Some(self.class.unwrap_or(if self.stale_reads.unwrap_or(0) > 0 {
            FailureClass::StaleRead
        } else {
            FailureClass::Unknown
        }))
    }

    /// When it started, if the file said so in RFC 3339.
    pub fn started(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(&self.started_at).ok().map(|t| t.with_timezone(&chrono::Utc))
    }
}

/// An iteration's verdict and everything it exchanged.
pub struct Iteration {
    pub result: IterationResult,
    pub create_body: Option<String>,
    pub trace: Trace,
}

/// How many iterations, and how many in flight at once.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub iterations: u32,
    pub concurrency: usize,
}

/// Runs the scheduled iterations, awaiting `before_start(n)` before
/// iteration n (where `--chaos` strikes) and handing each to `on_done` as
/// it finishes (in any order). Nothing is kept here: memory does not grow
/// with the run, whatever the caller keeps.
pub async fn run_iterations<BeforeFut>(
    first: &Client,
    second: &Client,
    judgement: &Judgement,
    clock: &Clock,
    schedule: Schedule,
    before_start: impl Fn(u32) -> BeforeFut,
    mut on_done: impl FnMut(Iteration),
) where
    BeforeFut: std::future::Future<Output = ()>,
{
    let roles = roles(first, second);
    let before_start = &before_start;
    stream::iter(1..=schedule.iterations)
        .map(|n| async move {
            before_start(n).await;
            run_iteration(roles, n, judgement, clock).await
        })
        .buffer_unordered(schedule.concurrency.max(1))
        .for_each(|it| {
            on_done(it);
            std::future::ready(())
        })
        .await;
}

/// Who does what in every iteration: the first instance creates and is
/// polled, the second revokes.
pub fn roles<'a>(first: &'a Client, second: &'a Client) -> ProbeRoles<'a> {
    ProbeRoles { creator: first, revoker: second, observer: first }
}

/// One iteration (`parity replay` runs them one at a time).
pub async fn run_iteration(
    roles: ProbeRoles<'_>,
    iteration: u32,
    judgement: &Judgement,
    clock: &Clock,
) -> Iteration {
    let started: Stamp = clock.now();
    let user_id = fresh_user_id();
    let outcome: ProbeOutcome =
        probe_revocation(roles, &user_id, judgement, &format!("parity-cross-{iteration}")).await;
    let finished = clock.now();
    Iteration {
        result: IterationResult {
            iteration,
            success: outcome.success,
            reason: outcome.reason,
            revoke_status: outcome.revoke_status,
            last: outcome.last,
            class: outcome.class,
            latency_ms: outcome.latency_ms,
            stale_ms: outcome.stale_ms,
            visible_by_ms: outcome.visible_by_ms,
            revoker: roles.revoker.name().to_string(),
            observer: roles.observer.name().to_string(),
            stale_reads: Some(outcome.stale_reads),
            polls: outcome.polls,
            user_id,
            token_id: outcome.created.map(|c| c.id),
            started_at: crate::clock::rfc3339(&started.wall),
            duration_ms: crate::clock::round_ms(finished.mono_ms - started.mono_ms),
        },
        create_body: outcome.create_body,
        trace: outcome.trace,
    }
}

/// Totals over a run's iterations, for `analysis.json` and `cross-instance.out`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CrossTotals {
    pub iterations: u32,
    pub failures: u32,
    /// Failed iterations per class.
    pub classes: ClassCounts,
    pub stale_reads: u32,
    pub polls: u32,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p95: Option<f64>,
    pub latency_ms_max: Option<f64>,
    /// Per (revoker, observer) pair: staleness proven and visibility bound.
    pub matrix: Vec<PairLatency>,
}

/// One cell of the latency matrix: iterations where `revoker` revoked and
/// `observer` was polled.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PairLatency {
    pub revoker: String,
    pub observer: String,
    pub iterations: u32,
    pub stale_reads: u32,
    /// Iterations with at least one stale read.
    pub stale_iterations: u32,
    pub stale_ms: Percentiles,
    pub visible_by_ms: Percentiles,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl Percentiles {
    pub fn of(mut values: Vec<f64>) -> Percentiles {
        values.sort_by(f64::total_cmp);
        Percentiles {
            p50: percentile(&values, 0.50),
            p95: percentile(&values, 0.95),
            p99: percentile(&values, 0.99),
            max: values.last().copied(),
        }
    }
}

/// The matrix, pairs in name order.
pub fn matrix(results: &[IterationResult]) -> Vec<PairLatency> {
    let mut pairs: std::collections::BTreeMap<(String, String), Vec<&IterationResult>> = Default::default();
    for r in results.iter().filter(|r| !r.revoker.is_empty() && !r.observer.is_empty()) {
        pairs.entry((r.revoker.clone(), r.observer.clone())).or_default().push(r);
    }
    pairs
        .into_iter()
        .map(|((revoker, observer), rs)| PairLatency {
            revoker,
            observer,
            iterations: rs.len() as u32,
            stale_reads: rs.iter().filter_map(|r| r.stale_reads).sum(),
            stale_iterations: rs.iter().filter(|r| r.stale_reads.unwrap_or(0) > 0).count() as u32,
            stale_ms: Percentiles::of(rs.iter().filter_map(|r| r.stale_ms).collect()),
            visible_by_ms: Percentiles::of(rs.iter().filter_map(|r| r.visible_by_ms).collect()),
        })
        .collect()
}

impl CrossTotals {
    pub fn of(results: &[IterationResult]) -> Self {
        let mut latencies: Vec<f64> = results.iter().filter_map(|r| r.latency_ms).collect();
        latencies.sort_by(f64::total_cmp);
        CrossTotals {
            iterations: results.len() as u32,
            failures: results.iter().filter(|r| !r.success).count() as u32,
            classes: results
                .iter()
                .filter(|r| !r.success)
                .map(|r| r.class.unwrap_or(FailureClass::Unknown))
                .collect(),
            stale_reads: results.iter().filter_map(|r| r.stale_reads).sum(),
            polls: results.iter().map(|r| r.polls).sum(),
            latency_ms_p50: percentile(&latencies, 0.50),
            latency_ms_p95: percentile(&latencies, 0.95),
            latency_ms_max: latencies.last().copied(),
            matrix: matrix(results),
        }
    }
}

/// `cross-instance-iter-N.out`.
pub fn render_iteration_out(it: &Iteration) -> String {
    let r = &it.result;
    let mut out = format!(
        "iteration {}: {}\nuser: {}\ntoken id: {}\nrevoke status: {}\npolls: {}, stale reads: {}\n",
        r.iteration,
        if r.success { "PASS" } else { "FAIL" },
        r.user_id,
        r.token_id.as_deref().unwrap_or("-"),
        r.revoke_status.map_or("-".into(), |s| s.to_string()),
        r.polls,
        r.stale_reads.unwrap_or(0),
    );
    if let Some(latency) = r.latency_ms {
        out += &format!("revoke returned → inactive on instance1: {latency:.3} ms\n");
    }
    if let Some(class) = r.class {
        out += &format!("class: {class}\n");
    }
    if let Some(reason) = &r.reason {
        out += &format!("reason: {reason}\n");
    }
    out
}

/// `cross-instance-revoke-iter-N.txt`: the revoke exchange(s) alone.
pub fn render_revoke_txt(it: &Iteration) -> String {
    let revokes: Vec<String> =
        it.trace.exchanges().iter().filter(|ex| ex.method == "DELETE").map(|ex| ex.render_raw()).collect();
    if revokes.is_empty() {
        format!(
            "no revoke was sent: {}\n",
            it.result.reason.as_deref().unwrap_or("the iteration stopped earlier")
        )
    } else {
        revokes.join("\n")
    }
}

/// `cross-instance.out`: one line per iteration, then the totals.
pub fn render_summary(results: &[IterationResult], totals: &CrossTotals) -> String {
    let mut out = String::new();
    for r in results {
        out += &format!(
            "iteration {}: {}{}{}\n",
            r.iteration,
            if r.success { "PASS" } else { "FAIL" },
            r.class.map(|c| format!(" [{c}]")).unwrap_or_default(),
            r.reason.as_ref().map(|x| format!(" — {x}")).unwrap_or_default()
        );
    }
    out += &format!(
        "cross-instance: {}/{} iterations failed{}, {} stale read(s), {} polls",
        totals.failures,
        totals.iterations,
        if totals.classes.is_empty() { String::new() } else { format!(" ({})", totals.classes.describe()) },
        totals.stale_reads,
        totals.polls
    );
    if let (Some(p50), Some(max)) = (totals.latency_ms_p50, totals.latency_ms_max) {
        out += &format!(", revoke→inactive p50 {p50:.3} ms, max {max:.3} ms");
    }
    out += "\n";
    for line in render_matrix(&totals.matrix) {
        out += &line;
        out += "\n";
    }
    out
}

/// One line per (revoker, observer) pair: stale reads, staleness proven
/// (`stale_ms`) and the visibility bound (`visible_by_ms`), p50/p99/max.
pub fn render_matrix(matrix: &[PairLatency]) -> Vec<String> {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    matrix
        .iter()
        .map(|p| {
            format!(
                "  revoked on {} → read on {}: {} iteration(s), {} stale read(s) in {}; stale_ms p50/p99/max {}/{}/{}; \
                 visible_by_ms p50/p99/max {}/{}/{}",
                p.revoker,
                p.observer,
                p.iterations,
                p.stale_reads,
                p.stale_iterations,
                ms(p.stale_ms.p50),
                ms(p.stale_ms.p99),
                ms(p.stale_ms.max),
                ms(p.visible_by_ms.p50),
                ms(p.visible_by_ms.p99),
                ms(p.visible_by_ms.max),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(n: u32, success: bool, latency: Option<f64>, stale: u32) -> IterationResult {
        IterationResult {
            iteration: n,
            success,
            reason: (!success).then(|| "stale".into()),
            revoke_status: Some(204),
            last: None,
            class: (!success).then_some(FailureClass::StaleRead),
            latency_ms: latency,
            stale_ms: Some(if stale > 0 { 5.0 * f64::from(n) } else { 0.0 }),
            visible_by_ms: latency,
            revoker: "instance2".into(),
            observer: "instance1".into(),
            stale_reads: Some(stale),
            polls: stale + 1,
            user_id: "u".into(),
            token_id: None,
            started_at: String::new(),
            duration_ms: 1.0,
        }
    }

    #[test]
    fn totals_count_failures_stale_reads_and_percentiles() {
        let results = [
            result(1, true, Some(1.0), 0),
            result(2, false, Some(800.0), 40),
            result(3, true, Some(2.0), 0),
            result(4, false, None, 0),
        ];
        let t = CrossTotals::of(&results);
        assert_eq!((t.iterations, t.failures, t.stale_reads, t.polls), (4, 2, 40, 44));
        assert_eq!(t.latency_ms_p50, Some(2.0));
        assert_eq!(t.latency_ms_max, Some(800.0));
        let [cell] = t.matrix.as_slice() else { panic!("one pair: {:?}", t.matrix) };
        assert_eq!((cell.revoker.as_str(), cell.observer.as_str()), ("instance2", "instance1"));
        assert_eq!((cell.iterations, cell.stale_reads, cell.stale_iterations), (4, 40, 1));
        assert_eq!((cell.stale_ms.max, cell.visible_by_ms.max), (Some(10.0), Some(800.0)));
        assert_eq!(cell.stale_ms.p50, Some(0.0), "no stale read is 0 ms of proven staleness");
    }
}
