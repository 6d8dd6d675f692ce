//! The integration tests, one binary: each module drives the real `parity`
//! binary (and real parts: Docker, MongoDB's wire protocol, HTTP servers,
//! git, an S3-compatible server, Chromium) the way a user would.

mod common;

mod architecture;

mod collect;
mod collect_github;
mod compose;
mod dashboard_browser;
mod diff;
mod evidence;
mod history;
mod hostile;
mod hostile_bounds;
mod hostile_dropped;
mod hostile_secrets;
mod install;
mod mongo_store;
mod notify;
mod publish_pages;
mod publish_s3;
mod rate_limits;
mod release;
mod rerun;
mod run_docker;
mod run_external;
mod run_local;
mod run_reports;
mod scale;
mod security;
mod signature_issues;
mod snapshots;
mod storage;
mod trust;
mod workflows;
