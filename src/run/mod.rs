//! `parity run`: bring up the stack, run the scenarios, tear down, decide.
//! Everything the run says goes out as [`events::Event`]s to the sinks
//! (artifacts, console, JUnit, step summary, Slack); the verdict is the pure
//! [`Analysis::judge`] over what it found.

mod config;
pub mod events;
pub(crate) mod evidence;
pub mod sinks;

pub use config::{DiffPhase, RunConfig, Source};

use crate::analysis::{Analysis, DiffSummary, EvidenceIndex, Results, RunFacts, SmokeSummary};
use crate::artifacts::{self, ArtifactDir};
use crate::clock::{millis, rfc3339, Clock, Phase};
use crate::contract::{Client, TraceContext};
use crate::exit::Exit;
use crate::progress::Reporter;
use crate::redact::Redactor;
use crate::scenario::cross::{self, CrossTally, CrossTotals};
use crate::scenario::immediacy;
use crate::scenario::suite;
use crate::signals::or_signal;
use crate::stack::docker::{self as docker_stack, Chaos};
use crate::stack::{
    self, ContainerReport, LocalOptions, NotReady, Stack, StackLife, StackSpec, StartFailure,
};
use crate::verdict::{Coverage, FailureClass, Signature, SignatureCount, SignatureTally};
use events::{Emitter, Event, Sink};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// Times the phases of a run for `analysis.json`, saying each as it ends.
#[derive(Default)]
struct Phases(Vec<Phase>);

/// What the scenarios found; `None` where a scenario did not run.
#[derive(Default)]
struct Found {
    smoke: Option<SmokeSummary>,
    suite: Option<suite::SuiteReport>,
    cross: Option<CrossTotals>,
    /// The failed iterations' signatures.
    cross_signatures: Vec<SignatureCount>,
    /// `--reference`: the differential phase.
    diff: Option<DiffSummary>,
    /// The different steps' signatures.
    diff_signatures: Vec<SignatureCount>,
    /// Requests sent to the service by the scenarios.
    exchanges: u64,
}

impl Found {
    /// What the verdict judges, once the run is over.
    fn into_results(self) -> Results {
        let (dialect, security) = self.suite.as_ref().map_or((None, Vec::new()), |s| {
            (Some(s.dialect), s.security.as_ref().map(|r| r.families.clone()).unwrap_or_default())
        });
        let mut signatures = SignatureTally::default();
        if let Some(smoke) = self.smoke.as_ref().filter(|s| !s.success) {
            let reason = smoke.reason.as_deref().unwrap_or_default();
            let signature = Signature::smoke(smoke.class.unwrap_or(FailureClass::Unknown), reason);
            signatures.add(signature, || "the smoke".into(), smoke.reason.as_deref());
        }
        if let Some(suite) = &self.suite {
            suite.tally_signatures(&mut signatures);
        }
        signatures.merge(&self.cross_signatures);
        signatures.merge(&self.diff_signatures);
        Results {
            signatures: signatures.into_counts(),
            smoke: self.smoke,
            checks: self.suite.map(|s| s.checks),
            dialect,
            security,
            cross: self.cross,
            diff: self.diff,
        }
    }
}

/// One run: its settings, its sinks, and what it has found so far.
struct Run {
    config: RunConfig,
    clock: Clock,
    run_id: String,
    emitter: Emitter,
    phases: Phases,
    found: Found,
    /// The iterations this run runs: all, or its shard's share.
    schedule: cross::Schedule,
    /// Requests sent to the service when the last phase ended.
    sent_before: u64,
}

impl Run {
    fn phase_recorded(&mut self, phase: Phase) {
        self.emitter.emit(Event::PhaseFinished(&phase));
        self.phases.0.push(phase);
    }

