//! The revocation probe both the smoke and the cross-instance iterations run:
//! create → introspect (must be active) → revoke (must be 204) → poll
//! introspect until `active:false` or the deadline, counting stale reads.

use super::Judgement;
use crate::clock::{millis, round_ms, Stamp};
use crate::contract::{Client, CreateRequest, CreatedToken, Trace};
use crate::lenient;
use crate::verdict::FailureClass;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Which instance does what.
#[derive(Clone, Copy)]
pub struct ProbeRoles<'a> {
    pub creator: &'a Client,
    pub revoker: &'a Client,
    /// Polled at once after the revoke; each must see it.
    pub observers: &'a [&'a Client],
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
    /// When the last observer's first `active:false` was sent.
    pub first_inactive: Option<Stamp>,
    /// From the revoke returning to the first `active:false` being seen (the
    /// slowest observer's): an upper bound, as it includes that poll's own round trip.
    pub latency_ms: Option<f64>,
    /// Staleness proven, judged as Jepsen judges a stale read: the invocation
    /// of the last read that still said `active:true`, less the revoke's
    /// completion; 0 when no read was stale (the most of any observer).
    pub stale_ms: Option<f64>,
    /// The completion of the first `active:false` read, less the revoke's
    /// completion: by then the revoke was visible (an upper bound; the slowest observer's).
    pub visible_by_ms: Option<f64>,
    pub stale_reads: u32,
    pub polls: u32,
    /// What each observer saw after the revoke, in the roles' order.
    pub observations: Vec<Observation>,
    /// The last introspection answer (JSON when it was JSON).
    pub last: Option<Value>,
    pub trace: Trace,
}

/// What one observer saw after the revoke.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Observation {
    #[serde(deserialize_with = "lenient::text_or_empty")]
    pub observer: String,
    #[serde(deserialize_with = "lenient::flag")]
    pub success: bool,
    #[serde(deserialize_with = "lenient::class")]
    pub class: Option<FailureClass>,
    #[serde(deserialize_with = "lenient::text")]
    pub reason: Option<String>,
    #[serde(deserialize_with = "lenient::count_or_zero")]
    pub stale_reads: u32,
    #[serde(deserialize_with = "lenient::count_or_zero")]
    pub polls: u32,
    #[serde(deserialize_with = "lenient::non_negative")]
    pub latency_ms: Option<f64>,
    #[serde(deserialize_with = "lenient::non_negative")]
    pub stale_ms: Option<f64>,
    #[serde(deserialize_with = "lenient::non_negative")]
    pub visible_by_ms: Option<f64>,
    /// Time this observer's polls were held back by 429s: the window was
    /// measured across it (a poll answered 429 is not a read).
    #[serde(deserialize_with = "lenient::non_negative", skip_serializing_if = "Option::is_none")]
    pub rate_limit_wait_ms: Option<f64>,
}

impl ProbeOutcome {
    fn fail(mut self, class: FailureClass, reason: String) -> Self {
        self.success = false;
        self.class = Some(class);
        self.reason = Some(reason);
        self
    }

    fn note_last(&mut self) {
        self.last = last_answer(&self.trace);
    }

