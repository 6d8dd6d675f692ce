//! Every renderer's output as a reviewed snapshot (`insta`): a change to what
//! a user reads shows in review as a diff of the page, not as a `contains`
//! that still holds. The inputs are fixed (a failing run as `analysis.json`
//! holds it, the collected-runs fixture set at a fixed time), so a snapshot
//! changes only when a renderer does. After an intended change:
//! `INSTA_UPDATE=always cargo test --test it snapshots`, then review the
//! `.snap` files in the diff.

use chrono::TimeZone;
use std::path::Path;
use webprofile_parity::analysis::{Analysis, RunStatus};
use webprofile_parity::flakiness::names;
use webprofile_parity::notify::message::{self, RunContext};
use webprofile_parity::report::junit::{self, JunitInput, SmokeAttempt};
use webprofile_parity::report::{outcome, run_summary};
use webprofile_parity::scenario::cross::IterationResult;
use webprofile_parity::verdict::FailureClass;

/// A strict run that failed: a security finding, a broken contract check,
/// a flaky smoke and two stale cross-instance iterations, with evidence.
fn failed_run() -> Analysis {
    serde_json::from_value(serde_json::json!({
        "status": "fail", "exit_code": 1, "strict": true,
        "verdict": "parity FAILED (1 security, 2 stale-read, 1 contract) — tested local (http://127.0.0.1:1, \
                    http://127.0.0.1:2): smoke 2 attempt(s), 3 checks, 3 cross-instance iterations — exit 1",
        "run_id": "20261207T100000Z", "backend": "local", "faults": "stale-read=node2",
        "started_at": "2026-12-07T10:00:00Z", "finished_at": "2026-12-07T10:00:09Z", "duration_ms": 9000.0,
        "coverage": {"backend": "local", "targets": ["http://127.0.0.1:1", "http://127.0.0.1:2"],
                     "smoke_attempts": 2, "checks": 3, "checks_skipped": 1, "iterations": 3, "exchanges": 57},
        "failure_classes": {"security": 1, "stale-read": 2, "contract": 1},
        "smoke": {"success": true, "attempts": 2, "flaky": true, "latency_ms": 3.25},
        "suite": {"passed": 1, "failed": 2, "skipped": 1},
        "checks": [
            {"name": "revoke_204", "clause": "revoke answers 204", "status": "pass", "duration_ms": 2.0},
            {"name": "bad_id_400", "clause": "a malformed id is 400", "status": "fail", "class": "contract",
             "duration_ms": 1.5, "detail": "expected 400, got 500 <html>"},
            {"name": "owner_scope_holds", "kind": "security", "clause": "no one revokes another's token",
             "status": "fail", "class": "security", "duration_ms": 40.0,
             "detail": "1 of 18 owner-scope attempt(s) got in: not-hex × revoke (a token revoked)"},
            {"name": "store_seeded_token", "clause": "a seeded token introspects", "status": "skip",
             "duration_ms": 0.0, "detail": "no store access"}
        ],
        "cross": {"iterations": 3, "failures": 2, "stale_reads": 9, "classes": {"stale-read": 2}},
        "evidence": {"packets": ["iteration-1", "iteration-3"], "not_written": 0},
        "tarball": "ci/webprofile-parity-20261207T100000Z.tar.gz"
    }))
    .expect("an analysis.json")
}

fn iterations() -> Vec<IterationResult> {
    serde_json::from_value(serde_json::json!([
        {"iteration": 1, "success": false, "latency_ms": 120.5, "stale_reads": 5, "polls": 6,
         "class": "stale-read", "reason": "instance2 answered active 5 time(s) after the revoke on instance1 returned",
         "duration_ms": 130.0},
        {"iteration": 2, "success": true, "latency_ms": 1.25, "stale_reads": 0, "polls": 1, "duration_ms": 9.0},
        {"iteration": 3, "success": false, "latency_ms": 80.0, "stale_reads": 4, "polls": 5,
         "class": "stale-read", "reason": "instance2 answered active 4 time(s) after the revoke on instance1 returned",
         "duration_ms": 95.0}
    ]))
    .expect("iteration results")
}

fn context() -> RunContext {
    RunContext {
        repository: Some("acme/webprofile".into()),
        run_url: Some("https://github.com/acme/webprofile/actions/runs/42".into()),
    }
}

#[test]
fn a_failed_runs_reports() {
    let run = failed_run();
    insta::assert_snapshot!("run_step_summary", run_summary::render(&run));
    insta::assert_snapshot!("run_pr_comment", message::run_markdown(&run, &context()));
    insta::assert_snapshot!("run_slack", message::run_failure_slack(&run, &context()));

    let attempts = [
        SmokeAttempt {
            attempt: 1,
            passed: false,
            class: Some(FailureClass::Infrastructure),
            reason: Some("POST /tokens: connection refused".into()),
            duration_ms: 12,
            revoke_status: None,
            latency_ms: None,
            stale_reads: 0,
            polls: 0,
        },
        SmokeAttempt {
            attempt: 2,
            passed: true,
            class: None,
            reason: None,
            duration_ms: 20,
            revoke_status: Some(204),
            latency_ms: Some(3.25),
            stale_reads: 0,
            polls: 1,
        },
    ];
    let input = JunitInput {
        timestamp: &run.started_at,
        coverage: &run.coverage,
        smoke: run.smoke.as_ref(),
        smoke_attempts: &attempts,
        checks: &run.checks,
        cross: &iterations(),
        errors: &[],
        signatures: &run.signatures,
    };
    insta::assert_snapshot!("run_junit", junit::render(&input));
}

