//! Downloading the parity workflow's artifacts from GitHub into the
//! collected directory, before `parity collect` aggregates it.
//!
//! ```text
//! list runs (last N days, paginated) ─► per run: skip if on disk, list artifacts,
//!   pick the named, unexpired one ─► download the zip ─► extract
//! ```
//!
//! A run that fails to download is a [`DownloadFailure`] and the collection
//! goes on; a refused token or an unreachable API stops the download (the
//! caller still aggregates what is on disk). The token is only sent to the
//! API's own origin and never printed: every message passes the redactor.

pub mod api;
pub mod extract;
pub mod link;

pub use api::RETRY;

use crate::progress::Reporter;
use crate::redact::Redactor;
use api::{Api, Artifacts, WorkflowRun, WorkflowRuns, PER_PAGE};
use chrono::{DateTime, Utc};
use extract::Limits;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DEFAULT_API_URL: &str = "https://api.github.com";
pub const DEFAULT_WORKFLOW: &str = "parity.yml";
pub const DEFAULT_ARTIFACT: &str = "webprofile-parity-artifacts";
/// The largest archive downloaded.
const ARCHIVE_CAP: u64 = 512 << 20;

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub refused the token (HTTP {status}) when asked for {what}; check that GITHUB_TOKEN may read this repository's Actions")]
    Auth { what: String, status: u16 },
    #[error("the GitHub API is unreachable (asking for {what}): {reason}")]
    Unreachable { what: String, reason: String },
    #[error("GitHub answered HTTP {status} when asked for {what}")]
    Status { what: String, status: u16 },
    #[error("GitHub's answer for {what} is not what was expected: {reason}")]
    Decode { what: String, reason: String },
    #[error("{what} points to {host}, not the API host; not sending the token there")]
    ForeignLink { what: String, host: String },
    #[error("{what} is larger than the {cap} byte cap")]
    TooLarge { what: String, cap: u64 },
    #[error("GITHUB_REPOSITORY must be owner/repo, not {0:?}")]
    BadRepository(String),
    #[error("GITHUB_API_URL {url:?} is not an http(s) URL")]
    BadApiUrl { url: String },
    #[error("GITHUB_TOKEN is not a valid header value")]
    BadToken,
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    #[error("extracting {what} stopped: {reason}")]
    Interrupted { what: String, reason: String },
    #[error(transparent)]
    Extract(#[from] extract::ExtractError),
}

impl GithubError {
    /// Errors that end the whole download, not just one run's.
    pub fn stops_download(&self) -> bool {
        matches!(self, GithubError::Auth { .. } | GithubError::Unreachable { .. })
    }
}

/// Where to download from: the environment plus `collect`'s flags.
#[derive(Clone)]
pub struct GithubSource {
    pub api_url: Url,
    /// `owner/repo`.
    pub repository: String,
    token: String,
    pub workflow: String,
    pub artifact_name: String,
    pub days: u32,
    pub retry: crate::retry::Backoff,
}

impl std::fmt::Debug for GithubSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubSource")
            .field("api_url", &self.api_url.as_str())
            .field("repository", &self.repository)
            .field("token", &crate::redact::REDACTED)
            .field("workflow", &self.workflow)
            .field("artifact_name", &self.artifact_name)
            .field("days", &self.days)
            .finish()
    }
}

impl GithubSource {
    /// `None` unless both GITHUB_REPOSITORY and GITHUB_TOKEN are set (and not empty).
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        workflow: &str,
        artifact_name: &str,
        days: u32,
    ) -> Option<Result<Self, GithubError>> {
        let set = |key: &str| env(key).filter(|v| !v.trim().is_empty());
        let (repository, token) = (set("GITHUB_REPOSITORY")?, set("GITHUB_TOKEN")?);
        let api = set("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_string());
        Some(Self::new(&api, &repository, token.trim(), workflow, artifact_name, days))
    }

    pub fn new(
        api_url: &str,
        repository: &str,
        token: &str,
        workflow: &str,
        artifact_name: &str,
        days: u32,
    ) -> Result<Self, GithubError> {
        let api_url = Url::parse(api_url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| GithubError::BadApiUrl { url: api_url.to_string() })?;
        let repository = repository.trim();
        let valid = |part: &str| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match repository.split_once('/') {
            Some((owner, repo)) if valid(owner) && valid(repo) && repo != ".." && owner != ".." => {}
            _ => return Err(GithubError::BadRepository(repository.to_string())),
        }
        Ok(GithubSource {
            api_url,
            repository: repository.to_string(),
            token: token.to_string(),
            workflow: workflow.to_string(),
            artifact_name: artifact_name.to_string(),
            days,
            retry: RETRY,
        })
    }

    /// A client for this repository's API, with the token.
    pub fn api(&self) -> Result<Api, GithubError> {
        Api::new(self.api_url.clone(), &self.token, self.retry)
    }

    /// A redactor that knows the token.
    pub fn redactor(&self) -> Redactor {
        crate::redact::register(&self.token);
        Redactor::enabled()
    }
}