    /// The observers' findings, each with its exchanges, folded into the outcome.
    fn observed(mut self, polls: Vec<ObserverPoll>) -> Self {
        let mut exchanges: Vec<_> = polls.iter().flat_map(|p| p.trace.exchanges().iter().cloned()).collect();
        exchanges.sort_by_key(|ex| ex.seq);
        exchanges.into_iter().for_each(|ex| self.trace.push(ex));
        let seen: Vec<&Observation> = polls.iter().map(|p| &p.observation).collect();
        self.stale_reads = seen.iter().map(|o| o.stale_reads).sum();
        self.polls = seen.iter().map(|o| o.polls).sum();
        let slowest = |f: fn(&Observation) -> Option<f64>| -> Option<f64> {
            seen.iter().map(|o| f(o)).collect::<Option<Vec<f64>>>()?.into_iter().reduce(f64::max)
        };
        self.latency_ms = slowest(|o| o.latency_ms);
        self.visible_by_ms = slowest(|o| o.visible_by_ms);
        self.stale_ms = seen.iter().filter_map(|o| o.stale_ms).reduce(f64::max);
        self.first_inactive = polls
            .iter()
            .map(|p| p.first_inactive)
            .collect::<Option<Vec<Stamp>>>()
            .and_then(|stamps| stamps.into_iter().max_by(|a, b| a.mono_ms.total_cmp(&b.mono_ms)));
        // A stale read is the finding, whatever else broke on another observer.
        let failed = polls
            .iter()
            .find(|p| p.observation.class == Some(FailureClass::StaleRead))
            .or_else(|| polls.iter().find(|p| !p.observation.success));
        self.last = failed.or(polls.last()).and_then(|p| last_answer(&p.trace));
        self.observations = polls.iter().map(|p| p.observation.clone()).collect();
        match failed {
            Some(p) => {
                let o = &p.observation;
                self.fail(o.class.unwrap_or(FailureClass::Unknown), o.reason.clone().unwrap_or_default())
            }
            None => {
                self.success = true;
                self
            }
        }
    }
}

/// The last exchange's answer: JSON when it was JSON, else its summary.
fn last_answer(trace: &Trace) -> Option<Value> {
    trace.last().map(|ex| {
        serde_json::from_str(ex.response_body.trim()).unwrap_or_else(|_| Value::String(ex.summary()))
    })
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

    // Every observer answers active first (and so has seen the token, as a cache would).
    for observer in roles.observers {
        let before = observer.introspect(&mut out.trace, &created.token).await;
        out.note_last();
        match before {
            Ok(answer) if answer.active => {}
            Ok(_) => {
                let reason = format!(
                    "token created on {} was not active on {} before the revoke",
                    roles.creator.name(),
                    observer.name()
                );
                return out.fail(FailureClass::Contract, reason);
            }
            Err(e) => return out.fail(e.class, format!("before the revoke: {e}")),
        }
    }

    let revoked = roles.revoker.revoke(&mut out.trace, user_id, &created.id).await;
    let revoke_returned = Instant::now();
    out.revoke_returned = out.trace.last().map(|ex| {
        let mut stamp = ex.sent;
        stamp.mono_ms += ex.latency_ms;
        stamp.wall += chrono::Duration::microseconds((ex.latency_ms * 1000.0) as i64);
        stamp
    });
    // A revoke that answered, but not as the contract says (a 404 for the
    // user's own token, a 200): the token is still polled, since one left
    // active after that answer is a stale read like any other — the
    // cross-implementation failure, where one build cannot find what the
    // other wrote. Only a 5xx or a 429 not waited out (the service could not
    // answer) stops here.
    let mut unexpected = None;
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
                let class = FailureClass::of_unexpected_status(status);
                if !class.is_finding() {
                    return out.fail(class, reason);
                }
                unexpected = Some((status, reason));
            }
        }
        Err(e) => return out.fail(e.class, e.to_string()),
    }

    let revoke = Revoke {
        on: roles.revoker.name(),
        returned: revoke_returned,
        completed_ms: out.revoke_returned.map(|s| s.mono_ms),
    };
    let polls = roles
        .observers
        .iter()
        .map(|observer| poll_until_inactive(observer, &created.token, judgement, &revoke));
    let polls = futures::future::join_all(polls).await;
    let out = out.observed(polls);
    match unexpected {
        None => out,
        Some((status, _)) if out.class == Some(FailureClass::StaleRead) => {
            let stale = out.reason.clone().unwrap_or_default();
            let revoker = roles.revoker.name().to_string();
            out.fail(
                FailureClass::StaleRead,
                format!("revoked through {revoker} (answered {status}) but the token stayed active: {stale}"),
            )
        }
        // The revoke took effect; only its answer broke the contract.
        Some((_, reason)) if out.success => out.fail(FailureClass::Contract, reason),
        Some(_) => out,
    }
}

