//! `parity run --junit FILE`: the run as JUnit XML, one test suite per
//! scenario group. The smoke's reruns follow Maven Surefire, which CI test
//! reporters understand: a pass after failures is a passing test case with a
//! `<flakyFailure>` per failed attempt; failing every attempt is a
//! `<failure>` (the first attempt) plus a `<rerunFailure>` per rerun.

use super::xml::XmlWriter;
use crate::artifacts::SmokeSummary;
use crate::scenario::catalog;
use crate::scenario::cross::IterationResult;
use crate::scenario::suite::{CheckRecord, CheckStatus};
use crate::verdict::{Coverage, FailureClass};

pub const SMOKE_SUITE: &str = "revocation-immediacy";
pub const CONTRACT_SUITE: &str = "contract";
pub const CROSS_SUITE: &str = "cross-instance";
pub const SMOKE_CASE: &str = "node parity smoke";

/// Longest `message` attribute; the whole text goes in the element body.
const MESSAGE_MAX: usize = 300;

/// One try of the smoke.
#[derive(Clone, Debug, PartialEq)]
pub struct SmokeAttempt {
    pub attempt: u32,
    pub passed: bool,
    pub class: Option<FailureClass>,
    pub reason: Option<String>,
    pub duration_ms: u64,
    pub revoke_status: Option<u16>,
    pub latency_ms: Option<f64>,
    pub stale_reads: u32,
    pub polls: u32,
}

/// What the run found; an empty slice or `None` where a scenario did not run.
pub struct JunitInput<'a> {
    /// When the run started, RFC 3339.
    pub timestamp: &'a str,
    /// What was tested: every suite carries it as properties.
    pub coverage: &'a Coverage,
    pub smoke: Option<&'a SmokeSummary>,
    pub smoke_attempts: &'a [SmokeAttempt],
    pub checks: &'a [CheckRecord],
    pub cross: &'a [IterationResult],
    /// Why scenarios did not run (stack never ready, interrupted), if they did not.
    pub errors: &'a [String],
}

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    time_s: f64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.time_s += other.time_s;
    }

    fn attrs(&self, name: &str, timestamp: &str) -> Vec<(&'static str, String)> {
        vec![
            ("name", name.to_string()),
            ("tests", self.tests.to_string()),
            ("failures", self.failures.to_string()),
            ("errors", self.errors.to_string()),
            ("skipped", self.skipped.to_string()),
            ("time", seconds(self.time_s * 1000.0)),
            ("timestamp", timestamp.to_string()),
        ]
    }
}

pub fn render(input: &JunitInput<'_>) -> String {
    let smoke = smoke_counts(input);
    let contract = contract_counts(input.checks);
    let cross_not_run = cross_not_run(input.coverage);
    let cross = cross_counts(input.cross, cross_not_run);
    let mut total = Counts::default();
    for c in [&smoke, &contract, &cross] {
        total.add(c);
    }
    let mut w = XmlWriter::default();
    w.open("testsuites", &total.attrs("webprofile-parity", input.timestamp));

    w.open("testsuite", &smoke.attrs(SMOKE_SUITE, input.timestamp));
    coverage_properties(&mut w, input.coverage);
    smoke_case(&mut w, input);
    w.close();

    w.open("testsuite", &contract.attrs(CONTRACT_SUITE, input.timestamp));
    coverage_properties(&mut w, input.coverage);
    for check in input.checks {
        check_case(&mut w, check);
    }
    w.close();

    w.open("testsuite", &cross.attrs(CROSS_SUITE, input.timestamp));
    coverage_properties(&mut w, input.coverage);
    for iteration in input.cross {
        iteration_case(&mut w, iteration);
    }
    if let (true, Some(why)) = (input.cross.is_empty(), cross_not_run) {
        let attrs = [("classname", CROSS_SUITE.to_string()), ("name", catalog::CROSS.id.to_string())];
        w.open("testcase", &attrs);
        w.empty("skipped", &[("message", message(&format!("not run: {why}")))]);
        w.close();
    }
    w.close();
    w.finish()
}

