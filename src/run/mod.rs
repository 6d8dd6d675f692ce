//! `parity run`: resolve the configuration, bring up the stack, run the
//! scenarios, write every artifact, tear down, and decide the exit code.

use crate::artifacts::{self, names, Analysis, ArtifactDir, Phase, SmokeSummary, SuiteCounts};
use crate::clock::{millis, rfc3339, Clock};
mod config;

use crate::contract::{Client, TraceContext};
use crate::exit::Exit;
use crate::notify::message::RunContext;
use crate::progress::Reporter;
use crate::redact::Redactor;
use crate::report::junit::{self, JunitInput, SmokeAttempt};
use crate::report::{run_summary, step_summary};
use crate::rerun::{self, FlakinessReport};
use crate::scenario::cross::{self, CrossTotals, IterationResult};
use crate::scenario::immediacy::{self, Smoke};
use crate::scenario::suite;
use crate::stack::docker::{self as docker_stack, Chaos};
use crate::stack::{
    self, ContainerReport, DockerStack, ExternalStack, LocalOptions, LocalStack, Stack, StartFailure,
};
use crate::verdict::{self, ClassCounts, Coverage, FailureClass};
pub use config::{RunConfig, Source};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
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
struct Found {
    smoke: Option<SmokeSummary>,
    /// Every smoke attempt, for the JUnit report.
    smoke_attempts: Vec<SmokeAttempt>,
    suite: Option<suite::SuiteReport>,
    cross: Option<CrossTotals>,
    /// Every finished iteration, for the JUnit report.
    cross_results: Vec<IterationResult>,
    /// Requests sent to the service by the scenarios.
    exchanges: u64,
    errors: Vec<String>,
}

impl Found {
    /// Failures that stand, by class: the smoke once, each failed check and iteration.
    fn failures(&self) -> ClassCounts {
        let mut classes = ClassCounts::default();
        if let Some(smoke) = self.smoke.as_ref().filter(|s| !s.success) {
            classes.add(smoke.class.unwrap_or(FailureClass::Unknown));
        }
        if let Some(suite) = &self.suite {
            suite.failure_classes().for_each(|c| classes.add(c));
        }
        if let Some(cross) = &self.cross {
            classes.merge(&cross.classes);
        }
        classes
    }
}

/// One run: its settings, where it writes, and what it has found so far.
struct Run {
    config: RunConfig,
    reporter: Reporter,
    clock: Clock,
    run_id: String,
    parity: ArtifactDir,
    flakiness: ArtifactDir,
    phases: Phases,
    found: Found,
}

impl Run {
    /// Keeps going when an artifact cannot be written, but says so.
    fn written(&mut self, result: Result<PathBuf, artifacts::ArtifactError>) {
        if let Err(e) = result {
            self.reporter.line(e.to_string());
            self.found.errors.push(e.to_string());
        }
    }

    fn error(&mut self, message: String) {
        self.reporter.line(&message);
        self.found.errors.push(message);
    }
}

/// What the stack phase leaves for the verdict.
#[derive(Default)]
struct StackOutcome {
    backend: String,
    targets: Vec<String>,
    store: Option<String>,
    containers: Vec<ContainerReport>,
    chaos: Vec<docker_stack::ChaosEvent>,
    failed: bool,
    interrupted: bool,
}

pub async fn run(config: RunConfig, reporter: Reporter) -> Exit {
    let clock = Clock::start();
    let started = Instant::now();
    let run_id = clock.started_wall().format(crate::clock::UTC_STAMP).to_string();
    let redactor = redactor_of(&config);
    let (parity, flakiness) = match prepare_dirs(&config.out, &redactor) {
        Ok(dirs) => dirs,
        Err(e) => {
            reporter.line(format!("cannot write artifacts: {e}"));
            return Exit::Infrastructure;
        }
    };
    if config.canary && !canary_holds(&parity, reporter).await {
        return Exit::ParityFailure;
    }
    if let Some(note) = &config.backend_note {
        reporter.line(note);
    }
    let mut run = Run {
        config,
        reporter,
        clock,
        run_id,
        parity,
        flakiness,
        phases: Phases::default(),
        found: Found::default(),
    };
    let stack = bring_up_and_test(&mut run).await;
    finish(run, stack, started, &redactor).await
}

