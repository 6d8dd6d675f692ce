//! `--chaos KIND@ITERATION`: disturb the running stack through the Docker API
//! when a cross-instance iteration starts, to see how the service behaves
//! when a dependency stalls or an instance dies.

use super::engine::describe;
use crate::retry::{Backoff, Failed};
use bollard::models::NetworkDisconnectRequest;
use bollard::query_parameters::{KillContainerOptionsBuilder, StopContainerOptionsBuilder};
use bollard::Docker;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChaosKind {
    PauseMongo,
    StopMongo,
    PauseNode2,
    KillNode2,
    DisconnectNode2,
}

const KINDS: &str = "pause-mongo, stop-mongo, pause-node2, kill-node2, disconnect-node2";

impl ChaosKind {
    fn name(self) -> &'static str {
        match self {
            ChaosKind::PauseMongo => "pause-mongo",
            ChaosKind::StopMongo => "stop-mongo",
            ChaosKind::PauseNode2 => "pause-node2",
            ChaosKind::KillNode2 => "kill-node2",
            ChaosKind::DisconnectNode2 => "disconnect-node2",
        }
    }
}

impl fmt::Display for ChaosKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `KIND@ITERATION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChaosStep {
    pub kind: ChaosKind,
    pub iteration: u32,
}

impl FromStr for ChaosStep {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (kind, iteration) = spec
            .split_once('@')
            .ok_or_else(|| format!("`{spec}`: expected KIND@ITERATION, e.g. stop-mongo@3"))?;
        let kind = [
            ChaosKind::PauseMongo,
            ChaosKind::StopMongo,
            ChaosKind::PauseNode2,
            ChaosKind::KillNode2,
            ChaosKind::DisconnectNode2,
        ]
        .into_iter()
        .find(|k| k.name() == kind.trim())
        .ok_or_else(|| format!("`{spec}`: unknown kind `{kind}` (expected one of: {KINDS})"))?;
        let iteration = iteration
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("`{spec}`: the iteration must be a number from 1"))?;
        Ok(ChaosStep { kind, iteration })
    }
}

/// What was done, for `analysis.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ChaosEvent {
    pub kind: ChaosKind,
    pub iteration: u32,
    pub target: String,
    pub applied_at: String,
    /// Set when the Docker API refused.
    pub error: Option<String>,
}

/// The containers chaos acts on.
#[derive(Clone, Debug)]
pub struct ChaosTargets {
    pub network: String,
    pub mongo: String,
    pub node2: String,
}

pub struct Chaos {
    docker: Docker,
    steps: Vec<ChaosStep>,
    targets: ChaosTargets,
    events: Mutex<Vec<ChaosEvent>>,
}

impl Chaos {
    pub fn new(docker: Docker, steps: Vec<ChaosStep>, targets: ChaosTargets) -> Chaos {
        Chaos { docker, steps, targets, events: Mutex::new(Vec::new()) }
    }

    /// Applies every step planned for `iteration`, before it starts; returns
    /// a line per step for the user.
    pub async fn before_iteration(&self, iteration: u32) -> Vec<String> {
        let mut lines = Vec::new();
        for step in self.steps.iter().filter(|s| s.iteration == iteration) {
            let (target, result) = self.apply(step.kind).await;
            let error = result.err();
            lines.push(match &error {
                None => format!("chaos: {} applied to {target} before iteration {iteration}", step.kind),
                Some(e) => {
                    format!("chaos: {} on {target} before iteration {iteration} failed: {e}", step.kind)
                }
            });
            self.events.lock().expect("chaos events").push(ChaosEvent {
                kind: step.kind,
                iteration,
                target,
                applied_at: crate::clock::rfc3339(&chrono::Utc::now()),
                error,
            });
        }
        lines
    }

    async fn apply(&self, kind: ChaosKind) -> (String, Result<(), String>) {
        let t = &self.targets;
        let result = match kind {
            ChaosKind::PauseMongo => self.pause(&t.mongo).await,
            ChaosKind::StopMongo => {
                let options = StopContainerOptionsBuilder::default().t(1).build();
                self.docker.stop_container(&t.mongo, Some(options)).await
            }
            ChaosKind::PauseNode2 => self.pause(&t.node2).await,
            ChaosKind::KillNode2 => {
                let options = KillContainerOptionsBuilder::default().signal("SIGKILL").build();
                self.docker.kill_container(&t.node2, Some(options)).await
            }
            ChaosKind::DisconnectNode2 => {
                let request = NetworkDisconnectRequest { container: t.node2.clone(), force: Some(true) };
                self.docker.disconnect_network(&t.network, request).await
            }
        };
        let target = match kind {
            ChaosKind::PauseMongo | ChaosKind::StopMongo => t.mongo.clone(),
            ChaosKind::DisconnectNode2 => format!("{} (from {})", t.node2, t.network),
            ChaosKind::PauseNode2 | ChaosKind::KillNode2 => t.node2.clone(),
        };
        (target, result.map_err(|e| describe(&e)))
    }

    /// Pauses a container. The engine's freezer can time out on a busy
    /// container ("unable to freeze", HTTP 500): that is tried again, twice.
    async fn pause(&self, container: &str) -> Result<(), bollard::errors::Error> {
        let schedule = Backoff::tries(3, Duration::from_millis(100), Duration::from_millis(400));
        schedule
            .run(|_| async {
                match self.docker.pause_container(container).await {
                    Err(e @ bollard::errors::Error::DockerResponseServerError { status_code: 500, .. }) => {
                        Err(Failed::Retry(e, None))
                    }
                    other => other.map_err(Failed::Final),
                }
            })
            .await
    }

    pub fn events(&self) -> Vec<ChaosEvent> {
        self.events.lock().expect("chaos events").clone()
    }

    /// Containers left paused: removal of a paused container fails on older engines.
    pub fn paused(&self) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| e.error.is_none())
            .filter_map(|e| match e.kind {
                ChaosKind::PauseMongo => Some(self.targets.mongo.clone()),
                ChaosKind::PauseNode2 => Some(self.targets.node2.clone()),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_kind_at_iteration() {
        assert_eq!(
            "stop-mongo@3".parse::<ChaosStep>().unwrap(),
            ChaosStep { kind: ChaosKind::StopMongo, iteration: 3 }
        );
        assert_eq!("disconnect-node2@1".parse::<ChaosStep>().unwrap().kind, ChaosKind::DisconnectNode2);
        for (bad, says) in [
            ("stop-mongo", "KIND@ITERATION"),
            ("reboot@2", "pause-mongo, stop-mongo"),
            ("kill-node2@0", "from 1"),
            ("kill-node2@x", "from 1"),
        ] {
            let e = bad.parse::<ChaosStep>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
