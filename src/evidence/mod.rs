//! Evidence packets: for each failure, written while the stack still runs,
//! the failure's exchanges, a timeline merging them with every service's log
//! lines, the token as the store held it, the stack's state, and what
//! `parity replay` needs to rerun exactly that case.

mod packet;
pub mod spec;
mod store_view;
mod timeline;
mod timeline_svg;

pub use spec::{Case, Parameters, RecordedImage, ReplaySpec};

use crate::analysis::EvidenceIndex;
use crate::artifacts::ArtifactDir;
use crate::contract::Trace;
use crate::stack::docker::{Chaos, ContainerReport};
use crate::stack::Witness;
use crate::store::TokenStore;
use crate::verdict::FailureClass;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The folder of packets inside the run's artifact directory.
pub const DIR: &str = "evidence";
/// How far before the first request and after the last answer the timeline reaches.
pub const MARGIN: Duration = Duration::from_secs(2);
/// At most this much log text per packet: a chatty container cannot blow one up.
pub const LOG_CAP: usize = 256 * 1024;
/// Packets written per run unless `--evidence-limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 100;
/// How long the run waits for its packets in all (their log reads).
pub const PATIENCE: Duration = Duration::from_secs(15);
/// Packets gathered at once (each reads the logs of every container).
const GATHERING_AT_ONCE: usize = 8;

/// One failure to write a packet for.
pub struct Failure {
    /// The packet's folder name (`iteration-417`, `smoke-attempt-1-try-3`).
    pub name: String,
    pub case: Case,
    pub class: FailureClass,
    pub reason: String,
    /// Its identity across runs.
    pub signature: crate::verdict::Signature,
    /// The failure's own requests and answers.
    pub trace: Trace,
}

/// What every packet of one run shares.
pub struct Scene {
    /// `<out>/webprofile-parity/evidence`, writing through the artifact redactor.
    pub dir: ArtifactDir,
    pub witness: Witness,
    pub store: Option<Arc<dyn TokenStore>>,
    /// Instance names as the harness calls them, with their URLs.
    pub instances: Vec<(String, String)>,
    /// The run's clients, to ask an instance what it sees (its list of a token's owner).
    pub clients: Vec<crate::contract::Client>,
    /// The replay spec of the run, its case and class filled in per packet.
    pub template: ReplaySpec,
    pub chaos: Option<Arc<Chaos>>,
    /// How `parity replay` is invoked on a packet of this run (`<dir>` stands for its folder).
    pub replay_hint: String,
    /// Set when the run is about to read the logs and tear down: a packet
    /// still waiting for its window's log lines reads what is there now.
    pub closing: tokio::sync::watch::Sender<bool>,
}

/// `state.json`: the stack when the failure was seen.
#[derive(Debug, Serialize, Deserialize)]
pub struct StackState {
    pub backend: String,
    pub instances: Vec<(String, String)>,
    pub containers: Vec<ContainerReport>,
    /// The `--fault` specs of the reference instances ("none" when there were none).
    pub faults: String,
    /// The `--chaos` steps applied so far.
    pub chaos: Vec<crate::stack::docker::ChaosEvent>,
}

/// Gathers a packet per failure on its own task, so the run goes on meanwhile.
pub struct Collector {
    scene: Arc<Scene>,
    gate: Arc<Semaphore>,
    tasks: JoinSet<Result<(), String>>,
    /// The packet each task gathers, until it is done.
    pending: HashMap<tokio::task::Id, String>,
    limit: u32,
    index: EvidenceIndex,
}

impl Collector {
    pub fn new(scene: Scene, limit: u32) -> Collector {
        Collector {
            scene: Arc::new(scene),
            gate: Arc::new(Semaphore::new(GATHERING_AT_ONCE)),
            tasks: JoinSet::new(),
            pending: HashMap::new(),
            limit,
            index: EvidenceIndex::default(),
        }
    }

