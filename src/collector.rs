//! The collector's flows — `collect`, `check`, `status`, `badge` — from
//! files on disk to files on disk: flakiness numbers in, the report
//! renderers' pages out. The commands map the outcome to an exit code.

use crate::artifacts::{names as parity_names, ArtifactDir, ArtifactError, FLAKINESS_DIR, PARITY_DIR};
use crate::flakiness::aggregate::{self, CrossAggregate, RerunAggregate};
use crate::flakiness::collect::{self, CollectError};
use crate::flakiness::github::DownloadFailure;
use crate::flakiness::signatures::{self, SignatureSummary};
use crate::flakiness::thresholds::{Assessment, ThresholdVerdict, Thresholds};
use crate::flakiness::{names, summary, Collection, CrossSummary};
use crate::redact::Redactor;
use crate::report::badge::{self, BadgeState, BadgeStyle};
use crate::report::dashboard::{self, Dashboard};
use crate::report::status::{self, Status, StatusInput};
use crate::report::{step_summary, text, trend};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error(transparent)]
    Write(#[from] ArtifactError),
}

impl ReportError {
    /// The user pointed at something that is not there (exit 64), rather
    /// than the disk failing (exit 3).
    pub fn is_usage(&self) -> bool {
        matches!(self, ReportError::Collect(CollectError::SourceMissing { .. }))
    }
}

/// Nothing to judge: no summary, an unreadable one, or no runs in it.
#[derive(Debug, thiserror::Error)]
#[error("nothing to judge: {0}")]
pub struct NothingToJudge(pub String);

#[derive(Clone, Debug)]
pub struct CollectOptions {
    /// The artifact directory (`ci`).
    pub out: PathBuf,
    /// Read this collected directory or file instead of the collected directory.
    pub src: Option<PathBuf>,
    /// Copy the current cross results into the collected directory first.
    pub copy: bool,
    /// Overrides `<out>/flakiness/collected` (OUT_DIR).
    pub collected_dir: Option<PathBuf>,
    pub thresholds: Thresholds,
    pub dashboard_url: Option<String>,
    /// `$GITHUB_STEP_SUMMARY`.
    pub step_summary: Option<PathBuf>,
    pub badge: BadgeStyle,
    pub now: DateTime<Utc>,
    /// Runs the GitHub download could not fetch, recorded in summary.json.
    pub download_errors: Vec<DownloadFailure>,
    /// What triggered this job (GITHUB_EVENT_NAME), recorded with the run `--copy` stores.
    pub event: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CollectOutcome {
    pub judgement: Assessment,
    pub summary: CrossSummary,
    /// Every failure signature across the runs.
    pub signatures: SignatureSummary,
    /// The same over the scheduled runs: what the signature issues follow.
    pub scheduled_signatures: SignatureSummary,
    pub reruns: RerunAggregate,
    /// Where `--copy` put the current results.
    pub copied: Option<PathBuf>,
    /// What was read: the collected directory or `--src`.
    pub source: PathBuf,
    /// `<out>/flakiness`, where everything was written.
    pub flakiness_dir: PathBuf,
    /// One line each: skipped files and other things the user should know.
    pub warnings: Vec<String>,
}

/// Everything the collector writes, computed before anything is written.
struct Outputs {
    reruns: RerunAggregate,
    aggregate: CrossAggregate,
    summary: CrossSummary,
    judgement: Assessment,
    status: Status,
    signatures: SignatureSummary,
    generated_at: DateTime<Utc>,
}

impl Outputs {
    fn compute(
        collection: &Collection,
        thresholds: &Thresholds,
        now: DateTime<Utc>,
        url: Option<String>,
        download_errors: &[DownloadFailure],
    ) -> Self {
        let reruns = aggregate::reruns(collection);
        let aggregate = aggregate::cross(collection);
        let mut summary = summary::summarize(collection, &aggregate);
        summary.download_errors = download_errors.to_vec();
        let judgement = thresholds.judge(&summary);
        let status = status::status(&summary, &judgement, now, url);
        let signatures = signatures::summarize(collection);
        Outputs { reruns, aggregate, summary, judgement, status, signatures, generated_at: now }
    }

