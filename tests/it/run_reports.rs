//! The CI reports of `parity run`: `--junit FILE` (JUnit XML) and the
//! Markdown appended to `$GITHUB_STEP_SUMMARY`, checked against the run's
//! own `analysis.json` and `cross-instance-results.json`.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn run_local(out: &Path, junit: &Path, summary: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    parity()
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--out"])
        .arg(out)
        .arg("--junit")
        .arg(junit)
        .env("GITHUB_STEP_SUMMARY", summary)
        .args(extra)
        .assert()
}

fn suite<'a>(doc: &'a roxmltree::Document<'a>, name: &str) -> roxmltree::Node<'a, 'a> {
    doc.descendants()
        .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some(name))
        .unwrap_or_else(|| panic!("no testsuite {name}"))
}

fn cases<'a>(suite: roxmltree::Node<'a, 'a>) -> Vec<roxmltree::Node<'a, 'a>> {
    suite.children().filter(|n| n.has_tag_name("testcase")).collect()
}

fn attr_u64(node: roxmltree::Node<'_, '_>, name: &str) -> u64 {
    node.attribute(name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} on {node:?}"))
}

fn count(analysis: &Value, path: &[&str]) -> u64 {
    path.iter().fold(analysis, |v, k| &v[*k]).as_u64().unwrap_or_else(|| panic!("{path:?} in {analysis}"))
}

#[test]
fn a_passing_run_writes_junit_and_appends_the_step_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, junit, summary) =
        (tmp.path().join("ci"), tmp.path().join("reports/junit.xml"), tmp.path().join("summary.md"));
    std::fs::write(&summary, "earlier step\n").unwrap();
    run_local(&out, &junit, &summary, &["--iterations", "2"]).code(0);

    let xml = read(&junit);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let names: Vec<&str> = root.children().filter_map(|n| n.attribute("name")).collect();
    assert_eq!(names, ["revocation-immediacy", "contract", "cross-instance"]);
    let analysis = read_json(&parity_dir(&out).join("analysis.json"));
    let contract = suite(&doc, "contract");
    let checks = analysis["checks"].as_array().unwrap();
    assert_eq!(attr_u64(contract, "tests"), checks.len() as u64);
    assert_eq!(cases(contract).len(), checks.len());
    assert_eq!(attr_u64(contract, "failures"), 0);
    assert_eq!(attr_u64(contract, "skipped"), count(&analysis, &["suite", "skipped"]));
    let cross = suite(&doc, "cross-instance");
    assert_eq!((attr_u64(cross, "tests"), attr_u64(cross, "failures")), (2, 0));
    assert_eq!(attr_u64(root, "failures"), 0);
    let smoke = cases(suite(&doc, "revocation-immediacy"));
    assert_eq!(smoke.len(), 1);
    assert!(!smoke[0].children().any(|n| n.is_element() && n.tag_name().name().contains("ailure")));

    let md = read(&summary);
    assert!(md.starts_with("earlier step\n### ✅ Webprofile parity: parity holds (exit 0)"), "{md}");
    assert!(md.contains("| cross-instance | 0/2 iterations failed, 0 stale read(s)"), "{md}");
    let tarball = tarball(&out);
    assert!(md.contains(&format!("Artifacts: `{}`", tarball.file_name().unwrap().to_string_lossy())), "{md}");
}

