//! `analysis.json`: the run's verdict and everything needed to read it.

use crate::clock::Phase;
use crate::exit::Exit;
use crate::rerun::FlakinessReport;
use crate::scenario::cross::CrossTotals;
use crate::scenario::immediacy::{self, Smoke};
use crate::scenario::suite::CheckRecord;
use crate::stack::docker::{ChaosEvent, ContainerReport};
pub use crate::verdict::RunStatus;
use crate::verdict::{
    self, ClassCounts, Coverage, FailureClass, Findings, Signature, SignatureCount, SignatureTally,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SmokeSummary {
    pub success: bool,
    pub attempts: u32,
    pub flaky: bool,
    /// The deciding attempt's reason (the first stale read or contract failure, else the last attempt's).
    pub reason: Option<String>,
    /// The class that failed the smoke, when it failed.
    pub class: Option<FailureClass>,
    pub latency_ms: Option<f64>,
}

impl SmokeSummary {
    pub fn of(report: &FlakinessReport, smokes: &[Smoke]) -> SmokeSummary {
        let deciding = immediacy::deciding(report, smokes).map(|s| &s.report);
        SmokeSummary {
            success: report.success,
            attempts: report.attempts.len() as u32,
            flaky: report.flaky,
            reason: deciding.and_then(|r| r.reason.clone()),
            class: report.class,
            latency_ms: deciding.and_then(|r| r.latency_ms),
        }
    }
}

/// The evidence packets of a run (written by the evidence module).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EvidenceIndex {
    /// Folder names under `webprofile-parity/evidence/`, in the order the failures were seen.
    pub packets: Vec<String>,
    /// Failures past `--evidence-limit`, without a packet.
    pub not_written: u32,
    /// Each packet's failure signature (its id), by packet.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub signatures: std::collections::BTreeMap<String, String>,
}

impl EvidenceIndex {
    /// Drops a packet that was not written after all.
    pub fn forget(&mut self, packet: &str) {
        self.packets.retain(|p| p != packet);
        self.signatures.remove(packet);
    }

