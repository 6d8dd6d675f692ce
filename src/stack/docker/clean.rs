//! Finding and removing managed resources by label: `parity clean`, and the
//! sweep at the end of a run that catches anything created mid-interruption.

use super::engine::{self, DockerError};
use super::owner::{Liveness, Owner, MANAGED, ROLE, RUN_ID};
use super::resources;
use crate::progress::Reporter;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
};
use bollard::Docker;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Container,
    Network,
    Image,
}

/// A labelled resource found on the engine.
#[derive(Clone, Debug)]
pub struct Found {
    pub kind: Kind,
    /// Container or network name, or image tag (id when untagged).
    pub name: String,
    pub labels: HashMap<String, String>,
}

/// Every resource carrying `label` (`key` or `key=value`), containers first,
/// then networks, then images: the order they can be removed in.
pub async fn find(docker: &Docker, label: &str) -> Result<Vec<Found>, DockerError> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let mut found = Vec::new();
    let containers = docker
        .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
        .await
        .map_err(DockerError::api("list containers"))?;
    for c in containers {
        let name = c.names.and_then(|n| n.into_iter().next()).or(c.id).unwrap_or_default();
        found.push(Found {
            kind: Kind::Container,
            name: name.trim_start_matches('/').to_string(),
            labels: c.labels.unwrap_or_default(),
        });
    }
    let networks = docker
        .list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build()))
        .await
        .map_err(DockerError::api("list networks"))?;
    for n in networks {
        found.push(Found {
            kind: Kind::Network,
            name: n.name.or(n.id).unwrap_or_default(),
            labels: n.labels.unwrap_or_default(),
        });
    }
    let images = docker
        .list_images(Some(ListImagesOptionsBuilder::default().filters(&filters).build()))
        .await
        .map_err(DockerError::api("list images"))?;
    for i in images {
        let name = i.repo_tags.into_iter().find(|t| t != "<none>:<none>").unwrap_or(i.id);
        found.push(Found { kind: Kind::Image, name, labels: i.labels });
    }
    Ok(found)
}

pub async fn remove(docker: &Docker, item: &Found) -> Result<(), String> {
    match item.kind {
        Kind::Container => resources::remove_container(docker, &item.name).await,
        Kind::Network => resources::remove_network(docker, &item.name).await,
        Kind::Image => resources::remove_image(docker, &item.name).await,
    }
}

pub fn run_label(run_id: &str) -> String {
    format!("{RUN_ID}={run_id}")
}

/// What `parity clean` did.
#[derive(Debug, Default)]
pub struct CleanReport {
    pub removed: Vec<String>,
    pub kept: Vec<String>,
    pub failed: Vec<String>,
}

/// Removes every managed resource whose harness is gone (or all with
/// `all`); `dry_run` only lists them.
pub async fn clean(all: bool, dry_run: bool, reporter: Reporter) -> Result<CleanReport, DockerError> {
    let docker = engine::connect(Duration::from_secs(5)).await?;
    let me = Owner::current("clean");
    let found = find(&docker, &format!("{MANAGED}=true")).await?;
    let mut report = CleanReport::default();
    for item in found {
        let what = describe(&item);
        let liveness = me.liveness_of(&item.labels);
        if !all && matches!(liveness, Liveness::Alive { .. } | Liveness::Unknown { .. }) {
            let why = match liveness {
                Liveness::Alive { pid, .. } => format!("its harness is still running (pid {pid})"),
                Liveness::Unknown { host, .. } => format!("created from host `{host}`"),
                _ => unreachable!(),
            };
            reporter.line(format!("kept {what}: {why}; --all removes it too"));
            report.kept.push(what);
            continue;
        }
        if dry_run {
            reporter.line(format!("would remove {what}"));
            report.removed.push(what);
            continue;
        }
        match remove(&docker, &item).await {
            Ok(()) => {
                reporter.line(format!("removed {what}"));
                report.removed.push(what);
            }
            Err(e) => {
                reporter.line(format!("could not remove {e}"));
                report.failed.push(e);
            }
        }
    }
    Ok(report)
}

fn describe(item: &Found) -> String {
    let kind = match item.kind {
        Kind::Container => "container",
        Kind::Network => "network",
        Kind::Image => "image",
    };
    let role = item.labels.get(ROLE).map(|r| format!(" ({r})")).unwrap_or_default();
    let run = item.labels.get(RUN_ID).map(|r| format!(", run {r}")).unwrap_or_default();
    format!("{kind} {}{role}{run}", item.name)
}
