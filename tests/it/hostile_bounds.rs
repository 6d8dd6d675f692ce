//! Every read and write bounded, every wait interruptible, every exit code
//! saying what happened: endless answers, FIFOs and full devices where
//! reports go, numbers past any sense, doctored replay specs, a service that
//! only fails, signals to `rerun` and to a run that had found failures.

use crate::common::*;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An HTTP server on loopback answering every request with `answer`.
fn serve(runtime: &tokio::runtime::Runtime, answer: fn(&str) -> Response) -> String {
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| async move { answer(uri.path()) });
    runtime.spawn(async move { axum::serve(listener, app).await });
    format!("http://127.0.0.1:{port}")
}

fn endless(_: &str) -> Response {
    let chunk = axum::body::Bytes::from(vec![b'['; 64 * 1024]);
    let stream = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
    (StatusCode::OK, [("content-type", "application/json")], Body::from_stream(stream)).into_response()
}

#[test]
fn an_endless_github_answer_is_cut_at_its_cap_and_named() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = serve(&runtime, endless);
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = parity()
        .args(["collect", "--out"])
        .arg(tmp.path())
        .env("GITHUB_API_URL", &api)
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", "ghs_boundsTOKEN")
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    let said = output_text(&output);
    assert_eq!(output.status.code(), Some(3), "{said}");
    assert!(said.contains("larger than the 16777216-byte cap"), "the cap is named: {said}");
    assert!(started.elapsed() < Duration::from_secs(60), "stopped at the cap, not at a timeout");
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn fifos_and_full_devices_where_reports_go_are_refused_never_waited_on() {
    let tmp = tempfile::tempdir().unwrap();
    for flag in ["--step-summary", "--junit", "--timings"] {
        let fifo = tmp.path().join(format!("{}.fifo", &flag[2..]));
        mkfifo(&fifo);
        let out = tmp.path().join(&flag[2..]);
        let run = parity()
            .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "1", flag])
            .arg(&fifo)
            .arg("--out")
            .arg(&out)
            .timeout(HANG_GUARD)
            .output()
            .unwrap();
        let said = output_text(&run);
        assert_eq!(run.status.code(), Some(3), "{flag}: a lost report is no silent 0: {said}");
        assert!(said.contains("a FIFO, not a regular file"), "{flag}: {said}");
        let analysis = read_json(&parity_dir(&out).join("analysis.json"));
        let tarball = analysis["tarball"].as_str().expect("the tarball was written and named");
        assert!(Path::new(tarball).is_file(), "{tarball}");
    }
    let run = parity()
        .args([
            "run",
            "--backend",
            "local",
            "--hash-cost",
            "minimal",
            "--iterations",
            "1",
            "--junit",
            "/dev/full",
        ])
        .arg("--out")
        .arg(tmp.path().join("full"))
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3), "{}", output_text(&run));

    let stdout_full = Command::new(assert_cmd::cargo::cargo_bin("parity"))
        .arg("checks")
        .stdout(std::fs::File::options().write(true).open("/dev/full").unwrap())
        .status()
        .unwrap();
    assert_eq!(stdout_full.code(), Some(3), "`parity checks > /dev/full` lost its output");

    // ci/PARITY_STRICT is read where the run starts: a FIFO there is refused at once.
    let cwd = tmp.path().join("strict-fifo");
    mkfifo(&cwd.join("ci/PARITY_STRICT"));
    let run = parity()
        .current_dir(&cwd)
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "1"])
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    let said = output_text(&run);
    assert_eq!(run.status.code(), Some(64), "{said}");
    assert!(said.contains("ci/PARITY_STRICT: is not a regular file but a FIFO"), "{said}");
}

#[test]
fn numbers_past_any_sense_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [
        &["--poll-interval", "18446744073709551615s"][..],
        &["--deadline", "25h"],
        &["--ready-timeout", "0s"],
        &["--request-timeout", "0ms"],
        &["--iterations", "20000000"],
        &["--accept-revoke-status", "0"],
        &["--evidence-limit", "4294967295"],
    ] {
        let run = parity()
            .args(["run", "--backend", "local", "--out"])
            .arg(tmp.path())
            .args(bad)
            .timeout(HANG_GUARD)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(64), "{bad:?}: {}", output_text(&run));
    }
}

/// An edit of a packet's replay.json.
type Doctor = fn(&mut serde_json::Value);

#[test]
fn a_doctored_replay_spec_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("failed");
    let run = parity()
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "1", "--attempts", "1"])
        .args(["--fault", "stale-rate=1,stale-for=100ms", "--out"])
        .arg(&out)
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", output_text(&run));
    let packet = parity_dir(&out).join("evidence/iteration-1");
    let spec = read_json(&packet.join("replay.json"));
    let doctored: [(&str, Doctor); 5] = [
        ("iteration 0", |s| s["case"]["iteration"] = 0.into()),
        ("no instance of a run", |s| s["case"]["observer"] = "node7".into()),
        ("flavor", |s| s["flavor"] = "cobol".into()),
        ("not an http(s) URL", |s| {
            s["backend"] = "external".into();
            s["targets"] = serde_json::json!(["ftp://127.0.0.1:1", "ftp://127.0.0.1:2"]);
        }),
        ("24h", |s| s["parameters"]["poll_interval_ms"] = u64::MAX.into()),
    ];
    for (said_what, doctor) in doctored {
        let mut edited = spec.clone();
        doctor(&mut edited);
        let dir = tmp.path().join(said_what.replace(' ', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("replay.json"), edited.to_string()).unwrap();
        let started = Instant::now();
        let replay = parity()
            .arg("replay")
            .arg(&dir)
            .arg("--out")
            .arg(tmp.path().join("replayed"))
            .timeout(HANG_GUARD)
            .output()
            .unwrap();
        let said = output_text(&replay);
        assert_eq!(replay.status.code(), Some(64), "{said_what}: {said}");
        assert!(said.contains(said_what), "{said_what}: {said}");
        assert!(started.elapsed() < Duration::from_secs(10), "{said_what}: refused, not retried");
    }
}

