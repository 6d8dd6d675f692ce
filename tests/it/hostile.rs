//! Hostile input never leaks a secret, hangs, panics or loses what was
//! gathered: a service that echoes every secret it receives, a Slack that
//! echoes its URL, signals in the middle of readiness, a service that never
//! answers, FIFOs and devices where files should be, a closed pipe, and
//! settings that mean nothing.

use crate::common::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

const ADMIN_PASS: &str = "Adm1n-pa55-hostile";
const URL_PASS: &str = "Url-pa55w0rd-hostile";
const HOOK_SECRET: &str = "HOOKSECRETxyz987";
const GH_TOKEN: &str = "ghs_hostileTOKEN123456";

/// Slack and GitHub in one: records every request body, and answers each
/// with an error that repeats what it was sent — the URL, the Authorization.
#[derive(Clone, Default)]
struct Echo {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

async fn echo(
    State(echo): State<Echo>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    echo.bodies.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let said = format!("no: {method} http://127.0.0.1:{}{uri} with {auth}", echo.port);
    (StatusCode::INTERNAL_SERVER_ERROR, said).into_response()
}

impl Echo {
    fn start(runtime: &tokio::runtime::Runtime) -> Echo {
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let echo = Echo { port: listener.local_addr().unwrap().port(), ..Echo::default() };
        let app = axum::Router::new().fallback(self::echo).with_state(echo.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        echo
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Every secret of the hostile run, and the forms they travel in.
fn secrets() -> Vec<String> {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASS}"));
    vec![
        ADMIN_PASS.into(),
        basic.trim_end_matches('=').into(),
        URL_PASS.into(),
        HOOK_SECRET.into(),
        GH_TOKEN.into(),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(&secret), "{secret} in {what}:\n{text}");
    }
    let token = regex::Regex::new("[0-9a-fA-F]{64}").unwrap();
    assert!(!token.is_match(text), "a plaintext token in {what}:\n{text}");
}

#[test]
fn no_secret_reaches_the_console_files_tarball_or_any_payload() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let echo = Echo::start(&runtime);
    let (_standin, urls) = spec_standin(&["--echo-secrets", "--user", "admin", "--password", ADMIN_PASS]);
    let with_userinfo = urls[0].replace("http://", &format!("http://admin:{URL_PASS}@"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let webhook = format!("{}/hooks/T0/B0/{HOOK_SECRET}", echo.url());
    let run = parity()
        .args([
            "run",
            "--instance",
            &with_userinfo,
            "--instance",
            &urls[1],
            "--iterations",
            "2",
            "--attempts",
            "1",
        ])
        .args(["--admin-user", "admin", "--admin-pass", ADMIN_PASS, "--junit"])
        .arg(tmp.path().join("junit.xml"))
        .arg("--out")
        .arg(&out)
        .env("SLACK_WEBHOOK", &webhook)
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("GITHUB_STEP_SUMMARY", tmp.path().join("summary.md"))
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", output_text(&run));
    let said = output_text(&run);
    assert!(said.contains("Slack answered HTTP 500"), "the Slack stand-in echoed: {said}");
    assert_clean("the run's output", &said);

    let notify = parity()
        .args(["notify", "github", "--out"])
        .arg(&out)
        .env("GITHUB_API_URL", echo.url())
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("GITHUB_EVENT_NAME", "schedule")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert_eq!(notify.status.code(), Some(3), "GitHub answered 500: {}", output_text(&notify));
    assert_clean("notify's output", &output_text(&notify));

    for file in files_under(tmp.path()) {
        assert_clean(&file.display().to_string(), &String::from_utf8_lossy(&std::fs::read(&file).unwrap()));
    }
    for (name, bytes) in tarball_entries(&tarball(&out)) {
        assert_clean(&format!("the tarball's {name}"), &String::from_utf8_lossy(&bytes));
    }
    let bodies = echo.bodies.lock().unwrap().clone();
    assert!(bodies.len() >= 2, "Slack and GitHub were both asked: {bodies:?}");
    for body in &bodies {
        assert_clean("a payload sent", body);
    }
}

/// SIGTERM while the instances do not answer `GET /`: exit 130 with
/// `analysis.json` saying where it stopped, and the tarball.
#[test]
fn a_signal_during_readiness_keeps_everything_and_exits_130() {
    let (_standin, urls) = spec_standin(&["--never-answer"]);
    let tmp = tempfile::tempdir().unwrap();
    let log = log_file("readiness-signal");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("parity"))
        .args(["run", "--instance", &urls[0], "--ready-timeout", "5m", "--out"])
        .arg(tmp.path())
        .env("CI", "true")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    port_from_log(&log, r"stack \(external\): http://127\.0\.0\.1:(\d+)");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let said = read(&log);
    assert_eq!(status.code(), Some(130), "{said}");
    let analysis = read_json(&parity_dir(tmp.path()).join("analysis.json"));
    assert_eq!(
        (analysis["status"].as_str(), analysis["interrupted_in"].as_str()),
        (Some("error"), Some("readiness"))
    );
    assert!(said.contains("interrupted by SIGTERM while waiting for the instances to be ready"), "{said}");
    tarball(tmp.path());
}

/// `--ready-timeout` bounds readiness: a probe is never given more than what
/// is left of it, whatever `--request-timeout` says.
#[test]
fn the_ready_timeout_bounds_each_probe() {
    let (_standin, urls) = spec_standin(&["--never-answer"]);
    let tmp = tempfile::tempdir().unwrap();
    let output = parity()
        .args([
            "run",
            "--instance",
            &urls[0],
            "--ready-timeout",
            "300ms",
            "--request-timeout",
            "30s",
            "--out",
        ])
        .arg(tmp.path())
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    let said = output_text(&output);
    assert_eq!(output.status.code(), Some(3), "{said}");
    assert!(said.contains("never answered GET / within 300 ms"), "{said}");
    let waited = regex::Regex::new(r"timed out after (\d+) ms").unwrap();
    let budgets: Vec<u64> = waited.captures_iter(&said).map(|c| c[1].parse().unwrap()).collect();
    assert!(!budgets.is_empty() && budgets.iter().all(|ms| *ms <= 300), "{said}");
    assert!(!said.contains("timed out after 30 s"), "{said}");
}

#[test]
fn the_collector_reads_only_regular_files_and_never_without_a_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let collected = out.join("flakiness/collected");
    std::fs::create_dir_all(&collected).unwrap();
    let fifo = collected.join("run_fifo_cross.json");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let output = parity().args(["collect", "--out"]).arg(&out).timeout(HANG_GUARD).output().unwrap();
    let said = output_text(&output);
    assert_eq!(output.status.code(), Some(3), "a file that cannot be read fails the collection: {said}");
    assert!(said.contains("run_fifo_cross.json is not a regular file but a FIFO"), "{said}");
    assert!(said.contains("the collection is incomplete: 1 file(s) could not be read"), "{said}");
    let summary = read_json(&out.join("flakiness/cross/summary.json"));
    assert_eq!(summary["skipped_files"][0]["code"], "refused");

