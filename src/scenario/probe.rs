//! The revocation probe both the smoke and the cross-instance iterations run:
//! create → introspect (must be active) → revoke (must be 204) → poll
//! introspect until `active:false` or the deadline, counting stale reads.

use super::Judgement;
use crate::clock::{millis, round_ms, Stamp};
use crate::contract::{Client, CreateRequest, CreatedToken, Trace};
use crate::verdict::FailureClass;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Which instance does what.
#[derive(Clone, Copy)]
pub struct ProbeRoles<'a> {
    pub creator: &'a Client,
    pub revoker: &'a Client,
    pub observer: &'a Client,
}

#[derive(Clone, Debug, Default)]
pub struct ProbeOutcome {
    pub success: bool,
    pub reason: Option<String>,
    /// Why it failed, when it failed.
    pub class: Option<FailureClass>,
    pub user_id: String,
    pub created: Option<CreatedToken>,
    /// The create answer's body as received.
    pub create_body: Option<String>,
    pub revoke_status: Option<u16>,
    pub revoke_returned: Option<Stamp>,
    pub first_inactive: Option<Stamp>,
    /// From the revoke returning to the first `active:false` being seen: an
    /// upper bound, as it includes that poll's own round trip.
    pub latency_ms: Option<f64>,
    /// Staleness proven, judged as Jepsen judges a stale read: the invocation
    /// of the last read that still said `active:true`, less the revoke's
    /// completion; 0 when no read was stale.
    pub stale_ms: Option<f64>,
    /// The completion of the first `active:false` read, less the revoke's
    /// completion: by then the revoke was visible (an upper bound).
    pub visible_by_ms: Option<f64>,
    pub stale_reads: u32,
    pub polls: u32,
    /// The last introspection answer (JSON when it was JSON).
    pub last: Option<Value>,
    pub trace: Trace,
}

impl ProbeOutcome {
    fn fail(mut self, class: FailureClass, reason: String) -> Self {
        self.success = false;
        self.class = Some(class);
        self.reason = Some(reason);
        self
    }

    fn note_last(&mut self) {
        if let Some(ex) = self.trace.last() {
            self.last = Some(
                serde_json::from_str(ex.response_body.trim()).unwrap_or_else(|_| Value::String(ex.summary())),
            );
        }
    }
}

pub async fn probe_revocation(
    roles: ProbeRoles<'_>,
    user_id: &str,
    judgement: &Judgement,
    label: &str,
) -> ProbeOutcome {
    let mut out = ProbeOutcome { user_id: user_id.to_string(), ..ProbeOutcome::default() };
    let request = CreateRequest { label: label.to_string(), scopes: vec!["git".into()], expires_at: None };
    let created = roles.creator.create_token(&mut out.trace, user_id, &request).await;
    out.create_body = out.trace.last().map(|ex| ex.response_body.clone());
    let created = match created {
        Ok(created) => created,
        Err(e) => return out.fail(e.class, e.to_string()),
    };
    out.created = Some(created.clone());

    let before = roles.observer.introspect(&mut out.trace, &created.token).await;
    out.note_last();
    match before {
        Ok(answer) if answer.active => {}
        Ok(_) => {
            let reason = format!(
                "token created on {} was not active on {} before the revoke",
                roles.creator.name(),
                roles.observer.name()
            );
            return out.fail(FailureClass::Contract, reason);
        }
        Err(e) => return out.fail(e.class, format!("before the revoke: {e}")),
    }

    let revoked = roles.revoker.revoke(&mut out.trace, user_id, &created.id).await;
    let revoke_returned = Instant::now();
    out.revoke_returned = out.trace.last().map(|ex| {
        let mut stamp = ex.sent;
        stamp.mono_ms += ex.latency_ms;
        stamp.wall += chrono::Duration::microseconds((ex.latency_ms * 1000.0) as i64);
        stamp
    });
    match revoked {
        Ok(status) => {
            out.revoke_status = Some(status);
            if !judgement.accepted_revoke_statuses.contains(&status) {
                let body = out.trace.last().map(|ex| ex.summary()).unwrap_or_default();
                let reason = format!(
                    "revoke on {} answered {body}, expected {}",
                    roles.revoker.name(),
                    statuses(&judgement.accepted_revoke_statuses)
                );
                return out.fail(FailureClass::of_unexpected_status(status), reason);
            }
        }
        Err(e) => return out.fail(e.class, e.to_string()),
    }

    poll_until_inactive(out, roles, &created.token, judgement, revoke_returned).await
}

