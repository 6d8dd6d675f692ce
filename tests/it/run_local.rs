//! `parity run` end to end on the embedded stack: artifacts, exit codes,
//! faults, rerun, redaction, strictness.

use crate::common::*;
use regex::Regex;
use std::path::Path;

fn run_local(out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    parity().args(["run", "--backend", "local", "--out"]).arg(out).args(extra).assert()
}

#[test]
fn default_run_passes_and_writes_every_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    // The README's command: `parity run` with nothing else but the output directory.
    parity().args(["run", "--out"]).arg(&out).assert().code(0);

    let dir = parity_dir(&out);
    for name in SPINE_FILES {
        assert!(dir.join(name).is_file(), "missing {name}");
    }
    assert_iteration_files(&dir, 5);
    for name in ["webprofile.log", "webprofile-node2.log"] {
        assert!(!read(&dir.join(name)).trim().is_empty(), "{name} is empty");
    }
    assert!(out.join("flakiness/flakiness.json").is_file());
    assert!(read(&out.join("flakiness/ui/index.html")).contains("<table>"));

    let analysis = read_json(&dir.join("analysis.json"));
    assert_eq!(analysis["status"], "pass");
    assert_eq!(analysis["exit_code"], 0);
    assert_eq!(analysis["cross"]["iterations"], 5);
    assert_eq!(analysis["cross"]["failures"], 0);
    let phases: Vec<&str> =
        analysis["phases"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for phase in ["stack", "ready", "smoke", "suite", "logs", "teardown"] {
        assert!(phases.contains(&phase), "phase {phase} missing from {phases:?}");
    }

    let suite = read(&dir.join("test.parity.out"));
    assert!(suite.contains("--- PASS: create_shape"), "{suite}");
    assert!(suite.contains("--- PASS: seeded_bcrypt_token_active"), "{suite}");
    assert!(suite.contains("--- PASS: seeded_pbkdf2_token_active"), "{suite}");
    assert!(suite.contains("--- PASS: service_origin_header_does_not_bypass_auth"), "{suite}");
    assert!(suite.lines().any(|l| l == "PASS"), "{suite}");

    let results = read_json(&dir.join("cross-instance-results.json"));
    let results = results.as_array().expect("results are an array");
    assert_eq!(results.len(), 5);
    for r in results {
        for field in
            ["iteration", "success", "reason", "revoke_status", "last", "latency_ms", "stale_reads", "polls"]
        {
            assert!(r.get(field).is_some(), "field {field} missing in {r}");
        }
        assert_eq!(r["success"], true);
        assert_eq!(r["revoke_status"], 204);
        assert_eq!(r["last"]["active"], false);
    }

    let smoke = read_json(&dir.join("node.parity.json"));
    assert_eq!(smoke["success"], true);
    assert!(smoke["latency_ms"].as_f64().unwrap() >= 0.0);

    let tar = tarball(&out);
    let name = tar.file_name().unwrap().to_string_lossy().into_owned();
    assert!(Regex::new(r"^webprofile-parity-\d{14}\.tar\.gz$").unwrap().is_match(&name), "{name}");
    let entries: Vec<String> = tarball_entries(&tar).into_iter().map(|(n, _)| n).collect();
    assert!(entries.contains(&"webprofile-parity/analysis.json".to_string()), "{entries:?}");
    assert!(entries.contains(&"flakiness/flakiness.json".to_string()), "{entries:?}");
}