    fn phase_done(&mut self, name: &str, since: Instant) {
        let sent = self.config.client.pacer.sent();
        let requests = Some(sent - self.sent_before).filter(|n| *n > 0);
        self.sent_before = sent;
        let phase = Phase { name: name.into(), duration_ms: millis(since.elapsed()), requests };
        self.phase_recorded(phase);
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
    /// The phase a signal stopped, when one did.
    interrupted: Option<String>,
    evidence: EvidenceIndex,
}

impl StackOutcome {
    /// Records, and says, where a signal stopped the run.
    fn interrupt(&mut self, phase: &str, signal: &str, emitter: &mut Emitter) {
        emitter.warn(&format!("interrupted by {signal} during {phase}"));
        self.interrupted = Some(phase.to_string());
    }
}

/// Runs with `clock` (the command passes `Clock::start()`; tests may fix the date).
pub async fn run(config: RunConfig, clock: Clock, reporter: Reporter) -> Exit {
    let started = Instant::now();
    let run_id = clock.started_wall().format(crate::clock::UTC_STAMP).to_string();
    let artifact_redactor = artifact_redactor(&config);
    let (parity, flakiness) = match prepare_dirs(&config.out, &artifact_redactor) {
        Ok(dirs) => dirs,
        Err(e) => {
            reporter.line(format!("cannot write artifacts: {e}"));
            return Exit::Infrastructure;
        }
    };
    let root = parity.root().to_path_buf();
    let emitter = Emitter::new(sinks(&config, parity, flakiness, artifact_redactor, reporter));
    let schedule = config.schedule();
    let mut run = Run {
        config,
        clock,
        run_id,
        emitter,
        phases: Phases::default(),
        found: Found::default(),
        schedule,
        sent_before: 0,
    };
    if run.config.canary {
        match or_signal(canary_holds(&mut run, reporter)).await {
            Ok(true) => {}
            Ok(false) => return Exit::ParityFailure,
            Err(signal) => {
                let mut stopped = StackOutcome::default();
                stopped.interrupt("the canary", signal, &mut run.emitter);
                return finish(run, stopped, started, &root).await;
            }
        }
    }
    if let Some(note) = run.config.backend_note.clone() {
        run.emitter.note(&note);
    }
    let stack = bring_up_and_test(&mut run).await;
    finish(run, stack, started, &root).await
}

/// Secrets of the run that no output may carry: the admin password, the
/// Slack webhook, the GitHub token (tokens are recognised by their shape).
fn secrets(config: &RunConfig) -> Vec<String> {
    let mut secrets = vec![config.client.credentials.pass.clone()];
    secrets.extend(config.slack_webhook.iter().cloned());
    secrets.extend(crate::settings::process_env("GITHUB_TOKEN"));
    secrets
}

fn console_redactor(config: &RunConfig) -> Redactor {
    secrets(config).iter().for_each(|s| crate::redact::register(s));
    Redactor::enabled()
}

/// The artifacts' redactor: the console's, unless `--no-redact`.
fn artifact_redactor(config: &RunConfig) -> Redactor {
    if config.redact {
        console_redactor(config)
    } else {
        Redactor::disabled()
    }
}

fn sinks(
    config: &RunConfig,
    parity: ArtifactDir,
    flakiness: ArtifactDir,
    artifact_redactor: Redactor,
    reporter: Reporter,
) -> Vec<Box<dyn Sink>> {
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(sinks::ArtifactSink::new(parity, flakiness, config.keep_passing)),
        Box::new(sinks::ConsoleSink {
            reporter,
            redactor: console_redactor(config),
            progress: None,
            junit: config.junit.clone(),
        }),
    ];
    if let Some(path) = &config.junit {
        sinks.push(Box::new(sinks::JunitSink::new(path.clone(), artifact_redactor.clone())));
    }
    if let Some(path) = &config.step_summary {
        sinks.push(Box::new(sinks::StepSummarySink { path: path.clone(), redactor: artifact_redactor }));
    }
    if let Some(slack) = crate::notify::slack::Slack::from_webhook(config.slack_webhook.as_deref()) {
        sinks.push(Box::new(sinks::SlackSink::new(slack, console_redactor(config), reporter)));
    }
    sinks
}

/// `--canary`: the harness proves on embedded instances that every check can
/// fail, before its verdicts on the real targets are believed.
async fn canary_holds(run: &mut Run, reporter: Reporter) -> bool {
    run.emitter.note("canary: every fault against embedded reference instances, before the real run");
    let report = crate::canary::run(&crate::canary::CanaryOptions::default(), reporter).await;
    run.emitter.emit(Event::Canary(&report));
    if !report.passed() {
        run.emitter.warn(&format!(
            "the harness failed its own canary ({}): its verdicts cannot be trusted — exit 1",
            report.problems().join("; ")
        ));
    }
    report.passed()
}

