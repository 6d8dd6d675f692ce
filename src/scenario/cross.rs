//! Cross-instance iterations: create on one instance, revoke on another,
//! poll introspect on every instance but the revoker at once. Roles rotate
//! so that every ordered (revoker, observer) pair is covered evenly. Each
//! iteration has its own user.

use super::{fresh_user_id, probe_revocation, Judgement, Observation, ProbeOutcome, ProbeRoles};
use crate::clock::{Clock, Stamp};
use crate::contract::{Client, Trace};
use crate::hashing::splitmix;
use crate::lenient;
use crate::stats::percentile;
use crate::verdict::{ClassCounts, FailureClass, Signature, SignatureCount, SignatureTally};
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
    /// The instance that created the token, the one that revoked it, and the
    /// one polled (several, comma-separated, when more than one was).
    #[serde(default, deserialize_with = "lenient::text_or_empty", skip_serializing_if = "String::is_empty")]
    pub creator: String,
    #[serde(default, deserialize_with = "lenient::text_or_empty")]
    pub revoker: String,
    #[serde(default, deserialize_with = "lenient::text_or_empty")]
    pub observer: String,
    /// Each observer's own polls, when more than one was polled (with one, the
    /// fields above are its own). The top-level figures are then the sums
    /// (reads, polls) and the slowest observer's (latencies).
    #[serde(default, deserialize_with = "lenient::list", skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observation>,
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
    /// A failed iteration's identity across runs (see [`IterationResult::signature`]).
    #[serde(default, deserialize_with = "lenient::or_none", skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
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

    /// A failed iteration's signature: the (revoker → observer) pair that
    /// failed and the reason's kind. The one a file recorded, else derived
    /// from its fields (files written before signatures existed).
    pub fn signature(&self) -> Option<Signature> {
        let class = self.failure_class()?;
        if let Some(recorded) = &self.signature {
            return Some(recorded.clone());
        }
        let failed = self.observations.iter().filter(|o| !o.success);
        let observation =
            failed.clone().find(|o| o.class == Some(FailureClass::StaleRead)).or(failed.clone().next());
        let observer = observation.map_or(self.observer.as_str(), |o| o.observer.as_str());
        let reason = self.reason.as_deref().unwrap_or_default();
        Some(Signature::cross(class, &self.revoker, observer, reason))
    }

    /// Counts a failed iteration's signature in `tally`, first seen here.
    pub fn count_signature(&self, tally: &mut SignatureTally) {
        if let Some(signature) = self.signature() {
            tally.add(signature, || format!("iteration {}", self.iteration), self.reason.as_deref());
        }
    }

    /// The (revoker, observer) cells this iteration measured. One that
    /// stopped before its observers were polled has a cell per observer named,
    /// without figures.
    pub fn cells(&self) -> Vec<Observation> {
        if !self.observations.is_empty() {
            return self.observations.clone();
        }
        if self.observer.contains(',') {
            return self
                .observer
                .split(',')
                .map(|name| Observation {
                    observer: name.trim().to_string(),
                    success: self.success,
                    class: self.class,
                    ..Observation::default()
                })
                .collect();
        }
        vec![Observation {
            observer: self.observer.clone(),
            success: self.success,
            class: self.class,
            reason: None,
            stale_reads: self.stale_reads.unwrap_or(0),
            polls: self.polls,
            latency_ms: self.latency_ms,
            stale_ms: self.stale_ms,
            visible_by_ms: self.visible_by_ms,
            rate_limit_wait_ms: None,
        }]
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

/// The fewest requests one iteration sends among `instances` instances:
/// create, introspect, revoke, then one poll per observer. What a paced run plans with.
pub fn least_requests_per_iteration(instances: usize) -> u64 {
    3 + instances.saturating_sub(1).max(1) as u64
}

/// Which iterations, and how many in flight at once.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The iteration numbers to run (1-based), ascending.
    pub numbers: Vec<u32>,
    pub concurrency: usize,
    /// `--seed`: users are derived from it and the iteration number, so that
    /// a seeded fault strikes the same iterations however they are sharded.
    pub seed: Option<u64>,
}

impl Schedule {
    /// Iterations 1..=`iterations`, or this shard's share of them.
    pub fn new(iterations: u32, shard: Option<Shard>, concurrency: usize, seed: Option<u64>) -> Schedule {
        let numbers = match shard {
            Some(shard) => shard.share(iterations, seed.unwrap_or(0)),
            None => (1..=iterations).collect(),
        };
        Schedule { numbers, concurrency, seed }
    }
}

