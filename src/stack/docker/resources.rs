//! Creating and removing the stack's resources by name, clearing names that a
//! dead harness left behind, and refusing to touch what is not ours.

use super::engine::{describe, is_not_found, DockerError};
use super::owner::{is_managed, Liveness, Owner};
use crate::progress::Reporter;
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::{RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder};
use bollard::Docker;

/// Removes a container, running or not; one that is already gone is fine.
pub async fn remove_container(docker: &Docker, name: &str) -> Result<(), String> {
    let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    match docker.remove_container(name, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(format!("container {name}: {}", describe(&e))),
    }
}

pub async fn remove_network(docker: &Docker, name: &str) -> Result<(), String> {
    match docker.remove_network(name).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(format!("network {name}: {}", describe(&e))),
    }
}

pub async fn remove_image(docker: &Docker, name: &str) -> Result<(), String> {
    let options = RemoveImageOptionsBuilder::default().force(true).build();
    match docker.remove_image(name, Some(options), None).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(format!("image {name}: {}", describe(&e))),
    }
}

/// Why a managed resource of another harness may not be taken over, or `None`
/// when its harness is gone and it can be reaped.
fn in_use(owner: &Owner, liveness: Liveness) -> Option<String> {
    match liveness {
        Liveness::Us | Liveness::Gone { .. } => None,
        Liveness::Alive { pid, run_id } => Some(format!(
            "belongs to parity run {run_id}, still running as pid {pid}; wait for it, or give this run other names \
             (--network, --mongo-container, --image-tag)"
        )),
        Liveness::Unknown { host, run_id } => Some(format!(
            "belongs to parity run {run_id} started from host `{host}` (this is `{}`); remove it with `parity clean --all` \
             if that run is over",
            owner.host
        )),
    }
}

/// Makes `name` free for a new container: a leftover of a dead harness is
/// removed (and said so); anything else with that name is an error.
pub async fn clear_container_name(
    docker: &Docker,
    owner: &Owner,
    name: &str,
    reporter: Reporter,
) -> Result<(), DockerError> {
    let existing = match docker.inspect_container(name, None).await {
        Ok(c) => c,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(DockerError::api(format!("inspect container {name}"))(e)),
    };
    let labels = existing.config.and_then(|c| c.labels).unwrap_or_default();
    if !is_managed(&labels) {
        return Err(DockerError::NameTaken {
            kind: "container",
            name: name.into(),
            why: format!(
                "was not created by parity; remove it (docker rm -f {name}) or choose another name \
                 (--mongo-container, --image-tag)"
            ),
        });
    }
    if let Some(why) = in_use(owner, owner.liveness_of(&labels)) {
        return Err(DockerError::NameTaken { kind: "container", name: name.into(), why });
    }
    remove_container(docker, name)
        .await
        .map_err(|detail| DockerError::Api { action: "remove a stale container".into(), detail })?;
    reporter.line(format!("removed stale container {name} left by an earlier run"));
    Ok(())
}

/// Whether the run created its network (and so removes it at the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkUse {
    Created,
    /// A network someone else made: used as is, never removed.
    Borrowed,
}

/// Creates the network, after reaping a stale one of the same name; a network
/// parity did not create is used as is.
/// A network another stack of this run created: used, never removed.
pub async fn join_network(docker: &Docker, name: &str) -> Result<NetworkUse, DockerError> {
    docker.inspect_network(name, None).await.map_err(DockerError::api(format!("inspect network {name}")))?;
    Ok(NetworkUse::Borrowed)
}

pub async fn ensure_network(
    docker: &Docker,
    owner: &Owner,
    name: &str,
    reporter: Reporter,
) -> Result<NetworkUse, DockerError> {
    match docker.inspect_network(name, None).await {
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(DockerError::api(format!("inspect network {name}"))(e)),
        Ok(existing) => {
            let labels = existing.labels.unwrap_or_default();
            if !is_managed(&labels) {
                reporter.line(format!(
                    "network {name} exists and was not created by parity: using it as is (it will not be removed)"
                ));
                return Ok(NetworkUse::Borrowed);
            }
            if let Some(why) = in_use(owner, owner.liveness_of(&labels)) {
                return Err(DockerError::NameTaken { kind: "network", name: name.into(), why });
            }
            // Containers still attached keep a network from being removed.
            for endpoint in existing.containers.unwrap_or_default().into_values() {
                if let Some(container) = endpoint.name {
                    clear_container_name(docker, owner, &container, reporter).await?;
                }
            }
            remove_network(docker, name)
                .await
                .map_err(|detail| DockerError::Api { action: "remove a stale network".into(), detail })?;
            reporter.line(format!("removed stale network {name} left by an earlier run"));
        }
    }
    let request = NetworkCreateRequest {
        name: name.to_string(),
        driver: Some("bridge".into()),
        labels: Some(owner.labels("network")),
        ..Default::default()
    };
    docker.create_network(request).await.map_err(DockerError::api(format!("create network {name}")))?;
    Ok(NetworkUse::Created)
}