/// The headline of every report is the one `report::outcome` says, for every status.
#[test]
fn every_report_heads_with_the_same_outcome() {
    for (status, strict, interrupted) in [
        (RunStatus::Pass, true, false),
        (RunStatus::Fail, true, false),
        (RunStatus::Fail, false, false),
        (RunStatus::Incomplete, true, false),
        (RunStatus::Error, true, false),
        (RunStatus::Error, true, true),
    ] {
        let mut run = failed_run();
        run.status = status;
        run.strict = strict;
        run.interrupted_in = interrupted.then(|| "the scenarios".to_string());
        let headline = outcome::headline(&run);
        let step_summary = run_summary::render(&run);
        let first = step_summary.lines().next().unwrap();
        assert!(
            first.contains(&format!("{} Webprofile parity: {}", headline.icon, headline.text)),
            "{first}"
        );
        let comment = message::run_markdown(&run, &context());
        assert!(comment.starts_with(&format!("### webprofile parity: {} {}", headline.icon, headline.text)));
        let slack = message::run_failure_slack(&run, &context());
        assert!(slack.starts_with(&format!(":x: *webprofile: {}*", headline.text)), "{slack}");
    }
}

#[test]
fn the_collectors_outputs_on_the_fixture_set() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let collected = out.join("flakiness/collected");
    for file in crate::common::files_under(&crate::common::collected_fixtures()) {
        let target = collected.join(file.strip_prefix(crate::common::collected_fixtures()).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
    let options = webprofile_parity::collector::CollectOptions {
        out: out.clone(),
        src: None,
        copy: false,
        collected_dir: None,
        thresholds: Default::default(),
        dashboard_url: Some("https://acme.example/parity/".into()),
        step_summary: None,
        badge: Default::default(),
        now: chrono::Utc.with_ymd_and_hms(2024, 1, 6, 12, 0, 0).unwrap(),
        download_errors: Vec::new(),
        event: None,
    };
    let outcome = webprofile_parity::collector::collect(&options).expect("the fixture set is collected");
    let read = |name: &str| std::fs::read_to_string(Path::new(&outcome.flakiness_dir).join(name)).unwrap();
    insta::assert_snapshot!("collect_report_txt", read(names::REPORT_TXT));
    insta::assert_snapshot!("collect_cross_report_txt", read(names::CROSS_REPORT_TXT));
    insta::assert_snapshot!("collect_status_json", read(names::STATUS_JSON));
    insta::assert_snapshot!("collect_status_svg", read(names::STATUS_SVG));
    insta::assert_snapshot!("collect_dashboard_html", read(names::DASHBOARD_HTML));
    let url = Some("https://acme.example/parity/");
    insta::assert_snapshot!(
        "collect_slack",
        message::collect_slack(&outcome.summary, &outcome.judgement, url)
    );
    insta::assert_snapshot!(
        "collect_markdown",
        message::collect_markdown(&outcome.summary, &outcome.judgement, url)
    );
}

/// `parity diff` of the reference's Go flavour against its Node flavour: the
/// text, HTML and JUnit reports, with what differs from run to run (ports,
/// ids, token prefixes, times) replaced by placeholders.
#[test]
fn the_diffs_reports_of_go_against_node() {
    let tmp = tempfile::tempdir().unwrap();
    let (_go, go) = crate::common::reference_server(&[]);
    let (_node, node) = crate::common::reference_server(&["--flavor", "node"]);
    let output = crate::common::parity()
        .current_dir(tmp.path())
        .args(["diff", "--out", "ci", "--reference", &go, "--candidate", &node])
        .timeout(crate::common::HANG_GUARD)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", crate::common::output_text(&output));
    let dir = tmp.path().join("ci/webprofile-parity/diff");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let mut settings = insta::Settings::clone_current();
    for (pattern, placeholder) in [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\b[0-9a-f]{24}\b", "[OBJECT-ID]"),
        (r"REDACTED-TOKEN [0-9a-f]{8}", "REDACTED-TOKEN [PREFIX]"),
        (
            r"((?:accessTokenPartial|hashPrefix)(?:&quot;|\\?\x22):(?:&quot;|\\?\x22))[0-9a-f]{8}",
            "$1[PREFIX]",
        ),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "[TIME]"),
        (r"\d+(\.\d+)? ms\b", "[N] ms"),
        (r#"time="[0-9.]+""#, r#"time="[S]""#),
        // Whether two creates fall in one millisecond decides if `createdAt` is learned as noise.
        (r"NOISE LEARNED FROM THE REFERENCE \(\d+\)", "NOISE LEARNED FROM THE REFERENCE (N)"),
        (r"\nlist body\[0\]\.createdAt \(timestamp\)", ""),
    ] {
        settings.add_filter(pattern, placeholder);
    }
    settings.bind(|| {
        insta::assert_snapshot!("diff_txt", read("diff.txt"));
        insta::assert_snapshot!("diff_html", read("diff.html"));
        insta::assert_snapshot!("diff_junit", read("junit.xml"));
    });
}
