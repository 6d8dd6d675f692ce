//! The collector subcommands as `parity` runs them: flags in, the verdict on
//! stdout, warnings on stderr, an [`Exit`] out.

use super::commands::{self, BadgeOptions, CollectOptions, ReportError, StatusOptions};
use super::BadgeStyle;
use crate::cli::{BadgeArgs, CheckArgs, CollectArgs, StatusArgs, ThresholdArgs};
use crate::exit::Exit;
use crate::flakiness::github::{self, DownloadFailure, DownloadReport, GithubSource};
use crate::flakiness::thresholds::{self, Thresholds, Verdict};
use crate::progress::Reporter;
use chrono::{DateTime, Utc};
use std::path::PathBuf;

impl ThresholdArgs {
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            run_failures: self.run_fail_threshold,
            iter_failure_rate: self.iter_failure_rate_threshold,
        }
    }
}

impl CollectArgs {
    pub fn options(&self, now: DateTime<Utc>) -> CollectOptions {
        CollectOptions {
            out: self.out.clone(),
            src: self.src.clone(),
            copy: self.copy,
            collected_dir: non_empty_path(&self.collected_dir),
            thresholds: self.thresholds.thresholds(),
            dashboard_url: non_empty(&self.dashboard_url),
            step_summary: non_empty_path(&self.step_summary),
            badge: BadgeStyle::default(),
            now,
            download_errors: Vec::new(),
        }
    }
}

impl BadgeArgs {
    pub fn style(&self) -> BadgeStyle {
        BadgeStyle {
            label: self.label.clone(),
            ok_text: self.ok_text.clone(),
            alert_text: self.alert_text.clone(),
            unknown_text: self.unknown_text.clone(),
            ok_color: self.ok_color.clone(),
            alert_color: self.alert_color.clone(),
            unknown_color: self.unknown_color.clone(),
            width: self.width,
            height: self.height,
        }
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.trim().is_empty())
}

fn non_empty_path(value: &Option<PathBuf>) -> Option<PathBuf> {
    value.clone().filter(|p| !p.as_os_str().is_empty())
}

fn warn(lines: &[String]) {
    for line in lines {
        eprintln!("parity: warning: {line}");
    }
}

fn failed(e: ReportError) -> Exit {
    eprintln!("parity: {e}");
    if e.is_usage() {
        Exit::Usage
    } else {
        Exit::Infrastructure
    }
}