fn smoke_counts(input: &JunitInput<'_>) -> Counts {
    let time_s = input.smoke_attempts.iter().map(|a| a.duration_ms as f64).sum::<f64>() / 1000.0;
    match input.smoke {
        Some(s) => Counts { tests: 1, failures: usize::from(!s.success), time_s, ..Counts::default() },
        None => Counts { tests: 1, errors: 1, ..Counts::default() },
    }
}

fn contract_counts(checks: &[CheckRecord]) -> Counts {
    let count = |status| checks.iter().filter(|c| c.status == status).count();
    Counts {
        tests: checks.len(),
        failures: count(CheckStatus::Fail),
        skipped: count(CheckStatus::Skip),
        time_s: checks.iter().map(|c| c.duration_ms).sum::<f64>() / 1000.0,
        ..Counts::default()
    }
}

fn cross_counts(iterations: &[IterationResult], not_run: Option<&str>) -> Counts {
    Counts {
        tests: iterations.len().max(usize::from(not_run.is_some())),
        failures: iterations.iter().filter(|i| !i.success).count(),
        skipped: usize::from(iterations.is_empty() && not_run.is_some()),
        time_s: iterations.iter().map(|i| i.duration_ms).sum::<f64>() / 1000.0,
        ..Counts::default()
    }
}

/// Why the cross-instance iterations did not run, if none did.
fn cross_not_run(coverage: &Coverage) -> Option<&str> {
    coverage.not_run.iter().find(|n| n.starts_with("cross-instance")).map(String::as_str)
}

/// Backend, targets, images and counts: what every suite was run against.
fn coverage_properties(w: &mut XmlWriter, coverage: &Coverage) {
    w.open("properties", &[]);
    let mut property = |name: &str, value: String| {
        w.empty("property", &[("name", name.to_string()), ("value", value)]);
    };
    property("backend", coverage.backend.clone());
    property("targets", coverage.targets.join(" "));
    if !coverage.images.is_empty() {
        property("images", coverage.images.join(" "));
    }
    property("exchanges", coverage.exchanges.to_string());
    for not_run in &coverage.not_run {
        property("not_run", not_run.clone());
    }
    w.close();
}

fn smoke_case(w: &mut XmlWriter, input: &JunitInput<'_>) {
    let total_ms = input.smoke_attempts.iter().map(|a| a.duration_ms as f64).sum::<f64>();
    let attrs = vec![
        ("classname", SMOKE_SUITE.to_string()),
        ("name", SMOKE_CASE.to_string()),
        ("time", seconds(total_ms)),
    ];
    let class_of = |a: &SmokeAttempt| a.class.map_or_else(|| SMOKE_SUITE.to_string(), |c| c.to_string());
    let Some(summary) = input.smoke else {
        w.open("testcase", &attrs);
        let why = input.errors.first().map_or("the smoke did not run", String::as_str);
        w.text("error", &[("message", message(&format!("not run: {why}"))), ("type", "not_run".into())], why);
        w.close();
        return;
    };
    w.open("testcase", &attrs);
    clause_property(w, catalog::SMOKE.id, catalog::SMOKE.clause);
    let failed: Vec<&SmokeAttempt> = input.smoke_attempts.iter().filter(|a| !a.passed).collect();
    if summary.success {
        for attempt in failed {
            attempt_element(w, "flakyFailure", attempt, &class_of(attempt));
        }
    } else if let Some((first, reruns)) = failed.split_first() {
        w.text(
            "failure",
            &[("message", message(&attempt_message(first))), ("type", class_of(first))],
            &attempt_detail(first),
        );
        for attempt in reruns {
            attempt_element(w, "rerunFailure", attempt, &class_of(attempt));
        }
    } else {
        let reason = summary.reason.clone().unwrap_or_else(|| "the smoke failed".into());
        let class = summary.class.map_or_else(|| SMOKE_SUITE.to_string(), |c| c.to_string());
        w.text("failure", &[("message", message(&reason)), ("type", class)], &reason);
    }
    let out = format!(
        "{} after {} attempt(s){}; every attempt's trace is in node.parity.out\n",
        if summary.success { "passed" } else { "failed" },
        summary.attempts,
        if summary.flaky { " (flaky)" } else { "" }
    );
    w.text("system-out", &[], &out);
    w.close();
}

