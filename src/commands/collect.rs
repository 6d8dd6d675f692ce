//! `parity collect`: download (optionally), aggregate, write every report,
//! publish (optionally), tell people.

use super::{non_empty, non_empty_path, thresholds, warn, CommandError};
use crate::cli::CollectArgs;
use crate::collector::{self, CollectOptions, ReportError};
use crate::exit::Exit;
use crate::flakiness::github::{self, DownloadFailure, DownloadReport, GithubSource};
use crate::flakiness::thresholds::ThresholdVerdict;
use crate::notify::CollectNotice;
use crate::progress::{print_stdout, Reporter};
use crate::report::BadgeStyle;
use crate::settings::process_env;

/// 2 when the thresholds are exceeded, after writing everything; 3 when the
/// GitHub download was stopped (refused token, unreachable API), after
/// aggregating what is on disk, or when publishing failed.
pub async fn run(args: &CollectArgs) -> Result<Exit, CommandError> {
    let reporter = Reporter::plain();
    let now = chrono::Utc::now();
    let mut options = CollectOptions {
        out: args.out.clone(),
        src: args.src.clone(),
        copy: args.copy,
        collected_dir: non_empty_path(&args.collected_dir),
        thresholds: thresholds(&args.thresholds),
        dashboard_url: non_empty(&args.dashboard_url),
        step_summary: non_empty_path(&args.step_summary),
        badge: BadgeStyle::default(),
        now,
        download_errors: Vec::new(),
        event: process_env("GITHUB_EVENT_NAME"),
    };
    let download = match GithubSource::from_env(&process_env, &args.workflow, &args.artifact_name, args.days)
    {
        Some(_) if options.src.is_some() => {
            reporter.line("--src given: not downloading from GitHub");
            None
        }
        Some(Ok(source)) => {
            let collected = options
                .collected_dir
                .clone()
                .unwrap_or_else(|| collector::default_collected_dir(&options.out));
            let report = github::download(&source, &collected, now, Reporter::detect()).await;
            reporter.line(format!(
                "GitHub: {} run(s) listed, {} downloaded ({} file(s)), {} already here, {} without the artifact, {} failed",
                report.runs_listed,
                report.runs_downloaded,
                report.files_written,
                report.runs_present,
                report.runs_without_artifact,
                report.runs_failed
            ));
            options.download_errors = report.failures.clone();
            Some(report)
        }
        Some(Err(e)) => {
            let failure = DownloadFailure { run_id: None, artifact: None, reason: e.to_string() };
            options.download_errors = vec![failure];
            Some(DownloadReport { stopped: Some(e.to_string()), ..DownloadReport::default() })
        }
        None => None,
    };
    let outcome = collector::collect(&options).map_err(command_error)?;
    warn(reporter, &outcome.warnings);
    if let Some(copied) = &outcome.copied {
        reporter.line(format!("copied the current cross-instance results to {}", copied.display()));
    }
    let s = &outcome.summary;
    reporter.line(format!(
        "{} cross-instance run(s) ({} iterations, {} failed) and {} rerun report(s) from {}; \
         {} file(s) skipped; reports in {}",
        s.run_total,
        s.iter_total,
        s.iter_failures,
        outcome.reruns.count,
        outcome.source.display(),
        s.skipped_files.len(),
        outcome.flakiness_dir.display()
    ));
    print_stdout(&format!("{}\n", outcome.judgement));
    // Before the notifications, so the dashboard they link to is already live.
    let publish_failed = if args.publish {
        let options = super::publish::options(&args.out, &args.publishing, args.dry_run, now);
        super::publish::after_collect(&options).await
    } else {
        None
    };
    let notice = CollectNotice {
        slack_webhook: non_empty(&args.slack_webhook),
        dashboard_url: options.dashboard_url.clone(),
        dry_run: args.dry_run,
    };
    crate::notify::after_collect(
        &outcome.summary,
        &outcome.judgement,
        &outcome.scheduled_signatures,
        &notice,
        &process_env,
    )
    .await;
    if let Some(stopped) = download.and_then(|report| report.stopped) {
        reporter
            .line(format!("GitHub download stopped: {stopped}; the reports cover the runs already on disk"));
        return Ok(Exit::Infrastructure);
    }
    if let Some(failed) = publish_failed {
        return Ok(failed);
    }
    if let Some(why) = unread_files(&s.skipped_files, outcome.judgement.verdict) {
        reporter.line(format!("the collection is incomplete: {why}"));
        // Thresholds already exceeded by what was read still raise the alarm (2).
        if outcome.judgement.verdict != ThresholdVerdict::Exceeded {
            return Ok(Exit::Infrastructure);
        }
    }
    Ok(match outcome.judgement.verdict {
        ThresholdVerdict::Exceeded => Exit::ThresholdExceeded,
        ThresholdVerdict::Ok | ThresholdVerdict::NoData => Exit::Ok,
    })
}

/// Why the collection cannot stand for the runs on disk: a file that could
/// not be read at all (refused, an I/O error), or no data while corrupt
/// files were skipped. A corrupt file among readable ones stays a warning.
fn unread_files(
    skipped: &[crate::flakiness::collect::SkippedFile],
    verdict: ThresholdVerdict,
) -> Option<String> {
    let unread: Vec<&str> = skipped
        .iter()
        .filter(|f| matches!(f.code.as_str(), "refused" | "unreadable"))
        .map(|f| f.reason.as_str())
        .collect();
    if !unread.is_empty() {
        return Some(format!("{} file(s) could not be read: {}", unread.len(), unread.join("; ")));
    }
    // An empty file, or one with no iterations, is honestly no data; a
    // corrupt one is data that could not be read.
    let corrupt: Vec<&str> = skipped
        .iter()
        .filter(|f| !matches!(f.code.as_str(), "empty" | "zero_iterations"))
        .map(|f| f.reason.as_str())
        .collect();
    (verdict == ThresholdVerdict::NoData && !corrupt.is_empty()).then(|| {
        format!("no usable run, {} file(s) could not be used: {}", corrupt.len(), corrupt.join("; "))
    })
}

/// A path the user named that is not there is a usage error; a failing disk is infrastructure.
pub fn command_error(e: ReportError) -> CommandError {
    if e.is_usage() {
        CommandError::Usage(e.to_string())
    } else {
        CommandError::Infrastructure(e.to_string())
    }
}
