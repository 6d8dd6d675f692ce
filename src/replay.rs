//! `parity replay PACKET`: rerun exactly the case of an evidence packet N
//! times on a fresh stack (the recorded images, or the targets given), and
//! say how often it fails the same way, with a 95% interval.

use crate::analysis::EvidenceIndex;
use crate::artifacts::ArtifactDir;
use crate::clock::{millis, Clock};
use crate::contract::{Client, TraceContext};
use crate::evidence::{self, Case, Collector, Failure, ReplaySpec};
use crate::exit::Exit;
use crate::progress::Reporter;
use crate::redact::Redactor;
use crate::run::events::Event;
use crate::run::{self, RunConfig};
use crate::scenario::{cross, immediacy, suite};
use crate::signals::or_signal;
use crate::stack::{NotReady, Stack, StackLife};
use crate::stats::{self, Interval};
use crate::verdict::FailureClass;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// The report's and the summary's file names inside `--out`.
pub const REPORT_JSON: &str = "replay-report.json";
pub const REPORT_OUT: &str = "replay.out";

/// What `parity replay` needs, resolved by the command layer.
pub struct ReplayConfig {
    /// The stack, judgement and client settings, from the packet and the flags.
    pub run: RunConfig,
    pub packet: PathBuf,
    pub spec: ReplaySpec,
    pub times: u32,
    /// `--no-cleanup`: stop at the first reproduction and leave the stack up.
    pub keep_up: bool,
    /// What differs from the recorded run, one phrase each (a newer packet, `--no-faults`, another image).
    pub caveats: Vec<String>,
}

/// How one try ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TryOutcome {
    /// Failed with the recorded class.
    Reproduced,
    Passed,
    /// Failed, but with another class.
    FailedOtherwise,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Try {
    pub n: u32,
    pub outcome: TryOutcome,
    pub class: Option<FailureClass>,
    pub reason: Option<String>,
    pub duration_ms: f64,
    /// Its evidence packet, when it failed.
    pub packet: Option<String>,
}

/// `replay-report.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplayReport {
    pub packet: String,
    pub case: Case,
    /// The class a try must fail with to count as a reproduction.
    pub class: FailureClass,
    pub backend: String,
    pub targets: Vec<String>,
    pub caveats: Vec<String>,
    pub times: u32,
    pub tries: Vec<Try>,
    pub reproduced: u32,
    pub failed_otherwise: u32,
    /// Reproductions over tries run.
    pub rate: Option<f64>,
    /// Wilson 95% interval of the rate.
    pub interval_95: Option<Interval>,
    pub verdict: String,
    pub exit_code: i32,
    /// Why the replay could not be carried out, when it could not.
    pub error: Option<String>,
    pub evidence: EvidenceIndex,
}

impl ReplayReport {
    fn new(config: &ReplayConfig) -> ReplayReport {
        ReplayReport {
            caveats: config.caveats.clone(),
            ..ReplayReport::before_any_try(
                &config.packet,
                config.spec.case.clone(),
                config.spec.class,
                config.times,
            )
        }
    }

    fn before_any_try(packet: &std::path::Path, case: Case, class: FailureClass, times: u32) -> ReplayReport {
        ReplayReport {
            packet: packet.display().to_string(),
            case,
            class,
            backend: String::new(),
            targets: Vec::new(),
            caveats: Vec::new(),
            times,
            tries: Vec::new(),
            reproduced: 0,
            failed_otherwise: 0,
            rate: None,
            interval_95: None,
            verdict: String::new(),
            exit_code: 0,
            error: None,
            evidence: EvidenceIndex::default(),
        }
    }

    fn record(&mut self, attempt: Try) {
        match attempt.outcome {
            TryOutcome::Reproduced => self.reproduced += 1,
            TryOutcome::FailedOtherwise => self.failed_otherwise += 1,
            TryOutcome::Passed => {}
        }
        self.tries.push(attempt);
        let (k, n) = (u64::from(self.reproduced), self.tries.len() as u64);
        self.rate = Some(stats::rate(k, n));
        self.interval_95 = stats::wilson(k, n, stats::Z_95);
    }