/// `<flakyFailure>` / `<rerunFailure>`: Surefire puts the detail in `<stackTrace>`.
fn attempt_element(w: &mut XmlWriter, name: &'static str, attempt: &SmokeAttempt, class: &str) {
    w.open(name, &[("message", message(&attempt_message(attempt))), ("type", class.to_string())]);
    w.text("stackTrace", &[], &attempt_detail(attempt));
    w.close();
}

/// The check's id and the clause it enforces, as testcase properties.
fn clause_property(w: &mut XmlWriter, id: &str, clause: &str) {
    w.open("properties", &[]);
    w.empty("property", &[("name", "check".to_string()), ("value", id.to_string())]);
    w.empty("property", &[("name", "clause".to_string()), ("value", clause.to_string())]);
    w.close();
}

fn attempt_message(attempt: &SmokeAttempt) -> String {
    format!("attempt {}: {}", attempt.attempt, attempt.reason.as_deref().unwrap_or("failed"))
}

fn attempt_detail(a: &SmokeAttempt) -> String {
    format!(
        "attempt {}: {}\nclass: {}\nrevoke status: {}\nlatency_ms: {}\nstale_reads: {}\npolls: {}\nduration_ms: {}\n",
        a.attempt,
        a.reason.as_deref().unwrap_or("failed"),
        a.class.map_or("unknown", FailureClass::as_str),
        a.revoke_status.map_or_else(|| "none".to_string(), |s| s.to_string()),
        a.latency_ms.map_or_else(|| "none".to_string(), |l| format!("{l:.3}")),
        a.stale_reads,
        a.polls,
        a.duration_ms
    )
}

fn check_case(w: &mut XmlWriter, check: &CheckRecord) {
    let attrs = [
        ("classname", CONTRACT_SUITE.to_string()),
        ("name", check.name.clone()),
        ("time", seconds(check.duration_ms)),
    ];
    let detail = check.detail.as_deref().unwrap_or("");
    w.open("testcase", &attrs);
    clause_property(w, &check.name, &check.clause);
    match check.status {
        CheckStatus::Pass => {}
        CheckStatus::Skip => w.empty("skipped", &[("message", message(detail))]),
        CheckStatus::Fail => {
            let class = check.class.unwrap_or(FailureClass::Unknown).to_string();
            w.text("failure", &[("message", message(detail)), ("type", class)], detail);
        }
    }
    w.close();
}

fn iteration_case(w: &mut XmlWriter, it: &IterationResult) {
    w.open(
        "testcase",
        &[
            ("classname", CROSS_SUITE.to_string()),
            ("name", format!("iteration {}", it.iteration)),
            ("time", seconds(it.duration_ms)),
        ],
    );
    w.open("properties", &[]);
    let mut property = |name: &str, value: String| {
        w.empty("property", &[("name", name.to_string()), ("value", value)]);
    };
    if let Some(latency) = it.latency_ms {
        property("latency_ms", format!("{latency:.3}"));
    }
    property("check", catalog::CROSS.id.to_string());
    property("clause", catalog::CROSS.clause.to_string());
    property("stale_reads", it.stale_reads.to_string());
    property("polls", it.polls.to_string());
    if let Some(status) = it.revoke_status {
        property("revoke_status", status.to_string());
    }
    w.close();
    if !it.success {
        let reason = it.reason.as_deref().unwrap_or("the iteration failed");
        let body = format!(
            "{reason}\nsee cross-instance-iter-{n}.out and cross-instance-introspect-iter-{n}.raw\n",
            n = it.iteration
        );
        let class = it.class.unwrap_or(FailureClass::Unknown).to_string();
        w.text("failure", &[("message", message(reason)), ("type", class)], &body);
    }
    let latency = it.latency_ms.map_or_else(|| "none".to_string(), |l| format!("{l:.3}"));
    w.text(
        "system-out",
        &[],
        &format!("latency_ms={latency} stale_reads={} polls={}\n", it.stale_reads, it.polls),
    );
    w.close();
}

