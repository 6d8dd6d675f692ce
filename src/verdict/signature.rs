//! Failure signatures: a failure's stable identity across runs — its class
//! and what failed, without anything one run made up (user ids, tokens,
//! ports, times, counts). The collector counts them across runs and each gets
//! one GitHub issue, found again by its id.

use super::FailureClass;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// What a cross-instance failure was: the reason's kind, without its figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrossKind {
    /// A token stayed active on the observer after the revoke returned.
    StaleRead,
    /// A token just created was not active on another instance: the write
    /// never reached it.
    LostWrite,
    /// A request got no answer in time.
    Timeout,
    /// No connection could be made.
    Unreachable,
    /// Any other failure, named by its class.
    Other(FailureClass),
}

impl CrossKind {
    /// The kind of a failed iteration's (or observation's) reason.
    pub fn of(class: FailureClass, reason: &str) -> CrossKind {
        if class == FailureClass::StaleRead {
            CrossKind::StaleRead
        } else if reason.contains("was not active on") && reason.contains("before the revoke") {
            CrossKind::LostWrite
        } else if reason.contains("timed out") {
            CrossKind::Timeout
        } else if reason.contains("could not connect") {
            CrossKind::Unreachable
        } else {
            CrossKind::Other(class)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CrossKind::StaleRead => "stale read",
            CrossKind::LostWrite => "lost write",
            CrossKind::Timeout => "timeout",
            CrossKind::Unreachable => "unreachable",
            CrossKind::Other(class) => class.as_str(),
        }
    }
}

/// A failure's identity: `id` is the first 12 hex digits of the SHA-256 of
/// class and `what`, short enough for a title and the marker that finds its
/// GitHub issue again.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Signature {
    pub id: String,
    pub class: FailureClass,
    /// What failed, in words: "check create_shape", "instance2 → instance1: stale read".
    pub what: String,
}

impl Signature {
    pub fn new(class: FailureClass, what: impl Into<String>) -> Signature {
        let what = what.into();
        let digest = Sha256::digest(format!("{class}\n{what}").as_bytes());
        Signature { id: hex::encode(&digest[..6]), class, what }
    }

    /// A check that failed, by its stable id.
    pub fn check(class: FailureClass, check: &str) -> Signature {
        Signature::new(class, format!("check {check}"))
    }

    /// A security variant that got in, on its route.
    pub fn security_variant(check: &str, variant: &str, route: &str) -> Signature {
        Signature::new(FailureClass::Security, format!("check {check}: {variant} × {route}"))
    }

    /// A cross-instance failure: the (revoker → observer) pair and the reason's kind.
    /// A file that named no roles gives "cross-instance" instead of the pair.
    pub fn cross(class: FailureClass, revoker: &str, observer: &str, reason: &str) -> Signature {
        let kind = CrossKind::of(class, reason).as_str();
        match (revoker, observer) {
            ("", "") => Signature::new(class, format!("cross-instance: {kind}")),
            (revoker, observer) => {
                let name =
                    |s: &'static str, n: &str| if n.is_empty() { s.to_string() } else { n.to_string() };
                let (revoker, observer) =
                    (name("an unnamed revoker", revoker), name("an unnamed observer", observer));
                Signature::new(class, format!("{revoker} → {observer}: {kind}"))
            }
        }
    }

    /// The revocation-immediacy smoke that failed.
    pub fn smoke(class: FailureClass, reason: &str) -> Signature {
        Signature::new(class, format!("smoke: {}", CrossKind::of(class, reason).as_str()))
    }

    /// A step of the diff against the reference that differs.
    pub fn diff_step(class: FailureClass, step: &str) -> Signature {
        Signature::new(class, format!("diff step {step}"))
    }

    /// An infrastructure failure, by its kind ("the stack never came up").
    pub fn infrastructure(kind: &str) -> Signature {
        Signature::new(FailureClass::Infrastructure, kind)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}] {}", self.id, self.class, self.what)
    }
}

/// A signature and how often one run (or a set of merged shards) saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignatureCount {
    #[serde(flatten)]
    pub signature: Signature,
    pub occurrences: u64,
    /// Where it was first seen in the run ("iteration 7", "smoke attempt 2").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// That failure's reason, as the run gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// Its evidence packet under `webprofile-parity/evidence/`, when one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet: Option<String>,
}

/// Signatures counted in the order they were first seen.
#[derive(Clone, Debug, Default)]
pub struct SignatureTally {
    order: Vec<String>,
    counts: BTreeMap<String, SignatureCount>,
}