    /// `collected_link`: the collected directory relative to the dashboard's folder.
    fn write(
        &self,
        dir: &ArtifactDir,
        style: &BadgeStyle,
        collected_link: Option<String>,
    ) -> Result<(), ArtifactError> {
        dir.write_json(names::AGGREGATE_JSON, &self.reruns)?;
        dir.write_text(names::REPORT_TXT, &text::rerun_report(&self.reruns))?;
        dir.write_json(names::AGGREGATE_CROSS_JSON, &self.aggregate)?;
        dir.write_json(names::SUMMARY_JSON, &self.summary)?;
        dir.write_json(names::SIGNATURES_JSON, &self.signatures)?;
        dir.write_text(
            names::CROSS_REPORT_TXT,
            &text::cross_report(&self.summary, &self.aggregate, &self.judgement),
        )?;
        let trend = trend::trend(&self.aggregate);
        dir.write_json(names::TREND_JSON, &trend)?;
        let page = dashboard::render(&Dashboard {
            summary: &self.summary,
            aggregate: &self.aggregate,
            trend: &trend,
            reruns: &self.reruns,
            judgement: &self.judgement,
            signatures: &self.signatures,
            generated_at: self.generated_at,
            collected_link,
        });
        dir.write_text(names::DASHBOARD_HTML, &page)?;
        dir.write_json(names::STATUS_JSON, &self.status)?;
        let state = BadgeState::decide(None, Some(&self.summary), &self.judgement.thresholds);
        dir.write_text(names::STATUS_SVG, &badge::render(style, state))?;
        Ok(())
    }
}

/// `parity collect`: copy (optionally), read every collected run, write
/// every output. The verdict is the caller's to act on.
pub fn collect(opts: &CollectOptions) -> Result<CollectOutcome, ReportError> {
    let flakiness_dir = opts.out.join(FLAKINESS_DIR);
    let collected = opts.collected_dir.clone().unwrap_or_else(|| default_collected_dir(&opts.out));
    let current = opts.out.join(PARITY_DIR).join(parity_names::CROSS_RESULTS_JSON);
    let mut warnings = Vec::new();
    let copied = if opts.copy {
        collect::copy_current(&current, &collected, opts.now, opts.event.as_deref())?
    } else {
        None
    };
    if opts.copy && copied.is_none() {
        warnings.push(format!("nothing to copy: {} does not exist", current.display()));
    }
    let (inputs, source) = match &opts.src {
        Some(src) => (collect::list_source(src)?, src.clone()),
        None => {
            let listed = collect::list_dir(&collected)?;
            let inputs =
                if opts.copy { listed } else { collect::with_latest(listed, &current, &mut warnings) };
            (inputs, collected.clone())
        }
    };
    let raw_root = source.is_dir().then_some(source.as_path());
    let collection = collect::load(&inputs, raw_root);
    warnings.extend(collection.skipped.iter().map(|s| format!("{}; skipped", s.reason)));
    if collection.cross.is_empty() {
        warnings.push(format!("no usable cross-instance results in {}", source.display()));
    }
    let outputs = Outputs::compute(
        &collection,
        &opts.thresholds,
        opts.now,
        opts.dashboard_url.clone(),
        &opts.download_errors,
    );
    let dir = ArtifactDir::create(&flakiness_dir, Redactor::enabled())?;
    let collected_link =
        raw_root.and_then(|root| crate::files::relative_link(&dir.path(names::CROSS_DIR), root));
    outputs.write(&dir, &opts.badge, collected_link)?;
    if let Some(path) = &opts.step_summary {
        let markdown = step_summary::render(&outputs.summary, &outputs.reruns, &outputs.judgement);
        if let Err(e) = step_summary::append(path, &markdown) {
            warnings.push(format!("cannot append to the step summary {}: {e}", path.display()));
        }
    }
    Ok(CollectOutcome {
        judgement: outputs.judgement,
        summary: outputs.summary,
        signatures: outputs.signatures,
        scheduled_signatures: signatures::summarize_scheduled(&collection),
        reruns: outputs.reruns,
        copied,
        source,
        flakiness_dir,
        warnings,
    })
}

/// `<out>/flakiness/collected`, unless OUT_DIR says otherwise.
pub fn default_collected_dir(out: &Path) -> PathBuf {
    out.join(FLAKINESS_DIR).join(names::COLLECTED_DIR)
}

/// `<out>/flakiness/cross/summary.json`, where `check`, `status` and `badge` look by default.
pub fn default_summary_path(out: &Path) -> PathBuf {
    out.join(FLAKINESS_DIR).join(names::SUMMARY_JSON)
}

pub fn default_status_path(out: &Path) -> PathBuf {
    out.join(FLAKINESS_DIR).join(names::STATUS_JSON)
}

/// `parity check`: the verdict on a summary.
pub fn check(summary_path: &Path, thresholds: &Thresholds) -> Result<Assessment, NothingToJudge> {
    let summary: CrossSummary = read_json(summary_path).map_err(NothingToJudge)?;
    let judgement = thresholds.judge(&summary);
    if judgement.verdict == ThresholdVerdict::NoData {
        return Err(NothingToJudge(format!("{} holds no cross-instance runs", summary_path.display())));
    }
    Ok(judgement)
}

#[derive(Clone, Debug)]
pub struct StatusOptions {
    pub summary: PathBuf,
    /// The status.json to write.
    pub out: PathBuf,
    pub thresholds: Thresholds,
    pub dashboard_url: Option<String>,
    pub now: DateTime<Utc>,
}

/// `parity status`: `status.json` from a summary. Without a usable summary
/// it still writes one, with verdict `no_data`, and says why.
pub fn status(opts: &StatusOptions) -> Result<(Status, Vec<String>), ReportError> {
    let mut warnings = Vec::new();
    let summary: CrossSummary = read_json(&opts.summary).unwrap_or_else(|why| {
        warnings.push(why);
        CrossSummary::default()
    });
    let judgement = opts.thresholds.judge(&summary);
    let status = status::status(&summary, &judgement, opts.now, opts.dashboard_url.clone());
    let (dir, name) = dir_and_name(&opts.out)?;
    dir.write_json(&name, &status)?;
    Ok((status, warnings))
}

#[derive(Clone, Debug)]
pub struct BadgeOptions {
    pub out: PathBuf,
    pub status: PathBuf,
    pub summary: PathBuf,
    pub style: BadgeStyle,
    pub thresholds: Thresholds,
}

/// `parity badge`: the SVG from status.json, else summary.json, else unknown.
pub fn badge(opts: &BadgeOptions) -> Result<(BadgeState, Vec<String>), ReportError> {
    let mut warnings = Vec::new();
    let status_input: Option<StatusInput> = read_optional(&opts.status, &mut warnings);
    let summary: Option<CrossSummary> = read_optional(&opts.summary, &mut warnings);
    let state = BadgeState::decide(status_input.as_ref(), summary.as_ref(), &opts.thresholds);
    let (dir, name) = dir_and_name(&opts.out)?;
    dir.write_text(&name, &badge::render(&opts.style, state))?;
    Ok((state, warnings))
}

/// `None` when the file is absent; a warning when it is there but unusable.
fn read_optional<T: DeserializeOwned>(path: &Path, warnings: &mut Vec<String>) -> Option<T> {
    if !path.exists() {
        return None;
    }
    read_json(path).map_err(|why| warnings.push(format!("{why}; ignored"))).ok()
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let bytes = crate::files::read_input(path).map_err(|e| match e {
        crate::files::Refused::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
            format!("{} does not exist (run `parity collect` first)", path.display())
        }
        refused => format!("{} {refused}", path.display()),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{} is not usable: {e}", path.display()))
}

fn dir_and_name(file: &Path) -> Result<(ArtifactDir, String), ArtifactError> {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = file.file_name().map_or_else(|| "status".to_string(), |n| n.to_string_lossy().into_owned());
    Ok((ArtifactDir::create(parent, Redactor::enabled())?, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn options(out: &Path) -> CollectOptions {
        CollectOptions {
            out: out.to_path_buf(),
            src: None,
            copy: false,
            collected_dir: None,
            thresholds: Thresholds::default(),
            dashboard_url: None,
            step_summary: None,
            badge: BadgeStyle::default(),
            now: Utc.with_ymd_and_hms(2024, 3, 4, 5, 6, 7).unwrap(),
            download_errors: Vec::new(),
            event: None,
        }
    }

    #[test]
    fn collect_with_nothing_writes_every_output_and_judges_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let outcome = collect(&options(tmp.path())).unwrap();
        assert_eq!(outcome.judgement.verdict, ThresholdVerdict::NoData);
        for name in [
            names::AGGREGATE_JSON,
            names::REPORT_TXT,
            names::AGGREGATE_CROSS_JSON,
            names::SUMMARY_JSON,
            names::CROSS_REPORT_TXT,
            names::TREND_JSON,
            names::STATUS_JSON,
            names::STATUS_SVG,
            names::DASHBOARD_HTML,
        ] {
            assert!(outcome.flakiness_dir.join(name).is_file(), "{name}");
        }
        let svg = std::fs::read_to_string(outcome.flakiness_dir.join(names::STATUS_SVG)).unwrap();
        assert!(svg.contains(">unknown</text>"));
        assert!(check(&default_summary_path(tmp.path()), &Thresholds::default()).is_err());
    }

    #[test]
    fn collect_copies_and_then_reads_the_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let parity = tmp.path().join(PARITY_DIR);
        std::fs::create_dir_all(&parity).unwrap();
        std::fs::write(parity.join(parity_names::CROSS_RESULTS_JSON), r#"[{"success": true}]"#).unwrap();
        let outcome = collect(&CollectOptions { copy: true, ..options(tmp.path()) }).unwrap();
        let copied = outcome.copied.unwrap();
        assert!(copied.ends_with("flakiness/collected/run_local_20240304T050607Z_cross.json"), "{copied:?}");
        assert_eq!(outcome.summary.run_total, 1);
        assert_eq!(outcome.judgement.verdict, ThresholdVerdict::Ok);
        // Without --copy the same file counts once, as the latest.
        let again = collect(&options(tmp.path())).unwrap();
        assert_eq!(again.summary.run_total, 2);
    }

    #[test]
    fn status_without_a_summary_says_no_data() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = StatusOptions {
            summary: tmp.path().join("missing.json"),
            out: tmp.path().join("deep/status.json"),
            thresholds: Thresholds::default(),
            dashboard_url: None,
            now: Utc::now(),
        };
        let (status, warnings) = status(&opts).unwrap();
        assert_eq!(status.verdict, ThresholdVerdict::NoData);
        assert!(!status.threshold_exceeded);
        assert!(warnings[0].contains("does not exist"), "{warnings:?}");
        assert!(opts.out.is_file());
    }
}