#[test]
fn revocation_lag_fails_iterations_with_stale_reads_in_the_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    run_local(out, &["--fault", "revocation-lag=800ms", "--hash-cost", "minimal", "--iterations", "3"])
        .code(1);
    let dir = parity_dir(out);
    let results = read_json(&dir.join("cross-instance-results.json"));
    for r in results.as_array().unwrap() {
        assert_eq!(r["success"], false, "{r}");
        assert!(r["stale_reads"].as_u64().unwrap() > 0, "{r}");
        let latency = r["latency_ms"].as_f64().unwrap();
        assert!(latency > 0.0, "{r}");
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains("stale read") && reason.contains("instance1"), "{reason}");
        let n = r["iteration"].as_u64().unwrap();
        let raw = read(&dir.join(format!("cross-instance-introspect-iter-{n}.raw")));
        let after_revoke = &raw[raw.find("DELETE").expect("revoke in the trace")..];
        assert!(after_revoke.contains(r#""active":true"#), "no stale answer in the trace:\n{raw}");
        assert!(after_revoke.contains(r#""active":false"#), "{raw}");
    }
    let analysis = read_json(&dir.join("analysis.json"));
    assert_eq!(analysis["status"], "fail");
    assert_eq!(analysis["cross"]["failures"], 3);
    // Same-instance revocation stays immediate: only the cross-instance path lags.
    assert_eq!(read_json(&dir.join("node.parity.json"))["success"], true);
}

#[test]
fn allow_stale_tolerates_a_lag_shorter_than_the_deadline() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    run_local(
        out,
        &["--fault", "revocation-lag=200ms", "--hash-cost", "minimal", "--iterations", "2", "--allow-stale"],
    )
    .code(0);
    let results = read_json(&parity_dir(out).join("cross-instance-results.json"));
    for r in results.as_array().unwrap() {
        assert_eq!(r["success"], true, "{r}");
        assert!(r["stale_reads"].as_u64().unwrap() > 0, "{r}");
    }
}

#[test]
fn error_rate_makes_the_smoke_flaky_and_the_rerun_records_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let assert = run_local(
        out,
        &["--fault", "error-rate=0.3", "--seed", "7", "--hash-cost", "minimal", "--retry-delay", "10ms"],
    );
    // Every failure is an injected 5xx: infrastructure, exit 3.
    assert.code(3);
    let flakiness = read_json(&out.join("flakiness/flakiness.json"));
    assert_eq!(flakiness["success"], true, "{flakiness}");
    assert_eq!(flakiness["flaky"], true, "{flakiness}");
    let attempts = flakiness["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 2, "{flakiness}");
    assert_ne!(attempts[0]["rc"], 0);
    assert_eq!(attempts.last().unwrap()["rc"], 0);
    for a in attempts {
        assert!(a["duration_ms"].is_u64() && a["attempt"].is_u64(), "{a}");
    }
    for field in ["start_ts", "end_ts"] {
        assert!(flakiness[field].is_string(), "{field}");
    }
    let analysis = read_json(&parity_dir(out).join("analysis.json"));
    assert_eq!(analysis["flaky"], true);
    // Every attempt is in node.parity.out, the failed one with its 503.
    let node_out = read(&parity_dir(out).join("node.parity.out"));
    assert!(node_out.contains("(attempt 1): FAIL"), "{node_out}");
    assert!(node_out.contains("<<< 503"), "{node_out}");
}

/// The bypass fails the check that names it and the identity-header
/// family through that header's variants alone, class security; every
/// other variant of every family holds.
#[test]
fn auth_bypass_fails_exactly_the_bypass_check_and_its_variants() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let assert =
        run_local(out, &["--fault", "auth-bypass", "--hash-cost", "minimal", "--iterations", "1"]).code(1);
    let stderr = text(&assert.get_output().stderr);
    let analysis = read_json(&parity_dir(out).join("analysis.json"));
    assert_eq!(
        failed_checks(&analysis),
        ["service_origin_header_does_not_bypass_auth", "identity_headers_do_not_bypass_auth"]
    );
    for check in analysis["checks"].as_array().unwrap().iter().filter(|c| c["status"] == "fail") {
        assert_eq!(check["class"], "security", "{check}");
        assert_eq!(check["kind"], "security", "{check}");
    }
    assert_eq!(analysis["failure_classes"], serde_json::json!({"security": 2}));
    let verdict = stderr.lines().last().unwrap();
    assert!(verdict.contains("parity FAILED (2 security)"), "{verdict}");
    let suite = read(&parity_dir(out).join("test.parity.out"));
    assert!(suite.contains("--- FAIL: service_origin_header_does_not_bypass_auth"), "{suite}");
    assert!(suite.contains("anyone can skip authentication"), "{suite}");
    assert!(suite.contains("    OPEN x-service-origin × list: HTTP 200"), "{suite}");
    assert!(suite.trim_end().lines().rev().nth(1) == Some("FAIL"), "{suite}");
    let open = security_open_rows(out);
    let expected = [
        ("create", "token-created"),
        ("list", "data-returned"),
        ("revoke", "token-revoked"),
        ("introspect", "introspected-active"),
    ]
    .map(|(route, effect)| ("x-service-origin".to_string(), route.to_string(), effect.to_string()));
    assert_eq!(open, expected);
    let security = read_json(&parity_dir(out).join("security.json"));
    assert_eq!(security["families"][0]["open"], 4, "{security}");
}