fn always(status: u16) -> fn(&str) -> Response {
    fn answer(path: &str, status: StatusCode) -> Response {
        if path == "/" {
            return (StatusCode::OK, "up").into_response();
        }
        (status, "no").into_response()
    }
    match status {
        500 => |path| answer(path, StatusCode::INTERNAL_SERVER_ERROR),
        _ => |path| answer(path, StatusCode::TOO_MANY_REQUESTS),
    }
}

/// A service that only fails is no finding: every 500 makes the run an
/// infrastructure error; every 429 is waited out until the rate-limit
/// budget is spent, and the run ends incomplete. Exit 3 both ways.
#[test]
fn a_service_that_only_fails_is_an_infrastructure_error_not_a_parity_failure() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (status, says) in [
        (500, "every failure was the service or the network failing"),
        (429, "incomplete: the service's rate limit outlasted the budget"),
    ] {
        let url = serve(&runtime, always(status));
        let tmp = tempfile::tempdir().unwrap();
        let run = parity()
            .args([
                "run",
                "--instance",
                &url,
                "--iterations",
                "2",
                "--attempts",
                "1",
                "--rate-limit-budget",
                "2s",
            ])
            .arg("--out")
            .arg(tmp.path())
            .timeout(HANG_GUARD)
            .output()
            .unwrap();
        let said = output_text(&run);
        assert_eq!(run.status.code(), Some(3), "{status}: {said}");
        assert!(said.contains(says), "{said}");
        assert!(!said.contains("parity FAILED"), "{said}");
    }
}

/// Waits until `pattern` is in the log (the child got that far).
fn wait_for(log: &Path, pattern: &str) {
    let started = Instant::now();
    while !read(log).contains(pattern) {
        assert!(started.elapsed() < HANG_GUARD, "no `{pattern}` in {}", read(log));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigterm(pid: u32) {
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
}

#[test]
fn rerun_passes_a_signal_on_waits_and_never_retries_an_interruption() {
    let tmp = tempfile::tempdir().unwrap();
    let log = log_file("rerun-signal");
    // Killed when the test ends, whatever happens to it.
    let mut rerun = KillOnDrop(
        Command::new(assert_cmd::cargo::cargo_bin("parity"))
            .args(["rerun", "--attempts", "3", "--retry-delay", "10ms", "--out"])
            .arg(tmp.path())
            .args(["--", "sh", "-c", "echo child-started >&2; exec sleep 60"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for(&log, "child-started");
    let started = Instant::now();
    sigterm(rerun.0.id());
    let status = rerun.0.wait().unwrap();
    let said = read(&log);
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(started.elapsed() < Duration::from_secs(10), "the child got the signal: {said}");
    assert!(said.contains("killed by SIGTERM (15)"), "{said}");
    let report = read_json(&tmp.path().join("flakiness.json"));
    assert_eq!(report["attempts"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["attempts"][0]["rc"], 143);
    assert_eq!(report["success"], false);

    let interrupted = parity()
        .args(["rerun", "--attempts", "3", "--retry-delay", "10ms", "--out"])
        .arg(tmp.path())
        .args(["--", "sh", "-c", "exit 130"])
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert_eq!(interrupted.status.code(), Some(130), "{}", output_text(&interrupted));
    let report = read_json(&tmp.path().join("flakiness.json"));
    assert_eq!(
        report["attempts"].as_array().unwrap().len(),
        1,
        "an interrupted child is not retried: {report}"
    );
}

#[test]
fn an_interrupted_run_that_had_found_stale_reads_says_so_last() {
    let tmp = tempfile::tempdir().unwrap();
    let log = log_file("interrupted-stale");
    let mut run = KillOnDrop(
        Command::new(assert_cmd::cargo::cargo_bin("parity"))
            .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "100000"])
            .args(["--fault", "stale-rate=1,stale-for=50ms", "--attempts", "1", "--out"])
            .arg(tmp.path())
            .env("CI", "true")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for(&log, "FAIL — stale read");
    sigterm(run.0.id());
    let status = run.0.wait().unwrap();
    let said = read(&log);
    assert_eq!(status.code(), Some(130), "{said}");
    let last = said.lines().last().unwrap_or_default();
    assert!(last.contains("after it had already found failures") && last.contains("stale-read"), "{last}");
}

#[test]
fn an_input_over_its_purposes_cap_is_refused_and_the_cap_named() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules.toml");
    let rule = "[[accept]]\nreason = \"x\"\nignore = [\"body.a\"]\n";
    std::fs::write(&rules, rule.repeat((2 << 20) / rule.len())).unwrap();
    let started = Instant::now();
    let diff = parity()
        .args(["diff", "--reference", "http://127.0.0.1:9", "--candidate", "http://127.0.0.1:9", "--rules"])
        .arg(&rules)
        .arg("--out")
        .arg(tmp.path().join("diff"))
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    let said = output_text(&diff);
    assert_eq!(diff.status.code(), Some(64), "{said}");
    assert!(said.contains("more than the 1048576 byte cap"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(10), "{said}");
}
