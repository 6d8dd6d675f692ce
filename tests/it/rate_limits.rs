//! A rate-limited service: a 429 is a wait, never a finding. Against the
//! reference's `rate-limit` fault (one bucket for both instances, with every
//! header, Retry-After alone, or none) and the independent stand-in's token
//! bucket (X-RateLimit-* headers only), a run ends with the verdict it has
//! without limits, only later; a limit that outlasts the budget ends the run
//! `incomplete`, exit 3, and never "parity FAILED".

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn run_local(out: &Path, fault: Option<&str>, extra: &[&str]) -> std::process::Output {
    let mut cmd = parity();
    cmd.args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "10", "--out"]).arg(out);
    if let Some(fault) = fault {
        cmd.args(["--fault", fault]);
    }
    cmd.args(extra).output().unwrap()
}

fn analysis(out: &Path) -> Value {
    read_json(&parity_dir(out).join("analysis.json"))
}

/// The verdict without what says how it was reached: the same for a run
/// that was held back and one that was not.
fn outcome(analysis: &Value) -> (Value, Value, Value, Value) {
    (
        analysis["status"].clone(),
        analysis["exit_code"].clone(),
        analysis["failure_classes"].clone(),
        analysis["coverage"]["checks"].clone(),
    )
}

/// No check, iteration or security variant of the run was failed, or left unjudged, by a 429.
fn assert_no_429_finding(out: &Path) {
    let analysis = analysis(out);
    assert!(analysis["failure_classes"].as_object().unwrap().is_empty(), "{}", analysis["failure_classes"]);
    for check in analysis["checks"].as_array().unwrap() {
        assert_ne!(check["status"], "fail", "{check}");
    }
    let security = read_json(&parity_dir(out).join("security.json"));
    for row in security["rows"].as_array().unwrap() {
        assert_eq!(row["verdict"], "pass", "{row}");
        assert!(!row["answer"].as_str().unwrap().starts_with("HTTP 429"), "{row}");
    }
}