/// No plaintext token and no Basic credential in any artifact, the tarball included.
fn assert_no_secrets(out: &Path) {
    let token = Regex::new(r"[0-9a-fA-F]{64}").unwrap();
    // base64("overleaf:overleaf") and any Basic header value.
    let basic = Regex::new(r"b3ZlcmxlYWY6b3ZlcmxlYWY|(?i)basic\s+[A-Za-z0-9+/=]{8,}").unwrap();
    let mut contents: Vec<(String, Vec<u8>)> = files_under(out)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".tar.gz"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    contents.extend(tarball_entries(&tarball(out)));
    assert!(contents.len() > 20, "too few files to be meaningful: {}", contents.len());
    for (name, bytes) in contents {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!token.is_match(&text), "plaintext token in {name}");
        assert!(!basic.is_match(&text), "Basic credential in {name}");
    }
}

#[test]
fn artifacts_hold_no_token_or_credential_unless_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let failing = tmp.path().join("failing");
    // A failing run writes the most: token lists, stale traces, every attempt.
    run_local(&failing, &["--fault", "revocation-lag=300ms", "--hash-cost", "minimal", "--iterations", "2"])
        .code(1);
    assert_no_secrets(&failing);

    let passing = tmp.path().join("passing");
    run_local(&passing, &["--hash-cost", "minimal", "--iterations", "2"]).code(0);
    assert_no_secrets(&passing);

    // The check above can fail: with --no-redact the tokens are there.
    let clear = tmp.path().join("clear");
    run_local(&clear, &["--hash-cost", "minimal", "--iterations", "1", "--no-redact"]).code(0);
    let raw = read(&parity_dir(&clear).join("cross-instance-introspect-iter-1.raw"));
    assert!(Regex::new(r#""token":"[0-9a-f]{64}""#).unwrap().is_match(&raw), "{raw}");
}

#[test]
fn no_strict_reports_failures_but_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = ["--fault", "revocation-lag=300ms", "--hash-cost", "minimal", "--iterations", "1"];

    let flag = tmp.path().join("flag");
    run_local(&flag, &[&faults[..], &["--no-strict"]].concat()).code(0);
    let analysis = read_json(&parity_dir(&flag).join("analysis.json"));
    assert_eq!((analysis["status"].as_str(), analysis["strict"].as_bool()), (Some("fail"), Some(false)));

    let env = tmp.path().join("env");
    parity()
        .env("PARITY_STRICT", "false")
        .args(["run", "--backend", "local", "--out"])
        .arg(&env)
        .args(faults)
        .assert()
        .code(0);

    // A ci/PARITY_STRICT file in the working directory, and --strict beating it.
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("ci")).unwrap();
    std::fs::write(repo.join("ci/PARITY_STRICT"), "false\n").unwrap();
    parity().current_dir(&repo).args(["run", "--backend", "local"]).args(faults).assert().code(0);
    parity().current_dir(&repo).args(["run", "--backend", "local", "--strict"]).args(faults).assert().code(1);
}

#[test]
fn iterations_come_from_the_environment_and_run_concurrently() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    parity()
        .env("CROSS_INSTANCE_ITERATIONS", "7")
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--concurrency", "4", "--out"])
        .arg(out)
        .assert()
        .code(0);
    let results = read_json(&parity_dir(out).join("cross-instance-results.json"));
    let iterations: Vec<u64> =
        results.as_array().unwrap().iter().map(|r| r["iteration"].as_u64().unwrap()).collect();
    assert_eq!(iterations, (1..=7).collect::<Vec<_>>());
    assert!(parity_dir(out).join("cross-instance-iter-7.out").is_file());
}

