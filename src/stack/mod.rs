//! Where the services come from. Every backend hands the scenarios the same
//! thing: the instance URLs (two or more) and, when it has one, direct access to the store.

pub mod docker;
mod external;
mod lifecycle;
mod local;
mod witness;

pub use docker::{ContainerReport, DockerSettings, DockerStack};
pub use external::ExternalStack;
pub use lifecycle::{cleanup_warning, Ended, NotReady, StackLife, StackSpec};
pub use local::{LocalOptions, LocalStack};
pub use witness::{Lines, LogLine, Witness};

use crate::clock::Phase;
use crate::progress::Reporter;

use crate::contract::Client;
use crate::store::{StoreError, TokenStore};
use std::sync::Arc;
use std::time::Duration;

/// One webprofile instance as the scenarios see it.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Name in traces and reasons: "instance1", "instance2", …
    pub name: String,
    /// Name of its log file and service: "webprofile", "webprofile-node2", …
    pub service: String,
    pub url: String,
}

impl Instance {
    /// The `index`-th instance (0-based) at `url`.
    pub fn numbered(index: usize, url: String) -> Instance {
        Instance { name: format!("instance{}", index + 1), service: service_name(index), url }
    }
}

/// The service (container, log file stem) of the `index`-th instance (0-based):
/// "webprofile", then "webprofile-node2", "webprofile-node3", …
pub fn service_name(index: usize) -> String {
    match index {
        0 => "webprofile".to_string(),
        k => format!("webprofile-node{}", k + 1),
    }
}

/// How many instances a run starts when not told (`--instances`).
pub const DEFAULT_INSTANCES: usize = 2;

/// The most a run may drive: enough for any deployment worth mirroring, few
/// enough that a typo (`--instances 100`) is caught rather than started.
pub const MAX_INSTANCES: usize = 32;

pub struct Endpoints {
    /// Two or more.
    pub instances: Vec<Instance>,
    /// Direct store access, for the suite's seeding checks.
    pub store: Option<Arc<dyn TokenStore>>,
    /// Where the store is, for people ("memory", "mongodb://127.0.0.1:27017/sharelatex").
    pub store_description: Option<String>,
}

impl Endpoints {
    /// A client for each instance, in order.
    pub fn clients(
        &self,
        options: &crate::contract::ClientOptions,
        ctx: &crate::contract::TraceContext,
    ) -> Vec<Client> {
        self.instances.iter().map(|i| Client::new(&i.name, &i.url, options.clone(), ctx.clone())).collect()
    }
}

/// A log file captured from the stack.
pub struct LogFile {
    pub file_name: String,
    pub content: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{service} ({url}) never answered GET / within {}: {last_error}", crate::clock::human(*.waited))]
    NeverReady { service: String, url: String, waited: Duration, last_error: String },
    #[error("could not reach the store: {0}")]
    Store(#[from] StoreError),
    #[error("could not bind a local port for the embedded instances: {0}")]
    Bind(#[from] std::io::Error),
    #[error("{0}")]
    Docker(#[from] docker::DockerError),
    #[error("interrupted by {0} while the stack was starting")]
    Interrupted(&'static str),
}

/// A stack that did not come up, with what could be saved of it.
pub struct StartFailure {
    pub error: StackError,
    pub logs: Vec<LogFile>,
    pub containers: Vec<ContainerReport>,
    pub phases: Vec<Phase>,
    pub teardown_errors: Vec<String>,
}

impl From<StackError> for StartFailure {
    fn from(error: StackError) -> Self {
        StartFailure {
            error,
            logs: Vec::new(),
            containers: Vec::new(),
            phases: Vec::new(),
            teardown_errors: Vec::new(),
        }
    }
}

pub enum Stack {
    Local(LocalStack),
    External(ExternalStack),
    Docker(Box<DockerStack>),
}

impl Stack {
    pub fn endpoints(&self) -> &Endpoints {
        match self {
            Stack::Local(s) => &s.endpoints,
            Stack::External(s) => &s.endpoints,
            Stack::Docker(s) => &s.endpoints,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Stack::Local(_) => "local",
            Stack::External(_) => "external",
            Stack::Docker(_) => "docker",
        }
    }

    /// Time spent bringing the stack up, phase by phase (Docker only).
    pub fn startup_phases(&self) -> Vec<Phase> {
        match self {
            Stack::Docker(s) => s.phases.clone(),
            _ => Vec::new(),
        }
    }

    /// What evidence packets may see of the stack while it runs.
    pub fn witness(&self) -> Witness {
        match self {
            Stack::Local(s) => s.witness(),
            Stack::External(_) => Witness::Blind,
            Stack::Docker(s) => s.witness(),
        }
    }

    /// `--chaos` for the cross-instance iterations (Docker only).
    pub fn chaos(&self) -> Option<Arc<docker::Chaos>> {
        match self {
            Stack::Docker(s) => Some(s.chaos()),
            _ => None,
        }
    }

    /// The service logs this backend can capture (none for external services).
    pub async fn logs(&self) -> Vec<LogFile> {
        match self {
            Stack::Local(s) => s.logs(),
            Stack::External(_) => Vec::new(),
            Stack::Docker(s) => s.logs().await,
        }
    }

    /// The containers' end states (Docker only).
    pub async fn container_reports(&self) -> Vec<ContainerReport> {
        match self {
            Stack::Docker(s) => s.container_reports().await,
            _ => Vec::new(),
        }
    }

    /// Stops what this run started; returns what could not be removed.
    pub async fn teardown(self, reporter: Reporter) -> Vec<String> {
        match self {
            Stack::Local(s) => {
                s.shutdown().await;
                Vec::new()
            }
            Stack::External(_) => Vec::new(),
            Stack::Docker(s) => s.teardown(reporter).await,
        }
    }
}
