//! One life of a stack, for every command that starts one (`run`, `replay`,
//! `diff --backend docker`, `canary`): start it, wait until every instance
//! answers within `--ready-timeout`, race each wait against SIGINT/SIGTERM,
//! capture the logs and end states while it is still up, tear it down, and
//! say what could not be removed, one way for all.

use super::{ContainerReport, DockerSettings, DockerStack, ExternalStack, LocalOptions, LocalStack, LogFile};
use super::{Instance, Stack, StackError, StartFailure};
use crate::clock::{millis, Phase};
use crate::contract::Client;
use crate::progress::Reporter;
use crate::signals::or_signal;
use std::time::{Duration, Instant};

/// What to start.
pub enum StackSpec {
    /// Reference instances in this process.
    Local(Box<LocalOptions>),
    /// Services someone else started, and optionally the MongoDB they share.
    External {
        urls: Vec<String>,
        mongo_uri: Option<String>,
    },
    Docker(Box<DockerSettings>),
}

/// Why the instances were not waited for to the end.
pub enum NotReady {
    Interrupted(&'static str),
    Never(StackError),
}

/// What was kept of a stack at its end.
pub struct Ended {
    pub logs: Vec<LogFile>,
    /// The containers' end states (Docker only).
    pub containers: Vec<ContainerReport>,
    /// `logs`, `teardown`.
    pub phases: Vec<Phase>,
    /// What teardown could not remove.
    pub could_not_remove: Vec<String>,
}

/// The one way a leftover is reported.
pub fn cleanup_warning(what: &str) -> String {
    format!("cleanup: could not remove {what}; `parity clean` retries")
}

impl Ended {
    pub fn cleanup_warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.could_not_remove.iter().map(|what| cleanup_warning(what))
    }
}

impl StartFailure {
    /// The signal that stopped the start, if one did.
    pub fn interrupted(&self) -> Option<&'static str> {
        match self.error {
            StackError::Interrupted(signal) => Some(signal),
            _ => None,
        }
    }

    pub fn cleanup_warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.teardown_errors.iter().map(|what| cleanup_warning(what))
    }
}

/// A started stack, until [`StackLife::end`]. Callers say the cleanup
/// warnings ([`Ended::cleanup_warnings`], [`StartFailure::cleanup_warnings`])
/// where they say everything else.
pub struct StackLife {
    stack: Stack,
    ready_timeout: Duration,
}

impl StackLife {
    /// Starts what `spec` names. A signal ends the start: the Docker stack
    /// races it itself, so that what it created is removed before it returns.
    pub async fn start(
        spec: StackSpec,
        run_id: &str,
        ready_timeout: Duration,
        reporter: Reporter,
    ) -> Result<StackLife, StartFailure> {
        let interrupted = |signal| StartFailure::from(StackError::Interrupted(signal));
        let stack = match spec {
            StackSpec::Docker(settings) => {
                Stack::Docker(Box::new(DockerStack::start(*settings, run_id, reporter).await?))
            }
            StackSpec::Local(options) => {
                Stack::Local(or_signal(LocalStack::start(*options)).await.map_err(interrupted)??)
            }
            StackSpec::External { urls, mongo_uri } => Stack::External(
                or_signal(ExternalStack::connect(&urls, mongo_uri.as_deref()))
                    .await
                    .map_err(interrupted)??,
            ),
        };
        Ok(StackLife { stack, ready_timeout })
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Waits until every instance answers `GET /` (any status), within
    /// `--ready-timeout`, unless a signal comes first.
    pub async fn ready(&self, clients: &[Client]) -> Result<(), NotReady> {
        let instances = &self.stack.endpoints().instances;
        match or_signal(wait_ready(clients, instances, self.ready_timeout)).await {
            Err(signal) => Err(NotReady::Interrupted(signal)),
            Ok(waited) => waited.map_err(NotReady::Never),
        }
    }

    /// Under `--no-cleanup`, an embedded stack lives only as long as this
    /// process: it is held up until a signal. Other backends have nothing
    /// to hold (Docker's containers stay up after the process).
    pub async fn hold_until_signal(&self, reporter: Reporter) {
        let urls: Vec<String> =
            self.stack.endpoints().instances.iter().map(|i| format!("{} {}", i.name, i.url)).collect();
        match self.stack {
            Stack::Local(_) => {
                reporter.line(format!(
                    "--no-cleanup: the embedded instances stay up at {} until Ctrl-C (they live in this process)",
                    urls.join(", ")
                ));
                crate::signals::termination().await;
            }
            Stack::External(_) => reporter.line(format!(
                "--no-cleanup: nothing to keep; the services are yours at {}",
                urls.join(", ")
            )),
            Stack::Docker(_) => {}
        }
    }

    /// Captures the logs and end states, then tears the stack down (as
    /// `--no-cleanup` allows). Not raced against a signal: this is what a
    /// signal leads to.
    pub async fn end(self, reporter: Reporter) -> Ended {
        let started = Instant::now();
        let logs = self.stack.logs().await;
        let containers = self.stack.container_reports().await;
        let mut phases = vec![phase("logs", started)];
        let started = Instant::now();
        let could_not_remove = self.stack.teardown(reporter).await;
        phases.push(phase("teardown", started));
        Ended { logs, containers, phases, could_not_remove }
    }
}

/// Polls `GET /` on every instance at once until each answers any HTTP
/// status, or the deadline passes; the error names the instance that did not.
async fn wait_ready(
    clients: &[Client],
    instances: &[Instance],
    deadline: Duration,
) -> Result<(), StackError> {
    let waits = clients.iter().zip(instances).map(|(client, instance)| async move {
        crate::retry::Backoff::polling(deadline)
            .run(|tried| async move {
                // A probe never outlives the readiness deadline, whatever --request-timeout says.
                let left = tried.left.unwrap_or(deadline).max(Duration::from_millis(1));
                client.probe(left).await.map_err(|e| crate::retry::Failed::Retry(e, None))
            })
            .await
            .map_err(|last_error| StackError::NeverReady {
                service: instance.service.clone(),
                url: instance.url.clone(),
                waited: deadline,
                last_error,
            })
    });
    futures::future::try_join_all(waits).await.map(|_| ())
}

fn phase(name: &str, started: Instant) -> Phase {
    Phase { name: name.into(), duration_ms: millis(started.elapsed()), requests: None }
}