#[test]
fn a_revocation_lag_shows_as_failed_iterations_with_their_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, junit, summary) =
        (tmp.path().join("ci"), tmp.path().join("junit.xml"), tmp.path().join("s.md"));
    run_local(&out, &junit, &summary, &["--fault", "revocation-lag=300ms", "--iterations", "2"]).code(1);

    let xml = read(&junit);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let analysis = read_json(&parity_dir(&out).join("analysis.json"));
    let results = read_json(&parity_dir(&out).join("cross-instance-results.json"));
    let results = results.as_array().unwrap();
    let cross = suite(&doc, "cross-instance");
    let failures = count(&analysis, &["cross", "failures"]);
    assert!(failures > 0, "the lag should fail iterations");
    assert_eq!((attr_u64(cross, "tests"), attr_u64(cross, "failures")), (2, failures));
    for (case, result) in cases(cross).iter().zip(results) {
        assert_eq!(case.attribute("name"), Some(format!("iteration {}", result["iteration"]).as_str()));
        let property = |name: &str| {
            case.descendants()
                .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
                .and_then(|p| p.attribute("value"))
                .map(String::from)
        };
        assert_eq!(property("stale_reads"), Some(result["stale_reads"].to_string()));
        assert!(property("latency_ms").is_some());
        let failure = case.children().find(|n| n.has_tag_name("failure"));
        if result["success"] == false {
            let failure = failure.expect("a failure element");
            assert_eq!(failure.attribute("message"), result["reason"].as_str());
            assert_eq!(failure.attribute("type"), Some("stale-read"));
        } else {
            assert!(failure.is_none());
        }
    }
    // Only the cross-instance path lags: the smoke passes.
    assert_eq!(attr_u64(suite(&doc, "revocation-immediacy"), "failures"), 0);
    assert_eq!(attr_u64(doc.root_element(), "failures"), failures + count(&analysis, &["suite", "failed"]));

    // The report goes through the redactor like every artifact.
    let token = regex::Regex::new("[0-9a-fA-F]{64}").unwrap();
    assert!(!token.is_match(&xml), "a plaintext token in the JUnit report");

    let md = read(&summary);
    assert!(md.starts_with("### ❌ Webprofile parity: parity FAILED (exit 1)"), "{md}");
    let stale = count(&analysis, &["cross", "stale_reads"]);
    assert!(
        md.contains(&format!(
            "| cross-instance | {failures}/2 iterations failed ({failures} stale-read), {stale} stale read(s)"
        )),
        "{md}"
    );
}

#[test]
fn a_flaky_smoke_is_a_passing_case_with_flaky_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, junit, summary) =
        (tmp.path().join("ci"), tmp.path().join("junit.xml"), tmp.path().join("s.md"));
    run_local(&out, &junit, &summary, &["--fault", "error-rate=0.3", "--seed", "7", "--retry-delay", "10ms"])
        .code(3);

    let flakiness = read_json(&out.join("flakiness/flakiness.json"));
    assert_eq!(flakiness["flaky"], true, "{flakiness}");
    let failed_attempts = flakiness["attempts"].as_array().unwrap().iter().filter(|a| a["rc"] != 0).count();
    let xml = read(&junit);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let smoke = suite(&doc, "revocation-immediacy");
    assert_eq!((attr_u64(smoke, "tests"), attr_u64(smoke, "failures")), (1, 0));
    let case = cases(smoke)[0];
    let flaky: Vec<_> = case.children().filter(|n| n.has_tag_name("flakyFailure")).collect();
    assert_eq!(flaky.len(), failed_attempts);
    assert!(flaky[0].attribute("message").unwrap().starts_with("attempt 1: "), "{xml}");
    assert!(!case.children().any(|n| n.has_tag_name("failure") || n.has_tag_name("rerunFailure")));
    // The contract and cross suites agree with analysis.json.
    let analysis = read_json(&parity_dir(&out).join("analysis.json"));
    assert_eq!(attr_u64(suite(&doc, "contract"), "failures"), count(&analysis, &["suite", "failed"]));
    assert_eq!(attr_u64(suite(&doc, "cross-instance"), "failures"), count(&analysis, &["cross", "failures"]));
    assert!(read(&summary).contains("(flaky: passed after infrastructure failures)"));
    assert!(flaky.iter().all(|f| f.attribute("type") == Some("infrastructure")), "{xml}");
}

#[test]
fn a_stack_that_never_comes_up_is_a_junit_error_and_a_summary_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, junit, summary) =
        (tmp.path().join("ci"), tmp.path().join("junit.xml"), tmp.path().join("s.md"));
    let dead = dead_port();
    let url = dead.url();
    parity()
        .args(["run", "--backend", "external", "--instance", &url, "--ready-timeout", "300ms", "--out"])
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .code(3);
    let xml = read(&junit);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    assert_eq!(attr_u64(doc.root_element(), "errors"), 1);
    let error = doc.descendants().find(|n| n.has_tag_name("error")).expect("an error element");
    assert!(error.attribute("message").unwrap().starts_with("not run: "), "{xml}");
    assert_eq!(attr_u64(suite(&doc, "contract"), "tests"), 0);
    let md = read(&summary);
    assert!(md.starts_with("### ❗ Webprofile parity: the run could not be carried out (exit 3)"), "{md}");
    assert!(md.contains("| contract suite | not run (contract suite: the stack never came up) |"), "{md}");
    assert!(md.contains(&format!("Tested external ({url}): nothing.")), "{md}");
}