    /// The verdict sentence and exit code once the tries are done.
    fn conclude(&mut self, interrupted: Option<&str>) -> Exit {
        let case = self.case.name();
        let n = self.tries.len();
        let rate = match (self.rate, self.interval_95) {
            (Some(rate), Some(ci)) => {
                format!(" ({}, {})", stats::percent(rate, 0), ci.describe(0))
            }
            _ => String::new(),
        };
        let otherwise = match self.failed_otherwise {
            0 => String::new(),
            k => format!("; {k} failed another way"),
        };
        let exit = if let Some(error) = &self.error {
            self.verdict = format!("could not replay {case}: {error}");
            Exit::Infrastructure
        } else if self.reproduced > 0 {
            self.verdict =
                format!("{case} reproduced {}/{n} times as {}{rate}{otherwise}", self.reproduced, self.class);
            Exit::ParityFailure
        } else if let Some(signal) = interrupted {
            self.verdict =
                format!("interrupted by {signal} after {n} tries of {case}, none reproduced{otherwise}");
            Exit::Interrupted
        } else {
            self.verdict = format!("{case} did not reproduce in {n} tries{rate}{otherwise}");
            Exit::Ok
        };
        let exit = if interrupted.is_some() { Exit::Interrupted } else { exit };
        self.exit_code = exit.code();
        exit
    }

    fn render(&self) -> String {
        let mut out = format!("replay of {} ({}): {}\n", self.case.name(), self.packet, self.verdict);
        for caveat in &self.caveats {
            out += &format!("note: {caveat}\n");
        }
        for t in &self.tries {
            let class = t.class.map(|c| format!(" [{c}]")).unwrap_or_default();
            let reason = t.reason.as_ref().map(|r| format!(" — {r}")).unwrap_or_default();
            let outcome = match t.outcome {
                TryOutcome::Reproduced => "reproduced",
                TryOutcome::Passed => "passed",
                TryOutcome::FailedOtherwise => "failed another way",
            };
            out += &format!("try {}: {outcome}{class}{reason}\n", t.n);
        }
        out
    }
}

/// Replays the packet; the exit code says whether it reproduced.
pub async fn replay(config: ReplayConfig, clock: Clock, reporter: Reporter) -> Exit {
    let redactor = if config.run.redact { Redactor::enabled() } else { Redactor::disabled() };
    let out = match prepare(&config, &redactor) {
        Ok(out) => out,
        Err(e) => {
            reporter.line(format!("cannot write the replay's artifacts: {e}"));
            return Exit::Infrastructure;
        }
    };
    let mut report = ReplayReport::new(&config);
    reporter.line(format!(
        "replaying {} ({}: {}) {} time(s)",
        config.spec.case.name(),
        config.spec.class,
        crate::escape::excerpt(&config.spec.reason, 200),
        config.times
    ));
    for caveat in &config.caveats {
        reporter.line(format!("note: {caveat}"));
    }
    let interrupted = replay_on_a_stack(&config, &clock, reporter, &out, &mut report).await;
    let exit = report.conclude(interrupted);
    for (name, written) in [
        (REPORT_JSON, out.write_json(REPORT_JSON, &report)),
        (REPORT_OUT, out.write_text(REPORT_OUT, &report.render())),
    ] {
        if let Err(e) = written {
            reporter.line(format!("could not write {name}: {e}"));
        }
    }
    reporter.line(format!("artifacts: {}", out.root().display()));
    reporter.line(format!("{} — exit {}", report.verdict, exit.code()));
    exit
}

fn prepare(
    config: &ReplayConfig,
    redactor: &Redactor,
) -> Result<ArtifactDir, crate::artifacts::ArtifactError> {
    let out = ArtifactDir::create(&config.run.out, redactor.clone())?;
    // A previous replay's packets would be mistaken for this one's.
    ArtifactDir::create(&config.run.out.join(evidence::DIR), redactor.clone())?.clear()?;
    Ok(out)
}

