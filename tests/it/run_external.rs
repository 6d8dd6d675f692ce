//! `parity run --backend external`: against reference servers started by
//! hand, and against services that answer in every odd way.

use crate::common::*;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::path::Path;
use std::time::Duration;

fn run_external(out: &Path, urls: &[&str], extra: &[&str]) -> assert_cmd::assert::Assert {
    let mut cmd = parity();
    cmd.args(["run", "--backend", "external", "--out"]).arg(out);
    for url in urls {
        cmd.args(["--instance", url]);
    }
    cmd.args(extra).assert()
}

#[test]
fn two_reference_servers_started_by_hand() {
    let (_a, first) = reference_server(&[]);
    let (_b, second) = reference_server(&[]);
    let tmp = tempfile::tempdir().unwrap();
    // Separate memory stores: the harness cannot seed, and cross-instance
    // revocation cannot work — so run the instances as one pair below with Mongo.
    run_external(tmp.path(), &[&first, &first], &["--iterations", "2"]).code(0);
    let suite = read(&parity_dir(tmp.path()).join("test.parity.out"));
    assert!(suite.contains("--- SKIP: seeded_bcrypt_token_active"), "{suite}");
    assert!(suite.contains("no store access"), "{suite}");
    assert!(suite.lines().any(|l| l == "PASS"), "{suite}");

    // Two instances that share nothing: instance1 never learns of the revoke.
    let split = tmp.path().join("split");
    run_external(&split, &[&first, &second], &["--iterations", "1", "--deadline", "300ms"]).code(1);
    let results = read_json(&parity_dir(&split).join("cross-instance-results.json"));
    let reason = results[0]["reason"].as_str().unwrap().to_string();
    // instance2 does not know the token at all: its revoke answers 404, and the token the user
    // asked to revoke stays active on instance1 — a stale read, however the revoke answered.
    assert!(
        reason.starts_with("revoked through instance2 (answered 404) but the token stayed active"),
        "{reason}"
    );
    assert_eq!(results[0]["class"], "stale-read");
}

#[test]
fn environment_names_the_instances() {
    let (_a, url) = reference_server(&[]);
    let tmp = tempfile::tempdir().unwrap();
    parity()
        .env("TARGET_BASE_URL", &url)
        .args(["run", "--backend", "external", "--iterations", "1", "--out"])
        .arg(tmp.path())
        .assert()
        .code(0);
    let analysis = read_json(&parity_dir(tmp.path()).join("analysis.json"));
    assert_eq!(analysis["instances"][0], url.as_str());
    assert_eq!(analysis["instances"][1], url.as_str());
}

#[test]
fn two_reference_servers_sharing_mongo() {
    let Some((_mongo, uri)) = mongo_standin("two_reference_servers_sharing_mongo") else {
        return;
    };
    let store = ["--store", "mongo", "--mongo-uri", &uri];
    let (_a, first) = reference_server(&store);
    let (_b, second) = reference_server(&store);
    let tmp = tempfile::tempdir().unwrap();
    run_external(tmp.path(), &[&first, &second], &["--mongo-uri", &uri, "--iterations", "3"]).code(0);
    let suite = read(&parity_dir(tmp.path()).join("test.parity.out"));
    for check in ["seeded_bcrypt_token_active", "seeded_pbkdf2_token_active", "expired_token_inactive"] {
        assert!(suite.contains(&format!("--- PASS: {check}")), "{suite}");
    }
    let analysis = read_json(&parity_dir(tmp.path()).join("analysis.json"));
    assert_eq!(analysis["cross"]["failures"], 0, "{analysis}");
    assert!(analysis["store"].as_str().unwrap().starts_with("mongodb://"), "{analysis}");
}

/// How an odd service answers every API call.
type Answer = fn() -> Response;

/// A service that answers every API call the same odd way; `GET /` answers 404 (up).
fn odd_service(answer: Answer) -> (String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/", axum::routing::get(|| async { StatusCode::NOT_FOUND }))
        .fallback(move || async move { answer() });
    runtime.spawn(async move { axum::serve(listener, app).await });
    (url, runtime)
}