/// Polls dense while they measure: this long after the revoke returned …
const DENSE_FOR: Duration = Duration::from_secs(1);
/// … and at most this many polls; then backing off.
const DENSE_POLLS: u32 = 60;
/// Backing off geometrically to a ceiling of at least this …
const CEILING: Duration = Duration::from_millis(250);
/// … or as long as keeps the rest of the window to about this many polls.
const LATER_POLLS: u32 = 55;

/// The pause before the next poll: `--poll-interval` while the poll
/// measures (the first second after the revoke, so `stale_ms` keeps its
/// resolution), then doubling up to a ceiling, so that a token stale for
/// the whole window costs about 115 reads per observer, not one per interval.
fn pause_after(judgement: &Judgement, since_revoke: Duration, polls: u32, last: Duration) -> Duration {
    if since_revoke < DENSE_FOR && polls < DENSE_POLLS {
        return judgement.poll_interval;
    }
    let spread = judgement.deadline.saturating_sub(DENSE_FOR) / LATER_POLLS;
    let ceiling = CEILING.max(spread).max(judgement.poll_interval);
    (last * 2).max(judgement.poll_interval).min(ceiling)
}

/// The revoke the observers poll after.
struct Revoke<'a> {
    on: &'a str,
    returned: Instant,
    /// Its completion, on the trace's monotonic clock.
    completed_ms: Option<f64>,
}

/// One observer's polls, until `active:false` or the deadline.
struct ObserverPoll {
    observation: Observation,
    trace: Trace,
    first_inactive: Option<Stamp>,
}

async fn poll_until_inactive(
    observer: &Client,
    token: &str,
    judgement: &Judgement,
    revoke: &Revoke<'_>,
) -> ObserverPoll {
    let name = observer.name();
    let mut poll = ObserverPoll {
        observation: Observation { observer: name.to_string(), ..Observation::default() },
        trace: Trace::new(),
        first_inactive: None,
    };
    let o = &mut poll.observation;
    let mut last_stale_invoked_ms: Option<f64> = None;
    let mut pause = judgement.poll_interval;
    let across = if revoke.on == name { String::new() } else { format!(" on {}", revoke.on) };
    let fail = |o: &mut Observation, class: FailureClass, reason: String| {
        o.success = false;
        o.class = Some(class);
        let waits = match o.rate_limit_wait_ms {
            Some(ms) if class == FailureClass::StaleRead => format!(
                " — measured across {} of rate-limit waits (429)",
                crate::clock::human(Duration::from_secs_f64(ms / 1000.0))
            ),
            _ => String::new(),
        };
        o.reason = Some(format!("{reason}{waits}"));
    };
    loop {
        // A poll never outlives the deadline, whatever --request-timeout says.
        let budget =
            judgement.deadline.saturating_sub(revoke.returned.elapsed()).max(Duration::from_millis(1));
        let answer = observer.introspect_within(&mut poll.trace, token, Some(budget)).await;
        o.polls += 1;
        if let Some(wait) = poll.trace.last().and_then(|ex| ex.rate_limited.as_ref()) {
            *o.rate_limit_wait_ms.get_or_insert(0.0) += wait.waited_ms;
        }
        match answer {
            Ok(answer) if !answer.active => {
                let latency = millis(revoke.returned.elapsed());
                o.latency_ms = Some(latency);
                poll.first_inactive = poll.trace.last().map(|ex| ex.sent);
                if let (Some(revoked), Some(read)) = (revoke.completed_ms, poll.trace.last()) {
                    o.visible_by_ms =
                        Some(round_ms((read.sent.mono_ms + read.latency_ms - revoked).max(0.0)));
                    o.stale_ms = Some(staleness(Some(revoked), last_stale_invoked_ms).unwrap_or(0.0));
                }
                if o.stale_reads > 0 && judgement.require_immediate {
                    let reason = format!(
                        "stale read: {name} still answered active:true {} time(s) for {latency:.1} ms after the revoke{across} returned",
                        o.stale_reads
                    );
                    fail(o, FailureClass::StaleRead, reason);
                } else {
                    o.success = true;
                }
                return poll;
            }
            Ok(_) => {
                o.stale_reads += 1;
                last_stale_invoked_ms = poll.trace.last().map(|ex| ex.sent.mono_ms);
            }
            // A poll cut short by the window's end is the window ending, not the service failing.
            Err(_) if o.stale_reads > 0 && revoke.returned.elapsed() >= judgement.deadline => {
                o.polls -= 1;
                o.stale_ms = staleness(revoke.completed_ms, last_stale_invoked_ms);
                fail(o, FailureClass::StaleRead, still_active(name, judgement, &across, o.polls));
                return poll;
            }
            Err(e) => {
                o.stale_ms = staleness(revoke.completed_ms, last_stale_invoked_ms);
                // A stale read already seen is the finding, whatever broke afterwards.
                let class = if o.stale_reads > 0 && judgement.require_immediate {
                    FailureClass::StaleRead
                } else {
                    e.class
                };
                let reason = format!(
                    "after the revoke{across} returned ({} stale read(s) so far): {e}",
                    o.stale_reads
                );
                fail(o, class, reason);
                return poll;
            }
        }
        let elapsed = revoke.returned.elapsed();
        if elapsed >= judgement.deadline {
            o.stale_ms = staleness(revoke.completed_ms, last_stale_invoked_ms);
            fail(o, FailureClass::StaleRead, still_active(name, judgement, &across, o.polls));
            return poll;
        }
        pause = pause_after(judgement, elapsed, o.polls, pause);
        tokio::time::sleep(pause.min(judgement.deadline - elapsed)).await;
    }
}

