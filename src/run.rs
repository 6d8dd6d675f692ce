//! `parity run`: resolve the configuration, bring up the stack, run the
//! scenarios, write every artifact, tear down, and decide the exit code.

use crate::artifacts::{self, names, Analysis, ArtifactDir, Phase, RunStatus, SmokeSummary, SuiteCounts};
use crate::clock::{millis, rfc3339, Clock};
use crate::config::{RunConfig, Source};
use crate::contract::{Client, TraceContext};
use crate::exit::Exit;
use crate::notify::message::RunContext;
use crate::progress::Reporter;
use crate::redact::Redactor;
use crate::report::junit::{self, JunitInput, SmokeAttempt};
use crate::report::{run_summary, step_summary};
use crate::rerun;
use crate::scenario::cross::{self, CrossTotals, IterationResult};
use crate::scenario::immediacy::{self, Smoke};
use crate::scenario::suite;
use crate::stack::docker::{self as docker_stack, Chaos};
use crate::stack::{
    self, ContainerReport, DockerStack, ExternalStack, LocalOptions, LocalStack, Stack, StartFailure,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Times the phases of a run for `analysis.json`.
#[derive(Default)]
struct Phases(Vec<Phase>);

impl Phases {
    fn time(&mut self, name: &str, since: Instant) {
        self.0.push(Phase { name: name.into(), duration_ms: millis(since.elapsed()) });
    }
}

/// What the scenarios found; `None` where a scenario did not run.
#[derive(Default)]
struct Findings {
    smoke: Option<SmokeSummary>,
    /// Every smoke attempt, for the JUnit report.
    smoke_attempts: Vec<SmokeAttempt>,
    suite: Option<suite::SuiteReport>,
    cross: Option<CrossTotals>,
    /// Every finished iteration, for the JUnit report.
    cross_results: Vec<IterationResult>,
    errors: Vec<String>,
}

impl Findings {
    /// Keeps going when an artifact cannot be written, but says so.
    fn written(&mut self, reporter: Reporter, result: Result<PathBuf, artifacts::ArtifactError>) {
        if let Err(e) = result {
            reporter.line(e.to_string());
            self.errors.push(e.to_string());
        }
    }

    fn parity_failed(&self) -> bool {
        self.smoke.as_ref().is_some_and(|s| !s.success)
            || self.suite.as_ref().is_some_and(|s| !s.passed())
            || self.cross.as_ref().is_some_and(|c| c.failures > 0)
    }
}

pub async fn run(config: RunConfig, reporter: Reporter) -> Exit {
    let clock = Clock::start();
    let started = Instant::now();
    let run_id = clock.started_wall().format(crate::clock::UTC_STAMP).to_string();
    let redactor = if config.redact {
        let mut redactor = Redactor::enabled().with_secret(&config.client.credentials.pass);
        // Never in an artifact, whatever a service echoes back.
        for secret in config.slack_webhook.iter().cloned().chain(std::env::var("GITHUB_TOKEN").ok()) {
            redactor = redactor.with_secret(&secret);
        }
        redactor
    } else {
        Redactor::disabled()
    };
    let parity_dir = match prepare_dirs(&config.out, &redactor) {
        Ok(dirs) => dirs,
        Err(e) => {
            reporter.line(format!("cannot write artifacts: {e}"));
            return Exit::Infrastructure;
        }
    };
    let (parity, flakiness) = parity_dir;
    if let Some(note) = &config.backend_note {
        reporter.line(note);
    }

    let mut phases = Phases::default();
    let mut findings = Findings::default();
    let source = resolve_auto(&config.source, reporter).await;
    let phase_start = Instant::now();
    let stack = start_stack(&config, &source, &run_id, reporter).await;
    phases.time("stack", phase_start);
    let mut backend = match &source {
        Source::Local | Source::Auto(_) => "local",
        Source::External { .. } => "external",
        Source::Docker(_) => "docker",
    }
    .to_string();
    let mut instances_urls = Vec::new();
    let mut store_description = None;
    let mut infrastructure_failed = false;
    let mut interrupted = false;
    let containers: Vec<ContainerReport>;
    let mut chaos_events = Vec::new();

    match stack {
        Err(failure) => {
            let StartFailure { error, logs, containers: reports, phases: startup, teardown_errors } = failure;
            phases.0.extend(startup);
            if let stack::StackError::Interrupted(_) = error {
                interrupted = true;
            } else {
                infrastructure_failed = true;
            }
            reporter.line(format!("the stack did not start: {error}"));
            findings.errors.push(error.to_string());
            for log in logs {
                findings.written(reporter, parity.write_text(log.file_name, &log.content));
            }
            containers = reports;
            findings
                .errors
                .extend(teardown_errors.into_iter().map(|e| format!("cleanup: could not remove {e}")));
        }
        Ok(stack) => {
            backend = stack.backend_name().to_string();
            phases.0.extend(stack.startup_phases());
            let chaos = stack.chaos();
            let endpoints = stack.endpoints();
            instances_urls = endpoints.instances.iter().map(|i| i.url.clone()).collect();
            store_description = endpoints.store_description.clone();
            reporter.line(format!(
                "stack ({backend}): {} and {}; store: {}",
                endpoints.instances[0].url,
                endpoints.instances[1].url,
                store_description
                    .as_deref()
                    .unwrap_or("not reachable from the harness (seeding checks skip)")
            ));
            let ctx = TraceContext::new(clock);
            let clients = endpoints
                .instances
                .clone()
                .map(|i| Client::new(&i.name, &i.url, config.client.clone(), ctx.clone()));

            let phase_start = Instant::now();
            let ready =
                stack::wait_ready(&[&clients[0], &clients[1]], &endpoints.instances, config.ready_timeout)
                    .await;
            phases.time("ready", phase_start);
            match ready {
                Err(e) => {
                    infrastructure_failed = true;
                    reporter.line(format!("the stack never became ready: {e}"));
                    findings.errors.push(e.to_string());
                }
                Ok(()) => {
                    let finished = std::sync::Mutex::new(Vec::new());
                    let scenarios = run_scenarios(
                        &config,
                        &clients,
                        endpoints,
                        &clock,
                        &parity,
                        &flakiness,
                        reporter,
                        chaos.as_deref(),
                        &finished,
                        &mut phases,
                        &mut findings,
                    );
                    // A signal stops the scenarios; what they finished is kept and written.
                    if let Some(signal) = tokio::select! {
                        () = scenarios => None,
                        signal = crate::signals::termination() => Some(signal),
                    } {
                        let message =
                            format!("interrupted by {signal}: the scenarios still running were stopped");
                        reporter.line(&message);
                        findings.errors.push(message);
                        interrupted = true;
                        let done = std::mem::take(&mut *finished.lock().expect("finished iterations"));
                        if findings.cross.is_none() && !done.is_empty() {
                            write_cross_results(&parity, done, reporter, &mut findings);
                        }
                    }
                }
            }

            let phase_start = Instant::now();
            for log in stack.logs().await {
                if let Err(e) = parity.write_text(log.file_name, &log.content) {
                    findings.errors.push(e.to_string());
                }
            }
            containers = stack.container_reports().await;
            phases.time("logs", phase_start);
            chaos_events = chaos.map(|c| c.events()).unwrap_or_default();
            let phase_start = Instant::now();
            let teardown_errors = stack.teardown(reporter).await;
            findings
                .errors
                .extend(teardown_errors.into_iter().map(|e| format!("cleanup: could not remove {e}")));
            phases.time("teardown", phase_start);
        }
    }

    let parity_failed = findings.parity_failed();
    let exit = if interrupted {
        Exit::Interrupted
    } else if infrastructure_failed {
        Exit::Infrastructure
    } else if parity_failed && config.strict {
        Exit::ParityFailure
    } else {
        Exit::Ok
    };
    let status = if infrastructure_failed || interrupted {
        RunStatus::Error
    } else if parity_failed {
        RunStatus::Fail
    } else {
        RunStatus::Pass
    };
    let started_at = rfc3339(&clock.started_wall());
    if let Some(path) = &config.junit {
        let xml = junit::render(&JunitInput {
            timestamp: &started_at,
            smoke: findings.smoke.as_ref(),
            smoke_attempts: &findings.smoke_attempts,
            checks: findings.suite.as_ref().map_or(&[], |s| s.checks.as_slice()),
            cross: &findings.cross_results,
            errors: &findings.errors,
        });
        match write_at(path, &xml, &redactor) {
            Ok(written) => reporter.line(format!("JUnit report: {}", written.display())),
            Err(e) => findings.written(reporter, Err(e)),
        }
    }
    let finished_wall = clock.now().wall;
    let tarball_path = artifacts::tarball_path(&config.out, finished_wall);
    let analysis = Analysis {
        status,
        exit_code: exit.code(),
        strict: config.strict,
        run_id,
        backend,
        instances: instances_urls,
        store: store_description,
        faults: config.faults.describe(),
        started_at,
        finished_at: rfc3339(&finished_wall),
        duration_ms: millis(started.elapsed()),
        flaky: findings.smoke.as_ref().is_some_and(|s| s.flaky),
        smoke: findings.smoke.clone(),
        suite: findings.suite.as_ref().map(SuiteCounts::of),
        checks: findings.suite.as_ref().map(|s| s.checks.clone()).unwrap_or_default(),
        cross: findings.cross.clone(),
        phases: phases.0.clone(),
        containers,
        chaos: chaos_events,
        errors: findings.errors.clone(),
        tarball: Some(tarball_path.display().to_string()),
    };
    if let Err(e) = parity.write_json(names::ANALYSIS_JSON, &analysis) {
        reporter.line(e.to_string());
    }
    let phase_start = Instant::now();
    let bundled = artifacts::bundle(&config.out, finished_wall);
    phases.time("bundle", phase_start);
    if let Some(path) = &config.timings {
        write_timings(path, &phases.0, reporter);
    }
    match bundled {
        Ok(path) => {
            reporter.line(format!("artifacts: {} (tarball {})", parity.root().display(), path.display()))
        }
        Err(e) => reporter.line(format!("artifacts: {} (no tarball: {e})", parity.root().display())),
    }
    if let Some(path) = &config.step_summary {
        if let Err(e) = step_summary::append(path, &run_summary::render(&analysis)) {
            reporter.line(format!("cannot append to the step summary {}: {e}", path.display()));
        }
    }
    report_verdict(&findings, status, exit, config.strict, reporter);
    if status != RunStatus::Pass {
        if let Some(slack) = crate::notify::slack::Slack::from_webhook(config.slack_webhook.as_deref()) {
            let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
            let outcome = crate::notify::RunOutcome::of(&analysis);
            let text = crate::notify::message::run_failure_slack(&outcome, &RunContext::from_env(&env));
            crate::notify::post_to_slack(slack, &text, false, reporter).await;
        }
    }
    exit
}

/// Writes `text` (redacted) at the path the user gave, creating its folder.
fn write_at(path: &Path, text: &str, redactor: &Redactor) -> Result<PathBuf, artifacts::ArtifactError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "junit.xml".into(), |n| n.to_string_lossy().into_owned());
    ArtifactDir::create(dir, redactor.clone())?.write_text(&name, text)
}

