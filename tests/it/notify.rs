//! Slack and GitHub feedback against a local server that records what it
//! received (the only stand-in: both are third-party SaaS): right endpoints,
//! bodies, labels, assignees, draft prefix, no duplicate issue, nothing sent
//! when nothing should be, and no token or webhook URL anywhere.

use crate::common::{assert_not_in_files, collected_fixtures, output_text, parity};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "ghs_notifytoken987654";
const HOOK_SECRET: &str = "SECRETHOOK42xyz";

#[derive(Clone, Debug)]
struct Recorded {
    method: String,
    path: String,
    authorization: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct Server {
    port: u16,
    slack_status: Arc<Mutex<u16>>,
    open_issues: Arc<Mutex<Vec<Value>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    fn start(runtime: &tokio::runtime::Runtime) -> Server {
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let server = Server { port: listener.local_addr().unwrap().port(), ..Server::default() };
        *server.slack_status.lock().unwrap() = 200;
        let app = axum::Router::new().fallback(handle).with_state(server.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn webhook(&self) -> String {
        format!("{}/hooks/T000/B000/{HOOK_SECRET}", self.url())
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }

    fn github_env(&self, cmd: &mut assert_cmd::Command) {
        cmd.env("GITHUB_API_URL", self.url()).env("GITHUB_REPOSITORY", "o/r").env("GITHUB_TOKEN", TOKEN);
    }
}

async fn handle(
    State(server): State<Server>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    server.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        authorization: headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let json = |status: StatusCode, body: Value| (status, axum::Json(body)).into_response();
    match (method.as_str(), path.as_str()) {
        ("POST", p) if p.starts_with("/hooks/") => {
            let status = StatusCode::from_u16(*server.slack_status.lock().unwrap()).unwrap();
            (status, "ok").into_response()
        }
        ("GET", "/repos/o/r/issues") => {
            json(StatusCode::OK, Value::Array(server.open_issues.lock().unwrap().clone()))
        }
        ("POST", "/repos/o/r/issues") => json(
            StatusCode::CREATED,
            json!({"number": 101, "html_url": format!("{}/o/r/issues/101", server.url())}),
        ),
        ("POST", p) if p.ends_with("/comments") => json(StatusCode::CREATED, json!({"id": 1})),
        ("POST", p) if p.ends_with("/labels") => json(StatusCode::OK, json!([])),
        ("POST", "/repos/o/r/check-runs") => json(StatusCode::CREATED, json!({"id": 5})),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A run on the embedded stack; with `stale`, instances cache introspection
/// so every iteration fails.
fn run_recording(
    out: &Path,
    stale: bool,
    configure: impl FnOnce(&mut assert_cmd::Command),
) -> std::process::Output {
    let mut cmd = parity();
    cmd.args(["run", "--backend", "local", "--iterations", "2", "--attempts", "1", "--hash-cost", "minimal"])
        .arg("--out")
        .arg(out);
    if stale {
        cmd.args(["--fault", "revocation-lag=300ms"]);
    }
    configure(&mut cmd);
    cmd.output().unwrap()
}

/// Neither the token nor the webhook's secret part in the output or any file.
fn assert_no_secrets(out: &Path, output: &std::process::Output) {
    let text = output_text(output);
    for secret in [TOKEN, HOOK_SECRET] {
        assert!(!text.contains(secret), "{secret} in the output:\n{text}");
        assert_not_in_files(out, secret);
    }
}

#[test]
fn a_failing_run_posts_its_summary_to_slack_and_a_passing_one_posts_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = Server::start(&runtime);
    let tmp = tempfile::tempdir().unwrap();

    let failing = run_recording(&tmp.path().join("fail"), true, |c| {
        c.env("SLACK_WEBHOOK", server.webhook());
    });
    assert_eq!(failing.status.code(), Some(1), "{}", output_text(&failing));
    let posts = server.take();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].path, format!("/hooks/T000/B000/{HOOK_SECRET}"));
    let text = posts[0].body["text"].as_str().unwrap();
    assert!(text.starts_with(":x: *webprofile: parity FAILED*"), "{text}");
    assert!(text.contains("Cross-instance: 2/2 iterations failed"), "{text}");
    assert!(output_text(&failing).contains("posted the summary to Slack"));
    assert_no_secrets(&tmp.path().join("fail"), &failing);

    let passing = run_recording(&tmp.path().join("pass"), false, |c| {
        c.env("SLACK_WEBHOOK", server.webhook());
    });
    assert_eq!(passing.status.code(), Some(0));
    assert!(server.take().is_empty(), "a passing run posts nothing");
}

#[test]
fn a_failing_slack_post_is_a_bounded_warning_and_changes_no_exit_code() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = Server::start(&runtime);
    *server.slack_status.lock().unwrap() = 500;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");

    let failing = run_recording(&out, true, |c| {
        c.env("SLACK_WEBHOOK", server.webhook());
    });
    assert_eq!(failing.status.code(), Some(1));
    assert_eq!(server.take().len(), 3, "three tries, then give up");
    assert!(output_text(&failing).contains("warning: could not post to Slack: Slack answered HTTP 500"));
    assert_no_secrets(&out, &failing);

    // An unreachable webhook: the message must not carry the URL either.
    let unreachable = run_recording(&out, true, |c| {
        c.env("SLACK_WEBHOOK", format!("http://127.0.0.1:9/hooks/{HOOK_SECRET}"));
    });
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(output_text(&unreachable).contains("warning: could not post to Slack: Slack is unreachable"));
    assert_no_secrets(&out, &unreachable);
}

fn event_file(dir: &Path, payload: Value) -> String {
    let path = dir.join("event.json");
    std::fs::write(&path, payload.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

fn notify(
    server: &Server,
    out: &Path,
    event: &str,
    event_path: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = parity();
    server.github_env(&mut cmd);
    cmd.args(["notify", "github", "--out"])
        .arg(out)
        .args(extra)
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", event_path)
        .env("GITHUB_SHA", "merge-sha");
    cmd.output().unwrap()
}

#[test]
fn a_failing_pull_request_gets_a_comment_a_label_and_a_failed_check() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = Server::start(&runtime);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    assert_eq!(run_recording(&out, true, |_| {}).status.code(), Some(1));
    let event = event_file(
        tmp.path(),
        json!({"number": 42, "pull_request": {"number": 42, "head": {"sha": "abc123"}}}),
    );

    let dry = notify(&server, &out, "pull_request", &event, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", output_text(&dry));
    assert!(output_text(&dry).contains("dry run: would POST /repos/o/r/issues/42/comments"));
    assert!(server.take().is_empty(), "a dry run sends nothing");

    let sent = notify(&server, &out, "pull_request", &event, &[]);
    assert_eq!(sent.status.code(), Some(0), "{}", output_text(&sent));
    let requests = server.take();
    let paths: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(
        paths,
        [
            ("POST", "/repos/o/r/issues/42/comments"),
            ("POST", "/repos/o/r/issues/42/labels"),
            ("POST", "/repos/o/r/check-runs")
        ]
    );
    assert!(requests.iter().all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))));
    let comment = requests[0].body["body"].as_str().unwrap();
    assert!(
        comment.contains("❌ parity FAILED") && comment.contains("Cross-instance: 2/2 iterations failed")
    );
    assert_eq!(requests[1].body, json!({"labels": ["parity-failure"]}));
    let check = &requests[2].body;
    assert_eq!((check["head_sha"].as_str(), check["conclusion"].as_str()), (Some("abc123"), Some("failure")));
    assert_no_secrets(&out, &sent);
}