/// Starts the stack, runs the tries, tears down (or keeps it up); the signal that stopped it, if one did.
async fn replay_on_a_stack(
    config: &ReplayConfig,
    clock: &Clock,
    reporter: Reporter,
    out: &ArtifactDir,
    report: &mut ReplayReport,
) -> Option<&'static str> {
    let run_id = clock.started_wall().format(crate::clock::UTC_STAMP).to_string();
    let spec = run::stack_spec(&config.run, &config.run.source);
    let life = match StackLife::start(spec, &run_id, config.run.ready_timeout, reporter).await {
        Ok(life) => life,
        Err(failure) => {
            failure.cleanup_warnings().for_each(|w| reporter.line(w));
            if let Some(signal) = failure.interrupted() {
                return Some(signal);
            }
            report.error = Some(format!("the stack did not start: {}", failure.error));
            return None;
        }
    };
    let stack = life.stack();
    report.backend = stack.backend_name().to_string();
    let ctx = TraceContext::new(*clock);
    let endpoints = stack.endpoints();
    report.targets = endpoints.instances.iter().map(|i| i.url.clone()).collect();
    let clients = endpoints.clients(&config.run.client, &ctx);
    let interrupted = match life.ready(&clients).await {
        Err(NotReady::Interrupted(signal)) => Some(signal),
        Err(NotReady::Never(e)) => {
            report.error = Some(format!("the stack never became ready: {e}"));
            None
        }
        Ok(()) => tries(config, clock, reporter, out, stack, &clients, report).await,
    };
    if config.keep_up && interrupted.is_none() {
        life.hold_until_signal(reporter).await;
    }
    let ended = life.end(reporter).await;
    for log in &ended.logs {
        if let Err(e) = out.write_text(&log.file_name, &log.content) {
            reporter.line(e.to_string());
        }
    }
    ended.cleanup_warnings().for_each(|w| reporter.line(w));
    interrupted
}

/// The tries, each with its packet when it failed.
async fn tries(
    config: &ReplayConfig,
    clock: &Clock,
    reporter: Reporter,
    out: &ArtifactDir,
    stack: &Stack,
    clients: &[Client],
    report: &mut ReplayReport,
) -> Option<&'static str> {
    let dir = match ArtifactDir::create(&out.path(evidence::DIR), out_redactor(config)) {
        Ok(dir) => dir,
        Err(e) => {
            reporter.line(format!("no evidence packets: {e}"));
            return None;
        }
    };
    let hint = format!("parity replay {}/<dir>", out.path(evidence::DIR).display());
    let scene = run::evidence::scene(&config.run, stack, clients, dir, hint).await;
    let mut collector = Collector::new(scene, config.times);
    let mut interrupted = None;
    for n in 1..=config.times {
        let started = Instant::now();
        let failure = match or_signal(run_case(config, clock, stack, clients)).await {
            Ok(failure) => failure,
            Err(signal) => {
                interrupted = Some(signal);
                break;
            }
        };
        let attempt = judge(config.spec.class, n, failure, started, &mut collector);
        reporter.line(format!(
            "try {n}/{}: {}",
            config.times,
            match attempt.outcome {
                TryOutcome::Reproduced => format!("reproduced ({})", config.spec.class),
                TryOutcome::Passed => "passed".to_string(),
                TryOutcome::FailedOtherwise => format!(
                    "failed another way ({}): {}",
                    attempt.class.map_or("unknown".into(), |c| c.to_string()),
                    attempt.reason.as_deref().unwrap_or("")
                ),
            }
        ));
        let reproduced = attempt.outcome == TryOutcome::Reproduced;
        report.record(attempt);
        if reproduced && config.keep_up {
            reporter.line("--no-cleanup: stopping at the first reproduction");
            break;
        }
    }
    let (index, errors) = collector.finish().await;
    errors.iter().for_each(|e| reporter.line(e));
    report.evidence = index;
    interrupted
}

fn out_redactor(config: &ReplayConfig) -> Redactor {
    if config.run.redact {
        Redactor::enabled()
    } else {
        Redactor::disabled()
    }
}

/// How try `n` ended; a failure's packet is gathered as `<case>-try-<n>`.
fn judge(
    class: FailureClass,
    n: u32,
    failure: Option<Failure>,
    started: Instant,
    collector: &mut Collector,
) -> Try {
    let duration_ms = millis(started.elapsed());
    let Some(mut failure) = failure else {
        return Try { n, outcome: TryOutcome::Passed, class: None, reason: None, duration_ms, packet: None };
    };
    failure.name = format!("{}-try-{n}", failure.case.name());
    let outcome = if failure.class == class { TryOutcome::Reproduced } else { TryOutcome::FailedOtherwise };
    let attempt = Try {
        n,
        outcome,
        class: Some(failure.class),
        reason: Some(failure.reason.clone()),
        duration_ms,
        packet: Some(failure.name.clone()),
    };
    collector.record(failure);
    attempt
}