/// On the embedded stack the harness is the service: at the default hash
/// cost every create and introspection is a 64 MiB argon2id, one per core at
/// once, so iterations beyond a few per core would only queue behind each
/// other until the harness's own timeouts blamed the service. They are
/// fitted to the machine, and the run says so.
fn fit_concurrency_to_hashing(run: &mut Run) {
    let fit = crate::hashing::concurrent_hashes() * 4;
    let config = &mut run.config;
    if config.hash_cost == crate::hashing::HashCost::Default && config.concurrency > fit {
        run.emitter.note(&format!(
            "--concurrency {} on the embedded stack at the default hash cost: this machine hashes {} at once \
             (64 MiB each), so at most {fit} iterations run at once (--hash-cost minimal lifts this)",
            config.concurrency,
            crate::hashing::concurrent_hashes()
        ));
        config.concurrency = fit;
        // The schedule was dealt from the flags: it runs at the fitted concurrency too.
        run.schedule.concurrency = fit;
    }
}

/// Starts the stack, runs the scenarios on it, captures logs and tears it down.
async fn bring_up_and_test(run: &mut Run) -> StackOutcome {
    let source = resolve_auto(&run.config.source, &mut run.emitter).await;
    if matches!(source, Source::Local) {
        fit_concurrency_to_hashing(run);
    }
    let phase_start = Instant::now();
    let spec = stack_spec(&run.config, &source);
    let life = StackLife::start(spec, &run.run_id, run.config.ready_timeout, Reporter::detect()).await;
    let mut outcome = StackOutcome {
        backend: match &source {
            Source::Local | Source::Auto(_) => "local",
            Source::External { .. } => "external",
            Source::Docker(_) => "docker",
        }
        .to_string(),
        ..StackOutcome::default()
    };
    run.phase_done("stack", phase_start);
    let life = match life {
        Ok(life) => life,
        Err(failure) => {
            match failure.interrupted() {
                Some(signal) => outcome.interrupt("the stack's start-up", signal, &mut run.emitter),
                None => {
                    run.emitter.warn(&format!("the stack did not start: {}", failure.error));
                    outcome.failed = true;
                }
            }
            failure.cleanup_warnings().for_each(|w| run.emitter.warn(&w));
            let StartFailure { logs, containers, phases, .. } = failure;
            run.phases.0.extend(phases);
            run.emitter.emit(Event::Logs(&logs));
            outcome.containers = containers;
            return outcome;
        }
    };
    let stack = life.stack();
    outcome.backend = stack.backend_name().to_string();
    run.phases.0.extend(stack.startup_phases());
    let chaos = stack.chaos();
    let endpoints = stack.endpoints();
    outcome.targets = endpoints.instances.iter().map(|i| i.url.clone()).collect();
    outcome.store = endpoints.store_description.clone();
    run.emitter.emit(Event::StackUp {
        backend: &outcome.backend,
        targets: &outcome.targets,
        store: outcome.store.as_deref(),
    });
    let ctx = TraceContext::new(run.clock);
    let clients = endpoints.clients(&run.config.client, &ctx);
    let evidence = attach_evidence(run, stack, &clients).await;

    let phase_start = Instant::now();
    let ready = life.ready(&clients).await;
    run.phase_done("ready", phase_start);
    match ready {
        Err(NotReady::Interrupted(signal)) => {
            run.emitter.warn(&format!("interrupted by {signal} while waiting for the instances to be ready"));
            outcome.interrupted = Some("readiness".into());
        }
        Err(NotReady::Never(e)) => {
            outcome.failed = true;
            run.emitter.warn(&format!("the stack never became ready: {e}"));
        }
        Ok(()) => {
            // Some once the iterations start: their files are then open and must be closed.
            let finished = Mutex::new(None);
            let scenarios = run_scenarios(run, &clients, endpoints, chaos.as_deref(), &finished);
            // A signal stops the scenarios; what they finished is kept and written.
            if let Err(signal) = or_signal(scenarios).await {
                run.emitter
                    .warn(&format!("interrupted by {signal}: the scenarios still running were stopped"));
                outcome.interrupted = Some("the scenarios".into());
                let done = finished.lock().expect("finished iterations").take();
                if let (None, Some(done)) = (&run.found.cross, done) {
                    cross_finished(run, done);
                }
            } else if let Some(phase) = run.config.diff.clone() {
                if let Err(signal) = or_signal(diff_against_reference(run, phase, endpoints)).await {
                    run.emitter
                        .warn(&format!("interrupted by {signal} during the diff against the reference"));
                    outcome.interrupted = Some("the diff".into());
                }
            }
        }
    }

    if let Some(evidence) = evidence {
        outcome.evidence = finish_evidence(run, evidence).await;
    }
    outcome.chaos = chaos.map(|c| c.events()).unwrap_or_default();
    let ended = life.end(Reporter::detect()).await;
    run.emitter.emit(Event::Logs(&ended.logs));
    ended.cleanup_warnings().for_each(|w| run.emitter.warn(&w));
    ended.phases.into_iter().for_each(|phase| run.phase_recorded(phase));
    outcome.containers = ended.containers;
    outcome
}