    /// The first packet written for a signature.
    pub fn packet_of(&self, signature_id: &str) -> Option<String> {
        self.packets.iter().find(|p| self.signatures.get(*p).is_some_and(|id| id == signature_id)).cloned()
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SuiteCounts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// `analysis.json`, as a run writes it and as `notify github` and `rerun`
/// read it back (every field but `status` may be missing).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Analysis {
    pub status: RunStatus,
    #[serde(default)]
    pub exit_code: i32,
    /// The verdict in one sentence, as the console printed it.
    #[serde(default)]
    pub verdict: String,
    /// Where a SIGINT or SIGTERM stopped the run, when one did.
    #[serde(default)]
    pub interrupted_in: Option<String>,
    /// What was tested and what was not.
    #[serde(default)]
    pub coverage: Coverage,
    /// Standing failures per class: a failed smoke (once), failed checks, failed iterations.
    #[serde(default)]
    pub failure_classes: ClassCounts,
    /// When false, failures were reported but the exit code stayed 0.
    #[serde(default)]
    pub strict: bool,
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub backend: String,
    #[serde(default)]
    pub instances: Vec<String>,
    #[serde(default)]
    pub store: Option<String>,
    #[serde(default)]
    pub faults: String,
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub finished_at: String,
    #[serde(default)]
    pub duration_ms: f64,
    #[serde(default)]
    pub smoke: Option<SmokeSummary>,
    #[serde(default)]
    pub suite: Option<SuiteCounts>,
    #[serde(default)]
    pub checks: Vec<CheckRecord>,
    /// The dialect the dialect checks expected (`--dialect`, or read from the service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<crate::contract::Dialect>,
    /// Each attack family's totals (`security.json` has every variant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security: Vec<crate::scenario::security::FamilySummary>,
    #[serde(default)]
    pub cross: Option<CrossTotals>,
    #[serde(default)]
    pub flaky: bool,
    #[serde(default)]
    pub phases: Vec<Phase>,
    /// The Docker stack's containers as they were at the end (empty for other backends).
    #[serde(default, deserialize_with = "crate::lenient::list")]
    pub containers: Vec<ContainerReport>,
    /// What `--chaos` did to the Docker stack.
    #[serde(default, deserialize_with = "crate::lenient::list")]
    pub chaos: Vec<ChaosEvent>,
    /// Infrastructure or artifact errors, each one sentence.
    #[serde(default)]
    pub errors: Vec<String>,
    /// The evidence packets under `webprofile-parity/evidence/`.
    #[serde(default)]
    pub evidence: EvidenceIndex,
    /// `--reference`: the differential phase, its files under `webprofile-parity/diff/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<DiffSummary>,
    #[serde(default)]
    pub tarball: Option<String>,
    /// `--shard K/N`: which share of which run this is (absent when unsharded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// `parity merge`: the shard sets this analysis joins, in shard order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedShard>,
    /// The `parity` that wrote this: version, commit, target (absent in older sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<crate::build_info::Build>,
    /// How the service's rate limit paced the run (absent when it never did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<crate::contract::pacing::RateReport>,
    /// Each failure's identity across runs, counted, first seen first (the
    /// collector follows them from run to run).
    #[serde(default, deserialize_with = "crate::lenient::list", skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<SignatureCount>,
}

/// What a run found — the smoke, the suite's checks, the iterations, the
/// diff — as the verdict judges it: a run's phases fill it, and `parity
/// merge` fills it from every shard.
#[derive(Clone, Debug, Default)]
pub struct Results {
    pub smoke: Option<SmokeSummary>,
    /// The suite's checks; `None` when the suite did not run.
    pub checks: Option<Vec<CheckRecord>>,
    pub dialect: Option<crate::contract::Dialect>,
    pub security: Vec<crate::scenario::security::FamilySummary>,
    pub cross: Option<CrossTotals>,
    pub diff: Option<DiffSummary>,
    /// Every failure's signature, counted, first seen first.
    pub signatures: Vec<SignatureCount>,
}

impl Results {
    /// Failures that stand, by class (see [`standing_failures`]).
    pub fn failures(&self) -> ClassCounts {
        let checks = self.checks.as_deref().unwrap_or_default();
        standing_failures(self.smoke.as_ref(), checks, self.cross.as_ref(), self.diff.as_ref())
    }
}

/// Where, when and how a run ran, and what it tested: carried into
/// `analysis.json` as it is, beside the verdict.
#[derive(Clone, Debug, Default)]
pub struct RunFacts {
    pub run_id: String,
    pub backend: String,
    pub instances: Vec<String>,
    pub store: Option<String>,
    pub faults: String,
    pub strict: bool,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: f64,
    /// Where a signal stopped the run, when one did.
    pub interrupted_in: Option<String>,
    /// The stack never came up or never got ready.
    pub stack_failed: bool,
    pub coverage: Coverage,
    /// The smoke passed after failing.
    pub flaky: bool,
    pub phases: Vec<Phase>,
    pub containers: Vec<ContainerReport>,
    pub chaos: Vec<ChaosEvent>,
    pub errors: Vec<String>,
    pub evidence: EvidenceIndex,
    pub tarball: Option<String>,
    pub shard: Option<ShardRecord>,
    pub merged_from: Vec<MergedShard>,
    pub rate_limit: Option<crate::contract::pacing::RateReport>,
}

/// Failures that stand, by class: a failed smoke (once, by its deciding
/// class), each failed check, each failed iteration, and each difference
/// of the diff no rule accepts (or that could not be compared).
pub fn standing_failures(
    smoke: Option<&SmokeSummary>,
    checks: &[CheckRecord],
    cross: Option<&CrossTotals>,
    diff: Option<&DiffSummary>,
) -> ClassCounts {
    let mut classes = ClassCounts::default();
    if let Some(smoke) = smoke.filter(|s| !s.success) {
        classes.add(smoke.class.unwrap_or(FailureClass::Unknown));
    }
    checks.iter().filter_map(|c| c.class).for_each(|c| classes.add(c));
    if let Some(cross) = cross {
        classes.merge(&cross.classes);
    }
    if let Some(diff) = diff {
        // A difference no rule accepts is the candidate answering outside the contract it replaces;
        // one side letting in what the other keeps out is a security one.
        (0..diff.counts.security).for_each(|_| classes.add(FailureClass::Security));
        (0..diff.counts.stale_read).for_each(|_| classes.add(FailureClass::StaleRead));
        let contract = diff.counts.different.saturating_sub(diff.counts.security + diff.counts.stale_read);
        (0..contract).for_each(|_| classes.add(FailureClass::Contract));
        (0..diff.counts.errors).for_each(|_| classes.add(FailureClass::Infrastructure));
        if diff.error.is_some() {
            classes.add(FailureClass::Infrastructure);
        }
    }
    classes
}

/// What `parity merge` checks before joining shard sets: they must be shares
/// of one run (same count, seed, iterations, instances and contract).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ShardRecord {
    /// K of K/N.
    pub index: u32,
    /// N of K/N.
    pub count: u32,
    /// The seed that dealt the shares (`--seed`, 0 when not given).
    pub seed: u64,
    /// Iterations of the whole run, every shard together.
    pub iterations: u32,
    /// Instances the roles rotate over.
    pub instances: usize,
    /// The faults of the reference instances (`--fault`, described), "none" without.
    pub faults: String,
    /// How revocation was judged: deadline, poll interval, whether a stale read fails.
    pub judgement: String,
    /// The contract the checks enforce: [`crate::scenario::catalog::fingerprint`].
    pub contract: String,
    pub tool_version: String,
}

