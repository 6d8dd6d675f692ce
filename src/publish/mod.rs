//! Publishing the collector's dashboard: `parity publish`, and `parity
//! collect --publish` / `PUBLISH_DASHBOARD=true` after the reports are written.
//!
//! ```text
//! env + flags ─► targets (S3 when AWS_S3_BUCKET, Pages when GITHUB_PAGES_REPO)
//! <out>/flakiness/cross/{dashboard.html, trend.json, status.svg, status.json}
//!        └─► Snapshot (read once, one UTC stamp)
//!              ├─► <out>/flakiness/cross/archives/<ts>/   (local copy)
//!              ├─► s3::S3Target      <prefix>/archives/<ts>/*, then <prefix>/*
//!              └─► pages::PagesTarget gh-pages: parity-cross/archives/<ts>/*, parity-cross/*
//! ```
//!
//! Every target configured is tried even when another failed; every line
//! printed passes through a redactor holding the token and the AWS secrets.

pub mod pages;
pub mod s3;
pub mod snapshot;

use crate::progress::Reporter;
use crate::redact::Redactor;
use chrono::{DateTime, Utc};
use pages::{PagesConfig, PagesConfigError, PagesTarget};
use s3::{S3Config, S3ConfigError, S3Target};
use snapshot::{Snapshot, SnapshotError};
use std::path::PathBuf;

pub use crate::settings::Env;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "no publishing target is configured: set AWS_S3_BUCKET (S3) and/or GITHUB_PAGES_REPO with \
         GITHUB_TOKEN (GitHub Pages)"
    )]
    NoTarget,
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("S3: {0}")]
    S3Config(#[from] S3ConfigError),
    #[error("GitHub Pages: {0}")]
    PagesConfig(#[from] PagesConfigError),
}

impl PublishError {
    /// A usage error (nothing was touched, the fix is in the command or the
    /// environment) rather than a failure to read the files.
    pub fn is_usage(&self) -> bool {
        !matches!(self, PublishError::Snapshot(SnapshotError::Read { .. } | SnapshotError::Archive { .. }))
    }
}

/// One publish, as asked.
#[derive(Clone, Debug)]
pub struct PublishOptions {
    pub out: PathBuf,
    /// Archive folders kept on GitHub Pages (`None`: all).
    pub keep_archives: Option<usize>,
    /// The Pages git remote, instead of `https://github.com/<repo>.git`.
    pub pages_remote: Option<String>,
    pub dry_run: bool,
    pub now: DateTime<Utc>,
}

/// What a publish did: one line per failed target, the public URLs.
#[derive(Clone, Debug, Default)]
pub struct PublishReport {
    pub stamp: String,
    pub failures: Vec<String>,
    pub urls: Vec<String>,
}

/// Publishes to every configured target. An `Err` means nothing was
/// published (no target, a bad setting, the files missing); failures of
/// single targets are in the report.
pub async fn publish(
    options: &PublishOptions,
    env: &Env<'_>,
    reporter: Reporter,
) -> Result<PublishReport, PublishError> {
    let env = |key: &str| env(key).filter(|v| !v.trim().is_empty());
    let s3_config = S3Config::from_env(&env).transpose()?;
    let pages_config = PagesConfig::from_env(&env, options.pages_remote.as_deref()).transpose()?;
    if s3_config.is_none() && pages_config.is_none() {
        return Err(PublishError::NoTarget);
    }
    s3_config.iter().flat_map(S3Config::secrets).for_each(crate::redact::register);
    pages_config.iter().flat_map(PagesConfig::secrets).for_each(|s| crate::redact::register(&s));
    let redactor = Redactor::enabled();
    let say = |line: String| reporter.line(redactor.redact(&line));

    let dir = snapshot::cross_dir(&options.out);
    let snapshot = Snapshot::read(&dir, options.now)?;
    let s3 = s3_config.as_ref().map(S3Target::new).transpose()?;
    let pages = pages_config.map(PagesTarget::new);
    let local = snapshot.archive_dir(&snapshot::local_archives_dir(&options.out));
    say(format!(
        "publishing snapshot {} ({} files, {} bytes) from {}",
        snapshot.stamp,
        snapshot.files.len(),
        snapshot.total_bytes(),
        dir.display()
    ));

    let mut report = PublishReport { stamp: snapshot.stamp.clone(), ..PublishReport::default() };
    if options.dry_run {
        say(format!("dry run: would copy the snapshot to {}", local.display()));
        for line in s3.iter().flat_map(|t| t.plan(&snapshot)) {
            say(format!("dry run: S3: {line}"));
        }
        if let Some(pages) = &pages {
            for line in pages.plan(&snapshot, options.keep_archives) {
                say(format!("dry run: GitHub Pages: {line}"));
            }
            say(format!("dry run: GitHub Pages: would be served at {}", pages.pages_url()));
        }
        return Ok(report);
    }

    match snapshot.write_archive(&snapshot::local_archives_dir(&options.out)) {
        Ok(written) => say(format!("archived the snapshot in {}", written.display())),
        Err(e) => report.failures.push(format!("local archive: {e}")),
    }
    if let Some(s3) = &s3 {
        match s3.publish(&snapshot).await {
            Ok(done) => {
                for object in &done.objects {
                    say(format!("S3: uploaded {object}"));
                }
                say(format!("S3: dashboard at {}", done.dashboard_url));
                report.urls.push(done.dashboard_url);
            }
            Err(e) => report.failures.push(format!("S3: {e}")),
        }
    }
    if let Some(target) = pages {
        let remote = target.remote_display();
        let url = target.pages_url();
        let keep = options.keep_archives;
        let snap = snapshot.clone();
        let done = tokio::task::spawn_blocking(move || target.publish(&snap, keep)).await;
        match done {
            Ok(Ok(done)) => {
                if done.created_branch {
                    say(format!("GitHub Pages: created the gh-pages branch of {remote}"));
                }
                if done.retried {
                    say("GitHub Pages: gh-pages moved meanwhile; redid the commit on top of it".into());
                }
                for pruned in &done.pruned {
                    say(format!("GitHub Pages: pruned {}/archives/{pruned}", pages::SITE_DIR));
                }
                match &done.commit {
                    Some(commit) => say(format!(
                        "GitHub Pages: pushed {commit} (snapshot {}) to gh-pages of {remote}",
                        snapshot.stamp
                    )),
                    None => say(format!(
                        "GitHub Pages: gh-pages of {remote} already holds snapshot {}; nothing to commit",
                        snapshot.stamp
                    )),
                }
                say(format!("GitHub Pages: dashboard at {url}"));
                report.urls.push(url);
            }
            Ok(Err(e)) => report.failures.push(format!("GitHub Pages: {e}")),
            Err(e) => report.failures.push(format!("GitHub Pages: the publishing task failed: {e}")),
        }
    }
    report.failures = report.failures.iter().map(|f| redactor.redact(f).into_owned()).collect();
    Ok(report)
}
