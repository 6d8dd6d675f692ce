//! `history.jsonl`: the cross-instance iterations as a history of
//! operations on registers, for a checker that knows nothing of webprofile
//! (a linearizability checker such as Porcupine or Knossos). Each
//! iteration's token is one register holding its active state; the
//! instance that served a call is the process; a create writes `true`, a
//! revoke writes `false`, an introspect reads. Times are nanoseconds on the
//! run's monotonic clock, so a read invoked after a write completed is
//! ordered after it whatever instance served either.

use super::cross::Iteration;
use crate::contract::{introspection, Body, Exchange, INTROSPECT_PATH};
use serde::{Deserialize, Serialize};

/// What an operation does to its register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    Write,
    Read,
}

/// One call, as one line of `history.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// The register: "iteration-7" is the token iteration 7 created.
    pub key: String,
    /// The instance that served the call ("instance2").
    pub process: String,
    pub f: Function,
    /// Written (`true` by a create, `false` by a revoke) or read (the
    /// answer's `active`); `null` for a read without a valid answer.
    pub value: Option<bool>,
    /// The call was answered as the contract says (2xx for a write, 200
    /// with `active` for a read). When false the operation is
    /// indeterminate: a write may or may not have taken effect.
    pub ok: bool,
    /// When the request was sent…
    pub invoke_ns: u64,
    /// …and when its answer, or its failure, arrived.
    pub complete_ns: u64,
}

/// The operations of one iteration, in the order they were sent. Requests
/// never sent (a rate-limit budget spent) are no operation.
pub fn of_iteration(it: &Iteration) -> Vec<Operation> {
    let key = format!("iteration-{}", it.result.iteration);
    it.trace.exchanges().iter().filter_map(|ex| operation(&key, ex)).collect()
}

fn operation(key: &str, ex: &Exchange) -> Option<Operation> {
    if ex.error.as_deref().is_some_and(|e| e.starts_with("not sent")) {
        return None;
    }
    let succeeded = ex.status.is_some_and(|s| (200..300).contains(&s));
    let (f, value, ok) = match ex.method.as_str() {
        "POST" if ex.path == INTROSPECT_PATH => {
            let active = (ex.status == Some(200) && !ex.truncated)
                .then(|| introspection(&Body::classify(&ex.response_body, ex.content_type.as_deref())).ok())
                .flatten()
                .map(|answer| answer.active);
            (Function::Read, active, active.is_some())
        }
        "POST" => (Function::Write, Some(true), succeeded),
        "DELETE" => (Function::Write, Some(false), succeeded),
        _ => return None,
    };
    let ns = |ms: f64| (ms * 1e6).round().max(0.0) as u64;
    Some(Operation {
        key: key.to_string(),
        process: ex.instance.clone(),
        f,
        value,
        ok,
        invoke_ns: ns(ex.sent.mono_ms),
        complete_ns: ns(ex.sent.mono_ms + ex.latency_ms),
    })
}
