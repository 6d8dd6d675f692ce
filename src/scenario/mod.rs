//! The scenarios: pure logic over contract clients. They decide pass or fail
//! and describe why; writing files is the caller's business.

pub mod catalog;
pub mod cross;
pub mod history;
pub mod immediacy;
mod probe;
pub mod security;
pub mod suite;

pub use probe::{probe_revocation, Observation, ProbeOutcome, ProbeRoles};

use crate::contract::CallError;
use crate::verdict::FailureClass;
use std::time::Duration;

/// How one check ended.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckOutcome {
    Pass,
    Fail(FailureClass, String),
    Skip(String),
}

impl CheckOutcome {
    pub fn contract(detail: String) -> CheckOutcome {
        CheckOutcome::Fail(FailureClass::Contract, detail)
    }

    pub fn security(detail: String) -> CheckOutcome {
        CheckOutcome::Fail(FailureClass::Security, detail)
    }

    pub fn call_failed(e: &CallError) -> CheckOutcome {
        CheckOutcome::Fail(e.class, e.to_string())
    }
}

/// How revocation is judged; shared by the smoke and the cross-instance iterations.
#[derive(Clone, Debug)]
pub struct Judgement {
    /// How long after the revoke returned the token may still be polled.
    pub deadline: Duration,
    /// Pause between introspection polls.
    pub poll_interval: Duration,
    /// Any `active:true` after the revoke returned fails the check.
    pub require_immediate: bool,
    /// Revoke statuses accepted as success (the contract says 204).
    pub accepted_revoke_statuses: Vec<u16>,
}

impl Default for Judgement {
    fn default() -> Self {
        Judgement {
            deadline: Duration::from_secs(15),
            poll_interval: Duration::from_millis(10),
            require_immediate: true,
            accepted_revoke_statuses: vec![204],
        }
    }
}

impl Judgement {
    /// How this judgement is more lenient than the contract, named as the
    /// flags that asked for it.
    pub fn relaxations(&self) -> Vec<String> {
        let mut relaxed = Vec::new();
        if !self.require_immediate {
            relaxed.push(
                "--allow-stale: stale reads tolerated until the deadline (the contract allows none)".into(),
            );
        }
        let mut statuses = self.accepted_revoke_statuses.clone();
        statuses.sort_unstable();
        statuses.dedup();
        if statuses != [204] {
            let listed: Vec<String> = statuses.iter().map(u16::to_string).collect();
            relaxed.push(format!("--accept-revoke-status {}: the contract says 204", listed.join(",")));
        }
        relaxed
    }
}

/// Requests sent before the cross-instance iterations: the smoke (one probe,
/// at its least) and the suite with security ([`suite::PLANNED_REQUESTS`]).
/// The plan line and `--iterations auto` both count from it.
pub fn requests_before_iterations(instances: usize) -> u64 {
    cross::least_requests_per_iteration(instances) + suite::PLANNED_REQUESTS
}

/// A fresh user id per scenario, shaped like the service's own (24 hex), so
/// runs never see each other's tokens.
pub fn fresh_user_id() -> String {
    use rand::Rng;
    let bytes: [u8; 12] = rand::rng().random();
    hex::encode(bytes)
}
