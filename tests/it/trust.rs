//! Verdicts a team can gate merges on: the named targets are the targets
//! tested, a stale read is never rerun away, a phase not run is never a
//! pass, the checks hold against an independent stand-in written from the
//! spec, and every check can fail (`parity canary`).

use crate::common::*;
use std::path::Path;

fn run_in(out: &Path, args: &[&str]) -> std::process::Output {
    parity().arg("run").args(args).arg("--out").arg(out).output().unwrap()
}

fn analysis(out: &Path) -> serde_json::Value {
    read_json(&parity_dir(out).join("analysis.json"))
}

#[test]
fn named_instances_are_tested_never_the_embedded_stack() {
    let tmp = tempfile::tempdir().unwrap();
    let held = [dead_port(), dead_port()];
    let dead = [held[0].url(), held[1].url()];
    let output =
        run_in(tmp.path(), &["--instance", &dead[0], "--instance", &dead[1], "--ready-timeout", "300ms"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("--instance names the targets, so the external backend runs"), "{stderr}");
    assert!(!stderr.contains("parity holds"), "{stderr}");
    let a = analysis(tmp.path());
    assert_eq!(a["backend"], "external");
    assert_eq!(a["coverage"]["targets"], serde_json::json!(dead));
    assert_eq!(a["status"], "error");

    let tmp = tempfile::tempdir().unwrap();
    let output = parity()
        .args(["run", "--ready-timeout", "300ms", "--out"])
        .arg(tmp.path())
        .env("TARGET_BASE_URL", &dead[0])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("TARGET_BASE_URL names the targets"));
    assert_eq!(analysis(tmp.path())["coverage"]["targets"][0], dead[0].as_str());
}

#[test]
fn a_docker_setting_with_an_unreachable_engine_is_exit_3_never_a_fallback() {
    let held = dead_port();
    let tmp = tempfile::tempdir().unwrap();
    let output = parity()
        .args(["run", "--webprofile-image", "some/webprofile:1", "--out"])
        .arg(tmp.path())
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{}", held.port))
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("--webprofile-image asks for the Docker stack"), "{stderr}");
    assert!(!stderr.contains("running the embedded stack instead"), "{stderr}");
    assert_eq!(analysis(tmp.path())["backend"], "docker");
}

#[test]
fn conflicting_selections_are_usage_errors_naming_both() {
    let output =
        parity().args(["run", "--backend", "local", "--instance", "http://127.0.0.1:9"]).output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("--instance") && stderr.contains("--backend local"), "{stderr}");
    let output = parity().args(["run", "--backend", "external"]).output().unwrap();
    assert_eq!(output.status.code(), Some(64));
    assert!(text(&output.stderr).contains("--backend external needs the services' URLs"));
}

#[test]
fn iterations_zero_is_not_run_and_never_parity_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let junit = tmp.path().join("junit.xml");
    let output = parity()
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "0", "--junit"])
        .arg(&junit)
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("parity holds"), "{stderr}");
    assert!(stderr.contains("not run: cross-instance: --iterations 0"), "{stderr}");
    let a = analysis(tmp.path());
    assert_eq!(a["status"], "incomplete");
    assert_eq!(a["coverage"]["not_run"], serde_json::json!(["cross-instance: --iterations 0"]));
    assert_eq!(a["coverage"]["checks"], 23);
    assert!(a["coverage"]["exchanges"].as_u64().unwrap() > 20, "{a}");
    let xml = read(&junit);
    assert!(xml.contains("not run: cross-instance: --iterations 0"), "{xml}");
}

