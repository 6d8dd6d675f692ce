//! `parity collect` downloading the parity workflow's artifacts from a local
//! stand-in for the GitHub REST API: pagination, artifact choice, redirects
//! to a storage host, zip extraction, re-runs, and a refused token.

use crate::common::{files_under, read_json};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "ghs_testtoken123456";
const ARTIFACT: &str = "webprofile-parity-artifacts";

#[derive(Clone, Debug)]
struct Request {
    /// The port the request arrived on: the API's or the storage host's.
    port: u16,
    path: String,
    query: String,
    authorization: Option<String>,
}

#[derive(Clone)]
struct Server {
    api_port: u16,
    storage_port: u16,
    refuse: bool,
    requests: Arc<Mutex<Vec<Request>>>,
    /// The first runs request answers 503 once, to exercise the retry.
    failed_once: Arc<Mutex<bool>>,
}

impl Server {
    fn api(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_query}", self.api_port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.requests.lock().unwrap().clear();
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://x/?{query}")).unwrap();
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in entries {
        writer.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        writer.write_all(text.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

const CROSS_101: &str = r#"[{"iteration": 1, "success": true, "latency_ms": 2.0, "stale_reads": 0},
  {"iteration": 2, "success": true, "latency_ms": 3.0, "stale_reads": 0}]"#;
const CROSS_103: &str = r#"[{"iteration": 1, "success": true}, {"iteration": 2, "success": true},
  {"iteration": 3, "success": true}]"#;
const FLAKINESS_101: &str = r#"{"start_ts": "2026-11-20T10:00:00Z", "end_ts": "2026-11-20T10:01:00Z", "success": true, "attempts": [{"attempt": 1, "rc": 0, "duration_ms": 60000}], "flaky": false}"#;

fn archive(artifact_id: u64) -> Option<Vec<u8>> {
    match artifact_id {
        1001 => Some(zip_of(&[
            ("ci/flakiness/flakiness.json", FLAKINESS_101),
            ("ci/webprofile-parity/cross-instance-results.json", CROSS_101),
            ("ci/webprofile-parity/cross-instance-iter-1.out", "iteration 1: PASS\n"),
            ("ci/webprofile-parity/cross-instance-iter-2.out", "iteration 2: PASS\n"),
            ("ci/webprofile-parity/node.parity.json", "{}"),
            ("../../evil", "pwned"),
        ])),
        1004 => Some(zip_of(&[("cross-instance-results.json", CROSS_103)])),
        // Expired or differently named: must never be fetched.
        1002 | 1003 => Some(zip_of(&[("cross-instance-results.json", "[]")])),
        _ => None,
    }
}

fn artifact(server: &Server, id: u64, name: &str, expired: bool) -> serde_json::Value {
    json!({
        "id": id, "name": name, "expired": expired, "size_in_bytes": 1234,
        "archive_download_url": server.api(&format!("/repos/o/r/actions/artifacts/{id}/zip")),
    })
}

fn json_page(body: serde_json::Value, next: Option<String>) -> Response {
    let mut response = axum::Json(body).into_response();
    if let Some(next) = next {
        let link = format!(r#"<{next}>; rel="next", <{next}>; rel="last""#);
        response.headers_mut().insert(header::LINK, link.parse().unwrap());
    }
    response
}

async fn handle(State(server): State<Server>, uri: Uri, headers: HeaderMap) -> Response {
    let port = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("?").to_string());
    server.requests.lock().unwrap().push(Request {
        port,
        path: path.clone(),
        query: query.clone(),
        authorization: authorization.clone(),
    });
    if let Some(id) = path.strip_prefix("/storage/").and_then(|f| f.strip_suffix(".zip")) {
        return match id.parse().ok().and_then(archive) {
            Some(bytes) => ([(header::CONTENT_TYPE, "application/zip")], bytes).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if server.refuse {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Bad credentials"}))).into_response();
    }
    if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let page = query_param(&query, "page").unwrap_or_else(|| "1".into());
    let run = |id: u64| json!({"id": id, "created_at": format!("2026-11-2{}T10:00:00Z", id - 100)});
    match path.as_str() {
        "/repos/o/r/actions/workflows/parity.yml/runs" => {
            {
                let mut failed = server.failed_once.lock().unwrap();
                if !*failed {
                    *failed = true;
                    return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "0")]).into_response();
                }
            }
            if page == "1" {
                let next = server.api(&format!("{path}?{}", query.replace("page=1", "page=2")));
                json_page(json!({"total_count": 3, "workflow_runs": [run(101), run(102)]}), Some(next))
            } else {
                json_page(json!({"total_count": 3, "workflow_runs": [run(103)]}), None)
            }
        }
        "/repos/o/r/actions/runs/101/artifacts" if page == "1" => {
            let next = server.api(&format!("{path}?per_page=100&page=2"));
            json_page(
                json!({"total_count": 2, "artifacts": [artifact(&server, 1002, "other", false)]}),
                Some(next),
            )
        }
        "/repos/o/r/actions/runs/101/artifacts" => json_page(
            json!({"total_count": 2, "artifacts": [artifact(&server, 1001, ARTIFACT, false)]}),
            None,
        ),
        "/repos/o/r/actions/runs/102/artifacts" => {
            json_page(json!({"total_count": 1, "artifacts": [artifact(&server, 1003, ARTIFACT, true)]}), None)
        }
        "/repos/o/r/actions/runs/103/artifacts" => json_page(
            json!({"total_count": 1, "artifacts": [artifact(&server, 1004, ARTIFACT, false)]}),
            None,
        ),
        _ => match path.strip_prefix("/repos/o/r/actions/artifacts/").and_then(|p| p.strip_suffix("/zip")) {
            // GitHub answers with a redirect to its storage host.
            Some(id) => {
                let location = format!("http://127.0.0.1:{}/storage/{id}.zip", server.storage_port);
                (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
    }
}

/// The API and the storage host: one handler on two ports.
fn start(runtime: &tokio::runtime::Runtime, refuse: bool) -> Server {
    let (api, storage) = runtime.block_on(async {
        (
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
    });
    let server = Server {
        api_port: api.local_addr().unwrap().port(),
        storage_port: storage.local_addr().unwrap().port(),
        refuse,
        requests: Arc::default(),
        failed_once: Arc::default(),
    };
    for listener in [api, storage] {
        let app = axum::Router::new().fallback(handle).with_state(server.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
    }
    server
}

fn collect(server: &Server, out: &Path) -> std::process::Output {
    crate::common::parity()
        .args(["collect", "--out"])
        .arg(out)
        .env("GITHUB_API_URL", format!("http://127.0.0.1:{}", server.api_port))
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", TOKEN)
        .output()
        .unwrap()
}

fn assert_token_nowhere(out: &Path, output: &std::process::Output) {
    crate::common::assert_not_in_files(out, TOKEN);
    let text = crate::common::output_text(output);
    assert!(!text.contains(TOKEN), "token in the output:\n{text}");
}

#[test]
fn collect_downloads_the_workflow_runs_artifacts_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = start(&runtime, false);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");

    let output = collect(&server, &out);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let requests = server.requests();
    let api: Vec<&Request> = requests.iter().filter(|r| r.port == server.api_port).collect();
    assert!(api.iter().all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))), "{api:#?}");

    // The runs: a 503 retried, then both pages, with the date filter.
    let runs: Vec<&&Request> =
        api.iter().filter(|r| r.path.ends_with("/workflows/parity.yml/runs")).collect();
    assert_eq!(runs.len(), 3, "{runs:#?}");
    let pages: Vec<String> = runs.iter().map(|r| query_param(&r.query, "page").unwrap()).collect();
    assert_eq!(pages, ["1", "1", "2"]);
    let created = query_param(&runs[0].query, "created").unwrap();
    let since = (chrono::Utc::now() - chrono::Duration::days(30)).format("%Y-%m-%d").to_string();
    assert_eq!(created, format!(">={since}"));
    assert_eq!(query_param(&runs[0].query, "per_page").as_deref(), Some("100"));

    // Every run's artifacts, run 101's over two pages; only the two live archives fetched.
    let artifact_lists: Vec<&str> =
        api.iter().filter(|r| r.path.ends_with("/artifacts")).map(|r| r.path.as_str()).collect();
    assert_eq!(
        artifact_lists,
        [
            "/repos/o/r/actions/runs/101/artifacts",
            "/repos/o/r/actions/runs/101/artifacts",
            "/repos/o/r/actions/runs/102/artifacts",
            "/repos/o/r/actions/runs/103/artifacts"
        ]
    );
    let zips: Vec<&str> = api.iter().filter(|r| r.path.ends_with("/zip")).map(|r| r.path.as_str()).collect();
    assert_eq!(zips, ["/repos/o/r/actions/artifacts/1001/zip", "/repos/o/r/actions/artifacts/1004/zip"]);
    // The redirect to the storage host carried no token.
    let storage: Vec<&Request> = requests.iter().filter(|r| r.port == server.storage_port).collect();
    assert_eq!(
        storage.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/storage/1001.zip", "/storage/1004.zip"]
    );
    assert!(storage.iter().all(|r| r.authorization.is_none()), "{storage:#?}");

    // The files, and nothing else.
    let collected = out.join("flakiness/collected");
    let mut got: Vec<String> = files_under(&collected)
        .iter()
        .map(|p| p.strip_prefix(&collected).unwrap().display().to_string())
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "raw/101/cross-instance-iter-1.out",
            "raw/101/cross-instance-iter-2.out",
            "run_101.json",
            "run_101_cross.json",
            "run_103_cross.json"
        ]
    );
    assert_eq!(crate::common::read(&collected.join("run_101_cross.json")), CROSS_101);
    let everything = files_under(tmp.path());
    assert!(everything.iter().all(|p| p.file_name().unwrap() != "evil"), "{everything:#?}");
    assert!(
        !tmp.path().join("evil").exists()
            && !out.join("evil").exists()
            && !out.join("flakiness/evil").exists()
    );

    // The downloaded runs are aggregated.
    let summary = read_json(&out.join("flakiness/cross/summary.json"));
    assert_eq!(summary["run_total"], 2);
    assert_eq!(summary["iter_total"], 5);
    assert_eq!(summary["iter_failures"], 0);
    // The refused zip entry is on record, not a failed run.
    let errors = summary["download_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["run_id"], 101);
    assert!(
        errors[0]["reason"].as_str().unwrap().contains("\"../../evil\" has an unsafe path"),
        "{errors:#?}"
    );
    let reruns = read_json(&out.join("flakiness/aggregate.json"));
    assert_eq!(reruns["count"], 1);
    assert!(
        stderr.contains(
            "3 run(s) listed, 2 downloaded (5 file(s)), 0 already here, 1 without the artifact, 0 failed"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("entry \"../../evil\" has an unsafe path"), "{stderr}");
    assert_token_nowhere(&out, &output);

    // A second collect lists the runs again but downloads nothing new.
    server.clear();
    let again = collect(&server, &out);
    let stderr = String::from_utf8_lossy(&again.stderr).into_owned();
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    let requests = server.requests();
    assert!(requests.iter().all(|r| !r.path.ends_with("/zip") && r.port == server.api_port), "{requests:#?}");
    let listed: Vec<&str> =
        requests.iter().filter(|r| r.path.ends_with("/artifacts")).map(|r| r.path.as_str()).collect();
    assert_eq!(listed, ["/repos/o/r/actions/runs/102/artifacts"], "runs on disk are not asked about");
    assert!(stderr.contains("0 downloaded (0 file(s)), 2 already here"), "{stderr}");
    assert_eq!(read_json(&out.join("flakiness/cross/summary.json"))["run_total"], 2);
    assert_token_nowhere(&out, &again);
}

#[test]
fn a_refused_token_is_one_sentence_and_exit_3_after_aggregating_local_files() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = start(&runtime, true);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let parity = crate::common::parity_dir(&out);
    std::fs::create_dir_all(&parity).unwrap();
    std::fs::write(parity.join("cross-instance-results.json"), r#"[{"success": true}, {"success": true}]"#)
        .unwrap();

    let output = collect(&server, &out);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let sentence = "GitHub refused the token (HTTP 401) when asked for the runs of workflow parity.yml; \
                    check that GITHUB_TOKEN may read this repository's Actions";
    assert!(stderr.contains(&format!("parity: GitHub download stopped: {sentence}")), "{stderr}");
    assert_eq!(server.requests().len(), 1, "no retry on 401");

    let summary = read_json(&out.join("flakiness/cross/summary.json"));
    assert_eq!(summary["run_total"], 1, "the local results are still aggregated");
    assert_eq!(summary["iter_total"], 2);
    assert_eq!(summary["download_errors"][0]["reason"], sentence);
    assert!(out.join("flakiness/cross/status.json").is_file());
    assert_token_nowhere(&out, &output);
}

#[test]
fn an_unreachable_api_is_exit_3_after_aggregating() {
    let dead = crate::common::dead_port();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let output = crate::common::parity()
        .args(["collect", "--out"])
        .arg(&out)
        .env("GITHUB_API_URL", dead.url())
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("parity: GitHub download stopped: the GitHub API is unreachable (asking for the runs of workflow parity.yml)"),
        "{stderr}"
    );
    assert!(out.join("flakiness/cross/summary.json").is_file());
    assert_token_nowhere(&out, &output);
}