/// Runs the recorded case once; its failure, if it failed.
async fn run_case(
    config: &ReplayConfig,
    clock: &Clock,
    stack: &Stack,
    clients: &[Client],
) -> Option<Failure> {
    let judgement = &config.run.judgement;
    let failures = match &config.spec.case {
        Case::Smoke { attempt } => {
            let smoke = immediacy::run_smoke(&clients[0], judgement, clock).await;
            run::evidence::failures_of(&Event::SmokeAttempt { attempt: *attempt, attempts: 1, smoke: &smoke })
        }
        Case::Iteration { iteration, creator, revoker, observer } => {
            let roles = recorded_roles(clients, creator, revoker, observer)
                .unwrap_or_else(|| cross::assign(*iteration, clients.len()));
            // The recorded user when the run was seeded: a seeded fault strikes by user.
            let user = cross::user_of(*iteration, config.run.seed);
            let it = cross::run_iteration(clients, &roles, *iteration, &user, judgement, clock).await;
            run::evidence::failures_of(&Event::IterationFinished(&it))
        }
        Case::Check { .. } => {
            let report =
                suite::run_suite(&clients[0], &stack.endpoints().store, judgement, config.run.dialect).await;
            run::evidence::failures_of(&Event::SuiteFinished(&report))
        }
    };
    failures.into_iter().find(|f| same_case(&f.case, &config.spec.case))
}

/// The recorded roles, by instance name; `None` when a name is not among the
/// clients (a packet from a version that recorded no roles, or other instances).
fn recorded_roles(
    clients: &[Client],
    creator: &str,
    revoker: &str,
    observer: &str,
) -> Option<cross::Assignment> {
    let index = |name: &str| clients.iter().position(|c| c.name() == name.trim());
    let observers = observer.split(',').map(index).collect::<Option<Vec<usize>>>()?;
    Some(cross::Assignment { creator: index(creator)?, revoker: index(revoker)?, observers })
}

/// The same case, whatever iteration roles this version would record.
fn same_case(a: &Case, b: &Case) -> bool {
    match (a, b) {
        (Case::Smoke { .. }, Case::Smoke { .. }) | (Case::Iteration { .. }, Case::Iteration { .. }) => true,
        (Case::Check { check: x }, Case::Check { check: y }) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ReplayReport {
        let case =
            Case::Iteration { iteration: 4, creator: "a".into(), revoker: "b".into(), observer: "a".into() };
        ReplayReport::before_any_try(std::path::Path::new("p"), case, FailureClass::StaleRead, 3)
    }

    fn attempt(n: u32, outcome: TryOutcome) -> Try {
        Try { n, outcome, class: None, reason: None, duration_ms: 1.0, packet: None }
    }

    #[test]
    fn any_reproduction_is_exit_1_with_the_rate_and_its_interval() {
        let mut r = report();
        r.record(attempt(1, TryOutcome::Reproduced));
        r.record(attempt(2, TryOutcome::Passed));
        r.record(attempt(3, TryOutcome::FailedOtherwise));
        assert_eq!(r.conclude(None), Exit::ParityFailure);
        assert!(
            r.verdict.starts_with("iteration-4 reproduced 1/3 times as stale-read (33%, 95% CI"),
            "{}",
            r.verdict
        );
        assert!(r.verdict.ends_with("; 1 failed another way"), "{}", r.verdict);
    }

    #[test]
    fn never_reproducing_is_exit_0_and_no_stack_is_exit_3() {
        let mut r = report();
        (1..=3).for_each(|n| r.record(attempt(n, TryOutcome::Passed)));
        assert_eq!(r.conclude(None), Exit::Ok);
        assert!(r.verdict.contains("did not reproduce in 3 tries (0%, 95% CI 0%–56%)"), "{}", r.verdict);
        let mut r = report();
        r.error = Some("the stack did not start: no engine".into());
        assert_eq!(r.conclude(None), Exit::Infrastructure);
        assert_eq!(r.conclude(Some("SIGINT")), Exit::Interrupted);
    }
}
