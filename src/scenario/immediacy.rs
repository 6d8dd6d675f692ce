//! Revocation immediacy on one instance (the "node parity smoke").

use super::{fresh_user_id, probe_revocation, Judgement, ProbeRoles};
use crate::clock::{Clock, Stamp};
use crate::contract::{Client, Trace};
use serde::Serialize;
use serde_json::Value;

/// `node.parity.json`.
#[derive(Clone, Debug, Serialize)]
pub struct SmokeReport {
    pub success: bool,
    pub reason: Option<String>,
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

pub async fn run_smoke(client: &Client, judgement: &Judgement, clock: &Clock) -> Smoke {
    let started_at = clock.now();
    let user_id = fresh_user_id();
    let roles = ProbeRoles { creator: client, revoker: client, observer: client };
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
        success: outcome.success,
        reason: outcome.reason,
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
        "revocation immediacy on {} (attempt {attempt}): {}\n",
        r.instance,
        if r.success { "PASS" } else { "FAIL" }
    );
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