/// The verdict line names what was tested, and the run holds against the
/// independent stand-in written from the spec (a second oracle).
#[test]
fn the_checks_hold_against_an_independent_spec_stand_in() {
    let (_standin, urls) = spec_standin(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let output = run_in(tmp.path(), &["--instance", &urls[0], "--instance", &urls[1], "--iterations", "3"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let verdict = stderr.lines().find(|l| l.contains("parity holds")).expect("a verdict line");
    assert!(verdict.contains(&format!("tested external ({}, {})", urls[0], urls[1])), "{verdict}");
    assert!(verdict.contains("3 cross-instance iterations"), "{verdict}");
    let suite = read(&parity_dir(tmp.path()).join("test.parity.out"));
    assert!(suite.contains("--- PASS: create_shape"), "{suite}");
    assert!(suite.contains("    clause: webprofile-api.md §Endpoints: create"), "{suite}");
    assert_eq!(analysis(tmp.path())["status"], "pass");
}

#[test]
fn create_shape_fails_a_token_prefix_partial_on_both_oracles() {
    let (_standin, urls) = spec_standin(&["--partial-token-prefix"]);
    let tmp = tempfile::tempdir().unwrap();
    let output = run_in(tmp.path(), &["--instance", &urls[0], "--iterations", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let run = analysis(tmp.path());
    assert_eq!(failed_checks(&run), ["create_shape"]);
    assert_eq!(run["checks"][0]["class"], "contract");

    let tmp = tempfile::tempdir().unwrap();
    let output = run_in(
        tmp.path(),
        &[
            "--backend",
            "local",
            "--hash-cost",
            "minimal",
            "--iterations",
            "1",
            "--fault",
            "partial=token-prefix",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(read(&parity_dir(tmp.path()).join("test.parity.out")).contains("--- FAIL: create_shape"));
}

/// A service that goes stale once fails the run with class stale-read,
/// however many attempts are allowed and whatever --retry-on says.
#[test]
fn a_stale_read_is_never_rerun_away() {
    for extra in [&["--attempts", "3"][..], &["--attempts", "3", "--retry-on", "any"]] {
        let (_standin, urls) = spec_standin(&["--stale-once"]);
        let tmp = tempfile::tempdir().unwrap();
        let mut args = vec!["--instance", &urls[0], "--instance", &urls[1], "--iterations", "2"];
        args.extend_from_slice(extra);
        let output = run_in(tmp.path(), &args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{extra:?}: {stderr}");
        let smoke = read_json(&parity_dir(tmp.path()).join("node.parity.json"));
        assert_eq!(smoke["class"], "stale-read", "{smoke}");
        let flakiness = read_json(&tmp.path().join("flakiness/flakiness.json"));
        assert_eq!((flakiness["success"].clone(), flakiness["flaky"].clone()), (false.into(), false.into()));
        assert_eq!(flakiness["attempts"][0]["class"], "stale-read");
        let attempts = flakiness["attempts"].as_array().unwrap().len();
        assert_eq!(attempts, if extra.len() == 2 { 1 } else { 2 }, "{flakiness}");
        let a = analysis(tmp.path());
        assert_eq!(a["failure_classes"]["stale-read"], 1, "{a}");
        assert_eq!(a["smoke"]["class"], "stale-read");
    }
}

#[test]
fn parity_rerun_honours_the_class_a_parity_run_recorded() {
    let (_standin, urls) = spec_standin(&["--stale-once"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let bin = assert_cmd::cargo::cargo_bin("parity");
    let output = parity()
        .args(["rerun", "--attempts", "3", "--retry-delay", "10ms", "--out"])
        .arg(tmp.path().join("rerun"))
        .arg("--")
        .arg(&bin)
        .args(["run", "--attempts", "1", "--iterations", "1", "--instance", &urls[0], "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report = read_json(&tmp.path().join("rerun/flakiness.json"));
    assert_eq!(report["attempts"].as_array().unwrap().len(), 1, "a stale read is not retried: {report}");
    assert_eq!(report["class"], "stale-read");
    assert!(stderr.contains("failed after 1 attempt(s) (stale-read)"), "{stderr}");
}

#[test]
fn the_canary_catches_every_fault_and_raises_no_false_alarm() {
    let output = parity().args(["canary", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases[0]["fault"], "none");
    assert_eq!(cases[0]["caught_by"], serde_json::json!([]), "no false alarm on the clean reference");
    let checks: serde_json::Value =
        serde_json::from_slice(&parity().args(["checks", "--json"]).output().unwrap().stdout).unwrap();
    for check in checks.as_array().unwrap() {
        let also = check["also_proven_by"].as_array().cloned().unwrap_or_default();
        for fault in std::iter::once(&check["proven_by"]).chain(&also) {
            let fault = fault.as_str().unwrap();
            let case =
                cases.iter().find(|c| c["fault"] == fault).unwrap_or_else(|| panic!("no case for {fault}"));
            let caught: Vec<&str> =
                case["caught_by"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
            assert!(
                caught.contains(&check["id"].as_str().unwrap()),
                "{fault} escaped {}: {case}",
                check["id"]
            );
            if check["kind"] == "security" {
                let class =
                    case["caught_by"].as_array().unwrap().iter().find(|c| c["check"] == check["id"]).unwrap();
                assert_eq!(class["class"], "security", "{case}");
            }
        }
    }
    // Every attack family has a door the canary opens.
    for family in [
        "identity_headers_do_not_bypass_auth",
        "credential_variants_rejected",
        "owner_scope_holds",
        "token_confusion_never_active",
    ] {
        assert!(checks.as_array().unwrap().iter().any(|c| c["id"] == family), "{family}");
    }
    let stale = cases.iter().find(|c| c["fault"] == "stale-once").unwrap();
    assert_eq!(stale["caught_by"][0]["class"], "stale-read");
}

#[test]
fn checks_prints_every_check_with_its_clause_and_fault() {
    let output = parity().arg("checks").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let table = text(&output.stdout);
    for (id, fault) in
        [("create_shape", "partial=token-prefix"), ("cross_instance_immediacy", "stale-rate=1")]
    {
        let line = table.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id}: {table}"));
        assert!(line.contains(fault), "{line}");
    }
}

#[test]
fn run_canary_proves_the_checks_before_the_real_run() {
    let tmp = tempfile::tempdir().unwrap();
    let output = run_in(
        tmp.path(),
        &["--canary", "--backend", "local", "--hash-cost", "minimal", "--iterations", "1"],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("canary: 29 case(s), 0 not as expected"), "{stderr}");
    let canary = read_json(&parity_dir(tmp.path()).join("canary.json"));
    assert!(canary["cases"].as_array().unwrap().len() > 20, "{canary}");
    assert_eq!(analysis(tmp.path())["status"], "pass");
}

/// `parity --version` says which build this is — version, commit, target —
/// and every analysis.json records the same.
#[test]
fn the_version_names_the_commit_and_target_and_the_analysis_records_them() {
    let said = text(&parity().arg("--version").output().unwrap().stdout);
    let re = regex::Regex::new(
        r"^parity (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}|unknown), ([a-z0-9_]+-[a-z0-9_.-]+)\)\n$",
    )
    .unwrap();
    let caps = re.captures(&said).unwrap_or_else(|| panic!("{said:?}"));
    let head = std::process::Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output();
    if let Some(head) = head.ok().filter(|h| h.status.success()) {
        assert_eq!(&caps[2], text(&head.stdout).trim(), "built from this checkout");
    }
    let tmp = tempfile::tempdir().unwrap();
    parity()
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "1", "--out"])
        .arg(tmp.path())
        .assert()
        .code(0);
    let tool = &analysis(tmp.path())["tool"];
    assert_eq!(
        (tool["version"].as_str(), tool["commit"].as_str()),
        (Some(&caps[1]), Some(&caps[2])),
        "{tool}"
    );
    assert_eq!(tool["target"].as_str(), Some(&caps[3]));
}

/// docs/spec/ holds verbatim copies of the specification; where the
/// originals are at hand (beside the checkout, as where it is developed),
/// the copies must not have drifted from them.
#[test]
fn the_spec_copies_match_the_specification() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let originals = root.join("../shared/spec");
    if !originals.is_dir() {
        eprintln!("SKIP the_spec_copies_match_the_specification: no {} here", originals.display());
        return;
    }
    for name in ["parity-runbook.md", "webprofile-api.md", "mongo-standin.md"] {
        let copy = std::fs::read(root.join("docs/spec").join(name)).unwrap();
        assert!(
            copy == std::fs::read(originals.join(name)).unwrap(),
            "docs/spec/{name} differs from the specification"
        );
    }
}