#[test]
fn a_second_run_leaves_no_stale_iteration_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    run_local(out, &["--hash-cost", "minimal", "--iterations", "3"]).code(0);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // a distinct tarball name
    run_local(out, &["--hash-cost", "minimal", "--iterations", "1"]).code(0);
    assert!(!parity_dir(out).join("cross-instance-iter-3.out").exists());
    let newest = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .max()
        .unwrap();
    let names: Vec<String> = tarball_entries(&newest).into_iter().map(|(n, _)| n).collect();
    assert!(!names.iter().any(|n| n.contains("iter-3")), "{names:?}");
}

#[test]
fn usage_errors_exit_64_with_one_clear_sentence() {
    let cases: [(&[&str], &str); 4] = [
        (&["run", "--fault", "gremlins=3"], "gremlins"),
        (&["run", "--deadline", "soon"], "not a duration"),
        (&["run", "--backend", "external"], "needs the services' URLs"),
        (&["run", "--instance", "ftp://x", "--backend", "external"], "http://"),
    ];
    for (args, expected) in cases {
        let output = parity().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(64), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn help_teaches_the_exit_codes() {
    let output = parity().args(["run", "--help"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for text in ["Exit codes:", "64  usage error", "CROSS_INSTANCE_ITERATIONS", "revocation-lag=800ms"] {
        assert!(help.contains(text), "{text} not in --help:\n{help}");
    }
    let secret_env =
        parity().env("WEBPROFILE_ADMIN_PASS", "sekrit-pass-123").args(["run", "--help"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&secret_env.stdout).contains("sekrit-pass-123"));
}

#[test]
fn embedded_instances_can_share_a_real_mongo() {
    let Some((_mongo, uri)) = mongo_standin("embedded_instances_can_share_a_real_mongo") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    run_local(tmp.path(), &["--mongo-uri", &uri, "--hash-cost", "minimal", "--iterations", "3"]).code(0);
    let analysis = read_json(&parity_dir(tmp.path()).join("analysis.json"));
    assert!(analysis["store"].as_str().unwrap().starts_with("mongodb://127.0.0.1:"), "{analysis}");
    assert_eq!(analysis["suite"]["skipped"], 0, "{analysis}");
    assert_eq!(analysis["cross"]["failures"], 0, "{analysis}");
}

#[test]
fn sigint_mid_iterations_still_writes_what_was_gathered() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("parity"))
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "50"])
        // Every cross-instance iteration now polls a stale answer for 30 s.
        .args(["--fault", "revocation-lag=30s", "--deadline", "60s", "--out"])
        .arg(out)
        .env("CI", "true")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let suite_done = parity_dir(out).join("test.parity.out");
    let started = std::time::Instant::now();
    while !suite_done.exists() {
        assert!(started.elapsed() < HANG_GUARD, "the suite never finished");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200)); // into the iterations
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    let analysis = read_json(&parity_dir(out).join("analysis.json"));
    assert_eq!(analysis["status"], "error");
    assert_eq!(analysis["exit_code"], 130);
    assert_eq!(analysis["smoke"]["success"], true, "{analysis}");
    assert_eq!(analysis["suite"]["failed"], 0, "{analysis}");
    assert!(parity_dir(out).join("node.parity.json").is_file());
    assert!(parity_dir(out).join("webprofile.log").is_file());
    tarball(out);
}