impl SignatureTally {
    /// One more occurrence; the first one's place and reason are kept.
    pub fn add(&mut self, signature: Signature, first: impl FnOnce() -> String, example: Option<&str>) {
        self.add_many(signature, 1, first, example);
    }

    pub fn add_many(
        &mut self,
        signature: Signature,
        occurrences: u64,
        first: impl FnOnce() -> String,
        example: Option<&str>,
    ) {
        if let Some(count) = self.counts.get_mut(&signature.id) {
            count.occurrences += occurrences;
            return;
        }
        self.order.push(signature.id.clone());
        let count = SignatureCount {
            signature,
            occurrences,
            first: Some(first()),
            example: example.map(str::to_string),
            packet: None,
        };
        self.counts.insert(count.signature.id.clone(), count);
    }

    /// Adds what another tally (a shard's, a phase's) counted.
    pub fn merge(&mut self, counts: &[SignatureCount]) {
        for count in counts {
            match self.counts.get_mut(&count.signature.id) {
                Some(mine) => {
                    mine.occurrences += count.occurrences;
                    mine.packet = mine.packet.take().or_else(|| count.packet.clone());
                }
                None => {
                    self.order.push(count.signature.id.clone());
                    self.counts.insert(count.signature.id.clone(), count.clone());
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// First seen first.
    pub fn into_counts(mut self) -> Vec<SignatureCount> {
        self.order.iter().filter_map(|id| self.counts.remove(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_names_what_failed_and_nothing_a_run_made_up() {
        let stale = Signature::cross(
            FailureClass::StaleRead,
            "instance2",
            "instance1",
            "stale read: instance1 still answered active:true 3 time(s) for 41.2 ms after the revoke on instance2 returned",
        );
        assert_eq!(stale.what, "instance2 → instance1: stale read");
        let again = Signature::cross(
            FailureClass::StaleRead,
            "instance2",
            "instance1",
            "token still active on instance1 15 s after the revoke on instance2 returned (115 reads, all active)",
        );
        assert_eq!(stale, again, "figures and wording do not split a signature");
        assert_eq!(stale.id.len(), 12);
        assert!(stale.id.chars().all(|c| c.is_ascii_hexdigit()));
        let other_pair = Signature::cross(FailureClass::StaleRead, "instance1", "instance2", "");
        assert_ne!(stale.id, other_pair.id, "the pair is part of the identity");
        let unnamed = Signature::cross(FailureClass::StaleRead, "", "", "");
        assert_eq!(unnamed.what, "cross-instance: stale read", "a file without roles");

        let lost = "token created on instance1 was not active on instance2 before the revoke";
        assert_eq!(CrossKind::of(FailureClass::Contract, lost), CrossKind::LostWrite);
        let timeout = "after the revoke on instance1 returned (0 stale read(s) so far): introspect on instance2: timed out after 1 s";
        assert_eq!(CrossKind::of(FailureClass::Infrastructure, timeout), CrossKind::Timeout);
        let refused =
            "create token on instance1: could not connect to http://127.0.0.1:33133: Connection refused";
        assert_eq!(CrossKind::of(FailureClass::Infrastructure, refused), CrossKind::Unreachable);
        assert_eq!(
            CrossKind::of(FailureClass::Contract, "revoke on instance2 answered 200, expected 204").as_str(),
            "contract"
        );
    }

    #[test]
    fn a_tally_counts_in_first_seen_order_and_merges_shards() {
        let a = Signature::check(FailureClass::Contract, "create_shape");
        let b = Signature::cross(FailureClass::StaleRead, "instance1", "instance2", "");
        let mut tally = SignatureTally::default();
        tally.add(b.clone(), || "iteration 3".into(), Some("stale"));
        tally.add(a.clone(), || "check create_shape".into(), None);
        tally.add(b.clone(), || unreachable!("only the first place is kept"), Some("later"));
        let counts = tally.into_counts();
        assert_eq!(
            counts.iter().map(|c| (&c.signature, c.occurrences)).collect::<Vec<_>>(),
            [(&b, 2), (&a, 1)]
        );
        assert_eq!(counts[0].first.as_deref(), Some("iteration 3"));
        assert_eq!(counts[0].example.as_deref(), Some("stale"));

        let mut merged = SignatureTally::default();
        merged.merge(&counts);
        merged.merge(&counts[..1]);
        let merged = merged.into_counts();
        assert_eq!(merged[0].occurrences, 4);
        assert_eq!(merged[1].occurrences, 1);
        let json = serde_json::to_value(&merged[0]).unwrap();
        assert_eq!(json["what"], "instance1 → instance2: stale read");
        assert_eq!(json["class"], "stale-read");
        assert_eq!(json["id"], b.id);
    }
}