#[test]
fn odd_answers_give_clear_reasons_not_panics() {
    let cases: [(&str, Answer, &str, &str); 5] = [
        (
            "html",
            || {
                ([(header::CONTENT_TYPE, "text/html")], "<html><head><title>Sign in</title></head></html>")
                    .into_response()
            },
            "an HTML page titled `Sign in`",
            "contract",
        ),
        ("empty", || StatusCode::OK.into_response(), "an empty body", "contract"),
        ("non-json", || "{\"active\": tru".into_response(), "non-JSON text `{\"active\": tru`", "contract"),
        (
            "500",
            || (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
            "HTTP 500 (expected 200 or 201)",
            "infrastructure",
        ),
        (
            "redirect",
            || (StatusCode::FOUND, [(header::LOCATION, "/auth/login")], "redirect").into_response(),
            "redirect to `/auth/login`",
            "contract",
        ),
    ];
    for (name, answer, expected, class) in cases {
        let (url, _runtime) = odd_service(answer);
        let tmp = tempfile::tempdir().unwrap();
        let output = parity()
            .args([
                "run",
                "--backend",
                "external",
                "--attempts",
                "1",
                "--iterations",
                "1",
                "--instance",
                &url,
                "--out",
            ])
            .arg(tmp.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // A service that only failed (timeouts, 5xx) is exit 3; a wrong answer is a finding, exit 1.
        let only_infrastructure = class == "infrastructure";
        let expected_exit = if only_infrastructure { 3 } else { 1 };
        assert_eq!(output.status.code(), Some(expected_exit), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let smoke = read_json(&parity_dir(tmp.path()).join("node.parity.json"));
        let reason = smoke["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(expected), "{name}: reason `{reason}` lacks `{expected}`");
        assert_eq!(smoke["class"], class, "{name}: {smoke}");
        let cross = read_json(&parity_dir(tmp.path()).join("cross-instance-results.json"));
        assert!(cross[0]["reason"].as_str().unwrap().contains(expected), "{name}: {cross}");
        assert_eq!(cross[0]["class"], class, "{name}: {cross}");
        let analysis = read_json(&parity_dir(tmp.path()).join("analysis.json"));
        assert_eq!(analysis["status"], if only_infrastructure { "error" } else { "fail" });
        assert!(analysis["failure_classes"][class].as_u64().unwrap() >= 2, "{name}: {analysis}");
        tarball(tmp.path());
    }
}

#[test]
fn a_service_that_hangs_times_out_with_the_duration_in_the_reason() {
    let (url, _runtime) = odd_service(|| {
        // Never answers within the harness's request timeout.
        std::thread::sleep(Duration::from_millis(1500));
        StatusCode::OK.into_response()
    });
    let tmp = tempfile::tempdir().unwrap();
    run_external(
        tmp.path(),
        &[&url],
        &["--attempts", "1", "--iterations", "1", "--request-timeout", "200ms"],
    )
    .code(3);
    let smoke = read_json(&parity_dir(tmp.path()).join("node.parity.json"));
    let reason = smoke["reason"].as_str().unwrap();
    assert!(reason.contains("timed out after 200 ms"), "{reason}");
}

#[test]
fn an_instance_that_never_answers_is_an_infrastructure_error() {
    let dead = dead_port();
    let url = dead.url();
    let tmp = tempfile::tempdir().unwrap();
    let output = parity()
        .args(["run", "--backend", "external", "--ready-timeout", "300ms", "--instance", &url, "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("never answered GET / within 300 ms"), "{stderr}");
    assert!(stderr.contains("could not connect"), "{stderr}");
    let analysis = read_json(&parity_dir(tmp.path()).join("analysis.json"));
    assert_eq!(analysis["status"], "error");
    assert_eq!(analysis["exit_code"], 3);
    assert!(analysis["errors"][0].as_str().unwrap().contains("webprofile"), "{analysis}");
    tarball(tmp.path());
}