/// The finding when the window ends on a token still active.
fn still_active(observer: &str, judgement: &Judgement, across: &str, reads: u32) -> String {
    format!(
        "token still active on {observer} {} after the revoke{across} returned ({reads} reads, all active)",
        crate::clock::human(judgement.deadline)
    )
}

/// How long a stale read proves the revoke was not yet visible; `None`
/// without the revoke's completion or without any stale read.
fn staleness(revoke_completed_ms: Option<f64>, last_stale_invoked_ms: Option<f64>) -> Option<f64> {
    Some(round_ms((last_stale_invoked_ms? - revoke_completed_ms?).max(0.0)))
}

fn statuses(list: &[u16]) -> String {
    list.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls an observer sends over a whole window of a token that stays
    /// active, each read taking `latency`.
    fn reads_over_the_window(judgement: &Judgement, latency: Duration) -> u32 {
        let (mut at, mut polls, mut pause) = (Duration::ZERO, 0, judgement.poll_interval);
        while at < judgement.deadline {
            at += latency;
            polls += 1;
            if at >= judgement.deadline {
                break;
            }
            pause = pause_after(judgement, at, polls, pause);
            at += pause;
        }
        polls
    }

    #[test]
    fn polls_are_dense_while_they_measure_then_back_off() {
        let judgement = Judgement::default();
        assert_eq!(
            pause_after(&judgement, Duration::from_millis(500), 10, judgement.poll_interval),
            judgement.poll_interval
        );
        let later = pause_after(&judgement, Duration::from_millis(1500), 70, Duration::from_millis(10));
        assert_eq!(later, Duration::from_millis(20), "doubling");
        assert_eq!(
            pause_after(&judgement, Duration::from_secs(5), 90, Duration::from_millis(200)),
            Duration::from_secs(14) / 55,
            "up to the ceiling: 14 s over 55 reads"
        );
        for latency in [1, 4, 14] {
            let reads = reads_over_the_window(&judgement, Duration::from_millis(latency));
            assert!(reads <= 120, "{reads} reads at {latency} ms a read over 15 s");
        }
        // A short window (the canary's 300 ms at 5 ms) stays dense throughout.
        let short = Judgement {
            deadline: Duration::from_millis(300),
            poll_interval: Duration::from_millis(5),
            ..Judgement::default()
        };
        assert_eq!(
            pause_after(&short, Duration::from_millis(200), 30, short.poll_interval),
            short.poll_interval
        );
    }
}