/// One run (or the listing) that could not be downloaded, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadFailure {
    /// The workflow run; `None` when the runs could not be listed at all.
    pub run_id: Option<u64>,
    pub artifact: Option<String>,
    /// One sentence, token-free.
    pub reason: String,
}

/// What a download did.
#[derive(Debug, Default)]
pub struct DownloadReport {
    pub runs_listed: usize,
    pub runs_downloaded: usize,
    /// Runs already on disk.
    pub runs_present: usize,
    /// Runs with no usable artifact of the name (none, expired, or no results inside).
    pub runs_without_artifact: usize,
    /// Runs whose download failed (each in `failures`).
    pub runs_failed: usize,
    pub files_written: usize,
    pub failures: Vec<DownloadFailure>,
    /// Set when the download stopped early (refused token, unreachable API, …): one sentence.
    pub stopped: Option<String>,
}

/// Downloads the last `days` days of runs' artifacts into `collected`.
pub async fn download(
    source: &GithubSource,
    collected: &Path,
    now: DateTime<Utc>,
    reporter: Reporter,
) -> DownloadReport {
    let redactor = source.redactor();
    let clean = |e: &GithubError| redactor.redact(&e.to_string()).into_owned();
    let mut report = DownloadReport::default();
    let stop = |report: &mut DownloadReport, e: &GithubError| {
        let reason = clean(e);
        report.failures.push(DownloadFailure { run_id: None, artifact: None, reason: reason.clone() });
        report.stopped = Some(reason);
    };
    let api = match Api::new(source.api_url.clone(), &source.token, source.retry) {
        Ok(api) => api,
        Err(e) => {
            stop(&mut report, &e);
            return report;
        }
    };
    let runs = match list_runs(&api, source, now).await {
        Ok(runs) => runs,
        Err(e) => {
            stop(&mut report, &e);
            return report;
        }
    };
    report.runs_listed = runs.len();
    reporter.line(format!(
        "{} run(s) of {} in {} in the last {} day(s)",
        runs.len(),
        source.workflow,
        source.repository,
        source.days
    ));
    let mut progress = reporter.steps(runs.len() as u64, "GitHub run");
    for run in &runs {
        let label = run.id.to_string();
        if already_downloaded(collected, run.id) {
            report.runs_present += 1;
            progress.step(&label, "already downloaded", None);
            continue;
        }
        match download_run(&api, source, run, collected).await {
            Ok(RunOutcome::Written { files, refused }) => {
                report.runs_downloaded += 1;
                report.files_written += files;
                // Refused zip entries are on record too: a suspicious artifact deserves a look.
                let warning = if refused.is_empty() {
                    None
                } else {
                    let reason =
                        redactor.redact(&format!("run {}: {}", run.id, refused.join("; "))).into_owned();
                    report.failures.push(DownloadFailure {
                        run_id: Some(run.id),
                        artifact: Some(source.artifact_name.clone()),
                        reason: reason.clone(),
                    });
                    Some(reason)
                };
                progress.step(&label, &format!("{files} file(s)"), warning.as_deref());
            }
            Ok(RunOutcome::NoArtifact(why)) => {
                report.runs_without_artifact += 1;
                progress.step(&label, &why, None);
            }
            Err(e) if e.stops_download() => {
                progress.step(&label, "failed", None);
                stop(&mut report, &e);
                break;
            }
            Err(e) => {
                report.runs_failed += 1;
                let reason = format!("run {}: {}", run.id, clean(&e));
                report.failures.push(DownloadFailure {
                    run_id: Some(run.id),
                    artifact: Some(source.artifact_name.clone()),
                    reason: reason.clone(),
                });
                progress.step(&label, "failed", Some(&reason));
            }
        }
    }
    progress.finish();
    report
}

/// A run is on disk once either of its JSON files is (they are written last, whole).
pub fn already_downloaded(collected: &Path, run_id: u64) -> bool {
    [format!("run_{run_id}.json"), format!("run_{run_id}_cross.json")]
        .iter()
        .any(|name| collected.join(name).is_file())
}

async fn list_runs(
    api: &Api,
    source: &GithubSource,
    now: DateTime<Utc>,
) -> Result<Vec<WorkflowRun>, GithubError> {
    let since = (now - chrono::Duration::days(i64::from(source.days))).format(crate::clock::DAY).to_string();
    let per_page = PER_PAGE.to_string();
    let url = api.url(
        &format!("repos/{}/actions/workflows/{}/runs", source.repository, encode_segment(&source.workflow)),
        &[("created", &format!(">={since}")), ("per_page", &per_page), ("page", "1")],
    );
    let what = format!("the runs of workflow {}", source.workflow);
    let mut runs = api.all_pages::<WorkflowRuns>(url, &what).await?;
    // A run can move between pages while paginating; keep one of each.
    runs.sort_by_key(|r| r.id);
    runs.dedup_by_key(|r| r.id);
    Ok(runs)
}

