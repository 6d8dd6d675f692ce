//! `parity run --junit FILE`: the run as JUnit XML (written by `quick-junit`,
//! nextest's own), one test suite per scenario group. The smoke's reruns
//! follow Maven Surefire, which CI test reporters understand: a pass after
//! failures is a passing test case with a `<flakyFailure>` per failed
//! attempt; failing every attempt is a `<failure>` (the first attempt) plus a
//! `<rerunFailure>` per rerun. Every failure's `type` is its class.

use crate::analysis::SmokeSummary;
use crate::scenario::catalog;
use crate::scenario::cross::IterationResult;
use crate::scenario::suite::{CheckRecord, CheckStatus};
use crate::verdict::{Coverage, FailureClass, SignatureCount};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};
use std::time::Duration;

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
    /// The failures' signatures (`analysis.json`): each failed case names its own.
    pub signatures: &'a [SignatureCount],
}

pub fn render(input: &JunitInput<'_>) -> String {
    let timestamp = chrono::DateTime::parse_from_rfc3339(input.timestamp).ok();
    let suite = |name: &str| {
        let mut suite = TestSuite::new(name);
        if let Some(at) = timestamp {
            suite.set_timestamp(at);
        }
        suite.add_properties(coverage_properties(input.coverage));
        suite
    };
    let mut smoke = suite(SMOKE_SUITE);
    let mut smoke_case = smoke_case(input);
    smoke_case.add_properties(signature_properties(input.signatures, "the smoke"));
    smoke.add_test_case(smoke_case);
    let mut contract = suite(CONTRACT_SUITE);
    contract.add_test_cases(input.checks.iter().map(|check| {
        let mut case = check_case(check);
        case.add_properties(signature_properties(input.signatures, &format!("check {}", check.name)));
        case
    }));
    let mut cross = suite(CROSS_SUITE);
    cross.add_test_cases(input.cross.iter().map(iteration_case));
    let not_run = input.coverage.not_run.iter().find(|n| n.starts_with("cross-instance"));
    if let (true, Some(why)) = (input.cross.is_empty(), not_run) {
        let mut status = TestCaseStatus::skipped();
        status.set_message(message(&format!("not run: {why}")));
        let mut case = TestCase::new(catalog::CROSS.id, status);
        case.set_classname(CROSS_SUITE);
        cross.add_test_case(case);
    }
    let mut report = Report::new("webprofile-parity");
    if let Some(at) = timestamp {
        report.set_timestamp(at);
    }
    report.add_test_suites([smoke, contract, cross]);
    report.to_string().expect("JUnit XML of plain strings serializes")
}

/// Backend, targets, images and counts: what every suite was run against.
fn coverage_properties(coverage: &Coverage) -> Vec<Property> {
    let mut properties = vec![
        Property::new("backend", coverage.backend.as_str()),
        Property::new("targets", coverage.targets.join(" ")),
    ];
    if !coverage.images.is_empty() {
        properties.push(Property::new("images", coverage.images.join(" ")));
    }
    properties.push(Property::new("exchanges", coverage.exchanges.to_string()));
    properties.extend(coverage.not_run.iter().map(|n| Property::new("not_run", n.as_str())));
    properties.extend(coverage.relaxations.iter().map(|r| Property::new("relaxation", r.as_str())));
    properties
}

/// The check's id and the clause it enforces.
/// A `signature` property (`<id> [<class>] <what>`) for each signature first seen at `place`.
fn signature_properties(signatures: &[SignatureCount], place: &str) -> Vec<Property> {
    signatures
        .iter()
        .filter(|s| s.first.as_deref() == Some(place))
        .map(|s| Property::new("signature", s.signature.to_string()))
        .collect()
}

fn clause_properties(id: &str, clause: &str) -> [Property; 2] {
    [Property::new("check", id), Property::new("clause", clause)]
}

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

