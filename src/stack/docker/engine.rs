//! Reaching the Docker engine, and the errors of talking to it.

use bollard::Docker;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker engine at {host} ({detail}); start it (dockerd), point DOCKER_HOST at it, \
         or run the embedded stack with --backend local"
    )]
    Unreachable { host: String, detail: String },
    #[error("Docker could not {action}: {detail}")]
    Api { action: String, detail: String },
    #[error(
        "image {image} is not available: {detail}; build or load it first (docker build / docker load), \
         or name another image with {flag}"
    )]
    ImageMissing { image: String, detail: String, flag: &'static str },
    #[error("building {tag} from {context} failed: {detail}")]
    Build { tag: String, context: String, detail: String },
    #[error("{kind} `{name}` already exists and {why}")]
    NameTaken { kind: &'static str, name: String, why: String },
    #[error("{container} never became ready within {}: {detail}{}", crate::clock::human(*.waited), tail_block(.log_tail))]
    NeverReady { container: String, waited: Duration, detail: String, log_tail: String },
    #[error("{container} stopped before it was ready: {detail}{}", tail_block(.log_tail))]
    Stopped { container: String, detail: String, log_tail: String },
    #[error("chaos: {0}")]
    Chaos(String),
}

fn tail_block(tail: &str) -> String {
    if tail.trim().is_empty() {
        " (its log is empty)".to_string()
    } else {
        format!("; last lines of its log:\n{}", indent(tail))
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

impl DockerError {
    /// Wraps a failed API call: "Docker could not <action>: <reason>".
    pub fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
        let action = action.into();
        move |e| DockerError::Api { action, detail: describe(&e) }
    }
}

/// A bollard error as one line: the daemon's own message when it sent one.
pub fn describe(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { status_code, message } => {
            format!("{} (HTTP {status_code})", message.trim())
        }
        other => other.to_string(),
    }
}

/// True when the daemon answered 404 (no such container, network or image).
pub fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(error, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}

/// Where the engine is: DOCKER_HOST, else the local socket.
pub fn engine_address() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// Where published ports are reached: the engine's host for a remote engine
/// (`DOCKER_HOST=tcp://HOST:PORT`, `https://`, `ssh://`), loopback for the local socket.
pub fn published_host() -> String {
    remote_host(&engine_address()).unwrap_or_else(|| "127.0.0.1".to_string())
}

/// The interface published ports bind to: every one on a remote engine (the
/// harness is elsewhere), loopback only on the local one.
pub fn binding_ip() -> &'static str {
    match remote_host(&engine_address()) {
        Some(_) => "0.0.0.0",
        None => "127.0.0.1",
    }
}

/// The host part of a network DOCKER_HOST (`[::1]` keeps its brackets, for URLs).
fn remote_host(address: &str) -> Option<String> {
    let rest = ["tcp://", "http://", "https://", "ssh://"].iter().find_map(|s| address.strip_prefix(s))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match authority.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or(v6)),
        None => authority.split(':').next().unwrap_or(authority).to_string(),
    };
    (!host.is_empty()).then_some(host)
}

/// Connects to the engine (DOCKER_HOST or the local socket), agrees on an API
/// version and pings it, all within `patience`.
pub async fn connect(patience: Duration) -> Result<Docker, DockerError> {
    let host = engine_address();
    let unreachable = |detail: String| DockerError::Unreachable { host: host.clone(), detail };
    let docker = Docker::connect_with_defaults().map_err(|e| unreachable(describe(&e)))?;
    let docker = match tokio::time::timeout(patience, docker.negotiate_version()).await {
        Err(_) => return Err(unreachable(format!("no answer within {}", crate::clock::human(patience)))),
        Ok(Err(e)) => return Err(unreachable(describe(&e))),
        Ok(Ok(docker)) => docker,
    };
    match tokio::time::timeout(patience, docker.ping()).await {
        Err(_) => Err(unreachable(format!("no answer within {}", crate::clock::human(patience)))),
        Ok(Err(e)) => Err(unreachable(describe(&e))),
        Ok(Ok(_)) => Ok(docker),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_engine_is_one_sentence_naming_it_and_what_to_do() {
        let e = DockerError::Unreachable {
            host: "unix:///nowhere.sock".into(),
            detail: "No such file or directory".into(),
        };
        let text = e.to_string();
        assert!(text.contains("unix:///nowhere.sock") && text.contains("--backend local"), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn published_ports_are_reached_at_a_remote_engines_host() {
        assert_eq!(remote_host("tcp://10.1.2.3:2376"), Some("10.1.2.3".into()));
        assert_eq!(remote_host("https://docker.example:2376/"), Some("docker.example".into()));
        assert_eq!(remote_host("ssh://me@build-box"), Some("build-box".into()));
        assert_eq!(remote_host("tcp://[fd00::1]:2375"), Some("[fd00::1]".into()));
        assert_eq!(remote_host("unix:///var/run/docker.sock"), None);
    }

    #[test]
    fn never_ready_shows_the_log_tail_indented() {
        let e = DockerError::NeverReady {
            container: "webprofile-api-parity".into(),
            waited: Duration::from_secs(30),
            detail: "exited with code 3".into(),
            log_tail: "boom\nbang".into(),
        };
        let text = e.to_string();
        assert!(text.starts_with("webprofile-api-parity never became ready within 30 s: exited with code 3"));
        assert!(text.ends_with("\n    boom\n    bang"), "{text}");
    }
}