fn redactor_of(config: &RunConfig) -> Redactor {
    if !config.redact {
        return Redactor::disabled();
    }
    let mut redactor = Redactor::enabled().with_secret(&config.client.credentials.pass);
    // Never in an artifact, whatever a service echoes back.
    for secret in config.slack_webhook.iter().cloned().chain(std::env::var("GITHUB_TOKEN").ok()) {
        redactor = redactor.with_secret(&secret);
    }
    redactor
}

/// `--canary`: the harness proves on embedded instances that every check can
/// fail, before its verdicts on the real targets are believed.
async fn canary_holds(parity: &ArtifactDir, reporter: Reporter) -> bool {
    reporter.line("canary: every fault against embedded reference instances, before the real run");
    let report = crate::canary::run(&crate::canary::CanaryOptions::default(), reporter).await;
    eprint!("{}", crate::canary::render_table(&report));
    if let Err(e) = parity.write_json(names::CANARY_JSON, &report) {
        reporter.line(e.to_string());
    }
    if !report.passed() {
        reporter.line(format!(
            "the harness failed its own canary ({}): its verdicts cannot be trusted — exit 1",
            report.problems().join("; ")
        ));
    }
    report.passed()
}

/// Starts the stack, runs the scenarios on it, captures logs and tears it down.
async fn bring_up_and_test(run: &mut Run) -> StackOutcome {
    let source = resolve_auto(&run.config.source, run.reporter).await;
    let phase_start = Instant::now();
    let stack = start_stack(&run.config, &source, &run.run_id, run.reporter).await;
    run.phases.time("stack", phase_start);
    let mut outcome = StackOutcome {
        backend: match &source {
            Source::Local | Source::Auto(_) => "local",
            Source::External { .. } => "external",
            Source::Docker(_) => "docker",
        }
        .to_string(),
        ..StackOutcome::default()
    };
    let stack = match stack {
        Ok(stack) => stack,
        Err(failure) => {
            let StartFailure { error, logs, containers, phases, teardown_errors } = failure;
            run.phases.0.extend(phases);
            if let stack::StackError::Interrupted(_) = error {
                outcome.interrupted = true;
            } else {
                outcome.failed = true;
            }
            run.error(format!("the stack did not start: {error}"));
            for log in logs {
                let written = run.parity.write_text(log.file_name, &log.content);
                run.written(written);
            }
            outcome.containers = containers;
            run.found
                .errors
                .extend(teardown_errors.into_iter().map(|e| format!("cleanup: could not remove {e}")));
            return outcome;
        }
    };
    outcome.backend = stack.backend_name().to_string();
    run.phases.0.extend(stack.startup_phases());
    let chaos = stack.chaos();
    let endpoints = stack.endpoints();
    outcome.targets = endpoints.instances.iter().map(|i| i.url.clone()).collect();
    outcome.store = endpoints.store_description.clone();
    run.reporter.line(format!(
        "stack ({}): {} and {}; store: {}",
        outcome.backend,
        endpoints.instances[0].url,
        endpoints.instances[1].url,
        outcome.store.as_deref().unwrap_or("not reachable from the harness (seeding checks skip)")
    ));
    let ctx = TraceContext::new(run.clock);
    let clients = endpoints
        .instances
        .clone()
        .map(|i| Client::new(&i.name, &i.url, run.config.client.clone(), ctx.clone()));

    let phase_start = Instant::now();
    let ready =
        stack::wait_ready(&[&clients[0], &clients[1]], &endpoints.instances, run.config.ready_timeout).await;
    run.phases.time("ready", phase_start);
    match ready {
        Err(e) => {
            outcome.failed = true;
            run.error(format!("the stack never became ready: {e}"));
        }
        Ok(()) => {
            let finished = Mutex::new(Vec::new());
            let scenarios = run_scenarios(run, &clients, endpoints, chaos.as_deref(), &finished);
            // A signal stops the scenarios; what they finished is kept and written.
            if let Some(signal) = tokio::select! {
                () = scenarios => None,
                signal = crate::signals::termination() => Some(signal),
            } {
                run.error(format!("interrupted by {signal}: the scenarios still running were stopped"));
                outcome.interrupted = true;
                let done = std::mem::take(&mut *finished.lock().expect("finished iterations"));
                if run.found.cross.is_none() && !done.is_empty() {
                    write_cross_results(run, done);
                }
            }
        }
    }

    let phase_start = Instant::now();
    for log in stack.logs().await {
        if let Err(e) = run.parity.write_text(log.file_name, &log.content) {
            run.found.errors.push(e.to_string());
        }
    }
    outcome.containers = stack.container_reports().await;
    run.phases.time("logs", phase_start);
    outcome.chaos = chaos.map(|c| c.events()).unwrap_or_default();
    let phase_start = Instant::now();
    let teardown_errors = stack.teardown(run.reporter).await;
    run.found.errors.extend(teardown_errors.into_iter().map(|e| format!("cleanup: could not remove {e}")));
    run.phases.time("teardown", phase_start);
    outcome
}