/// One shard set in a merged `analysis.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MergedShard {
    /// "2/3".
    pub shard: String,
    /// The set's folder, as given to `parity merge`.
    pub dir: String,
    pub run_id: String,
    pub status: String,
    pub exit_code: i32,
    pub iterations: u32,
}

impl SuiteCounts {
    /// The checks counted by status: a run's suite, or a merge's checks of every shard.
    pub fn of(checks: &[crate::scenario::suite::CheckRecord]) -> Self {
        use crate::scenario::suite::CheckStatus;
        let count = |status| checks.iter().filter(|c| c.status == status).count();
        SuiteCounts {
            passed: count(CheckStatus::Pass),
            failed: count(CheckStatus::Fail),
            skipped: count(CheckStatus::Skip),
        }
    }
}

impl Analysis {
    /// The one way an analysis is made, for a run and for merged shards:
    /// the verdict decided over what was found, beside the run's facts.
    pub fn judge(results: Results, facts: RunFacts) -> (Analysis, Exit) {
        let findings = Findings {
            strict: facts.strict,
            interrupted: facts.interrupted_in.is_some(),
            stack_failed: facts.stack_failed,
            failures: results.failures(),
            coverage: facts.coverage,
        };
        let (status, exit) = verdict::decide(&findings);
        let verdict = verdict::sentence(&findings, status, exit);
        let mut signatures = SignatureTally::default();
        if facts.stack_failed {
            let signature = Signature::infrastructure("the stack never came up or never got ready");
            signatures.add(signature, || "start-up".into(), facts.errors.first().map(String::as_str));
        }
        signatures.merge(&results.signatures);
        let mut signatures = signatures.into_counts();
        for count in &mut signatures {
            count.packet = count.packet.take().or_else(|| facts.evidence.packet_of(&count.signature.id));
        }
        let analysis = Analysis {
            status,
            exit_code: exit.code(),
            verdict,
            interrupted_in: facts.interrupted_in,
            coverage: findings.coverage,
            failure_classes: findings.failures,
            strict: facts.strict,
            run_id: facts.run_id,
            backend: facts.backend,
            instances: facts.instances,
            store: facts.store,
            faults: facts.faults,
            started_at: facts.started_at,
            finished_at: facts.finished_at,
            duration_ms: facts.duration_ms,
            suite: results.checks.as_deref().map(SuiteCounts::of),
            smoke: results.smoke,
            checks: results.checks.unwrap_or_default(),
            dialect: results.dialect,
            security: results.security,
            cross: results.cross,
            flaky: facts.flaky,
            phases: facts.phases,
            containers: facts.containers,
            chaos: facts.chaos,
            errors: facts.errors,
            evidence: facts.evidence,
            diff: results.diff,
            tarball: facts.tarball,
            shard: facts.shard,
            merged_from: facts.merged_from,
            tool: Some(crate::build_info::Build::current()),
            rate_limit: facts.rate_limit,
            signatures,
        };
        (analysis, exit)
    }

    pub fn passed(&self) -> bool {
        self.status == RunStatus::Pass
    }

    /// Every security finding, one phrase each: what every report of the
    /// run names first.
    pub fn security_findings(&self) -> Vec<String> {
        let mut found: Vec<String> = self
            .checks
            .iter()
            .filter(|c| c.class == Some(FailureClass::Security))
            .map(|c| match &c.detail {
                Some(detail) => format!("{} — {}", c.name, crate::escape::excerpt(detail, 240)),
                None => c.name.clone(),
            })
            .collect();
        if let Some(diff) = self.diff.as_ref().filter(|d| d.counts.security > 0) {
            found.push(format!(
                "the diff against the reference: {} step(s) where one build lets in what the other keeps out",
                diff.counts.security
            ));
        }
        found
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
/// A diff's steps, exchange pairs and verdicts, as `diff.json` and
/// `analysis.json` count them.
pub struct DiffCounts {
    pub steps: usize,
    /// Steps run: each is one compared exchange pair.
    pub exchange_pairs: usize,
    pub same: usize,
    pub noise: usize,
    pub accepted: usize,
    pub different: usize,
    /// Of the different steps, those where one side let a request in
    /// without valid credentials and the other did not.
    pub security: usize,
    /// Of the different steps, those where a token one build minted and the
    /// other revoked stayed active (a cross-implementation stale read).
    pub stale_read: usize,
    /// Steps where nothing could be compared (see [`Verdict::Error`]).
    pub errors: usize,
    pub skipped: usize,
}

/// What the differential phase of a run found (`diff/diff.json` has every pair).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DiffSummary {
    pub reference: Vec<String>,
    pub rules_file: Option<String>,
    /// As `diff.json` counts them: steps, exchange pairs, and each verdict.
    #[serde(flatten)]
    pub counts: DiffCounts,
    /// The steps that differ, in order.
    pub different_steps: Vec<String>,
    pub stale_rules: Vec<String>,
    /// Why the phase did not run (the reference unreachable).
    pub error: Option<String>,
}
