//! `diff.json`: every exchange pair, its verdict and both sides (redacted).

use super::compare::Difference;
use super::rules::RuleUse;
use super::script::{Needs, On};
use crate::contract::{AuthMode, Exchange};
use crate::scenario::security::Effect;
use crate::verdict::{FailureClass, Signature};
use serde::Serialize;

/// Lives with `analysis.json`, which summarises a diff with it.
pub use crate::analysis::DiffCounts as Counts;

pub const FORMAT: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Same,
    /// Every difference is one the reference shows against itself.
    Noise,
    /// Every difference left is accepted by a rule.
    Accepted,
    Different,
    /// Nothing could be compared: the reference did not answer usably (no
    /// answer, 429 or 5xx on one of its lanes), or an earlier step did not
    /// give a value this one needs. Fails the diff as infrastructure.
    Error,
    /// Not run: what it needs is not there (a second instance, a store, a shared store).
    Skipped,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Noise => "noise",
            Verdict::Accepted => "accepted",
            Verdict::Different => "different",
            Verdict::Error => "error",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One difference and how it was judged.
#[derive(Clone, Debug, Serialize)]
pub struct Judged {
    #[serde(flatten)]
    pub difference: Difference,
    pub verdict: Verdict,
    /// The accepting rule's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The accepting rule's place in the rules file, for counting its matches.
    #[serde(skip)]
    pub rule_index: Option<usize>,
}

impl Judged {
    /// A difference the harness judges itself (security, effects): never
    /// accepted by a rule, never noise.
    pub fn unacceptable(path: &str, reference: serde_json::Value, candidate: serde_json::Value) -> Judged {
        Judged {
            difference: Difference { path: path.into(), reference, candidate },
            verdict: Verdict::Different,
            rule: None,
            rule_index: None,
        }
    }
}

/// A field where the reference differed from itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoiseNote {
    pub path: String,
    /// `id`, `token`, `hash prefix`, `timestamp`, `user id` (placeholders make them compare),
    /// or `unexplained` (differences there are noise, not findings).
    pub kind: String,
}

/// One side's exchange as reported: redacted, the body kept as text.
#[derive(Clone, Debug, Serialize)]
pub struct ExchangeView {
    pub instance: String,
    pub url: String,
    pub method: String,
    pub path: String,
    pub auth: AuthMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
    pub body_bytes: u64,
    pub body_sha256: String,
    /// `body` is cut: the answer was longer than what is kept.
    pub truncated: bool,
    /// `body_bytes` and `body_sha256` cover the whole body (it was read to its end).
    pub body_complete: bool,
    pub binary: bool,
    pub error: Option<String>,
    pub latency_ms: f64,
}

impl ExchangeView {
    /// Redacted, and with each of `cuts` (leading characters of the lanes'
    /// tokens) hidden as well when redaction is on.
    pub fn of(
        exchange: &Exchange,
        url: &str,
        redact: &crate::redact::Redactor,
        cuts: &[String],
    ) -> ExchangeView {
        let r = |t: &str| {
            let mut text = redact.redact(t).into_owned();
            if redact.is_enabled() {
                for cut in cuts {
                    if text.contains(cut.as_str()) {
                        text = text.replace(cut.as_str(), crate::redact::REDACTED);
                    }
                }
            }
            text
        };
        ExchangeView {
            instance: exchange.instance.clone(),
            url: r(url),
            method: exchange.method.clone(),
            path: r(&exchange.path),
            auth: exchange.auth,
            request_body: exchange.request_body.as_deref().map(r),
            status: exchange.status,
            content_type: exchange.content_type.as_deref().map(r),
            location: exchange.location.as_deref().map(r),
            body: r(&exchange.response_body),
            body_bytes: exchange.digest.bytes,
            body_sha256: sha256_label(&exchange.digest.sha256),
            truncated: exchange.truncated,
            body_complete: exchange.digest.complete,
            binary: exchange.digest.binary,
            error: exchange.error.as_deref().map(r),
            latency_ms: exchange.latency_ms,
        }
    }
}

/// `sha256:<hex>`: a content digest, which no reader mistakes for a token.
pub fn sha256_label(hex: &str) -> String {
    if hex.is_empty() {
        String::new()
    } else {
        format!("sha256:{hex}")
    }
}

/// How one side met a request without valid credentials, judged by effect.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecuritySide {
    /// The request got in: protected data came back, a token was created or revoked.
    pub let_in: bool,
    pub effect: Effect,
    /// What showed it, or how the request was turned away.
    pub observed: String,
}

/// A step sent without valid credentials, judged the same way on both sides.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepSecurity {
    pub reference: SecuritySide,
    pub candidate: SecuritySide,
}

/// A step's required effect, per lane: why it was not shown (`None`: it was).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepEffect {
    pub reference: Option<String>,
    pub candidate: Option<String>,
}

/// A lane where a cross-implementation step did not show its effect: a
/// token one build minted and the other revoked, still active somewhere.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CrossFinding {
    pub step: String,
    /// `reference` or `candidate`: whose lane (the reference lane revokes the
    /// candidate's tokens through the reference, and the reverse).
    pub lane: String,
    pub what: String,
}

impl CrossFinding {
    pub fn of(steps: &[StepResult]) -> Vec<CrossFinding> {
        let mut found = Vec::new();
        for step in steps {
            let Some(effect) = &step.effect else { continue };
            for (lane, missing) in [("reference", &effect.reference), ("candidate", &effect.candidate)] {
                if let Some(what) = missing {
                    found.push(CrossFinding {
                        step: step.name.clone(),
                        lane: lane.into(),
                        what: what.clone(),
                    });
                }
            }
        }
        found
    }
}

