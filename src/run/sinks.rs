//! The sinks of a run: the artifact directory, the console, JUnit, the CI
//! step summary and Slack. Each owns the redactor its output needs: the
//! artifacts, JUnit and step summary follow `--no-redact`; the console and
//! Slack always redact.

use super::events::{Event, Sink};
use crate::analysis::{Analysis, SuiteCounts};
use crate::artifacts::{self, names, ArtifactDir, ArtifactError, JsonArray, JsonLines, TextStream};
use crate::notify::message::RunContext;
use crate::notify::slack::Slack;
use crate::progress::{IterationProgress, Reporter};
use crate::redact::Redactor;
use crate::report::junit::{self, JunitInput, SmokeAttempt};
use crate::report::{outcome, run_summary, step_summary};
use crate::rerun::{self, FlakinessReport};
use crate::scenario::cross::{self, Iteration, IterationResult};
use crate::scenario::history;
use crate::scenario::immediacy::{self, Smoke};
use crate::scenario::suite::{self, CheckRecord, CheckStatus};
use crate::verdict::{FailureClass, RunStatus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Joins the write errors of one event into one sentence.
fn all_written(results: impl IntoIterator<Item = Result<PathBuf, ArtifactError>>) -> Result<(), String> {
    artifacts::joined(results.into_iter().filter_map(Result::err).map(|e| e.to_string()).collect())
}

/// `webprofile-parity/` and the run's `flakiness/` files, written as each
/// phase ends so that an interrupted run keeps what it finished.
pub struct ArtifactSink {
    pub parity: ArtifactDir,
    pub flakiness: ArtifactDir,
    /// `--keep-passing`: per-iteration files for this many passing iterations
    /// (every failed one has them); `None` keeps them all.
    pub keep_passing: Option<u32>,
    passing_kept: u32,
    /// `cross-instance-trace.jsonl.gz`, open while the iterations run.
    trace: Option<JsonLines>,
    /// `history.jsonl`, open while the iterations run.
    history: Option<TextStream>,
    /// `cross-instance-results.json` and `cross-instance.out`, open while they run.
    results: Option<ResultsStream>,
}

/// The results files, written in iteration order as the iterations finish
/// (in any order): one that finishes early waits for those before it.
struct ResultsStream {
    json: JsonArray,
    out: TextStream,
    /// The iteration numbers in the order they are written.
    order: Vec<u32>,
    next: usize,
    waiting: BTreeMap<u32, IterationResult>,
}

impl ResultsStream {
    fn open(parity: &ArtifactDir, numbers: &[u32]) -> Result<Self, ArtifactError> {
        Ok(ResultsStream {
            json: parity.json_array(names::CROSS_RESULTS_JSON)?,
            out: parity.text_stream(names::CROSS_OUT)?,
            order: numbers.to_vec(),
            next: 0,
            waiting: BTreeMap::new(),
        })
    }

    fn push(&mut self, result: &IterationResult) -> Result<(), ArtifactError> {
        if self.order.get(self.next) != Some(&result.iteration) {
            self.waiting.insert(result.iteration, result.clone());
            return Ok(());
        }
        self.next += 1;
        self.write(result)?;
        while let Some(r) = self.order.get(self.next).and_then(|n| self.waiting.remove(n)) {
            self.next += 1;
            self.write(&r)?;
        }
        Ok(())
    }

    fn write(&mut self, r: &IterationResult) -> Result<(), ArtifactError> {
        self.json.push(r)?;
        self.out.write(&cross::render_result_line(r))
    }

    /// What finished is written in order (a stopped run leaves gaps), then the totals.
    fn finish(mut self, totals: &cross::CrossTotals) -> Result<(), ArtifactError> {
        for r in std::mem::take(&mut self.waiting).into_values() {
            self.write(&r)?;
        }
        self.out.write(&cross::render_totals(totals))?;
        self.json.finish()?;
        self.out.finish().map(|_| ())
    }
}

impl ArtifactSink {
    pub fn new(parity: ArtifactDir, flakiness: ArtifactDir, keep_passing: Option<u32>) -> Self {
        ArtifactSink {
            parity,
            flakiness,
            keep_passing,
            passing_kept: 0,
            trace: None,
            history: None,
            results: None,
        }
    }

    /// Every exchange of the iteration into the streamed trace, and its own
    /// four files when it failed or is among the first passing ones kept.
    fn iteration(&mut self, it: &Iteration) -> Result<(), String> {
        let mut errors = Vec::new();
        if let Some(results) = &mut self.results {
            if let Err(e) = results.push(&it.result) {
                errors.push(e.to_string());
                self.results = None;
            }
        }
        if let Some(trace) = &mut self.trace {
            for exchange in it.trace.exchanges() {
                if let Err(e) = trace.write(&TraceLine { iteration: it.result.iteration, exchange }) {
                    errors.push(e.to_string());
                    break;
                }
            }
        }
        if let Some(history) = &mut self.history {
            for operation in history::of_iteration(it) {
                let line = serde_json::to_string(&operation).expect("an operation serializes") + "\n";
                if let Err(e) = history.write(&line) {
                    errors.push(e.to_string());
                    break;
                }
            }
        }
        let keep = !it.result.success || self.keep_passing.is_none_or(|limit| self.passing_kept < limit);
        if keep {
            if it.result.success {
                self.passing_kept += 1;
            }
            if let Err(e) = all_written(iteration_files(&self.parity, it)) {
                errors.push(e);
            }
        }
        artifacts::joined(errors)
    }

    /// Closes the trace and the history (still open when the iterations were
    /// interrupted before any finished).
    fn finish_trace(&mut self) -> Result<(), String> {
        let trace = self.trace.take().map(|t| t.finish().map(|_| ()));
        let history = self.history.take().map(|h| h.finish().map(|_| ()));
        artifacts::joined(
            trace.into_iter().chain(history).filter_map(Result::err).map(|e| e.to_string()).collect(),
        )
    }
}

/// One line of `cross-instance-trace.jsonl.gz`: the iteration, then the exchange.
#[derive(serde::Serialize)]
struct TraceLine<'a> {
    iteration: u32,
    #[serde(flatten)]
    exchange: &'a crate::contract::Exchange,
}