/// `--shard K/N`: the K-th of N shares of the iterations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {text:?}: expected K/N with 1 <= K <= N, e.g. 2/3");
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) =
            (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// This shard's iteration numbers, ascending. The iterations are dealt out
    /// in an order shuffled by `seed`, so each shard gets a spread of the run
    /// (not one stretch of it) and the shards of one seed never overlap.
    pub fn share(self, iterations: u32, seed: u64) -> Vec<u32> {
        let mut order: Vec<u32> = (1..=iterations).collect();
        order.sort_by_key(|n| (splitmix(seed ^ u64::from(*n)), *n));
        let mut mine: Vec<u32> = order
            .into_iter()
            .enumerate()
            .filter(|(position, _)| *position as u32 % self.count == self.index - 1)
            .map(|(_, n)| n)
            .collect();
        mine.sort_unstable();
        mine
    }
}

/// Who does what in one iteration, as indexes into the instances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub creator: usize,
    pub revoker: usize,
    /// Every instance but the revoker, polled at once.
    pub observers: Vec<usize>,
}

/// The roles of iteration `n` (1-based) among `instances`: the revoker
/// rotates through every instance, so each ordered (revoker, observer) pair
/// comes once in every `instances` iterations; the creator rotates through
/// the others. With two instances, iteration 1 creates on the first, revokes
/// on the second and polls the first, as runs always have.
pub fn assign(n: u32, instances: usize) -> Assignment {
    let count = instances.max(2);
    let n = n as usize;
    let revoker = n % count;
    let creator = (revoker + 1 + (n.saturating_sub(1) / count) % (count - 1)) % count;
    Assignment { creator, revoker, observers: (0..count).filter(|&k| k != revoker).collect() }
}

/// The user of iteration `n`: fresh, or derived from `--seed` (24 hex either way).
pub fn user_of(n: u32, seed: Option<u64>) -> String {
    match seed {
        Some(seed) => {
            let high = splitmix(seed ^ 0x7573_6572 ^ (u64::from(n) << 32));
            let low = splitmix(high ^ u64::from(n));
            format!("{high:016x}{:08x}", low >> 32)
        }
        None => fresh_user_id(),
    }
}

/// Iterations that may finish ahead of a slow one and wait for it.
const SLACK: usize = 64;

/// Runs the scheduled iterations over `clients` (two or more), at most
/// `concurrency` at once, awaiting `before_start(n)` before iteration n
/// (where `--chaos` strikes) and handing each to `on_done` in the schedule's
/// order. Back-pressure, not a growing buffer: an iteration starts only
/// when fewer than `concurrency + SLACK` have started and not yet been
/// handed on, so one slow iteration holds at most that many behind it and
/// memory stays O(concurrency) however long the run.
pub async fn run_iterations<BeforeFut>(
    clients: &[Client],
    judgement: &Judgement,
    clock: &Clock,
    schedule: &Schedule,
    before_start: impl Fn(u32) -> BeforeFut,
    mut on_done: impl FnMut(Iteration),
) where
    BeforeFut: std::future::Future<Output = ()>,
{
    let before_start = &before_start;
    let seed = schedule.seed;
    let concurrency = schedule.concurrency.max(1);
    // Fair: the earliest waiting iteration runs next.
    let running = &tokio::sync::Semaphore::new(concurrency);
    stream::iter(schedule.numbers.iter().copied())
        .map(|n| async move {
            let _slot = running.acquire().await.expect("the semaphore is never closed");
            before_start(n).await;
            run_iteration(clients, &assign(n, clients.len()), n, &user_of(n, seed), judgement, clock).await
        })
        .buffered(concurrency + SLACK)
        .for_each(|it| {
            on_done(it);
            std::future::ready(())
        })
        .await;
}

/// One iteration (`parity replay` runs them one at a time).
pub async fn run_iteration(
    clients: &[Client],
    roles: &Assignment,
    iteration: u32,
    user_id: &str,
    judgement: &Judgement,
    clock: &Clock,
) -> Iteration {
    let started: Stamp = clock.now();
    let observers: Vec<&Client> = roles.observers.iter().map(|&k| &clients[k]).collect();
    let probe_roles = ProbeRoles {
        creator: &clients[roles.creator],
        revoker: &clients[roles.revoker],
        observers: &observers,
    };
    let outcome: ProbeOutcome =
        probe_revocation(probe_roles, user_id, judgement, &format!("parity-cross-{iteration}")).await;
    let finished = clock.now();
    let observer = observers.iter().map(|c| c.name()).collect::<Vec<_>>().join(",");
    let mut iteration = Iteration {
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
            creator: clients[roles.creator].name().to_string(),
            revoker: clients[roles.revoker].name().to_string(),
            observer,
            observations: if outcome.observations.len() > 1 { outcome.observations } else { Vec::new() },
            stale_reads: Some(outcome.stale_reads),
            polls: outcome.polls,
            user_id: user_id.to_string(),
            token_id: outcome.created.map(|c| c.id),
            started_at: crate::clock::rfc3339(&started.wall),
            duration_ms: crate::clock::round_ms(finished.mono_ms - started.mono_ms),
            signature: None,
        },
        create_body: outcome.create_body,
        trace: outcome.trace,
    };
    iteration.result.signature = iteration.result.signature();
    iteration
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
    CrossTotals::of(results).matrix
}