/// `parity collect`: 2 when the thresholds are exceeded, after writing
/// everything; 3 when the GitHub download was stopped (refused token,
/// unreachable API), after aggregating what is on disk.
pub async fn collect(args: &CollectArgs, now: DateTime<Utc>) -> Exit {
    let mut options = args.options(now);
    let env = |key: &str| std::env::var(key).ok();
    let download = match GithubSource::from_env(&env, &args.workflow, &args.artifact_name, args.days) {
        Some(_) if options.src.is_some() => {
            eprintln!("parity: --src given: not downloading from GitHub");
            None
        }
        Some(Ok(source)) => {
            let collected = options
                .collected_dir
                .clone()
                .unwrap_or_else(|| commands::default_collected_dir(&options.out));
            let report = github::download(&source, &collected, now, Reporter::detect()).await;
            eprintln!(
                "parity: GitHub: {} run(s) listed, {} downloaded ({} file(s)), {} already here, {} without the artifact, {} failed",
                report.runs_listed,
                report.runs_downloaded,
                report.files_written,
                report.runs_present,
                report.runs_without_artifact,
                report.runs_failed
            );
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
    let outcome = match commands::collect(&options) {
        Ok(outcome) => outcome,
        Err(e) => return failed(e),
    };
    warn(&outcome.warnings);
    if let Some(copied) = &outcome.copied {
        eprintln!("parity: copied the current cross-instance results to {}", copied.display());
    }
    let s = &outcome.summary;
    eprintln!(
        "parity: {} cross-instance run(s) ({} iterations, {} failed) and {} rerun report(s) from {}; \
         {} file(s) skipped; reports in {}",
        s.run_total,
        s.iter_total,
        s.iter_failures,
        outcome.reruns.count,
        outcome.source.display(),
        s.skipped_files.len(),
        outcome.flakiness_dir.display()
    );
    println!("{}", outcome.judgement);
    // Before the notifications, so the dashboard they link to is already live.
    let publish_failed = crate::publish::after_collect(args, now).await;
    crate::notify::after_collect(&outcome.summary, &outcome.judgement, args, &env).await;
    if let Some(stopped) = download.and_then(|report| report.stopped) {
        eprintln!("parity: GitHub download stopped: {stopped}; the reports cover the runs already on disk");
        return Exit::Infrastructure;
    }
    if let Some(failed) = publish_failed {
        return failed;
    }
    match outcome.judgement.verdict {
        Verdict::Exceeded => Exit::ThresholdExceeded,
        Verdict::Ok | Verdict::NoData => Exit::Ok,
    }
}

/// `parity check`: 0 not exceeded, 2 exceeded, 1 nothing to judge.
pub fn check(args: &CheckArgs) -> Exit {
    let path = args.summary.clone().unwrap_or_else(|| commands::default_summary_path(&args.out));
    match commands::check(&path, &args.thresholds.thresholds()) {
        Ok(judgement) => {
            println!("{judgement}");
            match judgement.verdict {
                Verdict::Exceeded => Exit::ThresholdExceeded,
                Verdict::Ok => Exit::Ok,
                Verdict::NoData => Exit::ParityFailure,
            }
        }
        Err(nothing) => {
            println!("{nothing}");
            Exit::ParityFailure
        }
    }
}

/// `parity status`: writes status.json; 0 once written.
pub fn status(args: &StatusArgs, now: DateTime<Utc>) -> Exit {
    let opts = StatusOptions {
        summary: args.summary.clone().unwrap_or_else(|| commands::default_summary_path(&args.out)),
        out: args.status.clone().unwrap_or_else(|| commands::default_status_path(&args.out)),
        thresholds: args.thresholds.thresholds(),
        dashboard_url: non_empty(&args.dashboard_url),
        now,
    };
    match commands::status(&opts) {
        Ok((status, warnings)) => {
            warn(&warnings);
            eprintln!("parity: wrote {} (verdict: {})", opts.out.display(), verdict_name(status.verdict));
            Exit::Ok
        }
        Err(e) => failed(e),
    }
}

/// `parity badge`: writes the SVG; 0 once written.
pub fn badge(args: &BadgeArgs) -> Exit {
    let opts = BadgeOptions {
        out: args.out.clone(),
        status: args.status.clone(),
        summary: args.summary.clone(),
        style: args.style(),
        thresholds: args.thresholds.thresholds(),
    };
    match commands::badge(&opts) {
        Ok((state, warnings)) => {
            warn(&warnings);
            eprintln!("parity: wrote {} ({})", opts.out.display(), state.name());
            Exit::Ok
        }
        Err(e) => failed(e),
    }
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::NoData => "no data",
        Verdict::Ok => "ok",
        Verdict::Exceeded => "exceeded",
    }
}

/// `parity collect --help`, after the flags.
pub fn collect_help() -> String {
    format!(
        "{}\n\nExit codes:\n  0   thresholds not exceeded (or no runs to judge)\n  \
         2   thresholds exceeded (every file is written first)\n  \
         3   the collected directory or the reports cannot be read or written, or the GitHub \
         download stopped (refused token, unreachable API; the reports are still written), or \
         --publish failed\n  \
         64  usage error\n\n\
         With --publish or PUBLISH_DASHBOARD=true the dashboard is then published as `parity publish` \
         does (see its --help); with no target configured that is only a warning.\n\n\
         With GITHUB_REPOSITORY (owner/repo) and GITHUB_TOKEN set, the artifacts of the --workflow's \
         runs of the last --days days are downloaded into the collected directory first \
         (GITHUB_API_URL overrides https://api.github.com).",
        thresholds::RULE_HELP
    )
}

/// `parity check --help`, after the flags.
pub fn check_help() -> String {
    format!(
        "{}\n\nExit codes:\n  0   thresholds not exceeded\n  1   nothing to judge (no summary, or no runs in it)\n  \
         2   thresholds exceeded\n  64  usage error",
        thresholds::RULE_HELP
    )
}

/// `parity badge --help`, after the flags.
pub fn badge_help() -> String {
    format!(
        "The badge is \"alert\" when status.json says threshold_exceeded, else when the summary \
         exceeds the thresholds; \"unknown\" (grey) when there is no data.\n\n{}\n\n\
         Exit codes: 0 written, 3 cannot write, 64 usage error (a bad colour or size).",
        thresholds::RULE_HELP
    )
}