/// A side that let a request in: listed for each side, whatever the other did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecurityFinding {
    pub step: String,
    pub effect: Effect,
    pub observed: String,
}

/// Every step where a side let a request in without valid credentials.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SecurityFindings {
    pub reference: Vec<SecurityFinding>,
    pub candidate: Vec<SecurityFinding>,
}

impl SecurityFindings {
    pub fn of(steps: &[StepResult]) -> SecurityFindings {
        let mut findings = SecurityFindings::default();
        for step in steps {
            let Some(security) = &step.security else { continue };
            for (side, list) in [
                (&security.reference, &mut findings.reference),
                (&security.candidate, &mut findings.candidate),
            ] {
                if side.let_in {
                    list.push(SecurityFinding {
                        step: step.name.clone(),
                        effect: side.effect,
                        observed: side.observed.clone(),
                    });
                }
            }
        }
        findings
    }

    pub fn is_empty(&self) -> bool {
        self.reference.is_empty() && self.candidate.is_empty()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct StepResult {
    pub name: String,
    pub verdict: Verdict,
    pub on: On,
    pub instance: usize,
    #[serde(skip_serializing_if = "is_nothing")]
    pub needs: Needs,
    /// Why it was skipped, or could not be compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub differences: Vec<Judged>,
    /// Sent without valid credentials: what each side let in (judged by effect).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<StepSecurity>,
    /// The effect this step must show on every lane, and where it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<StepEffect>,
    /// With a shared store: the shapes (field → BSON type) of what each build wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<super::stored::StoredShapes>,
    pub noise: Vec<NoiseNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<ExchangeView>,
    /// The reference's second answer, from which noise is learned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_again: Option<ExchangeView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<ExchangeView>,
}

fn is_nothing(needs: &Needs) -> bool {
    *needs == Needs::Nothing
}

impl StepResult {
    pub fn differences_with(&self, verdict: Verdict) -> impl Iterator<Item = &Judged> {
        self.differences.iter().filter(move |d| d.verdict == verdict)
    }

    /// A different step's class: one side letting in what the other keeps
    /// out is security, a revoked token left active a stale read, any other
    /// difference no rule accepts a contract one. `None` unless different.
    pub fn class(&self) -> Option<FailureClass> {
        if self.verdict != Verdict::Different {
            return None;
        }
        let differs_on =
            |path: &str| self.differences_with(Verdict::Different).any(|d| d.difference.path == path);
        Some(if differs_on("security") {
            FailureClass::Security
        } else if differs_on("effect") {
            FailureClass::StaleRead
        } else {
            FailureClass::Contract
        })
    }

    /// A different step's identity: the step and the fields that differ.
    pub fn signature(&self) -> Option<Signature> {
        let class = self.class()?;
        let mut fields: Vec<&str> =
            self.differences_with(Verdict::Different).map(|d| d.difference.path.as_str()).collect();
        fields.dedup();
        Some(Signature::diff_step(class, &format!("{}: {}", self.name, fields.join(", "))))
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Timing {
    pub wall_ms: f64,
    /// Sum over steps of the slowest lane's latency: the services' own time.
    pub services_ms: f64,
    /// (wall − services) per compared pair: what the harness adds.
    pub harness_ms_per_pair: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub format: u32,
    pub tool_version: String,
    pub started_at: String,
    pub reference: Vec<String>,
    pub candidate: Vec<String>,
    /// The rules file used, if any.
    pub rules_file: Option<String>,
    pub scenario_file: Option<String>,
    pub counts: Counts,
    /// Each side's security findings: steps it let in without valid credentials.
    pub security: SecurityFindings,
    /// Cross-implementation steps whose effect a lane did not show (a token
    /// minted by one build and revoked by the other, still active).
    pub cross_implementation: Vec<CrossFinding>,
    pub steps: Vec<StepResult>,
    pub rules: Vec<RuleUse>,
    /// Rules that never matched: remove or fix them.
    pub stale_rules: Vec<String>,
    pub timing: Timing,
}

impl DiffReport {
    /// No pair is different and every step that ran could be compared.
    pub fn passed(&self) -> bool {
        self.counts.different == 0 && self.counts.errors == 0
    }

    pub fn headline(&self) -> String {
        let c = &self.counts;
        let verdict = match (self.counts.different, self.counts.errors) {
            (0, 0) => "no difference",
            (0, _) => "NOT PROVEN (steps could not be compared)",
            _ => "DIFFERENT",
        };
        let cross = match self.cross_implementation.len() {
            0 => String::new(),
            n => format!("; {n} cross-implementation step(s) left a revoked token active"),
        };
        let security = if self.security.is_empty() {
            String::new()
        } else {
            format!(
                "; security findings: the reference let {} request(s) in, the candidate {}{}",
                self.security.reference.len(),
                self.security.candidate.len(),
                if c.security > 0 {
                    format!(" ({} step(s) differ on it)", c.security)
                } else {
                    String::new()
                }
            )
        };
        format!(
            "diff: {verdict} — {} pair(s) compared: {} same, {} noise only, {} accepted by rule, {} different; \
             {} not comparable, {} skipped{cross}{security}{}",
            c.exchange_pairs,
            c.same,
            c.noise,
            c.accepted,
            c.different,
            c.errors,
            c.skipped,
            if self.stale_rules.is_empty() {
                String::new()
            } else {
                format!("; {} rule(s) never matched: {}", self.stale_rules.len(), self.stale_rules.join(", "))
            }
        )
    }
}