#[test]
fn a_failing_scheduled_run_opens_one_issue_then_comments_on_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = Server::start(&runtime);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    assert_eq!(run_recording(&out, true, |_| {}).status.code(), Some(1));
    let event = event_file(tmp.path(), json!({"schedule": "0 3 * * *"}));

    let first = notify(&server, &out, "schedule", &event, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", output_text(&first));
    let requests = server.take();
    let created =
        requests.iter().find(|r| r.method == "POST" && r.path == "/repos/o/r/issues").expect("issue opened");
    assert_eq!(created.body["labels"], json!(["parity-failure"]));
    assert!(requests.iter().any(|r| r.path == "/repos/o/r/check-runs"));

    // The issue is now open: the next failure comments on it instead of opening another.
    server.open_issues.lock().unwrap().push(json!({
        "number": 101, "body": created.body["body"], "labels": [{"name": "parity-failure"}]
    }));
    let second = notify(&server, &out, "schedule", &event, &[]);
    assert_eq!(second.status.code(), Some(0));
    let requests = server.take();
    assert!(
        !requests.iter().any(|r| r.method == "POST" && r.path == "/repos/o/r/issues"),
        "no duplicate issue"
    );
    assert!(requests.iter().any(|r| r.path == "/repos/o/r/issues/101/comments"));
    assert!(output_text(&second).contains("issue #101 is already open: commented on it"));
}

