//! `parity canary`: proof that every check can fail. The scenarios run
//! against embedded reference instances once clean (nothing may fail) and
//! once per fault (the checks that name the fault must catch it). A harness
//! whose checks cannot fail proves nothing when they pass.

use crate::clock::{millis, Clock};
use crate::contract::Credentials;
use crate::contract::{ClientOptions, TraceContext};
use crate::hashing::HashCost;
use crate::progress::Reporter;
use crate::reference::faults::Faults;
use crate::retry::Backoff;
use crate::scenario::catalog::{self, CheckSpec};
use crate::scenario::{cross, immediacy, suite, Judgement};
use crate::stack::{LocalOptions, StackLife, StackSpec};
use crate::verdict::{FailureClass, RetryOn};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use std::time::{Duration, Instant};

/// How the canary runs each case.
#[derive(Clone, Debug)]
pub struct CanaryOptions {
    pub iterations: u32,
    /// Cases run at once (each on its own embedded instances).
    pub parallel: usize,
    pub judgement: Judgement,
    pub retry: Backoff,
    pub retry_on: RetryOn,
    pub request_timeout: Duration,
}

impl Default for CanaryOptions {
    fn default() -> Self {
        CanaryOptions {
            iterations: 6,
            parallel: 4,
            // The reference is strongly consistent: a correct instance is inactive at the first poll.
            judgement: Judgement {
                deadline: Duration::from_millis(300),
                poll_interval: Duration::from_millis(5),
                ..Judgement::default()
            },
            retry: Backoff::constant(3, Duration::from_millis(10)),
            retry_on: RetryOn::Infrastructure,
            // Generous: a slow machine must never make the clean case fail (a pbkdf2
            // verification, 100,000 rounds, takes over a second in a debug build on a
            // loaded 2-core machine). The latency case sets its own short timeout.
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// One case of the canary: a fault, and the checks that must catch it.
#[derive(Clone, Debug)]
struct Case {
    fault: String,
    expected: Vec<&'static str>,
    /// Some faults are only visible against a shorter request timeout.
    request_timeout: Option<Duration>,
}

/// A check that failed in a case, and how.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Catch {
    pub check: String,
    pub class: FailureClass,
}

#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// The `--fault` spec, or "none" for the clean reference.
    pub fault: String,
    /// The checks that must catch it (none for the clean case).
    pub expected: Vec<String>,
    /// Every check that failed, with its class.
    pub caught_by: Vec<Catch>,
    /// Expected checks that did not fail.
    pub missed: Vec<String>,
    pub duration_ms: f64,
    /// Set when the case could not run at all.
    pub error: Option<String>,
}

impl CaseResult {
    fn clean(&self) -> bool {
        self.fault == "none"
    }