/// What ran and what did not, for the verdict and every report of it.
fn coverage(run: &Run, stack: &StackOutcome) -> Coverage {
    let found = &run.found;
    let (checks, checks_skipped) = found.suite.as_ref().map_or((0, 0), |s| {
        let skipped = s.count(suite::CheckStatus::Skip);
        ((s.checks.len() - skipped) as u32, skipped as u32)
    });
    let why_not = if stack.interrupted {
        "interrupted"
    } else if stack.failed {
        "the stack never came up"
    } else {
        "stopped early"
    };
    let mut not_run = Vec::new();
    if found.smoke.is_none() {
        not_run.push(format!("revocation immediacy: {why_not}"));
    }
    if found.suite.is_none() {
        not_run.push(format!("contract suite: {why_not}"));
    }
    let iterations = found.cross.as_ref().map_or(0, |c| c.iterations);
    if run.config.iterations == 0 {
        not_run.push("cross-instance: --iterations 0".to_string());
    } else if iterations < run.config.iterations {
        not_run.push(format!(
            "cross-instance: {} of {} iterations ({why_not})",
            run.config.iterations - iterations,
            run.config.iterations
        ));
    }
    Coverage {
        backend: stack.backend.clone(),
        targets: stack.targets.clone(),
        images: stack
            .containers
            .iter()
            .filter(|c| c.service != "mongo")
            .filter_map(|c| c.image_id.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        smoke_attempts: found.smoke.as_ref().map_or(0, |s| s.attempts),
        checks,
        checks_skipped,
        iterations,
        exchanges: found.exchanges,
        not_run,
    }
}

/// The verdict, `analysis.json`, JUnit, the tarball, the step summary and Slack.
async fn finish(mut run: Run, stack: StackOutcome, started: Instant, redactor: &Redactor) -> Exit {
    let findings = verdict::Findings {
        strict: run.config.strict,
        interrupted: stack.interrupted,
        stack_failed: stack.failed,
        failures: run.found.failures(),
        coverage: coverage(&run, &stack),
    };
    let (status, exit) = verdict::decide(&findings);
    let sentence = verdict::sentence(&findings, status, exit);
    let started_at = rfc3339(&run.clock.started_wall());
    if let Some(path) = run.config.junit.clone() {
        let xml = junit::render(&JunitInput {
            timestamp: &started_at,
            coverage: &findings.coverage,
            smoke: run.found.smoke.as_ref(),
            smoke_attempts: &run.found.smoke_attempts,
            checks: run.found.suite.as_ref().map_or(&[], |s| s.checks.as_slice()),
            cross: &run.found.cross_results,
            errors: &run.found.errors,
        });
        match write_at(&path, &xml, redactor) {
            Ok(written) => run.reporter.line(format!("JUnit report: {}", written.display())),
            Err(e) => run.written(Err(e)),
        }
    }
    let finished_wall = run.clock.now().wall;
    let tarball_path = artifacts::tarball_path(&run.config.out, finished_wall);
    let analysis = Analysis {
        status,
        exit_code: exit.code(),
        verdict: sentence.clone(),
        coverage: findings.coverage.clone(),
        failure_classes: findings.failures.clone(),
        strict: run.config.strict,
        run_id: run.run_id.clone(),
        backend: stack.backend,
        instances: stack.targets,
        store: stack.store,
        faults: run.config.faults.describe(),
        started_at,
        finished_at: rfc3339(&finished_wall),
        duration_ms: millis(started.elapsed()),
        flaky: run.found.smoke.as_ref().is_some_and(|s| s.flaky),
        smoke: run.found.smoke.clone(),
        suite: run.found.suite.as_ref().map(SuiteCounts::of),
        checks: run.found.suite.as_ref().map(|s| s.checks.clone()).unwrap_or_default(),
        cross: run.found.cross.clone(),
        phases: run.phases.0.clone(),
        containers: stack.containers,
        chaos: stack.chaos,
        errors: run.found.errors.clone(),
        tarball: Some(tarball_path.display().to_string()),
    };
    if let Err(e) = run.parity.write_json(names::ANALYSIS_JSON, &analysis) {
        run.reporter.line(e.to_string());
    }
    let phase_start = Instant::now();
    let bundled = artifacts::bundle(&run.config.out, finished_wall);
    run.phases.time("bundle", phase_start);
    if let Some(path) = &run.config.timings {
        write_timings(path, &run.phases.0, run.reporter);
    }
    let root = run.parity.root().display().to_string();
    match bundled {
        Ok(path) => run.reporter.line(format!("artifacts: {root} (tarball {})", path.display())),
        Err(e) => run.reporter.line(format!("artifacts: {root} (no tarball: {e})")),
    }
    if let Some(path) = &run.config.step_summary {
        if let Err(e) = step_summary::append(path, &run_summary::render(&analysis)) {
            run.reporter.line(format!("cannot append to the step summary {}: {e}", path.display()));
        }
    }
    report_phases(&run.found, run.reporter);
    run.reporter.line(&sentence);
    let notable = matches!(status, verdict::RunStatus::Fail | verdict::RunStatus::Error);
    if notable {
        if let Some(slack) = crate::notify::slack::Slack::from_webhook(run.config.slack_webhook.as_deref()) {
            let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
            let outcome = crate::notify::RunOutcome::of(&analysis);
            let text = crate::notify::message::run_failure_slack(&outcome, &RunContext::from_env(&env));
            crate::notify::post_to_slack(slack, &text, false, run.reporter).await;
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

/// `--backend auto` with nothing named: Docker when an engine answers and the
/// webprofile image is at hand, else the embedded stack, saying why.
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
                "backend auto: nothing named a target (--instance, INSTANCE1/INSTANCE2, TARGET_BASE_URL) or a \
                 Docker setting, and {why}; running the embedded stack instead (two reference instances in \
                 this process sharing one store)"
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

async fn run_scenarios(
    run: &mut Run,
    clients: &[Client; 2],
    endpoints: &stack::Endpoints,
    chaos: Option<&Chaos>,
    finished: &Mutex<Vec<IterationResult>>,
) {
    let reporter = run.reporter;
    let phase_start = Instant::now();
    let attempts = run.config.retry.attempts;
    let (report, smokes) = immediacy::run_with_retries(
        &clients[0],
        &run.config.judgement,
        run.config.retry,
        &run.clock,
        |n, smoke| {
            let r = &smoke.report;
            reporter.line(format!(
                "smoke attempt {n}/{attempts}: {}{}{}",
                if r.success { "PASS" } else { "FAIL" },
                r.class.map(|c| format!(" [{c}]")).unwrap_or_default(),
                r.reason.as_ref().map(|r| format!(" — {r}")).unwrap_or_default()
            ));
        },
    )
    .await;
    run.phases.time("smoke", phase_start);
    write_smoke(run, &report, &smokes);

    let phase_start = Instant::now();
    let suite_report = suite::run_suite(&clients[0], &endpoints.store, &run.config.judgement).await;
    run.phases.time("suite", phase_start);
    run.found.exchanges += suite_report.trace.len() as u64;
    let written = run.parity.write_text(names::TEST_PARITY_OUT, &suite::render_out(&suite_report));
    run.written(written);
    reporter.line(format!(
        "contract suite: {} passed, {} failed, {} skipped",
        suite_report.count(suite::CheckStatus::Pass),
        suite_report.count(suite::CheckStatus::Fail),
        suite_report.count(suite::CheckStatus::Skip)
    ));
    for check in suite_report.checks.iter().filter(|c| c.status == suite::CheckStatus::Fail) {
        reporter.line(format!(
            "  FAIL {} [{}]: {}",
            check.name,
            check.class.map_or("unknown", FailureClass::as_str),
            check.detail.as_deref().unwrap_or("")
        ));
    }
    run.found.suite = Some(suite_report);

    let iterations = run.config.iterations;
    if iterations == 0 {
        reporter.line("cross-instance: not run (--iterations 0)");
        return;
    }
    let phase_start = Instant::now();
    let mut progress = reporter.iterations(iterations, "cross-instance iteration");
    let mut write_errors = Vec::new();
    let mut exchanges = 0u64;
    let parity = &run.parity;
    cross::run_iterations(
        &clients[0],
        &clients[1],
        &run.config.judgement,
        &run.clock,
        cross::Schedule { iterations, concurrency: run.config.concurrency },
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
            exchanges += it.trace.len() as u64;
            // Written as each finishes, so an interrupted run keeps them.
            write_errors.extend(write_iteration(parity, it));
            finished.lock().expect("finished iterations").push(it.result.clone());
        },
    )
    .await;
    progress.finish();
    run.found.exchanges += exchanges;
    run.phases.time(&format!("cross ({iterations} iterations)"), phase_start);
    for error in write_errors {
        run.written(Err(error));
    }
    let results = std::mem::take(&mut *finished.lock().expect("finished iterations"));
    write_cross_results(run, results);
}

/// `node.parity.*` and the smoke's `flakiness/` report.
fn write_smoke(run: &mut Run, report: &FlakinessReport, smokes: &[Smoke]) {
    run.found.exchanges += smokes.iter().map(|s| s.trace.len() as u64).sum::<u64>();
    if let Some(deciding) = immediacy::deciding(report, smokes) {
        let written = run.parity.write_json(names::NODE_PARITY_JSON, &deciding.report);
        run.written(written);
    }
    let outs: Vec<String> =
        smokes.iter().enumerate().map(|(i, s)| immediacy::render_out(s, i as u32 + 1)).collect();
    let written = run.parity.write_text(names::NODE_PARITY_OUT, &outs.join("\n"));
    run.written(written);
    let written = run.flakiness.write_json(names::FLAKINESS_JSON, report);
    run.written(written);
    let written = run.flakiness.write_text(names::FLAKINESS_UI, &rerun::render_ui(report));
    run.written(written);
    run.found.smoke_attempts = report
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
        .collect();
    run.found.smoke = Some(SmokeSummary::of(report, smokes));
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
fn write_cross_results(run: &mut Run, mut results: Vec<IterationResult>) {
    results.sort_by_key(|r| r.iteration);
    let totals = CrossTotals::of(&results);
    let written = run.parity.write_json(names::CROSS_RESULTS_JSON, &results);
    run.written(written);
    let written = run.parity.write_text(names::CROSS_OUT, &cross::render_summary(&results, &totals));
    run.written(written);
    run.found.cross = Some(totals);
    run.found.cross_results = results;
}

/// One line per phase that ran, before the verdict.
fn report_phases(found: &Found, reporter: Reporter) {
    if let Some(s) = &found.smoke {
        let flaky = if s.flaky { " (flaky: passed after infrastructure failures)" } else { "" };
        reporter.line(format!(
            "revocation immediacy: {}{} after {} attempt(s){flaky}",
            if s.success { "PASS" } else { "FAIL" },
            s.class.map(|c| format!(" [{c}]")).unwrap_or_default(),
            s.attempts
        ));
    }
    if let Some(c) = &found.cross {
        let classes =
            if c.classes.is_empty() { String::new() } else { format!(" ({})", c.classes.describe()) };
        reporter.line(format!(
            "cross-instance: {}/{} iterations failed{classes}, {} stale read(s)",
            c.failures, c.iterations, c.stale_reads
        ));
    }
}