/// The evidence sink, once the stack is up (unless `--evidence-limit 0`).
async fn attach_evidence(
    run: &mut Run,
    stack: &Stack,
    clients: &[Client],
) -> Option<evidence::EvidenceHandle> {
    if run.config.evidence_limit == 0 {
        return None;
    }
    match evidence::attach(&run.config, stack, clients, artifact_redactor(&run.config)).await {
        Ok((sink, handle)) => {
            run.emitter.add(Box::new(sink));
            Some(handle)
        }
        Err(e) => {
            run.emitter.warn(&e);
            None
        }
    }
}

/// Waits for the packets (each until two seconds after its failure's last
/// answer) while the stack is still up to be read.
async fn finish_evidence(run: &mut Run, handle: evidence::EvidenceHandle) -> EvidenceIndex {
    let phase_start = Instant::now();
    // Not raced against a signal: the wait is bounded, and what was seen is worth keeping.
    let (index, errors) = handle.finish().await;
    errors.iter().for_each(|e| run.emitter.warn(e));
    if !index.packets.is_empty() {
        let more = match index.not_written {
            0 => String::new(),
            n => format!(" ({n} more failure(s) past --evidence-limit have none)"),
        };
        run.emitter.note(&format!(
            "evidence: {} packet(s) under {}{more}",
            index.packets.len(),
            run.config.out.join(artifacts::PARITY_DIR).join(crate::evidence::DIR).display()
        ));
    }
    run.phase_done("evidence", phase_start);
    index
}

