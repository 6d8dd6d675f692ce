//! What a running stack lets an evidence packet see: the services' log lines
//! with their times, and the containers' states. Cloneable, so each packet is
//! gathered on its own task while the run goes on.

use super::docker::containers::{self, ContainerReport, Service};
use crate::reference::AccessLog;
use bollard::query_parameters::LogsOptionsBuilder;
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures::StreamExt;

/// Log lines of a window, and whether the byte cap cut them short.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    pub lines: Vec<LogLine>,
    pub cut: bool,
}

/// One line of a service's log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    /// The service that wrote it: "webprofile", "webprofile-node2", "mongo".
    pub source: String,
    pub text: String,
}

#[derive(Clone)]
pub enum Witness {
    /// Containers, by role and name, with their image.
    Docker { docker: Docker, containers: Vec<(Service, String, String)> },
    /// Embedded instances' access logs, by service.
    Local { logs: Vec<(String, AccessLog)> },
    /// External services: nothing to see but their answers.
    Blind,
}

impl Witness {
    /// Every line logged in `[from, to]`, in time order, the first `max_bytes` of them.
    pub async fn lines_between(&self, from: DateTime<Utc>, to: DateTime<Utc>, max_bytes: usize) -> Lines {
        let mut lines = match self {
            Witness::Docker { docker, containers } => {
                let reads = containers
                    .iter()
                    .map(|(service, name, _)| docker_lines(docker, *service, name, from, to, max_bytes));
                futures::future::join_all(reads).await.into_iter().flatten().collect()
            }
            Witness::Local { logs } => logs
                .iter()
                .flat_map(|(service, log)| {
                    log.lines().into_iter().filter_map(move |text| {
                        let at = timestamp_of(&text)?;
                        Some(LogLine { at, source: service.clone(), text: without_stamp(&text, service) })
                    })
                })
                .filter(|line| line.at >= from && line.at <= to)
                .collect(),
            Witness::Blind => Vec::new(),
        };
        lines.sort_by_key(|l| l.at);
        let mut used = 0;
        let all = lines.len();
        lines.retain(|l| {
            used += l.text.len();
            used <= max_bytes
        });
        Lines { cut: lines.len() < all, lines }
    }

    /// The containers' states and image ids (Docker only).
    pub async fn states(&self) -> Vec<ContainerReport> {
        match self {
            Witness::Docker { docker, containers } => {
                let reports = containers
                    .iter()
                    .map(|(service, name, image)| containers::report(docker, *service, name, image));
                futures::future::join_all(reports).await
            }
            _ => Vec::new(),
        }
    }
}

/// The line without its own leading time and service name (the timeline shows both).
fn without_stamp(text: &str, service: &str) -> String {
    let rest = match text.split_once(' ') {
        Some((stamp, rest)) if DateTime::parse_from_rfc3339(stamp).is_ok() => rest,
        _ => text,
    };
    let rest = rest.strip_prefix(service).filter(|r| r.starts_with(' ')).unwrap_or(rest);
    rest.trim_start().to_string()
}

/// A log line's leading RFC 3339 time (Docker's with `timestamps`, and the reference's access log).
fn timestamp_of(line: &str) -> Option<DateTime<Utc>> {
    let first = line.split_whitespace().next()?;
    DateTime::parse_from_rfc3339(first).ok().map(|t| t.with_timezone(&Utc))
}

async fn docker_lines(
    docker: &Docker,
    service: Service,
    name: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_bytes: usize,
) -> Vec<LogLine> {
    let since = i32::try_from(from.timestamp() - 1).unwrap_or(0);
    let until = i32::try_from(to.timestamp() + 1).unwrap_or(i32::MAX);
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(since)
        .until(until)
        .build();
    let mut stream = docker.logs(name, Some(options));
    let mut text = String::new();
    // Whole seconds are asked for, so a margin of lines beyond the cap is read and dropped.
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        if text.len() > 2 * max_bytes {
            break;
        }
    }
    text.lines()
        .filter_map(|line| {
            let (stamp, rest) = line.split_once(' ')?;
            let at = DateTime::parse_from_rfc3339(stamp).ok()?.with_timezone(&Utc);
            (at >= from && at <= to).then(|| LogLine {
                at,
                source: service.role().to_string(),
                text: without_stamp(rest, &service.role()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_lines_are_read_by_their_time_in_order_and_bounded() {
        let a = AccessLog::default();
        let b = AccessLog::default();
        a.push("2026-01-01T00:00:01.000Z webprofile GET / 404 0.1ms".into());
        b.push("2026-01-01T00:00:00.500Z webprofile-node2 POST /x 200 1.0ms".into());
        a.push("2026-01-01T00:00:09.000Z webprofile GET / 404 0.1ms".into());
        let witness = Witness::Local { logs: vec![("webprofile".into(), a), ("webprofile-node2".into(), b)] };
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let lines =
            witness.lines_between(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:02Z"), 10_000).await;
        assert!(!lines.cut);
        let sources: Vec<&str> = lines.lines.iter().map(|l| l.source.as_str()).collect();
        assert_eq!(sources, ["webprofile-node2", "webprofile"]);
        assert_eq!(lines.lines[0].text, "POST /x 200 1.0ms", "the line's own stamp and name are dropped");
        let bounded = witness.lines_between(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:02Z"), 20).await;
        assert_eq!(bounded.lines.len(), 1, "a chatty service cannot blow up a packet");
        assert!(bounded.cut);
    }
}