impl Sink for ArtifactSink {
    fn writes_output(&self) -> bool {
        true
    }

    fn event(&mut self, event: &Event<'_>) -> Result<(), String> {
        let parity = &self.parity;
        match event {
            Event::Canary(report) => all_written([parity.write_json(names::CANARY_JSON, report)]),
            Event::SmokeFinished { report, smokes } => {
                let outs: Vec<String> =
                    smokes.iter().enumerate().map(|(i, s)| immediacy::render_out(s, i as u32 + 1)).collect();
                all_written(
                    immediacy::deciding(report, smokes)
                        .map(|deciding| parity.write_json(names::NODE_PARITY_JSON, &deciding.report))
                        .into_iter()
                        .chain([
                            parity.write_text(names::NODE_PARITY_OUT, &outs.join("\n")),
                            self.flakiness.write_json(names::FLAKINESS_JSON, report),
                            self.flakiness.write_text(names::FLAKINESS_UI, &rerun::render_ui(report)),
                        ]),
                )
            }
            Event::SuiteFinished(report) => all_written(
                std::iter::once(parity.write_text(names::TEST_PARITY_OUT, &suite::render_out(report)))
                    .chain(report.security.as_ref().map(|r| parity.write_json(names::SECURITY_JSON, r))),
            ),
            Event::CrossStarted { numbers } => {
                self.trace = Some(parity.json_lines(names::CROSS_TRACE).map_err(|e| e.to_string())?);
                self.history = Some(parity.text_stream(names::HISTORY_JSONL).map_err(|e| e.to_string())?);
                self.results = Some(ResultsStream::open(parity, numbers).map_err(|e| e.to_string())?);
                Ok(())
            }
            Event::IterationFinished(it) => self.iteration(it),
            Event::CrossFinished { totals } => {
                let trace = self.finish_trace();
                let results = match self.results.take() {
                    Some(results) => results.finish(totals).map_err(|e| e.to_string()),
                    None => Ok(()),
                };
                results.and(trace)
            }
            Event::Logs(logs) => {
                all_written(logs.iter().map(|log| parity.write_text(&log.file_name, &log.content)))
            }
            Event::DiffFinished(report) => all_written(
                crate::diff::render::files(report)
                    .map(|(name, content)| parity.write_text(&format!("diff/{name}"), &content)),
            ),
            Event::Finished(analysis) => {
                // Still open when the iterations were interrupted before any finished.
                let trace = self.finish_trace();
                all_written([self.parity.write_json(names::ANALYSIS_JSON, analysis)]).and(trace)
            }
            _ => Ok(()),
        }
    }
}

