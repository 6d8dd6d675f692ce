//! Failure classes: every failed smoke attempt, check and iteration carries
//! exactly one, because what a failure means decides what may be done about
//! it. A security finding (a door open) and a stale read are never rerun
//! away; only an infrastructure failure can be forgiven by a later passing
//! attempt. The order of the variants is the order failures are named in:
//! security first.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// A request got in that the contract keeps out: protected data came
    /// back, a token was created or revoked, or a token that is not the one
    /// issued introspected active — judged by the effect, in every dialect.
    Security,
    /// After a revoke returned, an introspect still said `active:true`.
    StaleRead,
    /// A status, shape or behaviour the contract forbids.
    Contract,
    /// Connection refused or reset, a timeout, a 5xx, the store or a container gone.
    Infrastructure,
    /// The service kept answering `429 Too Many Requests` past the run's
    /// rate-limit budget: the call was not carried out. Never a finding.
    RateLimited,
    /// The harness's own error.
    Harness,
    /// Read from an artifact that named a class this version does not know,
    /// or a failure recorded before classes existed.
    #[serde(other)]
    Unknown,
}

impl FailureClass {
    pub const ALL: [FailureClass; 7] = [
        FailureClass::Security,
        FailureClass::StaleRead,
        FailureClass::Contract,
        FailureClass::Infrastructure,
        FailureClass::RateLimited,
        FailureClass::Harness,
        FailureClass::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Security => "security",
            FailureClass::StaleRead => "stale-read",
            FailureClass::Contract => "contract",
            FailureClass::Infrastructure => "infrastructure",
            FailureClass::RateLimited => "rate-limited",
            FailureClass::Harness => "harness",
            FailureClass::Unknown => "unknown",
        }
    }

    /// Whether a later passing attempt may turn this failure into a (flaky) pass.
    pub fn forgivable(self) -> bool {
        self == FailureClass::Infrastructure
    }

    /// The class of an HTTP answer that was not the one expected: a 5xx
    /// says the service could not answer, a 429 (one the client could not
    /// wait out) that it would not yet; anything else is an answer the
    /// contract forbids.
    pub fn of_unexpected_status(status: u16) -> FailureClass {
        match status {
            429 => FailureClass::RateLimited,
            500.. => FailureClass::Infrastructure,
            _ => FailureClass::Contract,
        }
    }

    /// Whether a failure of this class says something about the service
    /// (a door open, a stale read, a broken contract) rather than that a
    /// call could not be carried out.
    pub fn is_finding(self) -> bool {
        !matches!(self, FailureClass::Infrastructure | FailureClass::RateLimited)
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which failures may be retried: `--retry-on`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryOn {
    /// Only infrastructure failures (and failures of unknown cause) are retried.
    #[default]
    Infrastructure,
    /// Every failure is retried; a stale read or contract failure still fails the run.
    Any,
}

impl RetryOn {
    /// Whether a failure of `class` (`None`: a command that says nothing of
    /// its cause) earns another attempt.
    pub fn retries(self, class: Option<FailureClass>) -> bool {
        match (self, class) {
            (RetryOn::Any, _) | (_, None) => true,
            (RetryOn::Infrastructure, Some(class)) => class.forgivable(),
        }
    }
}

impl std::str::FromStr for RetryOn {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "infrastructure" => Ok(RetryOn::Infrastructure),
            "any" => Ok(RetryOn::Any),
            _ => Err(format!("`{text}` is not a retry policy: expected infrastructure or any")),
        }
    }
}

/// Failures counted per class, in a stable order (`analysis.json`, the collector).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassCounts(BTreeMap<FailureClass, u64>);

impl ClassCounts {
    pub fn add(&mut self, class: FailureClass) {
        *self.0.entry(class).or_default() += 1;
    }

    pub fn merge(&mut self, other: &ClassCounts) {
        for (class, n) in &other.0 {
            *self.0.entry(*class).or_default() += n;
        }
    }

    pub fn get(&self, class: FailureClass) -> u64 {
        self.0.get(&class).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// "2 stale-read, 1 infrastructure", or "" with no failure.
    pub fn describe(&self) -> String {
        self.0.iter().filter(|(_, n)| **n > 0).map(|(c, n)| format!("{n} {c}")).collect::<Vec<_>>().join(", ")
    }
}

impl FromIterator<FailureClass> for ClassCounts {
    fn from_iter<I: IntoIterator<Item = FailureClass>>(iter: I) -> Self {
        let mut counts = ClassCounts::default();
        for class in iter {
            counts.add(class);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_serialize_kebab_case_and_unknown_names_read_as_unknown() {
        assert_eq!(serde_json::to_string(&FailureClass::StaleRead).unwrap(), "\"stale-read\"");
        let read: Vec<FailureClass> = serde_json::from_str(
            r#"["security","stale-read","contract","infrastructure","harness","cosmic-ray"]"#,
        )
        .unwrap();
        assert_eq!(
            read,
            [
                FailureClass::Security,
                FailureClass::StaleRead,
                FailureClass::Contract,
                FailureClass::Infrastructure,
                FailureClass::Harness,
                FailureClass::Unknown
            ]
        );
        for class in FailureClass::ALL {
            assert_eq!(serde_json::to_value(class).unwrap(), class.as_str());
        }
    }

    #[test]
    fn only_infrastructure_is_retried_by_default() {
        let default = RetryOn::default();
        assert!(default.retries(Some(FailureClass::Infrastructure)));
        assert!(default.retries(None), "a plain command's failure says nothing of its cause");
        for class in
            [FailureClass::Security, FailureClass::StaleRead, FailureClass::Contract, FailureClass::Harness]
        {
            assert!(!default.retries(Some(class)), "{class}");
            assert!(RetryOn::Any.retries(Some(class)), "{class}");
            assert!(!class.forgivable());
        }
        assert_eq!("ANY".parse::<RetryOn>(), Ok(RetryOn::Any));
        assert!("sometimes".parse::<RetryOn>().unwrap_err().contains("infrastructure or any"));
    }

    #[test]
    fn statuses_classify_server_trouble_apart_from_contract_breaches() {
        assert_eq!(FailureClass::of_unexpected_status(503), FailureClass::Infrastructure);
        assert_eq!(FailureClass::of_unexpected_status(429), FailureClass::RateLimited);
        assert_eq!(FailureClass::of_unexpected_status(200), FailureClass::Contract);
        assert_eq!(FailureClass::of_unexpected_status(302), FailureClass::Contract);
        assert_eq!(FailureClass::of_unexpected_status(404), FailureClass::Contract);
    }

    #[test]
    fn counts_describe_in_a_stable_order() {
        let counts: ClassCounts = [
            FailureClass::Infrastructure,
            FailureClass::StaleRead,
            FailureClass::StaleRead,
            FailureClass::Security,
        ]
        .into_iter()
        .collect();
        assert_eq!(
            counts.describe(),
            "1 security, 2 stale-read, 1 infrastructure",
            "security is named first"
        );
        assert_eq!(counts.total(), 4);
        assert_eq!(
            serde_json::to_string(&counts).unwrap(),
            r#"{"security":1,"stale-read":2,"infrastructure":1}"#
        );
    }
}