#[test]
fn a_run_held_back_by_the_rate_limit_reaches_the_unlimited_verdict() {
    let unlimited = tempfile::tempdir().unwrap();
    let output = run_local(unlimited.path(), None, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let expected = outcome(&analysis(unlimited.path()));
    assert!(analysis(unlimited.path()).get("rate_limit").is_none(), "nothing to report without a limit");

    for (fault, learned) in [
        ("rate-limit=40/s", "RateLimit-Policy"),
        ("rate-limit=40/s+retry-after", "Retry-After"),
        ("rate-limit=40/s+bare", "halved"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let output = run_local(out.path(), Some(fault), &[]);
        let printed = output_text(&output);
        assert_eq!(output.status.code(), Some(0), "{fault}: {printed}");
        let analysis = analysis(out.path());
        assert_eq!(outcome(&analysis), expected, "{fault}");
        assert_no_429_finding(out.path());
        let report = &analysis["rate_limit"];
        assert!(report["answers_429"].as_u64().unwrap() >= 1, "{fault}: {report}");
        assert_eq!(report["learned_from"], learned, "{fault}: {report}");
        // A policy header says the limit; what got through before one 429 only bounds it: the
        // reference counts in fixed windows, which let up to twice the limit through across a
        // window's boundary (seen: 52/s learnt from `Retry-After` against 40/s).
        let bound = if learned == "RateLimit-Policy" { 40.0 } else { 80.0 };
        assert!(report["settled_per_second"].as_f64().unwrap() <= bound, "{fault}: {report}");
        assert!(printed.contains("rate limit (--max-rate auto):"), "{fault}: {printed}");
        // The reads that waited say so; none of them is a 429.
        let traces = trace_lines(out.path());
        assert!(traces.iter().all(|ex| ex["status"] != 429), "{fault}: a 429 recorded as an answer");
    }
}

/// A fixed pace plans before it sends, from the requests each phase needs;
/// the plan's suite figure is what the suite phase really sends.
#[test]
fn a_fixed_rate_under_the_limit_is_never_refused_and_plans_its_time() {
    let out = tempfile::tempdir().unwrap();
    let output = run_local(out.path(), Some("rate-limit=150/s"), &["--max-rate", "100/s"]);
    let printed = output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{printed}");
    let planned = webprofile_parity::scenario::suite::PLANNED_REQUESTS;
    assert!(
        printed.contains(&format!(
            "plan: ~{} requests (smoke 4, suite and security ~{planned}, 10 iteration(s) ≥40) at 100/s",
            4 + planned + 40
        )),
        "{printed}"
    );
    let phases = analysis(out.path())["phases"].clone();
    let requests = |name: &str| {
        phases.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()["requests"].clone()
    };
    assert_eq!(requests("suite"), planned, "the suite's requests changed: update PLANNED_REQUESTS");
    assert_eq!((requests("smoke"), requests("cross (10 iterations)")), (4.into(), 40.into()));
    let report = &analysis(out.path())["rate_limit"];
    assert_eq!(report["answers_429"], 0, "{report}");
    assert_eq!(
        (report["max_rate"].as_str(), report["learned_from"].as_str()),
        (Some("100/s"), Some("--max-rate"))
    );
}

#[test]
fn a_limit_that_outlasts_the_budget_ends_the_run_incomplete_never_failed() {
    let out = tempfile::tempdir().unwrap();
    let output = run_local(out.path(), Some("rate-limit=60/min"), &["--rate-limit-budget", "5s"]);
    let printed = output_text(&output);
    assert_eq!(output.status.code(), Some(3), "{printed}");
    assert!(!printed.contains("parity FAILED"), "{printed}");
    let analysis = analysis(out.path());
    assert_eq!(analysis["status"], "incomplete");
    let classes = analysis["failure_classes"].as_object().unwrap();
    assert!(classes.keys().all(|class| class == "rate-limited"), "only calls not carried out: {classes:?}");
    let verdict = analysis["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("incomplete: the service's rate limit outlasted the budget"), "{verdict}");
    assert!(
        verdict.contains("not run: ") && verdict.contains("cross-instance: 10 iteration(s) not carried out"),
        "{verdict}"
    );
    assert!(analysis["rate_limit"]["budget_ran_out"]
        .as_str()
        .unwrap()
        .contains("past the rate-limit budget of 5 s"));
}

#[test]
fn the_independent_stand_ins_token_bucket_is_waited_out_too() {
    let (_standin, [one, two]) = spec_standin(&["--rate-limit", "8"]);
    let out = tempfile::tempdir().unwrap();
    let output = parity()
        .args(["run", "--instance", &one, "--instance", &two, "--iterations", "2", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let printed = output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{printed}");
    assert_no_429_finding(out.path());
    let report = &analysis(out.path())["rate_limit"];
    assert!(report["answers_429"].as_u64().unwrap() >= 1, "{report}");
    // It names no Retry-After: the pace comes from its X-RateLimit-Reset.
    assert_eq!(report["learned_from"], "RateLimit-Reset", "{report}");
}

/// `--iterations auto` fits the iterations to `--max-duration` at a known pace,
/// after the smoke and the suite; without a pace or a duration it is a usage error.
#[test]
fn iterations_auto_fits_the_run_to_its_duration_at_a_known_pace() {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = parity();
    cmd.args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "auto"]);
    cmd.args(["--max-duration", "6s", "--max-rate", "50/s", "--out"]).arg(out.path());
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    // 6 s at 50/s: 300 requests, less the smoke (4) and the suite, at 4 per iteration.
    let planned = webprofile_parity::scenario::suite::PLANNED_REQUESTS;
    let fitted = (300 - 4 - planned) / 4;
    assert_eq!(analysis(out.path())["coverage"]["iterations"], fitted);

    for (args, says) in [
        (&["--iterations", "auto"][..], "--iterations auto needs --max-duration"),
        (&["--iterations", "auto", "--max-duration", "1m"][..], "--iterations auto needs a known pace"),
        (
            &["--iterations", "auto", "--max-duration", "1s", "--max-rate", "1/s"][..],
            "not enough for the smoke",
        ),
        (&["--iterations", "3", "--max-duration", "1m"][..], "--max-duration plans --iterations auto"),
    ] {
        let output = parity().args(["run", "--backend", "local"]).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(64), "{args:?}: {}", output_text(&output));
        assert!(output_text(&output).contains(says), "{args:?}: {}", output_text(&output));
    }
}
