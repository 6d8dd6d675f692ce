//! Images: use the local one, pull what is missing, or build from a context.

use super::context::tar_context;
use super::engine::{describe, is_not_found, DockerError};
use crate::progress::Reporter;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;
use std::collections::HashMap;
use std::path::Path;

/// Whether the image is there, and if it had to be pulled.
#[derive(Debug, PartialEq, Eq)]
pub enum Obtained {
    Present,
    Pulled,
}

/// Makes sure `image` exists locally, pulling it (with progress) when not.
/// `flag` names the option that chooses this image, for the error.
pub async fn ensure(
    docker: &Docker,
    image: &str,
    flag: &'static str,
    reporter: Reporter,
) -> Result<Obtained, DockerError> {
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(Obtained::Present),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(DockerError::api(format!("inspect image {image}"))(e)),
    }
    let mut progress = reporter.activity(&format!("pulling {image} (not present locally)"));
    let options = CreateImageOptionsBuilder::default().from_image(&with_tag(image)).build();
    let mut stream = docker.create_image(Some(options), None, None);
    let mut layers_done = 0usize;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(error) = info.error_detail.and_then(|d| d.message) {
                    progress.finish("failed");
                    return Err(DockerError::ImageMissing { image: image.into(), detail: error, flag });
                }
                let status = info.status.unwrap_or_default();
                if status == "Pull complete" {
                    layers_done += 1;
                }
                let layer = info.id.map(|id| format!("{id}: ")).unwrap_or_default();
                let detail = match info.progress_detail.and_then(|p| p.current.zip(p.total)) {
                    Some((current, total)) if total > 0 => format!("{}%", current * 100 / total),
                    _ => String::new(),
                };
                let notable = !matches!(status.as_str(), "Downloading" | "Extracting" | "Waiting");
                progress.status(&format!("{layers_done} layer(s) done — {layer}{status} {detail}"), notable);
            }
            Err(e) => {
                progress.finish("failed");
                return Err(DockerError::ImageMissing {
                    image: image.into(),
                    detail: format!("not present locally and the pull failed: {}", describe(&e)),
                    flag,
                });
            }
        }
    }
    progress.finish("pulled");
    Ok(Obtained::Pulled)
}

/// `mongo` → `mongo:latest`, so a pull never fetches every tag.
fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Builds `tag` from a Dockerfile context with the legacy builder (no
/// BuildKit needed), streaming the build's steps as progress.
pub async fn build(
    docker: &Docker,
    context: &Path,
    tag: &str,
    labels: &HashMap<String, String>,
    reporter: Reporter,
) -> Result<(), DockerError> {
    let failed = |detail: String| DockerError::Build {
        tag: tag.into(),
        context: context.display().to_string(),
        detail,
    };
    let tar = tar_context(context, "Dockerfile").map_err(|e| failed(e.to_string()))?;
    let mut progress = reporter.activity(&format!("building {tag} from {}", context.display()));
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .labels(labels)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(tar.into())));
    let mut recent: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(e) => {
                progress.finish("failed");
                return Err(failed(with_recent(describe(&e), &recent)));
            }
        };
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            progress.finish("failed");
            return Err(failed(with_recent(error, &recent)));
        }
        if let Some(line) = info.stream {
            for line in line.lines().map(str::trim).filter(|l| !l.is_empty()) {
                progress.status(line, line.starts_with("Step "));
                recent.push(line.to_string());
                if recent.len() > 8 {
                    recent.remove(0);
                }
            }
        }
    }
    progress.finish("built");
    Ok(())
}

fn with_recent(error: String, recent: &[String]) -> String {
    if recent.is_empty() {
        error
    } else {
        format!("{error} (last build output: {})", recent.join(" | "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulls_name_a_tag() {
        assert_eq!(with_tag("mongo"), "mongo:latest");
        assert_eq!(with_tag("mongo:6.0.5"), "mongo:6.0.5");
        assert_eq!(with_tag("localhost:5000/team/mongo"), "localhost:5000/team/mongo:latest");
        assert_eq!(with_tag("mongo@sha256:abc"), "mongo@sha256:abc");
    }
}