fn smoke_case(input: &JunitInput<'_>) -> TestCase {
    let total_ms = input.smoke_attempts.iter().map(|a| a.duration_ms as f64).sum::<f64>();
    let class_of = |a: &SmokeAttempt| a.class.map_or_else(|| SMOKE_SUITE.to_string(), |c| c.to_string());
    let status = match input.smoke {
        None => {
            let why = input.errors.first().map_or("the smoke did not run", String::as_str);
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(message(&format!("not run: {why}"))).set_type("not_run").set_description(why);
            status
        }
        Some(summary) => {
            let failed: Vec<&SmokeAttempt> = input.smoke_attempts.iter().filter(|a| !a.passed).collect();
            if summary.success {
                let mut status = TestCaseStatus::success();
                status.add_reruns(failed.iter().map(|a| rerun(a, &class_of(a))));
                status
            } else {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                match failed.split_first() {
                    Some((first, reruns)) => {
                        status
                            .set_message(message(&attempt_message(first)))
                            .set_type(class_of(first))
                            .set_description(attempt_detail(first));
                        status.add_reruns(reruns.iter().map(|a| rerun(a, &class_of(a))));
                    }
                    None => {
                        let reason = summary.reason.clone().unwrap_or_else(|| "the smoke failed".into());
                        let class = summary.class.map_or_else(|| SMOKE_SUITE.to_string(), |c| c.to_string());
                        status.set_message(message(&reason)).set_type(class).set_description(reason);
                    }
                }
                status
            }
        }
    };
    let mut case = TestCase::new(SMOKE_CASE, status);
    case.set_classname(SMOKE_SUITE).set_time(millis(total_ms));
    case.add_properties(clause_properties(catalog::SMOKE.id, catalog::SMOKE.clause));
    if let Some(summary) = input.smoke {
        case.set_system_out(format!(
            "{} after {} attempt(s){}; every attempt's trace is in node.parity.out\n",
            if summary.success { "passed" } else { "failed" },
            summary.attempts,
            if summary.flaky { " (flaky)" } else { "" }
        ));
    }
    case
}

/// A `<flakyFailure>` or `<rerunFailure>`: Surefire puts the detail in `<stackTrace>`.
fn rerun(attempt: &SmokeAttempt, class: &str) -> TestRerun {
    let mut rerun = TestRerun::new(NonSuccessKind::Failure);
    rerun
        .set_message(message(&attempt_message(attempt)))
        .set_type(class)
        .set_stack_trace(attempt_detail(attempt));
    rerun.set_time(Duration::from_millis(attempt.duration_ms));
    rerun
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

fn check_case(check: &CheckRecord) -> TestCase {
    let detail = check.detail.as_deref().unwrap_or("");
    let status = match check.status {
        CheckStatus::Pass => TestCaseStatus::success(),
        CheckStatus::Skip => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(message(detail));
            status
        }
        CheckStatus::Fail => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let class = check.class.unwrap_or(FailureClass::Unknown).to_string();
            status.set_message(message(detail)).set_type(class).set_description(detail);
            status
        }
    };
    let mut case = TestCase::new(check.name.as_str(), status);
    case.set_classname(CONTRACT_SUITE).set_time(millis(check.duration_ms));
    case.add_properties(clause_properties(&check.name, &check.clause));
    case
}

fn iteration_case(it: &IterationResult) -> TestCase {
    let status = if it.success {
        TestCaseStatus::success()
    } else {
        let reason = it.reason.as_deref().unwrap_or("the iteration failed");
        let body = format!(
            "{reason}\nsee cross-instance-iter-{n}.out and cross-instance-introspect-iter-{n}.raw\n",
            n = it.iteration
        );
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        let class = it.class.unwrap_or(FailureClass::Unknown).to_string();
        status.set_message(message(reason)).set_type(class).set_description(body);
        status
    };
    let mut case = TestCase::new(format!("iteration {}", it.iteration), status);
    case.set_classname(CROSS_SUITE).set_time(millis(it.duration_ms));
    if let Some(latency) = it.latency_ms {
        case.add_property(Property::new("latency_ms", format!("{latency:.3}")));
    }
    case.add_properties(clause_properties(catalog::CROSS.id, catalog::CROSS.clause));
    let stale_reads = it.stale_reads.unwrap_or(0);
    case.add_property(Property::new("stale_reads", stale_reads.to_string()));
    case.add_property(Property::new("polls", it.polls.to_string()));
    if let Some(status) = it.revoke_status {
        case.add_property(Property::new("revoke_status", status.to_string()));
    }
    if let Some(signature) = it.signature() {
        case.add_property(Property::new("signature", signature.to_string()));
    }
    let latency = it.latency_ms.map_or_else(|| "none".to_string(), |l| format!("{l:.3}"));
    case.set_system_out(format!("latency_ms={latency} stale_reads={stale_reads} polls={}\n", it.polls));
    case
}

/// The first line, at most [`MESSAGE_MAX`] characters.
fn message(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= MESSAGE_MAX {
        return line.to_string();
    }
    crate::escape::excerpt(line, MESSAGE_MAX - 1)
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
            kind: None,
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
            stale_reads: Some(u32::from(!success) * 4),
            polls: 5,
            user_id: "u".into(),
            token_id: None,
            started_at: "2024-01-01T00:00:00Z".into(),
            duration_ms: 310.0,
            ..IterationResult::default()
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
            signatures: &[],
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
            signatures: &[],
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
            signatures: &[],
        });
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        assert_eq!(doc.root_element().attribute("errors"), Some("1"));
        let error = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
        assert!(error.attribute("message").unwrap().starts_with("not run: the stack never became ready"));
    }
}