    /// The clean case raised nothing; a fault was caught by every check that names it.
    pub fn passed(&self) -> bool {
        self.error.is_none() && if self.clean() { self.caught_by.is_empty() } else { self.missed.is_empty() }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CanaryReport {
    pub cases: Vec<CaseResult>,
    pub duration_ms: f64,
}

impl CanaryReport {
    pub fn passed(&self) -> bool {
        self.cases.iter().all(CaseResult::passed)
    }

    /// One phrase per case that did not pass.
    pub fn problems(&self) -> Vec<String> {
        self.cases
            .iter()
            .filter(|c| !c.passed())
            .map(|c| match (&c.error, c.clean()) {
                (Some(e), _) => format!("{}: could not run: {e}", c.fault),
                (None, true) => format!(
                    "false alarm on the clean reference: {}",
                    c.caught_by
                        .iter()
                        .map(|x| format!("{} [{}]", x.check, x.class))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                (None, false) => format!("fault {} escaped {}", c.fault, c.missed.join(", ")),
            })
            .collect()
    }
}

/// The clean case, one case per fault a check names (the checks naming it
/// must catch it), and the faults no single check owns: a lag, errors, latency.
fn cases(options: &CanaryOptions) -> Vec<Case> {
    let mut cases = vec![Case { fault: "none".into(), expected: vec![], request_timeout: None }];
    for spec in catalog::all() {
        for fault in spec.faults() {
            match cases.iter_mut().find(|c| c.fault == fault) {
                Some(case) => case.expected.push(spec.id),
                None => {
                    cases.push(Case { fault: fault.into(), expected: vec![spec.id], request_timeout: None })
                }
            }
        }
    }
    let short = Duration::from_millis(100);
    cases.extend([
        Case { fault: "revocation-lag=1s".into(), expected: vec![catalog::CROSS.id], request_timeout: None },
        Case { fault: "error-rate=1".into(), expected: vec![catalog::SMOKE.id], request_timeout: None },
        Case {
            fault: format!("latency={}ms", short.as_millis() * 3),
            expected: vec![catalog::SMOKE.id],
            request_timeout: Some(short.min(options.request_timeout)),
        },
    ]);
    cases
}

pub async fn run(options: &CanaryOptions, reporter: Reporter) -> CanaryReport {
    let started = Instant::now();
    let cases = cases(options);
    let mut progress = reporter.steps(cases.len() as u64, "canary");
    let mut results: Vec<(usize, CaseResult)> = stream::iter(cases.into_iter().enumerate())
        .map(|(i, case)| async move { (i, run_case(options, case).await) })
        .buffer_unordered(options.parallel.max(1))
        .inspect(|(_, result)| {
            let caught = if result.caught_by.is_empty() {
                "nothing failed".to_string()
            } else {
                format!("caught by {}", names(&result.caught_by))
            };
            let warning = (!result.passed()).then(|| format!("{}: not as expected", result.fault));
            progress.step(&result.fault, &caught, warning.as_deref());
        })
        .collect()
        .await;
    progress.finish();
    results.sort_by_key(|(i, _)| *i);
    CanaryReport {
        cases: results.into_iter().map(|(_, r)| r).collect(),
        duration_ms: millis(started.elapsed()),
    }
}

/// The first few catches ("a [stale-read], b [contract] and 3 more").
fn names(caught: &[Catch]) -> String {
    const SHOWN: usize = 4;
    let mut text = caught
        .iter()
        .take(SHOWN)
        .map(|c| format!("{} [{}]", c.check, c.class))
        .collect::<Vec<_>>()
        .join(", ");
    if caught.len() > SHOWN {
        text += &format!(" and {} more", caught.len() - SHOWN);
    }
    text
}

async fn run_case(options: &CanaryOptions, case: Case) -> CaseResult {
    let started = Instant::now();
    let mut result = CaseResult {
        fault: case.fault.clone(),
        expected: case.expected.iter().map(|s| s.to_string()).collect(),
        caught_by: Vec::new(),
        missed: Vec::new(),
        duration_ms: 0.0,
        error: None,
    };
    let faults = if case.fault == "none" { Ok(Faults::default()) } else { Faults::parse_all(&[&case.fault]) };
    let caught = match faults {
        Err(e) => Err(format!("bad fault spec: {e}")),
        Ok(faults) => catches(options, faults, case.request_timeout).await,
    };
    match caught {
        Ok(caught) => {
            result.missed = case
                .expected
                .iter()
                .filter(|id| !caught.iter().any(|c| c.check == **id))
                .map(|id| id.to_string())
                .collect();
            result.caught_by = caught;
        }
        Err(e) => result.error = Some(e),
    }
    result.duration_ms = millis(started.elapsed());
    result
}

/// Runs the scenarios on fresh embedded instances with `faults`; every failed check.
async fn catches(
    options: &CanaryOptions,
    faults: Faults,
    request_timeout: Option<Duration>,
) -> Result<Vec<Catch>, String> {
    let spec = StackSpec::Local(Box::new(LocalOptions {
        credentials: Credentials::default(),
        faults,
        seed: Some(1),
        hash_cost: HashCost::Minimal,
        flavor: Default::default(),
        mongo_uri: None,
        instances: crate::stack::DEFAULT_INSTANCES,
    }));
    let life = StackLife::start(spec, "canary", options.request_timeout, Reporter::plain())
        .await
        .map_err(|failure| failure.error.to_string())?;
    let clock = Clock::start();
    let ctx = TraceContext::new(clock);
    let client_options = ClientOptions {
        credentials: Credentials::default(),
        request_timeout: request_timeout.unwrap_or(options.request_timeout),
        pacer: Default::default(),
    };
    let endpoints = life.stack().endpoints();
    let clients = endpoints.clients(&client_options, &ctx);
    let mut caught = Vec::new();
    let catch = |spec: &CheckSpec, class: Option<FailureClass>| Catch {
        check: spec.id.to_string(),
        class: class.unwrap_or(FailureClass::Unknown),
    };

    let (report, _) = immediacy::run_with_retries(
        &clients[0],
        &options.judgement,
        options.retry,
        options.retry_on,
        &clock,
        |_, _| {},
    )
    .await;
    if !report.success {
        caught.push(catch(&catalog::SMOKE, report.class));
    }
    let suite = suite::run_suite(
        &clients[0],
        &endpoints.store,
        &options.judgement,
        crate::contract::DialectChoice::Go,
    )
    .await;
    for check in suite.checks.iter().filter(|c| c.status == suite::CheckStatus::Fail) {
        caught.push(Catch { check: check.name.clone(), class: check.class.unwrap_or(FailureClass::Unknown) });
    }
    let schedule = cross::Schedule::new(options.iterations, None, options.iterations as usize, None);
    let mut iterations = Vec::new();
    cross::run_iterations(
        &clients,
        &options.judgement,
        &clock,
        &schedule,
        |_| async {},
        |it| iterations.push(it.result),
    )
    .await;
    if let Some(failed) = iterations.iter().find(|r| !r.success) {
        caught.push(catch(&catalog::CROSS, failed.class));
    }
    // The embedded stack has nothing to leave behind: no cleanup warning to say.
    life.end(Reporter::plain()).await;
    Ok(caught)
}

/// The detection table: fault → what caught it → class → verdict.
pub fn render_table(report: &CanaryReport) -> String {
    let rows: Vec<(String, String, &str)> = report
        .cases
        .iter()
        .map(|c| {
            let fault = if c.clean() { "none (clean reference)".to_string() } else { c.fault.clone() };
            let caught = match (&c.error, c.caught_by.is_empty()) {
                (Some(e), _) => format!("could not run: {e}"),
                (None, true) => "nothing".to_string(),
                (None, false) => names(&c.caught_by),
            };
            let verdict = match (c.passed(), c.clean()) {
                (true, _) => "ok",
                (false, true) => "FALSE ALARM",
                (false, false) if c.error.is_some() => "ERROR",
                (false, false) => "ESCAPED",
            };
            (fault, caught, verdict)
        })
        .collect();
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:width$}  {:9}  caught by [class]\n", "fault", "verdict");
    for (fault, caught, verdict) in &rows {
        out += &format!("{fault:width$}  {verdict:9}  {caught}\n");
    }
    for c in report.cases.iter().filter(|c| !c.missed.is_empty()) {
        out += &format!("  {} was not caught by {}\n", c.fault, c.missed.join(", "));
    }
    let failed = report.cases.iter().filter(|c| !c.passed()).count();
    out += &format!(
        "canary: {} case(s), {} not as expected, {:.1} s\n",
        report.cases.len(),
        failed,
        report.duration_ms / 1000.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_the_expected_catcher_of_some_case() {
        let cases = cases(&CanaryOptions::default());
        assert_eq!(cases[0].fault, "none");
        for spec in catalog::all() {
            for fault in spec.faults() {
                let case = cases.iter().find(|c| c.fault == fault).expect("a case per fault");
                assert!(case.expected.contains(&spec.id), "{} {fault}", spec.id);
            }
        }
        for case in &cases[1..] {
            assert!(!case.expected.is_empty(), "{}", case.fault);
            assert!(Faults::parse_all(&[&case.fault]).is_ok(), "{}", case.fault);
        }
    }

    #[test]
    fn a_case_passes_only_as_expected() {
        let result = |fault: &str, caught: Vec<Catch>, missed: Vec<String>| CaseResult {
            fault: fault.into(),
            expected: vec![],
            caught_by: caught,
            missed,
            duration_ms: 0.0,
            error: None,
        };
        let stale = || Catch { check: "x".into(), class: FailureClass::StaleRead };
        assert!(result("none", vec![], vec![]).passed());
        assert!(!result("none", vec![stale()], vec![]).passed(), "a false alarm");
        assert!(result("stale-once", vec![stale()], vec![]).passed());
        assert!(!result("stale-once", vec![], vec!["revocation_immediacy".into()]).passed(), "escaped");
        let report = CanaryReport {
            cases: vec![result("none", vec![stale()], vec![]), result("f", vec![], vec!["c".into()])],
            duration_ms: 1.0,
        };
        assert_eq!(
            report.problems(),
            ["false alarm on the clean reference: x [stale-read]", "fault f escaped c"]
        );
        let table = render_table(&report);
        assert!(table.contains("FALSE ALARM") && table.contains("ESCAPED"), "{table}");
    }
}