impl CrossTotals {
    pub fn of(results: &[IterationResult]) -> Self {
        let mut tally = CrossTally::default();
        results.iter().for_each(|r| tally.add(r));
        tally.totals()
    }
}

/// The totals gathered one iteration at a time, keeping a few numbers per
/// iteration rather than the iterations, so a long run's memory stays small.
#[derive(Clone, Debug, Default)]
pub struct CrossTally {
    iterations: u32,
    failures: u32,
    classes: ClassCounts,
    stale_reads: u32,
    polls: u32,
    latencies: Vec<f64>,
    cells: std::collections::BTreeMap<(String, String), CellTally>,
    signatures: SignatureTally,
}

#[derive(Clone, Debug, Default)]
struct CellTally {
    iterations: u32,
    stale_reads: u32,
    stale_iterations: u32,
    stale_ms: Vec<f64>,
    visible_by_ms: Vec<f64>,
}

impl CrossTally {
    /// Counts `r` in, once in every (revoker, observer) cell it measured (an
    /// iteration that failed before the revoke counts in its cells with no figures).
    pub fn add(&mut self, r: &IterationResult) {
        self.iterations += 1;
        if !r.success {
            self.failures += 1;
            self.classes.add(r.class.unwrap_or(FailureClass::Unknown));
        }
        r.count_signature(&mut self.signatures);
        self.stale_reads += r.stale_reads.unwrap_or(0);
        self.polls += r.polls;
        self.latencies.extend(r.latency_ms);
        if r.revoker.is_empty() {
            return;
        }
        for cell in r.cells().into_iter().filter(|c| !c.observer.is_empty()) {
            let tally = self.cells.entry((r.revoker.clone(), cell.observer)).or_default();
            tally.iterations += 1;
            tally.stale_reads += cell.stale_reads;
            tally.stale_iterations += u32::from(cell.stale_reads > 0);
            tally.stale_ms.extend(cell.stale_ms);
            tally.visible_by_ms.extend(cell.visible_by_ms);
        }
    }

    /// The failed iterations' signatures, first seen first.
    pub fn signatures(&self) -> Vec<SignatureCount> {
        self.signatures.clone().into_counts()
    }

