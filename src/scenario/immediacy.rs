//! Revocation immediacy on one instance (the "node parity smoke").

use super::{fresh_user_id, probe_revocation, Judgement, ProbeRoles};
use crate::clock::{Clock, Stamp};
use crate::contract::{Client, Trace};
use crate::rerun::{self, FlakinessReport, Tried};
use crate::retry::Backoff;
use crate::verdict::{FailureClass, RetryOn};
use serde::Serialize;
use serde_json::Value;

/// `node.parity.json`.
#[derive(Clone, Debug, Serialize)]
pub struct SmokeReport {
    /// The check's stable id (see `parity checks`).
    pub check: &'static str,
    pub clause: &'static str,
    pub success: bool,
    pub reason: Option<String>,
    /// Why it failed, when it failed.
    pub class: Option<FailureClass>,
    pub instance: String,
    pub user_id: String,
    pub token_id: Option<String>,
    pub started_at: Stamp,
    pub finished_at: Stamp,
    pub revoke_returned_at: Option<Stamp>,
    pub inactive_at: Option<Stamp>,
    pub revoke_status: Option<u16>,
    /// From the revoke returning to the first `active:false`.
    pub latency_ms: Option<f64>,
    pub stale_reads: u32,
    pub polls: u32,
    /// The last introspection answer.
    pub last: Option<Value>,
    /// The user's tokens as the service listed them, gathered only on failure.
    pub tokens_on_failure: Option<Value>,
    pub exchanges: usize,
}

pub struct Smoke {
    pub report: SmokeReport,
    pub trace: Trace,
}

/// What the smoke's subject is called in `flakiness.json`.
pub const SUBJECT: &str = "node parity smoke (revocation immediacy)";

/// The smoke under a retry policy: every attempt in order (`on_attempt` sees
/// each as it ends), and the rerun report that judges them by class.
pub async fn run_with_retries(
    client: &Client,
    judgement: &Judgement,
    retry: Backoff,
    retry_on: RetryOn,
    clock: &Clock,
    on_attempt: impl Fn(u32, &Smoke),
) -> (FlakinessReport, Vec<Smoke>) {
    let on_attempt = &on_attempt;
    rerun::with_retries(retry, retry_on, SUBJECT, |attempt| async move {
        let smoke = run_smoke(client, judgement, clock).await;
        on_attempt(attempt, &smoke);
        let r = &smoke.report;
        let tried = if r.success {
            Tried::passed()
        } else {
            Tried { rc: 1, class: r.class.or(Some(FailureClass::Harness)), reason: r.reason.clone() }
        };
        (tried, smoke)
    })
    .await
}

/// The attempt that decided the smoke: the first whose failure cannot be
/// forgiven, else the last.
pub fn deciding<'a>(report: &FlakinessReport, smokes: &'a [Smoke]) -> Option<&'a Smoke> {
    let unforgiven =
        report.attempts.iter().position(|a| a.rc != 0 && a.class.is_some_and(|c| !c.forgivable()));
    unforgiven.and_then(|i| smokes.get(i)).or_else(|| smokes.last())
}

pub async fn run_smoke(client: &Client, judgement: &Judgement, clock: &Clock) -> Smoke {
    let started_at = clock.now();
    let user_id = fresh_user_id();
    let roles = ProbeRoles { creator: client, revoker: client, observers: std::slice::from_ref(&client) };
    let mut outcome = probe_revocation(roles, &user_id, judgement, "parity-smoke").await;
    let tokens_on_failure = if outcome.success {
        None
    } else {
        let listed = client.list_tokens(&mut outcome.trace, &user_id).await;
        Some(match listed {
            Ok(items) => Value::Array(items),
            Err(e) => Value::String(format!("could not list the user's tokens: {e}")),
        })
    };
    let report = SmokeReport {
        check: super::catalog::SMOKE.id,
        clause: super::catalog::SMOKE.clause,
        success: outcome.success,
        reason: outcome.reason,
        class: outcome.class,
        instance: client.base_url().to_string(),
        user_id,
        token_id: outcome.created.map(|c| c.id),
        started_at,
        finished_at: clock.now(),
        revoke_returned_at: outcome.revoke_returned,
        inactive_at: outcome.first_inactive,
        revoke_status: outcome.revoke_status,
        latency_ms: outcome.latency_ms,
        stale_reads: outcome.stale_reads,
        polls: outcome.polls,
        last: outcome.last,
        tokens_on_failure,
        exchanges: outcome.trace.len(),
    };
    Smoke { report, trace: outcome.trace }
}

/// `node.parity.out`: the verdict first, then every exchange.
pub fn render_out(smoke: &Smoke, attempt: u32) -> String {
    let r = &smoke.report;
    let mut out = format!(
        "revocation immediacy on {} (attempt {attempt}): {}\ncheck: {} — {}\n",
        r.instance,
        if r.success { "PASS" } else { "FAIL" },
        r.check,
        r.clause
    );
    if let Some(class) = r.class {
        out += &format!("class: {class}\n");
    }
    if let Some(reason) = &r.reason {
        out += &format!("reason: {reason}\n");
    }
    if let Some(latency) = r.latency_ms {
        out += &format!(
            "revoke returned → inactive: {latency:.3} ms ({} polls, {} stale)\n",
            r.polls, r.stale_reads
        );
    }
    out += "\n";
    out += &smoke.trace.render_raw();
    out
}