    let output = parity()
        .args(["collect", "--src", "/dev/zero", "--out"])
        .arg(&out)
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert!(output_text(&output).contains("is not a regular file but a device"), "{}", output_text(&output));
    for (command, flag) in [("check", "--summary"), ("status", "--summary"), ("badge", "--status")] {
        let output = parity()
            .args([command, flag, "/dev/zero", "--out"])
            .arg(if command == "badge" { tmp.path().join("b.svg") } else { out.clone() })
            .timeout(HANG_GUARD)
            .output()
            .unwrap();
        assert!(
            output_text(&output).contains("is not a regular file but a device"),
            "{command}: {}",
            output_text(&output)
        );
    }
}

/// `parity run 2>&1 | head -1`: the pipe closes after one line; the run goes
/// on, writes everything and exits with its own code.
#[test]
fn a_closed_pipe_is_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("parity"))
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "2", "--out"])
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(parity_dir(tmp.path()).join("analysis.json").is_file());
    tarball(tmp.path());
}

/// A collected file named with a newline cannot forge a `parity:` line.
#[test]
fn outside_text_cannot_forge_a_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let collected = out.join("flakiness/collected");
    std::fs::create_dir_all(&collected).unwrap();
    std::fs::write(collected.join("run_a\nparity: all runs passed\n_cross.json"), "not json").unwrap();
    let output = parity().args(["collect", "--out"]).arg(&out).output().unwrap();
    let forged = |text: &str| text.lines().any(|l| l.starts_with("parity: all runs passed"));
    assert!(!forged(&text(&output.stderr)), "{}", text(&output.stderr));
    assert!(!forged(&read(&out.join("flakiness/cross/report.txt"))));
}

/// The same value means the same thing wherever it comes from, and a bad one
/// is exit 64 naming its source.
#[test]
fn bad_settings_are_usage_errors_naming_where_they_came_from() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("ci")).unwrap();
    std::fs::write(tmp.path().join("ci/PARITY_STRICT"), "garbage\n").unwrap();
    let file = parity().current_dir(tmp.path()).args(["run", "--backend", "local"]).output().unwrap();
    assert_eq!(file.status.code(), Some(64));
    assert!(
        text(&file.stderr).contains("ci/PARITY_STRICT: `garbage` is not true or false"),
        "{}",
        text(&file.stderr)
    );
    let var =
        parity().current_dir(tmp.path()).args(["run"]).env("PARITY_STRICT", "garbage").output().unwrap();
    assert_eq!(var.status.code(), Some(64));
    assert!(text(&var.stderr).contains("PARITY_STRICT: `garbage`"));

    let iterations = parity().args(["run"]).env("CROSS_INSTANCE_ITERATIONS", "abc").output().unwrap();
    assert_eq!(iterations.status.code(), Some(64));
    let said = text(&iterations.stderr);
    assert!(said.contains("CROSS_INSTANCE_ITERATIONS") && !said.contains("--iterations"), "{said}");

    let mongo = parity().args(["run", "--backend", "local", "--mongo-uri", "garbage"]).output().unwrap();
    assert_eq!(mongo.status.code(), Some(64));
    assert!(text(&mongo.stderr).contains("is not a MongoDB URI"));
}

/// `parity collect` says when the current results take the name of a collected file.
#[test]
fn a_collected_latest_file_is_not_replaced_in_silence() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    std::fs::create_dir_all(out.join("flakiness/collected")).unwrap();
    std::fs::create_dir_all(parity_dir(&out)).unwrap();
    std::fs::write(out.join("flakiness/collected/run_local_latest_cross.json"), r#"[{"success": true}]"#)
        .unwrap();
    std::fs::write(parity_dir(&out).join("cross-instance-results.json"), r#"[{"success": true}]"#).unwrap();
    let output = parity().args(["collect", "--out"]).arg(&out).output().unwrap();
    assert!(
        text(&output.stderr).contains("run_local_latest_cross.json is set aside"),
        "{}",
        text(&output.stderr)
    );
    assert!(Path::new(&out).join("flakiness/cross/summary.json").is_file());
}