/// The four files of one cross-instance iteration.
fn iteration_files(parity: &ArtifactDir, it: &Iteration) -> [Result<PathBuf, ArtifactError>; 4] {
    let n = it.result.iteration;
    let create = it.create_body.clone().unwrap_or_else(|| "{}".into());
    [
        parity.write_text(&names::cross_create(n), &(create.trim_end().to_string() + "\n")),
        parity.write_text(&names::cross_revoke(n), &cross::render_revoke_txt(it)),
        parity.write_text(&names::cross_introspect_raw(n), &it.trace.render_raw()),
        parity.write_text(&names::cross_iteration_out(n), &cross::render_iteration_out(it)),
    ]
}

/// Progress and verdict lines on stderr, always redacted.
pub struct ConsoleSink {
    pub reporter: Reporter,
    pub redactor: Redactor,
    pub progress: Option<IterationProgress>,
    /// Where `--junit` writes, said at the end.
    pub junit: Option<PathBuf>,
}

impl ConsoleSink {
    fn line(&self, text: &str) {
        self.reporter.line(self.redactor.redact(text));
    }
}

impl Sink for ConsoleSink {
    fn event(&mut self, event: &Event<'_>) -> Result<(), String> {
        match event {
            Event::Note(text) | Event::Warning(text) => self.line(text),
            Event::Canary(report) => {
                self.reporter.print_block(&self.redactor.redact(&crate::canary::render_table(report)))
            }
            Event::StackUp { backend, targets, store } => self.line(&format!(
                "stack ({backend}): {}; store: {}",
                targets.join(" and "),
                store.unwrap_or("not reachable from the harness (seeding checks skip)")
            )),
            Event::SmokeAttempt { attempt, attempts, smoke } => {
                let r = &smoke.report;
                self.line(&format!(
                    "smoke attempt {attempt}/{attempts}: {}{}{}",
                    if r.success { "PASS" } else { "FAIL" },
                    r.class.map(|c| format!(" [{c}]")).unwrap_or_default(),
                    r.reason.as_ref().map(|r| format!(" — {r}")).unwrap_or_default()
                ));
            }
            Event::SuiteFinished(report) => {
                self.line(&format!("contract suite: {}", outcome::suite(&SuiteCounts::of(&report.checks))));
                if let Some(security) = &report.security {
                    self.line(&format!(
                        "security: {} attempt(s) of {} variants in {} families, {} request(s): {}",
                        security.rows.len(),
                        security.families.iter().map(|f| f.variants).sum::<usize>(),
                        security.families.len(),
                        security.requests,
                        match security.open().count() {
                            0 => "no door open".to_string(),
                            n => format!("{n} got in (security.json)"),
                        }
                    ));
                }
                for check in report.checks.iter().filter(|c| c.status == CheckStatus::Fail) {
                    // A check the rate limit kept from being judged did not fail.
                    let word =
                        if check.class == Some(FailureClass::RateLimited) { "NOT JUDGED" } else { "FAIL" };
                    self.line(&format!(
                        "  {word} {} [{}]: {}",
                        check.name,
                        check.class.map_or("unknown", FailureClass::as_str),
                        check.detail.as_deref().unwrap_or("")
                    ));
                }
            }
            Event::CrossStarted { numbers } => {
                self.progress =
                    Some(self.reporter.iterations(numbers.len() as u32, "cross-instance iteration"));
            }
            Event::IterationFinished(it) => {
                let detail = match (&it.result.reason, it.result.latency_ms) {
                    (Some(reason), _) => reason.clone(),
                    (None, Some(latency)) => format!("(revoke→inactive {latency:.1} ms)"),
                    (None, None) => String::new(),
                };
                let detail = self.redactor.redact(&detail).into_owned();
                if let Some(progress) = &mut self.progress {
                    progress.finished(it.result.iteration, it.result.success, &detail);
                }
            }
            Event::CrossFinished { .. } => {
                if let Some(progress) = self.progress.take() {
                    progress.finish();
                }
            }
            Event::DiffFinished(report) => {
                for line in crate::diff::render::difference_lines(report) {
                    self.line(&line);
                }
                self.line(&report.headline());
            }
            Event::Finished(analysis) => {
                if let Some(path) = &self.junit {
                    self.line(&format!("JUnit report: {}", path.display()));
                }
                for line in phase_lines(analysis) {
                    self.line(&line);
                }
            }
            Event::Bundled { root, tarball, verdict } => {
                match tarball {
                    Ok(path) => {
                        self.line(&format!("artifacts: {} (tarball {})", root.display(), path.display()))
                    }
                    Err(e) => self.line(&format!("artifacts: {} (no tarball: {e})", root.display())),
                }
                self.line(verdict);
            }
            _ => {}
        }
        Ok(())
    }
}