/// The first line, at most [`MESSAGE_MAX`] characters.
fn message(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= MESSAGE_MAX {
        return line.to_string();
    }
    line.chars().take(MESSAGE_MAX - 1).chain(['…']).collect()
}

/// Milliseconds as JUnit's seconds, three decimals.
fn seconds(ms: f64) -> String {
    format!("{:.3}", ms.max(0.0) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(n: u32, passed: bool) -> SmokeAttempt {
        SmokeAttempt {
            attempt: n,
            passed,
            class: (!passed).then_some(FailureClass::Infrastructure),
            reason: (!passed).then(|| format!("revoke answered 503 <&> on try {n}")),
            duration_ms: 12,
            revoke_status: Some(if passed { 204 } else { 503 }),
            latency_ms: passed.then_some(1.5),
            stale_reads: 0,
            polls: 1,
        }
    }

    fn check(name: &str, status: CheckStatus, detail: Option<&str>) -> CheckRecord {
        CheckRecord {
            name: name.into(),
            clause: "webprofile-api.md §x".into(),
            status,
            class: (status == CheckStatus::Fail).then_some(FailureClass::Contract),
            duration_ms: 3.0,
            detail: detail.map(String::from),
        }
    }

    fn iteration(n: u32, success: bool) -> IterationResult {
        IterationResult {
            iteration: n,
            success,
            reason: (!success).then(|| "stale read: active:true after the revoke returned".into()),
            revoke_status: Some(204),
            last: None,
            class: (!success).then_some(FailureClass::StaleRead),
            latency_ms: Some(300.25),
            stale_reads: u32::from(!success) * 4,
            polls: 5,
            user_id: "u".into(),
            token_id: None,
            started_at: "2024-01-01T00:00:00Z".into(),
            duration_ms: 310.0,
        }
    }

    fn render_with(smoke: SmokeSummary, attempts: &[SmokeAttempt]) -> String {
        let checks = [
            check("create_shape", CheckStatus::Pass, None),
            check("seeded_bcrypt_token_active", CheckStatus::Skip, Some("no store access")),
            check("bad_id_400", CheckStatus::Fail, Some("expected 400, got 500\nbody: <html>")),
        ];
        let cross = [iteration(1, true), iteration(2, false)];
        render(&JunitInput {
            timestamp: "2024-01-01T00:00:00.000Z",
            coverage: &Coverage { backend: "local".into(), ..Coverage::default() },
            smoke: Some(&smoke),
            smoke_attempts: attempts,
            checks: &checks,
            cross: &cross,
            errors: &[],
        })
    }

    fn suite<'a>(doc: &'a roxmltree::Document<'a>, name: &str) -> roxmltree::Node<'a, 'a> {
        doc.descendants().find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some(name)).unwrap()
    }

    #[test]
    fn suites_count_checks_and_iterations() {
        let smoke = SmokeSummary {
            success: true,
            attempts: 1,
            flaky: false,
            latency_ms: Some(1.5),
            ..SmokeSummary::default()
        };
        let xml = render_with(smoke, &[attempt(1, true)]);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!((root.attribute("tests"), root.attribute("failures")), (Some("6"), Some("2")));
        let contract = suite(&doc, CONTRACT_SUITE);
        assert_eq!(
            (contract.attribute("tests"), contract.attribute("failures"), contract.attribute("skipped")),
            (Some("3"), Some("1"), Some("1"))
        );
        let skipped = contract.descendants().find(|n| n.has_tag_name("skipped")).unwrap();
        assert_eq!(skipped.attribute("message"), Some("no store access"));
        let failure = contract.descendants().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.attribute("message"), Some("expected 400, got 500"));
        assert_eq!(failure.attribute("type"), Some("contract"));
        assert_eq!(failure.text(), Some("expected 400, got 500\nbody: <html>"));
        let cross = suite(&doc, CROSS_SUITE);
        assert_eq!((cross.attribute("tests"), cross.attribute("failures")), (Some("2"), Some("1")));
        let second = cross.children().filter(|n| n.has_tag_name("testcase")).nth(1).unwrap();
        assert_eq!(second.attribute("name"), Some("iteration 2"));
        assert_eq!(second.attribute("time"), Some("0.310"));
        let props: Vec<(&str, &str)> = second
            .descendants()
            .filter(|n| n.has_tag_name("property"))
            .map(|p| (p.attribute("name").unwrap(), p.attribute("value").unwrap()))
            .collect();
        assert!(
            props.contains(&("latency_ms", "300.250")) && props.contains(&("stale_reads", "4")),
            "{props:?}"
        );
        let failure = second.descendants().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.attribute("type"), Some("stale-read"));
        assert!(props.contains(&("check", "cross_instance_immediacy")), "{props:?}");
        assert!(!xml.contains("flakyFailure"));
    }

    #[test]
    fn cross_instance_not_run_is_a_skipped_case_never_a_pass() {
        let coverage = Coverage {
            backend: "local".into(),
            not_run: vec!["cross-instance: --iterations 0".into()],
            ..Coverage::default()
        };
        let smoke = SmokeSummary { success: true, attempts: 1, ..SmokeSummary::default() };
        let xml = render(&JunitInput {
            timestamp: "t",
            coverage: &coverage,
            smoke: Some(&smoke),
            smoke_attempts: &[attempt(1, true)],
            checks: &[],
            cross: &[],
            errors: &[],
        });
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let cross = suite(&doc, CROSS_SUITE);
        assert_eq!((cross.attribute("tests"), cross.attribute("skipped")), (Some("1"), Some("1")));
        let skipped = cross.descendants().find(|n| n.has_tag_name("skipped")).unwrap();
        assert_eq!(skipped.attribute("message"), Some("not run: cross-instance: --iterations 0"));
        assert!(cross.descendants().any(|n| n.attribute("name") == Some("not_run")));
    }

    #[test]
    fn a_flaky_smoke_passes_with_a_flaky_failure_per_failed_attempt() {
        let smoke = SmokeSummary {
            success: true,
            attempts: 3,
            flaky: true,
            latency_ms: Some(1.5),
            ..SmokeSummary::default()
        };
        let xml = render_with(smoke, &[attempt(1, false), attempt(2, false), attempt(3, true)]);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let smoke = suite(&doc, SMOKE_SUITE);
        assert_eq!((smoke.attribute("tests"), smoke.attribute("failures")), (Some("1"), Some("0")));
        let case = smoke.children().find(|n| n.has_tag_name("testcase")).unwrap();
        let flaky: Vec<_> = case.children().filter(|n| n.has_tag_name("flakyFailure")).collect();
        assert_eq!(flaky.len(), 2);
        assert_eq!(flaky[0].attribute("message"), Some("attempt 1: revoke answered 503 <&> on try 1"));
        assert!(flaky[1].descendants().any(|n| n.has_tag_name("stackTrace")));
        assert!(!case.children().any(|n| n.has_tag_name("failure") || n.has_tag_name("rerunFailure")));
    }

    #[test]
    fn failing_every_attempt_is_a_failure_and_rerun_failures() {
        let smoke = SmokeSummary {
            success: false,
            attempts: 2,
            reason: Some("x".into()),
            class: Some(FailureClass::Infrastructure),
            ..SmokeSummary::default()
        };
        let xml = render_with(smoke, &[attempt(1, false), attempt(2, false)]);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let case = suite(&doc, SMOKE_SUITE).children().find(|n| n.has_tag_name("testcase")).unwrap();
        let names: Vec<&str> =
            case.children().filter(|n| n.is_element()).map(|n| n.tag_name().name()).collect();
        assert_eq!(names, ["properties", "failure", "rerunFailure", "system-out"]);
    }

    #[test]
    fn a_smoke_that_never_ran_is_an_error() {
        let errors = ["the stack never became ready: instance-1 did not answer".to_string()];
        let xml = render(&JunitInput {
            timestamp: "t",
            coverage: &Coverage::default(),
            smoke: None,
            smoke_attempts: &[],
            checks: &[],
            cross: &[],
            errors: &errors,
        });
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        assert_eq!(doc.root_element().attribute("errors"), Some("1"));
        let error = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
        assert!(error.attribute("message").unwrap().starts_with("not run: the stack never became ready"));
    }
}