fn prepare_dirs(
    out: &Path,
    redactor: &Redactor,
) -> Result<(ArtifactDir, ArtifactDir), artifacts::ArtifactError> {
    let parity = ArtifactDir::create(&out.join(artifacts::PARITY_DIR), redactor.clone())?;
    parity.clear()?;
    let flakiness = ArtifactDir::create(&out.join(artifacts::FLAKINESS_DIR), redactor.clone())?;
    Ok((parity, flakiness))
}

/// `--backend auto`: Docker when an engine answers and the webprofile image is
/// at hand, else the embedded stack, saying why.
async fn resolve_auto(source: &Source, reporter: Reporter) -> Source {
    let Source::Auto(settings) = source else {
        return source.clone();
    };
    match docker_stack::usable_for_auto(settings).await {
        Ok(()) => {
            reporter.line("backend auto: a Docker engine answers, so the Docker stack runs");
            Source::Docker(settings.clone())
        }
        Err(why) => {
            reporter.line(format!(
                "backend auto: {why}; running the embedded stack instead (two reference instances in this \
                 process sharing one store)"
            ));
            Source::Local
        }
    }
}

/// Phase timings as JSON, for benchmarks (`--timings FILE`).
fn write_timings(path: &Path, phases: &[artifacts::Phase], reporter: Reporter) {
    let written = serde_json::to_string_pretty(phases)
        .map_err(std::io::Error::other)
        .and_then(|json| std::fs::write(path, json + "\n"));
    if let Err(e) = written {
        reporter.line(format!("cannot write the timings to {}: {e}", path.display()));
    }
}