/// One line per phase that ran, before the verdict.
fn phase_lines(analysis: &Analysis) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(smoke) = &analysis.smoke {
        lines.push(format!("revocation immediacy: {}", outcome::smoke(smoke)));
    }
    if let Some(c) = analysis.cross.as_ref().filter(|c| c.iterations > 0) {
        lines.push(format!("cross-instance: {}", outcome::cross(c)));
        lines.extend(cross::render_matrix(&c.matrix));
    }
    lines
}

/// `--junit FILE`: the run as JUnit XML, written when it finishes.
pub struct JunitSink {
    pub path: PathBuf,
    pub redactor: Redactor,
    smoke_attempts: Vec<SmokeAttempt>,
    checks: Vec<CheckRecord>,
    iterations: Vec<IterationResult>,
}

impl JunitSink {
    pub fn new(path: PathBuf, redactor: Redactor) -> Self {
        JunitSink { path, redactor, smoke_attempts: Vec::new(), checks: Vec::new(), iterations: Vec::new() }
    }
}

impl Sink for JunitSink {
    fn writes_output(&self) -> bool {
        true
    }

    fn event(&mut self, event: &Event<'_>) -> Result<(), String> {
        match event {
            Event::SmokeFinished { report, smokes } => self.smoke_attempts = smoke_attempts(report, smokes),
            Event::SuiteFinished(report) => self.checks = report.checks.clone(),
            Event::IterationFinished(it) => self.iterations.push(it.result.clone()),
            Event::Finished(analysis) => {
                self.iterations.sort_by_key(|r| r.iteration);
                let report = Junit {
                    smoke_attempts: &self.smoke_attempts,
                    checks: &self.checks,
                    cross: &self.iterations,
                };
                return write_junit(&self.path, &self.redactor, analysis, &report);
            }
            _ => {}
        }
        Ok(())
    }
}

fn smoke_attempts(report: &FlakinessReport, smokes: &[Smoke]) -> Vec<SmokeAttempt> {
    report
        .attempts
        .iter()
        .zip(smokes)
        .map(|(a, s)| SmokeAttempt {
            attempt: a.attempt,
            passed: a.rc == 0,
            class: a.class,
            reason: s.report.reason.clone(),
            duration_ms: a.duration_ms,
            revoke_status: s.report.revoke_status,
            latency_ms: s.report.latency_ms,
            stale_reads: s.report.stale_reads,
            polls: s.report.polls,
        })
        .collect()
}