/// Staleness is judged from each read's invocation and completion: a stale
/// iteration proves `stale_ms` > 0, a clean one proves nothing (0), and
/// stale_ms ≤ visible_by_ms (reads are sequential: the last stale one was
/// invoked before the first fresh one completed). Roles rotate: the matrix
/// has both ordered pairs of the two instances, with half the iterations each.
#[test]
fn stale_ms_and_visible_by_ms_bound_each_iteration_and_the_matrix_counts_the_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let args = [
        "--hash-cost",
        "minimal",
        "--iterations",
        "12",
        "--fault",
        "stale-rate=0.5,stale-for=150ms",
        "--seed",
        "7",
    ];
    run_local(&out, &args).code(1);
    let dir = parity_dir(&out);
    let results = read_json(&dir.join("cross-instance-results.json"));
    let results = results.as_array().unwrap();
    let (mut stale, mut clean) = (0, 0);
    for r in results {
        let stale_ms = r["stale_ms"].as_f64().expect("stale_ms");
        let visible = r["visible_by_ms"].as_f64().expect("visible_by_ms");
        assert!(r["latency_ms"].as_f64().is_some(), "latency_ms kept for the runbook's readers: {r}");
        assert!(stale_ms < visible, "{r}");
        let pair = (r["revoker"].as_str().unwrap(), r["observer"].as_str().unwrap());
        assert!(matches!(pair, ("instance2", "instance1") | ("instance1", "instance2")), "{r}");
        if r["stale_reads"].as_u64().unwrap() > 0 {
            assert!(stale_ms > 0.0, "a stale read proves staleness: {r}");
            stale += 1;
        } else {
            assert_eq!(stale_ms, 0.0, "{r}");
            clean += 1;
        }
    }
    assert!(
        stale > 0 && clean > 0,
        "the seeded fault makes some iterations stale ({stale}) and not others ({clean})"
    );
    let analysis = read_json(&dir.join("analysis.json"));
    let matrix = analysis["cross"]["matrix"].as_array().unwrap();
    assert_eq!(matrix.len(), 2, "{matrix:?}");
    assert!(matrix.iter().all(|cell| cell["iterations"] == 6), "{matrix:?}");
    let stale_in_matrix: u64 = matrix.iter().map(|cell| cell["stale_iterations"].as_u64().unwrap()).sum();
    assert_eq!(stale_in_matrix, stale);
    assert!(matrix.iter().any(|cell| cell["stale_ms"]["p99"].as_f64().unwrap() > 0.0));
    assert!(read(&dir.join("cross-instance.out"))
        .contains("revoked on instance2 → read on instance1: 6 iteration(s)"));
}

/// Artifacts scale with failures, not iterations: per-iteration files only
/// for failed iterations and the first `--keep-passing` passing ones, while
/// the streamed trace holds every exchange of every iteration.
#[test]
fn keep_passing_bounds_the_per_iteration_files_and_the_trace_holds_every_exchange() {
    use std::collections::BTreeMap;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let args = [
        "--hash-cost",
        "minimal",
        "--iterations",
        "1000",
        "--keep-passing",
        "10",
        "--poll-interval",
        "1ms",
        "--fault",
        "stale-rate=0.01,stale-for=5ms",
        "--seed",
        "3",
        "--evidence-limit",
        "0",
    ];
    run_local(&out, &args).code(1);
    let dir = parity_dir(&out);
    let results = read_json(&dir.join("cross-instance-results.json"));
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 1000);
    let failed: Vec<u64> =
        results.iter().filter(|r| r["success"] == false).map(|r| r["iteration"].as_u64().unwrap()).collect();
    let first_passing: Vec<u64> = results
        .iter()
        .filter(|r| r["success"] == true)
        .map(|r| r["iteration"].as_u64().unwrap())
        .take(10)
        .collect();
    assert!(!failed.is_empty(), "the seeded fault fails some iterations");
    let mut kept: Vec<u64> = files_under(&dir)
        .iter()
        .filter_map(|p| {
            p.file_name()?.to_str()?.strip_prefix("cross-instance-iter-")?.strip_suffix(".out")?.parse().ok()
        })
        .collect();
    kept.sort();
    let mut expected: Vec<u64> = failed.iter().chain(&first_passing).copied().collect();
    expected.sort();
    assert_eq!(kept, expected, "files only for the failures and the first 10 passing");
    for n in &kept {
        assert!(dir.join(format!("cross-instance-introspect-iter-{n}.raw")).is_file());
    }

    let mut lines_of: BTreeMap<u64, u64> = BTreeMap::new();
    for line in trace_lines(&out) {
        *lines_of.entry(line["iteration"].as_u64().unwrap()).or_default() += 1;
        assert!(line["method"].is_string() && line["path"].is_string(), "{line}");
    }
    assert_eq!(lines_of.len(), 1000, "every iteration is in the trace");
    for r in results {
        let n = r["iteration"].as_u64().unwrap();
        // create, introspect before, revoke, then every poll.
        assert_eq!(lines_of[&n], 3 + r["polls"].as_u64().unwrap(), "iteration {n}: {r}");
    }
}