enum RunOutcome {
    Written { files: usize, refused: Vec<String> },
    NoArtifact(String),
}

async fn download_run(
    api: &Api,
    source: &GithubSource,
    run: &WorkflowRun,
    collected: &Path,
) -> Result<RunOutcome, GithubError> {
    let per_page = PER_PAGE.to_string();
    let url = api.url(
        &format!("repos/{}/actions/runs/{}/artifacts", source.repository, run.id),
        &[("per_page", &per_page), ("page", "1")],
    );
    let artifacts = api.all_pages::<Artifacts>(url, &format!("the artifacts of run {}", run.id)).await?;
    let named: Vec<_> = artifacts.iter().filter(|a| a.name == source.artifact_name).collect();
    let Some(artifact) = named.iter().find(|a| !a.expired) else {
        let why = if named.is_empty() { "no artifact of that name" } else { "artifact expired" };
        return Ok(RunOutcome::NoArtifact(why.to_string()));
    };
    let what = format!("artifact {} ({}) of run {}", artifact.name, artifact.id, run.id);
    let archive_url = Url::parse(&artifact.archive_download_url).map_err(|e| GithubError::Decode {
        what: what.clone(),
        reason: format!("archive_download_url: {e}"),
    })?;
    let zip = api.download(archive_url, &what, ARCHIVE_CAP).await?;
    let (target, run_id) = (collected.to_path_buf(), run.id);
    // Decompression is CPU work: off the async workers.
    let extracted =
        tokio::task::spawn_blocking(move || extract::extract(&zip, run_id, &target, Limits::default()))
            .await
            .map_err(|e| GithubError::Interrupted { what: what.clone(), reason: e.to_string() })??;
    if !extracted.has_results() {
        let why = if extracted.refused.is_empty() {
            "holds no flakiness.json or cross-instance-results.json".to_string()
        } else {
            format!("holds no usable results: {}", extracted.refused.join("; "))
        };
        return Ok(RunOutcome::NoArtifact(format!("{what} {why}")));
    }
    if let Some(event) = &run.event {
        super::collect::record_event(collected, &run.id.to_string(), event);
    }
    if let Some(created) = run.created_at {
        date_files(collected, &extracted.written, created);
    }
    Ok(RunOutcome::Written { files: extracted.written.len(), refused: extracted.refused })
}

/// Dates the run's files to the run's creation, so runs whose results carry
/// no timestamps still sort in time order.
fn date_files(collected: &Path, written: &[PathBuf], created: DateTime<Utc>) {
    for relative in written {
        // Best effort: a file left undated sorts by when it was written.
        let _ = crate::files::set_modified(&collected.join(relative), created.into());
    }
}

/// A workflow file name as one URL path segment.
fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_source_needs_both_repository_and_token() {
        assert!(GithubSource::from_env(&env(&[("GITHUB_REPOSITORY", "o/r")]), "p.yml", "a", 30).is_none());
        assert!(GithubSource::from_env(&env(&[("GITHUB_TOKEN", "t0ken")]), "p.yml", "a", 30).is_none());
        let both = env(&[("GITHUB_REPOSITORY", "o/r"), ("GITHUB_TOKEN", "ghs_secret123")]);
        let source = GithubSource::from_env(&both, "p.yml", "a", 30).unwrap().unwrap();
        assert_eq!(source.api_url.as_str(), "https://api.github.com/");
        assert!(!format!("{source:?}").contains("ghs_secret123"));
        assert_eq!(source.redactor().redact("token ghs_secret123 here"), "token [REDACTED] here");
    }

    #[test]
    fn bad_repositories_and_urls_are_one_sentence() {
        for bad in ["o", "o/", "/r", "o/r/x", "../r", "o/.."] {
            assert!(
                matches!(
                    GithubSource::new(DEFAULT_API_URL, bad, "t", "p", "a", 1),
                    Err(GithubError::BadRepository(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            GithubSource::new("ftp://x", "o/r", "t", "p", "a", 1),
            Err(GithubError::BadApiUrl { .. })
        ));
        assert!(matches!(
            GithubSource::new("not a url", "o/r", "t", "p", "a", 1),
            Err(GithubError::BadApiUrl { .. })
        ));
    }

    #[test]
    fn workflow_names_are_one_segment() {
        assert_eq!(encode_segment("parity.yml"), "parity.yml");
        assert_eq!(encode_segment("../x y"), "..%2Fx%20y");
    }

    #[test]
    fn a_run_is_present_once_a_json_file_is() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(!already_downloaded(tmp.path(), 5));
        std::fs::write(tmp.path().join("run_5.json.part"), "{}").unwrap();
        assert!(!already_downloaded(tmp.path(), 5));
        std::fs::write(tmp.path().join("run_5_cross.json"), "[]").unwrap();
        assert!(already_downloaded(tmp.path(), 5));
    }
}
