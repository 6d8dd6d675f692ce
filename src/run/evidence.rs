//! The run's evidence sink: a packet per failed smoke attempt, contract check
//! and cross-instance iteration, gathered while the stack still runs.

use super::events::{Event, Sink};
use super::RunConfig;
use crate::analysis::EvidenceIndex;
use crate::artifacts::ArtifactDir;
use crate::contract::Client;
use crate::evidence::{self, Case, Collector, Failure, Parameters, RecordedImage, ReplaySpec, Scene};
use crate::redact::Redactor;
use crate::scenario::suite::CheckStatus;
use crate::stack::{ContainerReport, Stack};
use crate::verdict::{FailureClass, Signature};
use std::sync::{Arc, Mutex};

type Shared = Arc<Mutex<Option<Collector>>>;

/// Hands each failure the run reports to the collector.
pub struct EvidenceSink {
    collector: Shared,
}

/// Lets the run wait for the packets before the stack goes down.
pub struct EvidenceHandle(Shared);

impl EvidenceHandle {
    /// Waits for every packet; what was written and what went wrong.
    pub async fn finish(self) -> (EvidenceIndex, Vec<String>) {
        let collector = self.0.lock().expect("evidence collector").take();
        match collector {
            Some(collector) => collector.finish().await,
            None => (EvidenceIndex::default(), Vec::new()),
        }
    }
}

/// The sink and its handle for a stack that is up.
pub async fn attach(
    config: &RunConfig,
    stack: &Stack,
    clients: &[Client],
    redactor: Redactor,
) -> Result<(EvidenceSink, EvidenceHandle), String> {
    let root = config.out.join(crate::artifacts::PARITY_DIR).join(evidence::DIR);
    let dir = ArtifactDir::create(&root, redactor).map_err(|e| format!("no evidence packets: {e}"))?;
    let hint = format!("parity replay {}/<dir>", root.display());
    let scene = scene(config, stack, clients, dir, hint).await;
    let shared: Shared = Arc::new(Mutex::new(Some(Collector::new(scene, config.evidence_limit))));
    Ok((EvidenceSink { collector: shared.clone() }, EvidenceHandle(shared)))
}

/// What every packet of a stack shares; packets go to `dir`, and
/// `replay_hint` says how to replay one (`<dir>` stands for its folder).
pub async fn scene(
    config: &RunConfig,
    stack: &Stack,
    clients: &[Client],
    dir: ArtifactDir,
    replay_hint: String,
) -> Scene {
    let instances: Vec<(String, String)> =
        clients.iter().map(|c| (c.name().to_string(), c.base_url().to_string())).collect();
    let template = template(config, stack, &instances, &stack.container_reports().await);
    Scene {
        dir,
        witness: stack.witness(),
        store: stack.endpoints().store.clone(),
        instances,
        clients: clients.to_vec(),
        template,
        chaos: stack.chaos(),
        replay_hint,
        closing: tokio::sync::watch::Sender::new(false),
    }
}

/// Everything a replay needs that is the same for every failure of the run.
fn template(
    config: &RunConfig,
    stack: &Stack,
    instances: &[(String, String)],
    containers: &[ContainerReport],
) -> ReplaySpec {
    let judgement = &config.judgement;
    ReplaySpec {
        format: evidence::spec::FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        case: Case::Smoke { attempt: 0 },
        class: FailureClass::Unknown,
        reason: String::new(),
        backend: stack.backend_name().to_string(),
        targets: instances.iter().map(|(_, url)| url.clone()).collect(),
        images: containers
            .iter()
            .map(|c| RecordedImage {
                service: c.service.clone(),
                image: c.image.clone(),
                id: c.image_id.clone(),
            })
            .collect(),
        faults: if config.faults.is_empty() { Vec::new() } else { vec![config.faults.describe()] },
        seed: config.seed,
        hash_cost: config.hash_cost.to_string(),
        flavor: config.flavor.to_string(),
        dialect: config.dialect.name().to_string(),
        parameters: Parameters {
            deadline_ms: judgement.deadline.as_millis() as u64,
            poll_interval_ms: judgement.poll_interval.as_millis() as u64,
            require_immediate: judgement.require_immediate,
            accepted_revoke_statuses: judgement.accepted_revoke_statuses.clone(),
            request_timeout_ms: config.client.request_timeout.as_millis() as u64,
        },
        signature: None,
    }
}

/// The failures an event reports, each with its case.
pub fn failures_of(event: &Event<'_>) -> Vec<Failure> {
    let class = |c: Option<FailureClass>| c.unwrap_or(FailureClass::Unknown);
    match event {
        Event::SmokeAttempt { attempt, smoke, .. } if !smoke.report.success => {
            let case = Case::Smoke { attempt: *attempt };
            let (class, reason) =
                (class(smoke.report.class), smoke.report.reason.clone().unwrap_or_default());
            vec![Failure {
                name: case.name(),
                case,
                signature: Signature::smoke(class, &reason),
                class,
                reason,
                trace: smoke.trace.clone(),
            }]
        }
        Event::SuiteFinished(report) => report
            .checks
            .iter()
            .enumerate()
            .filter(|(_, check)| check.status == CheckStatus::Fail)
            .map(|(i, check)| {
                let case = Case::Check { check: check.name.clone() };
                let class = class(check.class);
                let signature = report
                    .signatures_of(check)
                    .into_iter()
                    .next()
                    .map_or_else(|| Signature::check(class, &check.name), |(s, _)| s);
                Failure {
                    name: case.name(),
                    case,
                    signature,
                    class,
                    reason: check.detail.clone().unwrap_or_default(),
                    trace: report.exchanges_of(i),
                }
            })
            .collect(),
        Event::IterationFinished(it) if !it.result.success => {
            let r = &it.result;
            let case = Case::Iteration {
                iteration: r.iteration,
                creator: r.creator.clone(),
                revoker: r.revoker.clone(),
                observer: r.observer.clone(),
            };
            vec![Failure {
                name: case.name(),
                case,
                signature: r
                    .signature()
                    .unwrap_or_else(|| Signature::cross(FailureClass::Unknown, &r.revoker, &r.observer, "")),
                class: class(it.result.class),
                reason: it.result.reason.clone().unwrap_or_default(),
                trace: it.trace.clone(),
            }]
        }
        _ => Vec::new(),
    }
}

impl Sink for EvidenceSink {
    fn event(&mut self, event: &Event<'_>) -> Result<(), String> {
        let failures = failures_of(event);
        if failures.is_empty() {
            return Ok(());
        }
        let mut collector = self.collector.lock().expect("evidence collector");
        // After the handle has finished, the stack is going down: nothing more to gather.
        if let Some(collector) = collector.as_mut() {
            failures.into_iter().for_each(|f| collector.record(f));
        }
        Ok(())
    }
}