    pub fn totals(&self) -> CrossTotals {
        let mut latencies = self.latencies.clone();
        latencies.sort_by(f64::total_cmp);
        CrossTotals {
            iterations: self.iterations,
            failures: self.failures,
            classes: self.classes.clone(),
            stale_reads: self.stale_reads,
            polls: self.polls,
            latency_ms_p50: percentile(&latencies, 0.50),
            latency_ms_p95: percentile(&latencies, 0.95),
            latency_ms_max: latencies.last().copied(),
            matrix: self
                .cells
                .iter()
                .map(|((revoker, observer), c)| PairLatency {
                    revoker: revoker.clone(),
                    observer: observer.clone(),
                    iterations: c.iterations,
                    stale_reads: c.stale_reads,
                    stale_iterations: c.stale_iterations,
                    stale_ms: Percentiles::of(c.stale_ms.clone()),
                    visible_by_ms: Percentiles::of(c.visible_by_ms.clone()),
                })
                .collect(),
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
    if !r.revoker.is_empty() {
        let creator = if r.creator.is_empty() { "-" } else { &r.creator };
        out += &format!("roles: created on {creator}, revoked on {}, polled {}\n", r.revoker, r.observer);
    }
    if let Some(latency) = r.latency_ms {
        out += &format!("revoke returned → inactive on {}: {latency:.3} ms\n", r.observer);
    }
    for o in &r.observations {
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        out += &format!(
            "  {}: {}, {} poll(s), {} stale read(s), stale_ms {}, visible_by_ms {}\n",
            o.observer,
            if o.success { "PASS" } else { "FAIL" },
            o.polls,
            o.stale_reads,
            ms(o.stale_ms),
            ms(o.visible_by_ms)
        );
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
    results.iter().map(render_result_line).collect::<String>() + &render_totals(totals)
}

/// One iteration's line of `cross-instance.out`.
pub fn render_result_line(r: &IterationResult) -> String {
    format!(
        "iteration {}: {}{}{}\n",
        r.iteration,
        if r.success { "PASS" } else { "FAIL" },
        r.class.map(|c| format!(" [{c}]")).unwrap_or_default(),
        r.reason.as_ref().map(|x| format!(" — {x}")).unwrap_or_default()
    )
}

/// The totals that end `cross-instance.out`, and the matrix.
pub fn render_totals(totals: &CrossTotals) -> String {
    let mut out = format!(
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
            creator: "instance1".into(),
            revoker: "instance2".into(),
            observer: "instance1".into(),
            observations: Vec::new(),
            stale_reads: Some(stale),
            polls: stale + 1,
            user_id: "u".into(),
            token_id: None,
            started_at: String::new(),
            duration_ms: 1.0,
            signature: None,
        }
    }

    #[test]
    fn roles_rotate_over_every_ordered_pair_evenly() {
        for instances in 2..=5usize {
            let mut pairs: std::collections::BTreeMap<(usize, usize), u32> = Default::default();
            let rounds = 3 * instances as u32 * (instances as u32 - 1);
            for n in 1..=rounds {
                let a = assign(n, instances);
                assert_ne!(a.creator, a.revoker, "iteration {n} creates and revokes on one instance");
                assert_eq!(a.observers.len(), instances - 1);
                assert!(!a.observers.contains(&a.revoker));
                a.observers.iter().for_each(|&o| *pairs.entry((a.revoker, o)).or_default() += 1);
            }
            assert_eq!(pairs.len(), instances * (instances - 1), "{instances} instances");
            let counts: std::collections::BTreeSet<u32> = pairs.values().copied().collect();
            assert_eq!(counts.len(), 1, "{instances} instances: uneven {pairs:?}");
        }
        // Two instances: iteration 1 is what runs always did.
        assert_eq!(assign(1, 2), Assignment { creator: 0, revoker: 1, observers: vec![0] });
        assert_eq!(assign(2, 2), Assignment { creator: 1, revoker: 0, observers: vec![1] });
    }

    #[test]
    fn shards_split_the_iterations_without_overlap_and_by_seed() {
        let shards: Vec<Vec<u32>> = (1..=3).map(|k| Shard { index: k, count: 3 }.share(100, 7)).collect();
        let mut all: Vec<u32> = shards.concat();
        all.sort_unstable();
        assert_eq!(all, (1..=100).collect::<Vec<_>>());
        assert!(shards.iter().all(|s| (33..=34).contains(&s.len())), "{:?}", shards.iter().map(Vec::len));
        assert_ne!(shards[0], (1..=34).collect::<Vec<_>>(), "a spread, not a stretch");
        assert_eq!(Shard { index: 1, count: 3 }.share(100, 7), shards[0], "deterministic");
        assert_ne!(Shard { index: 1, count: 3 }.share(100, 8), shards[0], "dealt by the seed");
        assert_eq!(Shard { index: 1, count: 1 }.share(5, 0), [1, 2, 3, 4, 5]);
        for bad in ["3/2", "0/2", "1/0", "x", "1/", "2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!("2/3".parse::<Shard>().unwrap().to_string(), "2/3");
    }

    #[test]
    fn an_iteration_stopped_before_polling_counts_in_each_named_observers_cell() {
        let stopped = IterationResult {
            iteration: 2,
            revoker: "instance2".into(),
            observer: "instance1,instance3".into(),
            ..IterationResult::default()
        };
        let cells = CrossTotals::of(&[stopped]).matrix;
        let pairs: Vec<(&str, &str, u32)> =
            cells.iter().map(|c| (c.revoker.as_str(), c.observer.as_str(), c.iterations)).collect();
        assert_eq!(pairs, [("instance2", "instance1", 1), ("instance2", "instance3", 1)]);
        assert!(cells.iter().all(|c| c.stale_ms.max.is_none()), "no figures: {cells:?}");
    }

    #[test]
    fn a_seed_gives_each_iteration_its_own_stable_user() {
        let a = user_of(1, Some(7));
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, user_of(1, Some(7)));
        assert_ne!(a, user_of(2, Some(7)));
        assert_ne!(a, user_of(1, Some(8)));
        assert_ne!(user_of(1, None), user_of(1, None));
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
