//! `replay.json`: everything needed to rerun exactly one failed case.

use crate::verdict::FailureClass;
use serde::{Deserialize, Serialize};

/// The file's own version: a packet from a later format is read with what
/// this version knows, and says so.
pub const FORMAT: u32 = 1;

/// Which case failed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Case {
    /// The revocation smoke, on one instance.
    Smoke { attempt: u32 },
    /// A cross-instance iteration: which instance created, revoked and observed.
    Iteration { iteration: u32, creator: String, revoker: String, observer: String },
    /// One check of the contract suite.
    Check { check: String },
}

impl Case {
    /// The packet's folder name: `iteration-417`, `smoke-attempt-1`, `check-revoke_returns_204`.
    pub fn name(&self) -> String {
        match self {
            Case::Smoke { attempt } => format!("smoke-attempt-{attempt}"),
            Case::Iteration { iteration, .. } => format!("iteration-{iteration}"),
            Case::Check { check } => format!("check-{check}"),
        }
    }
}

/// An image the failure ran against.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RecordedImage {
    /// "webprofile", "webprofile-node2", "mongo".
    pub service: String,
    /// As the run named it (`mongo:6.0.5`).
    pub image: String,
    /// The image id (`sha256:…`) the container ran.
    pub id: Option<String>,
}

/// How the case was judged and run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Parameters {
    pub deadline_ms: u64,
    pub poll_interval_ms: u64,
    pub require_immediate: bool,
    pub accepted_revoke_statuses: Vec<u16>,
    pub request_timeout_ms: u64,
}

/// What a packet that does not say was judged by: `parity run`'s defaults.
impl Default for Parameters {
    fn default() -> Self {
        let judgement = crate::scenario::Judgement::default();
        Parameters {
            deadline_ms: judgement.deadline.as_millis() as u64,
            poll_interval_ms: judgement.poll_interval.as_millis() as u64,
            require_immediate: judgement.require_immediate,
            accepted_revoke_statuses: judgement.accepted_revoke_statuses,
            request_timeout_ms: 5_000,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReplaySpec {
    #[serde(default)]
    pub format: u32,
    /// The `parity` that wrote it.
    #[serde(default)]
    pub tool_version: String,
    pub case: Case,
    /// How it failed; a replay reproduces it when the case fails the same way.
    pub class: FailureClass,
    #[serde(default)]
    pub reason: String,
    /// `docker`, `local` or `external`.
    #[serde(default)]
    pub backend: String,
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub images: Vec<RecordedImage>,
    /// The `--fault` specs of the reference instances.
    #[serde(default)]
    pub faults: Vec<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub hash_cost: String,
    /// The reference instances' dialect (`go` when absent).
    #[serde(default)]
    pub flavor: String,
    /// What the dialect checks expected: `go`, `node` or `auto` (`go` when absent).
    #[serde(default)]
    pub dialect: String,
    #[serde(default)]
    pub parameters: Parameters,
    /// The failure's identity across runs (absent in older packets).
    #[serde(default, deserialize_with = "crate::lenient::or_none", skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::verdict::Signature>,
}

impl ReplaySpec {
    /// What this version cannot replay exactly, one phrase each.
    pub fn caveats(&self) -> Vec<String> {
        let mut caveats = Vec::new();
        if self.format > FORMAT {
            caveats.push(format!(
                "written by a newer parity ({}, format {}): fields this version does not know are ignored",
                self.tool_version, self.format
            ));
        }
        if self.tool_version != env!("CARGO_PKG_VERSION") && !self.tool_version.is_empty() {
            caveats.push(format!(
                "recorded by parity {}, replayed by {}",
                self.tool_version,
                env!("CARGO_PKG_VERSION")
            ));
        }
        caveats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_name_their_packets_and_read_back() {
        let case = Case::Iteration {
            iteration: 417,
            creator: "instance1".into(),
            revoker: "instance2".into(),
            observer: "instance1".into(),
        };
        assert_eq!(case.name(), "iteration-417");
        assert_eq!(Case::Smoke { attempt: 1 }.name(), "smoke-attempt-1");
        assert_eq!(Case::Check { check: "revoke_returns_204".into() }.name(), "check-revoke_returns_204");
        let json = serde_json::to_value(&case).unwrap();
        assert_eq!(json["kind"], "iteration");
        assert_eq!(serde_json::from_value::<Case>(json).unwrap(), case);
    }

    #[test]
    fn a_newer_packet_says_what_this_version_cannot_promise() {
        let spec: ReplaySpec = serde_json::from_str(
            r#"{"format": 9, "tool_version": "9.0.0", "case": {"kind": "smoke", "attempt": 1},
                "class": "stale-read", "future_field": true}"#,
        )
        .unwrap();
        assert_eq!(spec.caveats().len(), 2, "{:?}", spec.caveats());
    }
}
