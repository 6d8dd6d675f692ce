//! The embedded stack: reference instances in this process (two unless told
//! otherwise), sharing one store (in memory, or MongoDB when a URI is given).
//! Needs no Docker.

use super::{service_name, Endpoints, Instance, LogFile, StackError};
use crate::contract::Credentials;
use crate::hashing::HashCost;
use crate::reference::faults::Faults;
use crate::reference::server::{self, ReferenceConfig, RunningInstance};
use crate::reference::Flavors;
use crate::store::MemoryStore;
use crate::store::MongoStore;
use crate::store::TokenStore;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct LocalOptions {
    pub credentials: Credentials,
    pub faults: Faults,
    pub seed: Option<u64>,
    pub hash_cost: HashCost,
    pub flavor: Flavors,
    pub mongo_uri: Option<String>,
    /// How many instances (`--instances`, at least two).
    pub instances: usize,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            credentials: Credentials::default(),
            faults: Faults::default(),
            seed: None,
            hash_cost: HashCost::default(),
            flavor: Flavors::default(),
            mongo_uri: None,
            instances: super::DEFAULT_INSTANCES,
        }
    }
}

/// How much of each embedded instance's access log a run writes (Docker's is `--log-tail`).
pub const LOG_LINES_WRITTEN: usize = 10_000;

pub struct LocalStack {
    pub endpoints: Endpoints,
    running: Vec<RunningInstance>,
}

impl LocalStack {
    pub async fn start(options: LocalOptions) -> Result<LocalStack, StackError> {
        let store: Arc<dyn TokenStore> = match &options.mongo_uri {
            Some(uri) => Arc::new(MongoStore::connect(uri).await?),
            None => Arc::new(MemoryStore::new()),
        };
        let mut running = Vec::new();
        // One `rate-limit` bucket for every instance, as the Node service counts across its processes.
        let shared_window =
            options.faults.rate_limit.map(|r| Arc::new(crate::reference::rate_limit::RateWindow::new(r)));
        for index in 0..options.instances.max(2) {
            let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
            let faults = options.faults.for_instance(index + 1);
            let shared = shared_window.clone().filter(|_| faults.rate_limit == options.faults.rate_limit);
            let config = ReferenceConfig {
                name: service_name(index),
                credentials: options.credentials.clone(),
                hash_cost: options.hash_cost,
                rate_window: shared,
                faults,
                flavor: options.flavor.for_instance(index + 1),
                // Each instance draws its own fault sequence, reproducibly.
                seed: options.seed.map(|s| s.wrapping_add(index as u64)),
            };
            running.push(server::spawn(listener, store.clone(), config));
        }
        let instances =
            running.iter().enumerate().map(|(i, r)| Instance::numbered(i, r.base_url())).collect();
        Ok(LocalStack {
            endpoints: Endpoints { instances, store_description: Some(store.describe()), store: Some(store) },
            running,
        })
    }

    /// What evidence packets may see: the instances' access logs.
    pub fn witness(&self) -> super::Witness {
        super::Witness::Local {
            logs: self.running.iter().enumerate().map(|(k, i)| (service_name(k), i.log.clone())).collect(),
        }
    }

    /// The last [`LOG_LINES_WRITTEN`] lines of each instance's access log as
    /// `webprofile.log`, `webprofile-node2.log`, …: a long run's logs would
    /// otherwise outweigh every other artifact, and each failure's evidence
    /// packet already holds the lines around it.
    pub fn logs(&self) -> Vec<LogFile> {
        self.running
            .iter()
            .enumerate()
            .map(|(k, instance)| {
                let (lines, earlier) = instance.log.tail(LOG_LINES_WRITTEN);
                let head = match earlier {
                    0 => String::new(),
                    n => format!(
                        "[parity] {n} earlier line(s) not kept here; each failure's evidence packet has its window\n"
                    ),
                };
                LogFile { file_name: format!("{}.log", service_name(k)), content: head + &lines.join("\n") + "\n" }
            })
            .collect()
    }

    pub async fn shutdown(self) {
        futures::future::join_all(self.running.into_iter().map(RunningInstance::shutdown)).await;
    }
}