    /// Starts gathering `failure`'s packet (or counts it, past the limit).
    pub fn record(&mut self, failure: Failure) {
        if self.index.packets.len() as u32 >= self.limit {
            self.index.not_written += 1;
            return;
        }
        let name = failure.name.clone();
        self.index.packets.push(name.clone());
        self.index.signatures.insert(name.clone(), failure.signature.id.clone());
        let (scene, gate) = (self.scene.clone(), self.gate.clone());
        let task = self.tasks.spawn(async move { packet::gather(&scene, gate, failure).await });
        self.pending.insert(task.id(), name);
    }

    /// Tells every packet still waiting for its window to read the logs
    /// now, then waits for them, but no longer than [`PATIENCE`] in all —
    /// even after a signal, so that what was seen is kept. The index lists
    /// the packets written; the errors say what went wrong, one sentence each.
    pub async fn finish(mut self) -> (EvidenceIndex, Vec<String>) {
        self.scene.closing.send_replace(true);
        let mut errors = Vec::new();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(None) => break,
                Ok(Some(Ok((id, written)))) => {
                    let name = self.pending.remove(&id).unwrap_or_default();
                    if let Err(e) = written {
                        errors.push(e);
                        self.index.forget(&name);
                    }
                }
                Ok(Some(Err(e))) => {
                    let name = self.pending.remove(&e.id()).unwrap_or_default();
                    errors.push(format!("evidence packet {name} could not be gathered: {e}"));
                    self.index.forget(&name);
                }
                Err(_) => {
                    self.tasks.abort_all();
                    let late: Vec<String> = self.pending.drain().map(|(_, name)| name).collect();
                    errors.push(format!(
                        "evidence packet(s) {} took longer than {} and were dropped",
                        late.join(", "),
                        crate::clock::human(PATIENCE)
                    ));
                    late.iter().for_each(|name| self.index.forget(name));
                    break;
                }
            }
        }
        (self.index, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Redactor;

    fn failure(n: u32) -> Failure {
        let case = Case::Smoke { attempt: n };
        Failure {
            name: case.name(),
            case,
            class: FailureClass::StaleRead,
            reason: "stale".into(),
            signature: crate::verdict::Signature::smoke(FailureClass::StaleRead, "stale"),
            trace: Trace::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn packets_up_to_the_limit_are_written_and_the_rest_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let scene = Scene {
            dir: ArtifactDir::create(tmp.path(), Redactor::enabled()).unwrap(),
            witness: Witness::Blind,
            store: None,
            instances: vec![("instance1".into(), "http://127.0.0.1:1".into())],
            clients: Vec::new(),
            template: serde_json::from_str(
                r#"{"case": {"kind": "smoke", "attempt": 0}, "class": "unknown"}"#,
            )
            .unwrap(),
            chaos: None,
            replay_hint: "parity replay here/<dir>".into(),
            closing: tokio::sync::watch::Sender::new(false),
        };
        let mut collector = Collector::new(scene, 2);
        (1..=3).for_each(|n| collector.record(failure(n)));
        let (index, errors) = collector.finish().await;
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(index.packets, ["smoke-attempt-1", "smoke-attempt-2"]);
        assert_eq!(index.not_written, 1);
        let readme = std::fs::read_to_string(tmp.path().join("smoke-attempt-2/README.txt")).unwrap();
        assert!(readme.contains("Replay it: parity replay here/smoke-attempt-2"), "{readme}");
        assert!(!tmp.path().join("smoke-attempt-2/store.json").exists(), "no store, no store.json");
        let spec: ReplaySpec = serde_json::from_str(
            &std::fs::read_to_string(tmp.path().join("smoke-attempt-2/replay.json")).unwrap(),
        )
        .unwrap();
        assert_eq!((spec.case, spec.class), (Case::Smoke { attempt: 2 }, FailureClass::StaleRead));
    }
}