/// What ran and what did not, for the verdict and every report of it.
fn coverage(run: &Run, stack: &StackOutcome) -> Coverage {
    let found = &run.found;
    let (checks, checks_skipped) = found.suite.as_ref().map_or((0, 0), |s| {
        let skipped = s.count(suite::CheckStatus::Skip);
        ((s.checks.len() - skipped) as u32, skipped as u32)
    });
    let why_not = if stack.interrupted.is_some() {
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
    match (&run.config.diff, &found.diff) {
        (Some(_), None) => not_run.push(format!("diff against the reference: {why_not}")),
        (Some(_), Some(d)) if d.error.is_some() => {
            not_run.push(format!("diff against the reference: {}", d.error.as_deref().unwrap_or_default()))
        }
        _ => {}
    }
    // What the service's rate limit kept from being carried out (never a finding).
    let limited = FailureClass::RateLimited;
    if found.smoke.as_ref().is_some_and(|s| s.class == Some(limited)) {
        not_run.push("revocation immediacy: the rate limit outlasted the budget".to_string());
    }
    let checks_limited =
        found.suite.as_ref().map_or(0, |s| s.failure_classes().filter(|c| *c == limited).count());
    if checks_limited > 0 {
        not_run.push(format!(
            "contract suite: {checks_limited} check(s) not judged (the rate limit outlasted the budget)"
        ));
    }
    let iterations_limited = found.cross.as_ref().map_or(0, |c| c.classes.get(limited));
    if iterations_limited > 0 {
        not_run.push(format!(
            "cross-instance: {iterations_limited} iteration(s) not carried out (the rate limit outlasted the budget)"
        ));
    }
    let iterations = found.cross.as_ref().map_or(0, |c| c.iterations);
    let expected = run.schedule.numbers.len() as u32;
    if run.config.iterations == 0 {
        not_run.push("cross-instance: --iterations 0".to_string());
    } else if iterations < expected {
        not_run
            .push(format!("cross-instance: {} of {expected} iterations ({why_not})", expected - iterations));
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
        diff_pairs: found.diff.as_ref().map_or(0, |d| d.counts.exchange_pairs as u32),
        not_run,
        relaxations: run.config.relaxations.clone(),
    }
}

/// The verdict and `analysis.json` to every sink, then the tarball.
async fn finish(mut run: Run, stack: StackOutcome, started: Instant, root: &Path) -> Exit {
    // A signal during teardown ends the run as interrupted too, once the cleanup is done.
    let interrupted_in =
        stack.interrupted.clone().or_else(|| crate::signals::received().then(|| "teardown".into()));
    let rate_limit = Some(run.config.client.pacer.report()).filter(|r| r.limited());
    if let Some(report) = &rate_limit {
        run.emitter.note(&report.describe());
    }
    let finished_wall = run.clock.now().wall;
    let tarball_path = artifacts::tarball_path(&run.config.out, finished_wall);
    let facts = RunFacts {
        run_id: run.run_id.clone(),
        strict: run.config.strict,
        faults: run.config.faults.describe(),
        started_at: rfc3339(&run.clock.started_wall()),
        finished_at: rfc3339(&finished_wall),
        duration_ms: millis(started.elapsed()),
        interrupted_in,
        stack_failed: stack.failed,
        coverage: coverage(&run, &stack),
        flaky: run.found.smoke.as_ref().is_some_and(|s| s.flaky),
        backend: stack.backend,
        instances: stack.targets,
        store: stack.store,
        phases: run.phases.0.clone(),
        containers: stack.containers,
        chaos: stack.chaos,
        errors: run.emitter.errors().to_vec(),
        evidence: stack.evidence,
        tarball: Some(tarball_path.display().to_string()),
        shard: run.config.shard_record(),
        merged_from: Vec::new(),
        rate_limit,
    };
    let (analysis, exit) = Analysis::judge(std::mem::take(&mut run.found).into_results(), facts);
    let sentence = analysis.verdict.clone();
    run.emitter.emit(Event::Finished(&analysis));
    let phase_start = Instant::now();
    let bundled = sinks::bundle(&run.config.out, &tarball_path);
    let bundle_phase =
        Phase { name: "bundle".into(), duration_ms: millis(phase_start.elapsed()), requests: None };
    run.phases.0.push(bundle_phase);
    let mut lost = run.emitter.lost_outputs().to_vec();
    if let Err(e) = &bundled {
        // analysis.json must not claim a tarball that was never written.
        let mut analysis = analysis.clone();
        analysis.tarball = None;
        analysis.errors.push(format!("no tarball: {e}"));
        let rewritten =
            ArtifactDir::create(&run.config.out.join(artifacts::PARITY_DIR), artifact_redactor(&run.config))
                .and_then(|dir| dir.write_json(artifacts::names::ANALYSIS_JSON, &analysis));
        if let Err(e) = rewritten {
            lost.push(e.to_string());
        }
        lost.push(format!("the tarball: {e}"));
    }
    if let Some(path) = &run.config.timings {
        if let Err(e) = write_timings(path, &run.phases.0) {
            run.emitter.warn(&e);
            lost.push(e);
        }
    }
    let (exit, sentence) = with_lost_outputs(exit, sentence, &lost);
    run.emitter.emit(Event::Bundled { root, tarball: &bundled, verdict: &sentence });
    run.emitter.flush().await;
    exit
}

/// A run whose verdict holds but whose outputs (artifacts, `--junit`,
/// `--step-summary`, `--timings`, the tarball) could not all be written
/// exits 3: CI must not read a silent 0 with a report missing.
fn with_lost_outputs(exit: Exit, sentence: String, lost: &[String]) -> (Exit, String) {
    if lost.is_empty() || exit != Exit::Ok {
        return (exit, sentence);
    }
    let verdict = sentence.strip_suffix(" — exit 0").unwrap_or(&sentence);
    let said = format!(
        "{verdict} — but {} output(s) could not be written ({}) — exit {}",
        lost.len(),
        lost.join("; "),
        Exit::Infrastructure
    );
    (Exit::Infrastructure, said)
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
async fn resolve_auto(source: &Source, emitter: &mut Emitter) -> Source {
    let Source::Auto(settings) = source else {
        return source.clone();
    };
    match docker_stack::usable_for_auto(settings).await {
        Ok(()) => {
            emitter.note("backend auto: a Docker engine answers, so the Docker stack runs");
            Source::Docker(settings.clone())
        }
        Err(why) => {
            emitter.note(&format!(
                "backend auto: nothing named a target (--instance, INSTANCE1/INSTANCE2, TARGET_BASE_URL) or a \
                 Docker setting, and {why}; running the embedded stack instead (two reference instances in \
                 this process sharing one store)"
            ));
            Source::Local
        }
    }
}

/// Phase timings as JSON, for benchmarks (`--timings FILE`).
fn write_timings(path: &Path, phases: &[Phase]) -> Result<(), String> {
    serde_json::to_string_pretty(phases)
        .map_err(std::io::Error::other)
        .and_then(|json| crate::files::write_regular(path, (json + "\n").as_bytes()))
        .map_err(|e| format!("cannot write the timings to {}: {e}", path.display()))
}

/// What `source` starts, with the run's settings for the embedded stack.
pub(crate) fn stack_spec(config: &RunConfig, source: &Source) -> StackSpec {
    match source {
        Source::Docker(settings) | Source::Auto(settings) => StackSpec::Docker(settings.clone()),
        Source::Local => StackSpec::Local(Box::new(LocalOptions {
            credentials: config.client.credentials.clone(),
            faults: config.faults.clone(),
            seed: config.seed,
            hash_cost: config.hash_cost,
            flavor: config.flavor.clone(),
            mongo_uri: config.mongo_uri.clone(),
            instances: config.instances,
        })),
        Source::External { urls } => {
            StackSpec::External { urls: urls.clone(), mongo_uri: config.mongo_uri.clone() }
        }
    }
}

/// With a pace set before anything is sent (`--max-rate N/s`), how long the
/// run will take: the smoke, the suite and the iterations' least requests.
fn announce_plan(run: &mut Run, instances: usize) {
    let Some(rate) = run.config.client.pacer.rate() else { return };
    let per_probe = cross::least_requests_per_iteration(instances);
    let iterations = run.schedule.numbers.len() as u64 * per_probe;
    let total = crate::scenario::requests_before_iterations(instances) + iterations;
    let time = std::time::Duration::from_secs_f64(total as f64 / rate);
    run.emitter.note(&format!(
        "plan: ~{total} requests (smoke {per_probe}, suite and security ~{}, {} iteration(s) ≥{iterations}) \
         at {}: about {}",
        suite::PLANNED_REQUESTS,
        run.schedule.numbers.len(),
        crate::contract::pacing::Rate::describe(rate),
        crate::clock::human(time)
    ));
}

async fn run_scenarios(
    run: &mut Run,
    clients: &[Client],
    endpoints: &stack::Endpoints,
    chaos: Option<&Chaos>,
    finished: &Mutex<Option<CrossTally>>,
) {
    announce_plan(run, clients.len());
    let phase_start = Instant::now();
    let attempts = run.config.retry.most_tries();
    let emitter = Mutex::new(&mut run.emitter);
    let (report, smokes) = immediacy::run_with_retries(
        &clients[0],
        &run.config.judgement,
        run.config.retry,
        run.config.retry_on,
        &run.clock,
        |attempt, smoke| {
            emitter.lock().expect("emitter").emit(Event::SmokeAttempt { attempt, attempts, smoke });
        },
    )
    .await;
    run.phase_done("smoke", phase_start);
    run.found.exchanges += smokes.iter().map(|s| s.trace.len() as u64).sum::<u64>();
    run.emitter.emit(Event::SmokeFinished { report: &report, smokes: &smokes });
    run.found.smoke = Some(SmokeSummary::of(&report, &smokes));

    let phase_start = Instant::now();
    let suite_report =
        suite::run_suite(&clients[0], &endpoints.store, &run.config.judgement, run.config.dialect).await;
    run.phase_done("suite", phase_start);
    run.found.exchanges += suite_report.trace.len() as u64;
    run.emitter.emit(Event::SuiteFinished(&suite_report));
    run.found.suite = Some(suite_report);

    let iterations = run.config.iterations;
    if iterations == 0 {
        run.emitter.note("cross-instance: not run (--iterations 0)");
        return;
    }
    let phase_start = Instant::now();
    let scheduled = run.schedule.numbers.len();
    if let Some(shard) = run.config.shard {
        run.emitter.note(&format!(
            "shard {shard}: {scheduled} of the run's {iterations} iterations (dealt by seed {})",
            run.config.seed.unwrap_or(0)
        ));
    }
    if let Some(rate) = run.config.client.pacer.rate() {
        let least = scheduled as u64 * cross::least_requests_per_iteration(clients.len());
        let time = std::time::Duration::from_secs_f64(least as f64 / rate);
        run.emitter.note(&format!(
            "cross-instance: {scheduled} iteration(s) need at least {least} requests; at {} that is at least {}",
            crate::contract::pacing::Rate::describe(rate),
            crate::clock::human(time)
        ));
    }
    run.emitter.emit(Event::CrossStarted { numbers: &run.schedule.numbers });
    *finished.lock().expect("finished iterations") = Some(CrossTally::default());
    let mut exchanges = 0u64;
    let emitter = Mutex::new(&mut run.emitter);
    let emitter = &emitter;
    cross::run_iterations(
        clients,
        &run.config.judgement,
        &run.clock,
        &run.schedule,
        |n| async move {
            if let Some(chaos) = chaos {
                for line in chaos.before_iteration(n).await {
                    emitter.lock().expect("emitter").note(&line);
                }
            }
        },
        |it| {
            exchanges += it.trace.len() as u64;
            // Written as each finishes, so an interrupted run keeps them.
            emitter.lock().expect("emitter").emit(Event::IterationFinished(&it));
            if let Some(tally) = finished.lock().expect("finished iterations").as_mut() {
                tally.add(&it.result);
            }
        },
    )
    .await;
    run.found.exchanges += exchanges;
    run.phase_done(&format!("cross ({scheduled} iterations)"), phase_start);
    let tally = finished.lock().expect("finished iterations").take().unwrap_or_default();
    cross_finished(run, tally);
}

/// `--reference`: the tested instances are the candidate, diffed exchange by
/// exchange against the reference build.
async fn diff_against_reference(run: &mut Run, phase: DiffPhase, endpoints: &stack::Endpoints) {
    let phase_start = Instant::now();
    let config = crate::diff::DiffConfig {
        reference: phase.reference,
        candidate: crate::diff::SideSpec {
            urls: endpoints.instances.iter().map(|i| i.url.clone()).collect(),
            credentials: run.config.client.credentials.clone(),
            pacer: Some(run.config.client.pacer.clone()),
        },
        request_timeout: run.config.client.request_timeout,
        pacing: run.config.client.pacer.pacing(),
        steps: crate::diff::script::builtin(),
        rules: phase.rules,
        scenario_file: None,
        store: None,
        shared_store: false,
        redact: run.config.redact,
    };
    let reference = config.reference.urls.clone();
    match crate::diff::run(config, run.clock, Reporter::detect()).await {
        Ok(report) => {
            // One request of each pair went to the tested instances; the other two to the reference.
            run.found.exchanges += report.counts.exchange_pairs as u64;
            run.emitter.emit(Event::DiffFinished(&report));
            run.found.diff = Some(diff_summary(&report));
            let mut signatures = SignatureTally::default();
            for step in &report.steps {
                if let Some(signature) = step.signature() {
                    signatures.add(signature, || format!("diff step {}", step.name), None);
                }
            }
            run.found.diff_signatures = signatures.into_counts();
        }
        Err(unreachable) => {
            run.emitter.warn(&format!("diff not run: {unreachable}"));
            run.found.diff = Some(DiffSummary {
                reference,
                error: Some(unreachable.to_string()),
                ..DiffSummary::default()
            });
        }
    }
    run.phase_done("diff", phase_start);
}

fn diff_summary(report: &crate::diff::report::DiffReport) -> DiffSummary {
    DiffSummary {
        reference: report.reference.clone(),
        rules_file: report.rules_file.clone(),
        counts: report.counts.clone(),
        different_steps: report
            .steps
            .iter()
            .filter(|s| s.verdict == crate::diff::report::Verdict::Different)
            .map(|s| s.name.clone())
            .collect(),
        stale_rules: report.stale_rules.clone(),
        error: None,
    }
}

/// The iterations' totals to the sinks and the findings.
fn cross_finished(run: &mut Run, tally: CrossTally) {
    let totals = tally.totals();
    run.emitter.emit(Event::CrossFinished { totals: &totals });
    run.found.cross = Some(totals);
    run.found.cross_signatures = tally.signatures();
}
