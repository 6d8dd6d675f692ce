//! The embedded stack: two reference instances in this process, sharing one
//! store (in memory, or MongoDB when a URI is given). Needs no Docker.

use super::{Endpoints, Instance, LogFile, StackError};
use crate::contract::Credentials;
use crate::hashing::HashCost;
use crate::reference::faults::Faults;
use crate::reference::server::{self, ReferenceConfig, RunningInstance};
use crate::reference::Flavor;
use crate::store::MemoryStore;
use crate::store::MongoStore;
use crate::store::TokenStore;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Clone, Debug, Default)]
pub struct LocalOptions {
    pub credentials: Credentials,
    pub faults: Faults,
    pub seed: Option<u64>,
    pub hash_cost: HashCost,
    pub flavor: Flavor,
    pub mongo_uri: Option<String>,
}

pub struct LocalStack {
    pub endpoints: Endpoints,
    running: Vec<RunningInstance>,
}

const SERVICES: [&str; 2] = ["webprofile", "webprofile-node2"];

impl LocalStack {
    pub async fn start(options: LocalOptions) -> Result<LocalStack, StackError> {
        let store: Arc<dyn TokenStore> = match &options.mongo_uri {
            Some(uri) => Arc::new(MongoStore::connect(uri).await?),
            None => Arc::new(MemoryStore::new()),
        };
        let mut running = Vec::new();
        for (index, service) in SERVICES.iter().enumerate() {
            let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
            let config = ReferenceConfig {
                name: service.to_string(),
                credentials: options.credentials.clone(),
                hash_cost: options.hash_cost,
                faults: options.faults.clone(),
                flavor: options.flavor,
                // Each instance draws its own fault sequence, reproducibly.
                seed: options.seed.map(|s| s.wrapping_add(index as u64)),
            };
            running.push(server::spawn(listener, store.clone(), config));
        }
        let instances = [0, 1].map(|i| Instance {
            name: format!("instance{}", i + 1),
            service: SERVICES[i].to_string(),
            url: running[i].base_url(),
        });
        Ok(LocalStack {
            endpoints: Endpoints { instances, store_description: Some(store.describe()), store: Some(store) },
            running,
        })
    }

    /// What evidence packets may see: the instances' access logs.
    pub fn witness(&self) -> super::Witness {
        super::Witness::Local {
            logs: self
                .running
                .iter()
                .zip(SERVICES)
                .map(|(i, service)| (service.to_string(), i.log.clone()))
                .collect(),
        }
    }

    /// The instances' access logs as `webprofile.log` and `webprofile-node2.log`.
    pub fn logs(&self) -> Vec<LogFile> {
        let names = ["webprofile.log", "webprofile-node2.log"];
        self.running
            .iter()
            .zip(names)
            .map(|(instance, file_name)| LogFile {
                file_name,
                content: instance.log.lines().join("\n") + "\n",
            })
            .collect()
    }

    pub async fn shutdown(self) {
        futures::future::join_all(self.running.into_iter().map(RunningInstance::shutdown)).await;
    }
}