async fn start_stack(
    config: &RunConfig,
    source: &Source,
    run_id: &str,
    reporter: Reporter,
) -> Result<Stack, StartFailure> {
    match source {
        Source::Docker(settings) | Source::Auto(settings) => {
            DockerStack::start((**settings).clone(), run_id, reporter)
                .await
                .map(|s| Stack::Docker(Box::new(s)))
        }
        Source::Local => LocalStack::start(LocalOptions {
            credentials: config.client.credentials.clone(),
            faults: config.faults.clone(),
            seed: config.seed,
            hash_cost: config.hash_cost,
            mongo_uri: config.mongo_uri.clone(),
        })
        .await
        .map(Stack::Local)
        .map_err(StartFailure::from),
        Source::External { first, second } => {
            ExternalStack::connect(first, second, config.mongo_uri.as_deref())
                .await
                .map(Stack::External)
                .map_err(StartFailure::from)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_scenarios(
    config: &RunConfig,
    clients: &[Client; 2],
    endpoints: &stack::Endpoints,
    clock: &Clock,
    parity: &ArtifactDir,
    flakiness: &ArtifactDir,
    reporter: Reporter,
    chaos: Option<&Chaos>,
    finished: &std::sync::Mutex<Vec<IterationResult>>,
    phases: &mut Phases,
    findings: &mut Findings,
) {
    let phase_start = Instant::now();
    let (report, smokes) =
        rerun::with_retries(config.retry, "node parity smoke (revocation immediacy)", |attempt| async move {
            let smoke = immediacy::run_smoke(&clients[0], &config.judgement, clock).await;
            let verdict = if smoke.report.success { "PASS" } else { "FAIL" };
            reporter.line(format!(
                "smoke attempt {attempt}/{}: {verdict}{}",
                config.retry.attempts,
                smoke.report.reason.as_ref().map(|r| format!(" — {r}")).unwrap_or_default()
            ));
            (i32::from(!smoke.report.success), smoke)
        })
        .await;
    phases.time("smoke", phase_start);
    let last: &Smoke = smokes.last().expect("at least one attempt");
    findings.written(reporter, parity.write_json(names::NODE_PARITY_JSON, &last.report));
    let outs: Vec<String> =
        smokes.iter().enumerate().map(|(i, s)| immediacy::render_out(s, i as u32 + 1)).collect();
    findings.written(reporter, parity.write_text(names::NODE_PARITY_OUT, &outs.join("\n")));
    findings.written(reporter, flakiness.write_json(names::FLAKINESS_JSON, &report));
    findings.written(reporter, flakiness.write_text(names::FLAKINESS_UI, &rerun::render_ui(&report)));
    findings.smoke_attempts = report
        .attempts
        .iter()
        .zip(&smokes)
        .map(|(a, s)| SmokeAttempt {
            attempt: a.attempt,
            passed: a.rc == 0,
            reason: s.report.reason.clone(),
            duration_ms: a.duration_ms,
            revoke_status: s.report.revoke_status,
            latency_ms: s.report.latency_ms,
            stale_reads: s.report.stale_reads,
            polls: s.report.polls,
        })
        .collect();
    findings.smoke = Some(SmokeSummary {
        success: report.success,
        attempts: report.attempts.len() as u32,
        flaky: report.flaky,
        reason: last.report.reason.clone(),
        latency_ms: last.report.latency_ms,
    });

    let phase_start = Instant::now();
    let suite_report = suite::run_suite(&clients[0], &endpoints.store, &config.judgement).await;
    phases.time("suite", phase_start);
    findings.written(reporter, parity.write_text(names::TEST_PARITY_OUT, &suite::render_out(&suite_report)));
    reporter.line(format!(
        "contract suite: {} passed, {} failed, {} skipped",
        suite_report.count(suite::CheckStatus::Pass),
        suite_report.count(suite::CheckStatus::Fail),
        suite_report.count(suite::CheckStatus::Skip)
    ));
    for check in suite_report.checks.iter().filter(|c| c.status == suite::CheckStatus::Fail) {
        reporter.line(format!("  FAIL {}: {}", check.name, check.detail.as_deref().unwrap_or("")));
    }
    findings.suite = Some(suite_report);

    let phase_start = Instant::now();
    let mut progress = reporter.iterations(config.iterations, "cross-instance iteration");
    let mut write_errors = Vec::new();
    cross::run_iterations(
        &clients[0],
        &clients[1],
        &config.judgement,
        clock,
        cross::Schedule { iterations: config.iterations, concurrency: config.concurrency },
        |n| async move {
            if let Some(chaos) = chaos {
                for line in chaos.before_iteration(n).await {
                    reporter.line(line);
                }
            }
        },
        |it| {
            let detail = match (&it.result.reason, it.result.latency_ms) {
                (Some(reason), _) => reason.clone(),
                (None, Some(latency)) => format!("(revoke→inactive {latency:.1} ms)"),
                (None, None) => String::new(),
            };
            progress.finished(it.result.iteration, it.result.success, &detail);
            // Written as each finishes, so an interrupted run keeps them.
            write_errors.extend(write_iteration(parity, it));
            finished.lock().expect("finished iterations").push(it.result.clone());
        },
    )
    .await;
    progress.finish();
    phases.time(&format!("cross ({} iterations)", config.iterations), phase_start);
    for error in write_errors {
        findings.written(reporter, Err(error));
    }
    let results = std::mem::take(&mut *finished.lock().expect("finished iterations"));
    write_cross_results(parity, results, reporter, findings);
}

/// The four files of one cross-instance iteration.
fn write_iteration(parity: &ArtifactDir, it: &cross::Iteration) -> Vec<artifacts::ArtifactError> {
    let n = it.result.iteration;
    let create = it.create_body.clone().unwrap_or_else(|| "{}".into());
    [
        parity.write_text(&names::cross_create(n), &(create.trim_end().to_string() + "\n")),
        parity.write_text(&names::cross_revoke(n), &cross::render_revoke_txt(it)),
        parity.write_text(&names::cross_introspect_raw(n), &it.trace.render_raw()),
        parity.write_text(&names::cross_iteration_out(n), &cross::render_iteration_out(it)),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect()
}

/// `cross-instance-results.json` and `cross-instance.out` over the iterations that finished.
fn write_cross_results(
    parity: &ArtifactDir,
    mut results: Vec<IterationResult>,
    reporter: Reporter,
    findings: &mut Findings,
) {
    results.sort_by_key(|r| r.iteration);
    let totals = CrossTotals::of(&results);
    findings.written(reporter, parity.write_json(names::CROSS_RESULTS_JSON, &results));
    findings
        .written(reporter, parity.write_text(names::CROSS_OUT, &cross::render_summary(&results, &totals)));
    findings.cross = Some(totals);
    findings.cross_results = results;
}

fn report_verdict(findings: &Findings, status: RunStatus, exit: Exit, strict: bool, reporter: Reporter) {
    if let Some(s) = &findings.smoke {
        let flaky = if s.flaky { " (flaky: passed after failing)" } else { "" };
        reporter.line(format!(
            "revocation immediacy: {} after {} attempt(s){flaky}",
            if s.success { "PASS" } else { "FAIL" },
            s.attempts
        ));
    }
    if let Some(c) = &findings.cross {
        reporter.line(format!(
            "cross-instance: {}/{} iterations failed, {} stale read(s)",
            c.failures, c.iterations, c.stale_reads
        ));
    }
    let verdict = match status {
        RunStatus::Pass => "parity holds".to_string(),
        RunStatus::Fail if !strict => "parity FAILED (informational: --no-strict, exit 0)".to_string(),
        RunStatus::Fail => "parity FAILED".to_string(),
        RunStatus::Error => "the run could not be carried out".to_string(),
    };
    reporter.line(format!("{verdict} — exit {exit}"));
}