/// A new flakiness issue (the signature issues have their own test, `signature_issues`).
fn is_flakiness_issue(r: &Recorded) -> bool {
    r.method == "POST" && r.path == "/repos/o/r/issues" && r.body["labels"][0] == "parity-flakiness"
}

fn collect(server: &Server, out: &Path, vars: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
    let mut cmd = parity();
    server.github_env(&mut cmd);
    cmd.args(["collect", "--src"])
        .arg(collected_fixtures())
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("SLACK_WEBHOOK", server.webhook())
        .env("PARITY_GITHUB_WRITE_PAUSE", "0s");
    for (key, value) in vars {
        cmd.env(key, value);
    }
    cmd.output().unwrap()
}

#[test]
fn collect_opens_issues_exactly_as_the_runbook_variables_say() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = Server::start(&runtime);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");

    // Defaults: the weekly Slack summary (an alert: the fixture's runs exceed the
    // cross thresholds), and no issue (SKIP_AUTO_ISSUE defaults to true).
    let default = collect(&server, &out, &[], &[]);
    assert_eq!(default.status.code(), Some(2), "{}", output_text(&default));
    let requests = server.take();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let slack = requests[0].body["text"].as_str().unwrap();
    assert!(slack.starts_with(":rotating_light: *ALERT"), "{slack}");
    assert!(slack.contains("Runs: ") && slack.contains("Iterations: "), "{slack}");
    assert!(output_text(&default).contains("SKIP_AUTO_ISSUE is true"));

    // Enabled, but below the issue thresholds: nothing to GitHub.
    let below =
        [("SKIP_AUTO_ISSUE", "false"), ("ISSUE_RUN_THRESHOLD", "1000"), ("ISSUE_ITER_RATE_THRESHOLD", "1")];
    collect(&server, &out, &below, &[]);
    assert!(!server.take().iter().any(is_flakiness_issue), "no flakiness issue below the thresholds");

    // Enabled and met: a draft issue with the labels and assignees asked for.
    let met = [
        ("SKIP_AUTO_ISSUE", "false"),
        ("ISSUE_RUN_THRESHOLD", "1"),
        ("ISSUE_LABELS", "bug,parity"),
        ("ISSUE_ASSIGNEES", "alice,bob"),
    ];
    let opened = collect(&server, &out, &met, &[]);
    let requests = server.take();
    let issue = requests.iter().find(|r| is_flakiness_issue(r)).expect("issue");
    assert!(issue.body["title"].as_str().unwrap().starts_with("[DRAFT] webprofile parity:"));
    assert_eq!(issue.body["labels"], json!(["parity-flakiness", "draft", "bug", "parity"]));
    assert_eq!(issue.body["assignees"], json!(["alice", "bob"]));
    assert!(output_text(&opened).contains("opened issue #101"));
    assert_no_secrets(&out, &opened);

    // Already open: a comment, no duplicate; not a draft when asked so.
    server.open_issues.lock().unwrap().push(json!({"number": 101, "body": issue.body["body"]}));
    let again = collect(
        &server,
        &out,
        &[("ISSUE_CREATE_AS_DRAFT", "false")].iter().chain(&met).cloned().collect::<Vec<_>>(),
        &[],
    );
    let requests = server.take();
    assert!(!requests.iter().any(is_flakiness_issue));
    assert!(requests.iter().any(|r| r.path == "/repos/o/r/issues/101/comments"), "{requests:?}");
    assert!(output_text(&again).contains("issue #101 is already open"));

    // A dry run prints the message and the issue, and sends nothing.
    let dry = collect(&server, &out, &met, &["--dry-run"]);
    assert!(server.take().is_empty(), "a dry run sends nothing");
    let said = output_text(&dry);
    assert!(
        said.contains("dry run: would post to Slack")
            && said.contains("dry run: would POST /repos/o/r/issues")
    );
    assert!(server.requests().is_empty());
}
