//! `parity publish`, and the publish step of `parity collect --publish`.

use super::CommandError;
use crate::cli::{PublishArgs, PublishTargetArgs};
use crate::exit::Exit;
use crate::progress::{print_stdout, Reporter};
use crate::publish::{self, PublishError, PublishOptions, PublishReport};
use crate::redact::Redactor;
use crate::settings::process_env;
use chrono::{DateTime, Utc};
use std::path::Path;

/// 0 when every target succeeded, 3 when one failed, 64 when there is
/// nothing to publish or nowhere to publish it.
pub async fn run(args: &PublishArgs) -> Result<Exit, CommandError> {
    let options = options(&args.out, &args.targets, args.dry_run, chrono::Utc::now());
    match publish::publish(&options, &process_env, Reporter::plain()).await {
        Err(e) if e.is_usage() => Err(CommandError::Usage(shown(&e))),
        Err(e) => Err(CommandError::Infrastructure(shown(&e))),
        Ok(report) => {
            for url in &report.urls {
                print_stdout(&format!("{url}\n"));
            }
            Ok(finish(&report))
        }
    }
}

/// From the flags `publish` and `collect --publish` share.
pub fn options(out: &Path, targets: &PublishTargetArgs, dry_run: bool, now: DateTime<Utc>) -> PublishOptions {
    PublishOptions {
        out: out.to_path_buf(),
        keep_archives: targets.keep_archives.map(|n| n as usize),
        pages_remote: targets.pages_remote.clone(),
        dry_run,
        now,
    }
}

/// After `parity collect`: `None` when nothing failed (no target configured
/// is only a warning), `Some(Exit::Infrastructure)` when publishing failed.
pub async fn after_collect(options: &PublishOptions) -> Option<Exit> {
    let reporter = Reporter::plain();
    match publish::publish(options, &process_env, reporter).await {
        Err(PublishError::NoTarget) => {
            reporter.line(format!("warning: publishing was asked for, but {}", PublishError::NoTarget));
            None
        }
        Err(e) => {
            reporter.line(format!("publish failed: {}", shown(&e)));
            Some(Exit::Infrastructure)
        }
        Ok(report) => match finish(&report) {
            Exit::Ok => None,
            failed => Some(failed),
        },
    }
}

/// An error that stops a publish before it starts names settings, never
/// secrets; a password inside an endpoint URL is still removed.
fn shown(e: &PublishError) -> String {
    Redactor::enabled().redact(&e.to_string()).into_owned()
}

/// One line per failed target; 0 or 3.
fn finish(report: &PublishReport) -> Exit {
    for failure in &report.failures {
        Reporter::plain().line(format!("publish failed: {failure}"));
    }
    if report.failures.is_empty() {
        Exit::Ok
    } else {
        Exit::Infrastructure
    }
}