/// What a JUnit report has beyond `analysis.json`: the smoke's attempts, the
/// checks and the iterations, each a test case.
pub struct Junit<'a> {
    pub smoke_attempts: &'a [SmokeAttempt],
    pub checks: &'a [CheckRecord],
    pub cross: &'a [IterationResult],
}

/// `--junit FILE` of a run (or of `parity merge`), redacted, its folder created.
pub fn write_junit(
    path: &Path,
    redactor: &Redactor,
    analysis: &Analysis,
    report: &Junit<'_>,
) -> Result<(), String> {
    let xml = junit::render(&JunitInput {
        timestamp: &analysis.started_at,
        coverage: &analysis.coverage,
        smoke: analysis.smoke.as_ref(),
        smoke_attempts: report.smoke_attempts,
        checks: report.checks,
        cross: report.cross,
        errors: &analysis.errors,
        signatures: &analysis.signatures,
    });
    all_written([write_at(path, &xml, redactor)])
}

/// Appends the run's Markdown summary (redacted) to `$GITHUB_STEP_SUMMARY`.
pub fn append_step_summary(path: &Path, redactor: &Redactor, analysis: &Analysis) -> Result<(), String> {
    let markdown = redactor.redact(&run_summary::render(analysis)).into_owned();
    step_summary::append(path, &markdown)
        .map_err(|e| format!("cannot append to the step summary {}: {e}", path.display()))
}

/// Writes `text` (redacted) at the path the user gave, creating its folder.
fn write_at(path: &Path, text: &str, redactor: &Redactor) -> Result<PathBuf, ArtifactError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "junit.xml".into(), |n| n.to_string_lossy().into_owned());
    ArtifactDir::create(dir, redactor.clone())?.write_text(&name, text)
}

/// `$GITHUB_STEP_SUMMARY`: a short Markdown summary appended when the run finishes.
pub struct StepSummarySink {
    pub path: PathBuf,
    pub redactor: Redactor,
}

impl Sink for StepSummarySink {
    fn writes_output(&self) -> bool {
        true
    }

    fn event(&mut self, event: &Event<'_>) -> Result<(), String> {
        match event {
            Event::Finished(analysis) => append_step_summary(&self.path, &self.redactor, analysis),
            _ => Ok(()),
        }
    }
}

/// `SLACK_WEBHOOK`: a run that failed or could not be carried out is posted.
pub struct SlackSink {
    pub slack: Result<Slack, String>,
    pub redactor: Redactor,
    pub reporter: Reporter,
    text: Option<String>,
}

impl SlackSink {
    pub fn new(slack: Result<Slack, String>, redactor: Redactor, reporter: Reporter) -> Self {
        SlackSink { slack, redactor, reporter, text: None }
    }
}

#[async_trait::async_trait]
impl Sink for SlackSink {
    fn event(&mut self, event: &Event<'_>) -> Result<(), String> {
        if let Event::Finished(analysis) = event {
            if matches!(analysis.status, RunStatus::Fail | RunStatus::Error) {
                let context = RunContext::from_env(&crate::settings::process_env);
                let text = crate::notify::message::run_failure_slack(analysis, &context);
                self.text = Some(self.redactor.redact(&text).into_owned());
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), String> {
        if let Some(text) = self.text.take() {
            let slack = std::mem::replace(&mut self.slack, Err("already posted".into()));
            crate::notify::post_to_slack(slack, &text, false, self.reporter).await;
        }
        Ok(())
    }
}

/// The tarball of the run, once `analysis.json` is written.
pub fn bundle(out: &Path, tarball: &Path) -> Result<PathBuf, String> {
    artifacts::bundle_into(out, tarball).map_err(|e| e.to_string())
}
