//! Where the services come from. Every backend hands the scenarios the same
//! thing: two instance URLs and, when it has one, direct access to the store.

mod external;
mod local;

pub use external::ExternalStack;
pub use local::{LocalOptions, LocalStack};

use crate::contract::Client;
use crate::reference::store::{StoreError, TokenStore};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One webprofile instance as the scenarios see it.
#[derive(Clone, Debug)]
pub struct Instance {
    /// Name in traces and reasons: "instance1", "instance2".
    pub name: String,
    /// Name of its log file and service: "webprofile", "webprofile-node2".
    pub service: String,
    pub url: String,
}

pub struct Endpoints {
    pub instances: [Instance; 2],
    /// Direct store access, for the suite's seeding checks.
    pub store: Option<Arc<dyn TokenStore>>,
    /// Where the store is, for people ("memory", "mongodb://127.0.0.1:27017/sharelatex").
    pub store_description: Option<String>,
}

/// A log file captured from the stack.
pub struct LogFile {
    pub file_name: &'static str,
    pub content: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{service} ({url}) never answered GET / within {}: {last_error}", humantime::format_duration(*.waited))]
    NeverReady { service: String, url: String, waited: Duration, last_error: String },
    #[error("could not reach the store: {0}")]
    Store(#[from] StoreError),
    #[error("could not bind a local port for the embedded instances: {0}")]
    Bind(#[from] std::io::Error),
}

pub enum Stack {
    Local(LocalStack),
    External(ExternalStack),
}

impl Stack {
    pub fn endpoints(&self) -> &Endpoints {
        match self {
            Stack::Local(s) => &s.endpoints,
            Stack::External(s) => &s.endpoints,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Stack::Local(_) => "local",
            Stack::External(_) => "external",
        }
    }

    /// The service logs this backend can capture (none for external services).
    pub fn logs(&self) -> Vec<LogFile> {
        match self {
            Stack::Local(s) => s.logs(),
            Stack::External(_) => Vec::new(),
        }
    }

    pub async fn teardown(self) {
        match self {
            Stack::Local(s) => s.shutdown().await,
            Stack::External(_) => {}
        }
    }
}

/// Polls `GET /` on every instance at once until each answers any HTTP
/// status, or the deadline passes; the error names the instance that did not.
pub async fn wait_ready(
    clients: &[&Client],
    instances: &[Instance],
    deadline: Duration,
) -> Result<(), StackError> {
    let started = Instant::now();
    let waits = clients.iter().zip(instances).map(|(client, instance)| async move {
        let mut pause = Duration::from_millis(5);
        loop {
            let last_error = match client.probe().await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if started.elapsed() >= deadline {
                return Err(StackError::NeverReady {
                    service: instance.service.clone(),
                    url: instance.url.clone(),
                    waited: deadline,
                    last_error,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    });
    futures::future::try_join_all(waits).await.map(|_| ())
}
