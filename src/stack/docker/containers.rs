//! The containers of the stack (MongoDB and the webprofile instances): how
//! each is created, how the harness reaches it, how it is judged ready, and
//! what is left of it for the report.

use super::engine::{describe, DockerError};
use crate::retry::Failed;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const MONGO_PORT: u16 = 27017;
pub const WEBPROFILE_PORT: u16 = 3900;

/// A service of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Mongo,
    /// The `k`-th webprofile instance, from 0: `webprofile`, `webprofile-node2`, …
    Webprofile(usize),
}

impl Service {
    /// The `role` label and the name in reports.
    pub fn role(self) -> String {
        match self {
            Service::Mongo => "mongo".to_string(),
            Service::Webprofile(k) => crate::stack::service_name(k),
        }
    }

    pub fn log_file(self) -> String {
        format!("{}.log", self.role())
    }

    pub fn port(self) -> u16 {
        match self {
            Service::Mongo => MONGO_PORT,
            Service::Webprofile(_) => WEBPROFILE_PORT,
        }
    }
}

/// What to create for one service.
pub struct ContainerPlan {
    pub service: Service,
    pub name: String,
    pub image: String,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    /// Host port (on loopback, or every interface of a remote engine); `None` for an ephemeral one.
    pub host_port: Option<u16>,
}

/// Creates and starts the container on `network`, publishing its port on
/// loopback only (on every interface of a remote engine: the harness is elsewhere).
pub async fn create_and_start(
    docker: &Docker,
    network: &str,
    plan: &ContainerPlan,
) -> Result<(), DockerError> {
    let port = format!("{}/tcp", plan.service.port());
    let binding = PortBinding {
        host_ip: Some(super::engine::binding_ip().into()),
        host_port: Some(plan.host_port.map(|p| p.to_string()).unwrap_or_default()),
    };
    let body = ContainerCreateBody {
        image: Some(plan.image.clone()),
        env: Some(plan.env.clone()),
        labels: Some(plan.labels.clone()),
        exposed_ports: Some(vec![port.clone()]),
        host_config: Some(HostConfig {
            network_mode: Some(network.to_string()),
            port_bindings: Some(HashMap::from([(port, Some(vec![binding]))])),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&plan.name).build();
    docker
        .create_container(Some(options), body)
        .await
        .map_err(DockerError::api(format!("create container {} from {}", plan.name, plan.image)))?;
    docker
        .start_container(&plan.name, None)
        .await
        .map_err(DockerError::api(format!("start container {}", plan.name)))?;
    Ok(())
}

/// The host port Docker published the service's port on.
pub async fn published_port(docker: &Docker, name: &str, service: Service) -> Result<u16, DockerError> {
    let inspect = docker
        .inspect_container(name, None)
        .await
        .map_err(DockerError::api(format!("inspect container {name}")))?;
    let key = format!("{}/tcp", service.port());
    let port = inspect
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|mut ports| ports.remove(&key).flatten())
        .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port?.parse().ok()));
    match port {
        Some(port) => Ok(port),
        // A container that already stopped has no published ports any more.
        None => match stopped_reason(docker, name).await {
            Some(detail) => Err(stopped(docker, name, detail).await),
            None => Err(DockerError::Api {
                action: format!("publish port {key} of {name}"),
                detail: "the engine reported no host port".into(),
            }),
        },
    }
}

async fn stopped(docker: &Docker, name: &str, detail: String) -> DockerError {
    DockerError::Stopped { container: name.to_string(), detail, log_tail: tail(docker, name, 20).await }
}

/// Why a container cannot become ready any more (it stopped), if so.
pub async fn stopped_reason(docker: &Docker, name: &str) -> Option<String> {
    let state = docker.inspect_container(name, None).await.ok()?.state?;
    if state.running == Some(true) {
        return None;
    }
    let code = state.exit_code.map(|c| format!(" with code {c}")).unwrap_or_default();
    let oom = if state.oom_killed == Some(true) { " (killed: out of memory)" } else { "" };
    let error = state.error.filter(|e| !e.is_empty()).map(|e| format!(": {e}")).unwrap_or_default();
    Some(format!("the container exited{code}{oom}{error}"))
}

/// Polls `attempt` tightly (5 ms, doubling to 50 ms) until it succeeds, the
/// container stops, or `deadline` passes; the error carries the log tail.
pub async fn wait_until<T, F, Fut>(
    docker: &Docker,
    name: &str,
    deadline: Duration,
    mut attempt: F,
) -> Result<T, DockerError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    // A container that stopped will never be ready: checked every 200 ms, not at every poll.
    let mut last_state_check = Instant::now();
    let waited = crate::retry::Backoff::polling(deadline)
        .run(|_| {
            let tried = attempt();
            let check_state = last_state_check.elapsed() >= Duration::from_millis(200);
            if check_state {
                last_state_check = Instant::now();
            }
            async move {
                let error = match tried.await {
                    Ok(value) => return Ok(value),
                    Err(e) => e,
                };
                let stopped = if check_state { stopped_reason(docker, name).await } else { None };
                Err(match stopped {
                    Some(detail) => Failed::Final(NotReady::Stopped(detail)),
                    None => Failed::Retry(NotReady::Yet(error), None),
                })
            }
        })
        .await;
    match waited {
        Ok(value) => Ok(value),
        Err(NotReady::Stopped(detail)) => Err(stopped(docker, name, detail).await),
        Err(NotReady::Yet(last_error)) => Err(DockerError::NeverReady {
            container: name.to_string(),
            waited: deadline,
            detail: last_error,
            log_tail: tail(docker, name, 20).await,
        }),
    }
}

enum NotReady {
    /// The last try's error.
    Yet(String),
    /// The container stopped: it never will be.
    Stopped(String),
}

/// The last `lines` of the container's stdout and stderr, in order.
pub async fn tail(docker: &Docker, name: &str, lines: u32) -> String {
    let options = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&lines.to_string()).build();
    let mut stream = docker.logs(name, Some(options));
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(output) => text.push_str(&String::from_utf8_lossy(&output.into_bytes())),
            Err(e) => {
                text.push_str(&format!("[parity: could not read the rest of the log: {}]\n", describe(&e)));
                break;
            }
        }
    }
    text
}

/// A container's end state, for `analysis.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ContainerReport {
    pub service: String,
    pub name: String,
    pub image: String,
    /// The image's id (`sha256:…`) as the engine ran it.
    pub image_id: Option<String>,
    /// created, running, paused, exited, dead…; "missing" when it was gone.
    pub state: String,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    pub error: Option<String>,
}

pub async fn report(docker: &Docker, service: Service, name: &str, image: &str) -> ContainerReport {
    let mut report = ContainerReport {
        service: service.role(),
        name: name.into(),
        image: image.into(),
        image_id: None,
        state: "missing".into(),
        exit_code: None,
        oom_killed: false,
        error: None,
    };
    match docker.inspect_container(name, None).await {
        Ok(inspect) => {
            report.image_id = inspect.image.clone();
            if let Some(state) = inspect.state {
                report.state = state.status.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into());
                report.exit_code = state.exit_code;
                report.oom_killed = state.oom_killed.unwrap_or(false);
                report.error = state.error.filter(|e| !e.is_empty());
            }
        }
        Err(e) => report.error = Some(describe(&e)),
    }
    report
}
