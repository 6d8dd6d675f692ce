//! Evidence packets: for each failure, written while the stack still runs,
//! the failure's exchanges, a timeline merging them with every service's log
//! lines, the token as the store held it, the stack's state, and what
//! `parity replay` needs to rerun exactly that case.

mod packet;
pub mod spec;
mod store_view;
mod timeline;

pub use spec::{Case, Parameters, RecordedImage, ReplaySpec};

use crate::artifacts::{ArtifactDir, EvidenceIndex};
use crate::contract::Trace;
use crate::stack::docker::{Chaos, ContainerReport};
use crate::stack::Witness;
use crate::store::TokenStore;
use crate::verdict::FailureClass;
use serde::{Deserialize, Serialize};
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
/// Packets gathered at once (each reads the logs of every container).
const GATHERING_AT_ONCE: usize = 8;

/// One failure to write a packet for.
pub struct Failure {
    /// The packet's folder name (`iteration-417`, `smoke-attempt-1-try-3`).
    pub name: String,
    pub case: Case,
    pub class: FailureClass,
    pub reason: String,
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
    /// The replay spec of the run, its case and class filled in per packet.
    pub template: ReplaySpec,
    pub chaos: Option<Arc<Chaos>>,
    /// How `parity replay` is invoked on a packet of this run (`<dir>` stands for its folder).
    pub replay_hint: String,
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
    limit: u32,
    index: EvidenceIndex,
}

impl Collector {
    pub fn new(scene: Scene, limit: u32) -> Collector {
        Collector {
            scene: Arc::new(scene),
            gate: Arc::new(Semaphore::new(GATHERING_AT_ONCE)),
            tasks: JoinSet::new(),
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
        self.index.packets.push(failure.name.clone());
        let (scene, gate) = (self.scene.clone(), self.gate.clone());
        self.tasks.spawn(async move { packet::gather(&scene, gate, failure).await });
    }

    /// Waits for every packet (each until its window has passed); the errors, one sentence each.
    pub async fn finish(mut self) -> (EvidenceIndex, Vec<String>) {
        let mut errors = Vec::new();
        while let Some(done) = self.tasks.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(e) => errors.push(format!("an evidence packet could not be gathered: {e}")),
            }
        }
        (self.index, errors)
    }
}