async fn poll_until_inactive(
    mut out: ProbeOutcome,
    roles: ProbeRoles<'_>,
    token: &str,
    judgement: &Judgement,
    revoke_returned: Instant,
) -> ProbeOutcome {
    let observer = roles.observer.name();
    // The revoke's completion, on the trace's monotonic clock.
    let revoke_completed_ms = out.revoke_returned.map(|s| s.mono_ms);
    let mut last_stale_invoked_ms: Option<f64> = None;
    let across = if roles.revoker.name() == observer {
        String::new()
    } else {
        format!(" on {}", roles.revoker.name())
    };
    loop {
        // A poll never outlives the deadline, whatever --request-timeout says.
        let budget =
            judgement.deadline.saturating_sub(revoke_returned.elapsed()).max(Duration::from_millis(1));
        let answer = roles.observer.introspect_within(&mut out.trace, token, Some(budget)).await;
        out.polls += 1;
        out.note_last();
        match answer {
            Ok(answer) if !answer.active => {
                let latency = millis(revoke_returned.elapsed());
                out.latency_ms = Some(latency);
                out.first_inactive = out.trace.last().map(|ex| ex.sent);
                if let (Some(revoked), Some(read)) = (revoke_completed_ms, out.trace.last()) {
                    out.visible_by_ms =
                        Some(round_ms((read.sent.mono_ms + read.latency_ms - revoked).max(0.0)));
                    out.stale_ms = Some(staleness(Some(revoked), last_stale_invoked_ms).unwrap_or(0.0));
                }
                if out.stale_reads > 0 && judgement.require_immediate {
                    let reason = format!(
                        "stale read: {observer} still answered active:true {} time(s) for {latency:.1} ms after the revoke{across} returned",
                        out.stale_reads
                    );
                    return out.fail(FailureClass::StaleRead, reason);
                }
                out.success = true;
                return out;
            }
            Ok(_) => {
                out.stale_reads += 1;
                last_stale_invoked_ms = out.trace.last().map(|ex| ex.sent.mono_ms);
            }
            Err(e) => {
                out.stale_ms = staleness(revoke_completed_ms, last_stale_invoked_ms);
                // A stale read already seen is the finding, whatever broke afterwards.
                let class = if out.stale_reads > 0 && judgement.require_immediate {
                    FailureClass::StaleRead
                } else {
                    e.class
                };
                let reason = format!(
                    "after the revoke{across} returned ({} stale read(s) so far): {e}",
                    out.stale_reads
                );
                return out.fail(class, reason);
            }
        }
        let elapsed = revoke_returned.elapsed();
        if elapsed >= judgement.deadline {
            out.stale_ms = staleness(revoke_completed_ms, last_stale_invoked_ms);
            let reason = format!(
                "token still active on {observer} {} after the revoke{across} returned ({} polls, every one active:true)",
                humantime::format_duration(judgement.deadline),
                out.polls
            );
            return out.fail(FailureClass::StaleRead, reason);
        }
        let remaining = judgement.deadline - elapsed;
        tokio::time::sleep(judgement.poll_interval.min(remaining)).await;
    }
}

/// How long a stale read proves the revoke was not yet visible; `None`
/// without the revoke's completion or without any stale read.
fn staleness(revoke_completed_ms: Option<f64>, last_stale_invoked_ms: Option<f64>) -> Option<f64> {
    Some(round_ms((last_stale_invoked_ms? - revoke_completed_ms?).max(0.0)))
}

fn statuses(list: &[u16]) -> String {
    list.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
}
