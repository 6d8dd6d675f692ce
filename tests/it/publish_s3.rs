//! `parity publish` to S3, against a real S3-compatible server on loopback:
//! moto's server (PyPI `moto[server]`), one per test, spoken to over HTTP
//! with SigV4-presigned requests (rusty-s3 + reqwest) to create the bucket and
//! read every object back.
//!
//! Without moto the S3 tests print `SKIP … moto not installed` and pass,
//! unless PARITY_REQUIRE_S3=1 (CI), where its absence fails them.

use crate::common::{
    available_or_skip, collect_outputs, collected_fixtures, dead_port, log_file, parity, port_from_log,
    python_imports, run_recording, text, KillOnDrop, HANG_GUARD,
};
use rusty_s3::actions::S3Action as _;
use rusty_s3::{Bucket, Credentials, UrlStyle};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const MOTO_INSTALL: &str = "pip install 'moto[server]==5.2.1'";
const ACCESS_KEY: &str = "AKIAPARITYTESTKEY";
const SECRET_KEY: &str = "parity/FAKE+secretKEY/0123456789abcdefXYZ";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEPARITYfakeSESSIONtoken0123456789";
const BUCKET: &str = "parity-dash";
/// What each published file must be served as (independent of the code under test).
const EXPECTED: [(&str, &str); 4] = [
    ("dashboard.html", "text/html; charset=utf-8"),
    ("trend.json", "application/json"),
    ("status.svg", "image/svg+xml"),
    ("status.json", "application/json"),
];

fn cross(out: &Path) -> PathBuf {
    out.join("flakiness/cross")
}

fn next_second() {
    let start = chrono::Utc::now().timestamp();
    while chrono::Utc::now().timestamp() == start {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A moto server on a free loopback port, killed when dropped.
struct Moto {
    _server: KillOnDrop,
    endpoint: String,
}

fn moto(test: &str) -> Option<Moto> {
    let missing = format!("moto not installed ({MOTO_INSTALL})");
    if !available_or_skip(python_imports("moto.server"), test, "PARITY_REQUIRE_S3", &missing) {
        return None;
    }
    let log_path = log_file("moto");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn moto server");
    let server = KillOnDrop(child);
    let port = port_from_log(&log_path, r"Running on http://127\.0\.0\.1:(\d+)");
    Some(Moto { _server: server, endpoint: format!("http://127.0.0.1:{port}") })
}

/// The test's own S3 client: presigned requests, as any S3 client would send.
struct S3 {
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

struct Object {
    content_type: String,
    cache_control: Option<String>,
    body: Vec<u8>,
}

impl S3 {
    fn new(endpoint: &str, bucket: &str) -> S3 {
        S3 {
            bucket: Bucket::new(endpoint.parse().unwrap(), UrlStyle::Path, bucket.to_string(), "us-east-1")
                .unwrap(),
            credentials: Credentials::new(ACCESS_KEY, SECRET_KEY),
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
            runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        }
    }

    fn create_bucket(&self) {
        let url = self.bucket.create_bucket(&self.credentials).sign(Duration::from_secs(60));
        let response = self
            .runtime
            .block_on(async { self.http.put(url).header(reqwest::header::CONTENT_LENGTH, "0").send().await })
            .unwrap();
        assert!(response.status().is_success(), "create bucket: HTTP {}", response.status());
    }

    fn get(&self, key: &str) -> Object {
        let url = self.bucket.get_object(Some(&self.credentials), key).sign(Duration::from_secs(60));
        self.runtime.block_on(async {
            let response = self.http.get(url).send().await.unwrap();
            assert!(response.status().is_success(), "GET {key}: HTTP {}", response.status());
            let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
            let content_type = header("content-type").unwrap_or_default();
            let cache_control = header("cache-control");
            let body = response.bytes().await.unwrap().to_vec();
            Object { content_type, cache_control, body }
        })
    }

    /// ListObjectsV2 (`GET /<bucket>/?list-type=2&prefix=…`), every key under `prefix`.
    fn list(&self, prefix: &str) -> Vec<String> {
        let mut action = self.bucket.get_object(Some(&self.credentials), "");
        action.query_mut().insert("list-type", "2");
        action.query_mut().insert("prefix", prefix.to_string());
        let url = action.sign(Duration::from_secs(60));
        let body = self.runtime.block_on(async {
            let response = self.http.get(url).send().await.unwrap();
            assert!(response.status().is_success(), "list {prefix}: HTTP {}", response.status());
            response.text().await.unwrap()
        });
        let doc = roxmltree::Document::parse(&body).unwrap();
        let mut keys: Vec<String> = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "Key")
            .filter_map(|n| n.text().map(str::to_string))
            .collect();
        keys.sort();
        keys
    }
}

fn publish_cmd(out: &Path, endpoint: &str, bucket: &str) -> assert_cmd::Command {
    let mut cmd = parity();
    cmd.arg("publish")
        .arg("--out")
        .arg(out)
        .env("AWS_S3_BUCKET", bucket)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint);
    cmd
}

fn read_files(out: &Path) -> Vec<(&'static str, Vec<u8>)> {
    EXPECTED.iter().map(|(name, _)| (*name, std::fs::read(cross(out).join(name)).unwrap())).collect()
}

fn assert_no_secrets(seen: &str, out: &Path) {
    for secret in [SECRET_KEY, SESSION_TOKEN] {
        assert!(!seen.contains(secret), "a secret was printed:\n{seen}");
        crate::common::assert_not_in_files(out, secret);
    }
}

#[test]
fn two_publishes_upload_archives_and_live_files_with_their_content_types() {
    let Some(moto) = moto("two_publishes_upload_archives_and_live_files_with_their_content_types") else {
        return;
    };
    let s3 = S3::new(&moto.endpoint, BUCKET);
    s3.create_bucket();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let mut seen = String::new();

    collect_outputs(&collected_fixtures(), &out);
    let first_files = read_files(&out);
    let first = run_recording(publish_cmd(&out, &moto.endpoint, BUCKET), &mut seen);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout).trim(), format!("{}/{BUCKET}/parity-cross/dashboard.html", moto.endpoint));
    let uploads: Vec<String> =
        text(&first.stderr).lines().filter(|l| l.contains("S3: uploaded")).map(String::from).collect();
    assert_eq!(uploads.len(), 8, "{uploads:?}");
    assert!(uploads[..4].iter().all(|l| l.contains("/parity-cross/archives/")), "archive first: {uploads:?}");
    assert!(uploads[4..].iter().all(|l| !l.contains("/archives/")), "{uploads:?}");

    next_second();
    collect_outputs(&collected_fixtures().join("run_4242_cross.json"), &out);
    let second_files = read_files(&out);
    assert_ne!(first_files, second_files, "the second collection should differ");
    let second = run_recording(publish_cmd(&out, &moto.endpoint, BUCKET), &mut seen);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));

    let keys = s3.list("parity-cross/");
    assert_eq!(keys.len(), 12, "{keys:?}");
    let folders: BTreeSet<String> = keys
        .iter()
        .filter_map(|k| k.strip_prefix("parity-cross/archives/"))
        .map(|rest| rest.split('/').next().unwrap().to_string())
        .collect();
    assert_eq!(folders.len(), 2, "{folders:?}");
    let folders: Vec<String> = folders.into_iter().collect();

    for (name, content_type) in EXPECTED {
        let live = s3.get(&format!("parity-cross/{name}"));
        assert_eq!(live.content_type, content_type, "{name}");
        assert_eq!(live.cache_control.as_deref(), Some("no-cache"), "{name}");
        let expected = &second_files.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(&live.body, expected, "live {name} is the second snapshot");
        for (folder, files) in [(&folders[0], &first_files), (&folders[1], &second_files)] {
            let archived = s3.get(&format!("parity-cross/archives/{folder}/{name}"));
            assert_eq!(archived.content_type, content_type, "archived {name}");
            assert_eq!(&archived.body, &files.iter().find(|(n, _)| *n == name).unwrap().1, "{folder}/{name}");
        }
    }
    // The local copy the CI uploads as the parity-cross-archives artifact.
    for folder in &folders {
        for (name, _) in EXPECTED {
            assert!(cross(&out).join("archives").join(folder).join(name).is_file(), "{folder}/{name}");
        }
    }
    assert_no_secrets(&seen, &out);
}

#[test]
fn a_prefix_is_honoured_and_a_failing_bucket_does_not_stop_pages() {
    let Some(moto) = moto("a_prefix_is_honoured_and_a_failing_bucket_does_not_stop_pages") else {
        return;
    };
    let s3 = S3::new(&moto.endpoint, BUCKET);
    s3.create_bucket();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    collect_outputs(&collected_fixtures(), &out);
    let mut seen = String::new();

    let mut cmd = publish_cmd(&out, &moto.endpoint, BUCKET);
    cmd.env("AWS_S3_PREFIX", "/team/parity/");
    let output = run_recording(cmd, &mut seen);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let keys = s3.list("team/parity/");
    assert_eq!(keys.len(), 8, "{keys:?}");
    assert!(keys.contains(&"team/parity/dashboard.html".to_string()), "{keys:?}");
    assert!(s3.list("parity-cross/").is_empty());

    // S3 fails (no such bucket); GitHub Pages is still tried, and succeeds.
    let remote = tmp.path().join("pages.git");
    std::fs::create_dir_all(&remote).unwrap();
    let init = Command::new("git").args(["init", "-q", "--bare"]).current_dir(&remote).status().unwrap();
    assert!(init.success());
    let mut cmd = publish_cmd(&out, &moto.endpoint, "no-such-bucket");
    cmd.env("GITHUB_PAGES_REPO", "acme/dash")
        .env("GITHUB_TOKEN", "ghs_FAKEs3testTOKEN0123456789")
        .env("GITHUB_PAGES_REMOTE", &remote);
    let output = run_recording(cmd, &mut seen);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    let failures: Vec<&str> = stderr.lines().filter(|l| l.starts_with("parity: publish failed:")).collect();
    assert_eq!(failures.len(), 1, "{stderr}");
    assert!(failures[0].contains("S3: PUT s3://no-such-bucket/parity-cross/archives/"), "{stderr}");
    assert!(failures[0].contains("HTTP 404 NoSuchBucket"), "{stderr}");
    assert!(stderr.contains("GitHub Pages: pushed"), "{stderr}");
    assert_eq!(text(&output.stdout).trim(), "https://acme.github.io/dash/parity-cross/dashboard.html");
    assert!(!seen.contains("ghs_FAKEs3testTOKEN0123456789"));
    assert_no_secrets(&seen, &out);
}

/// Needs no server: nothing listens on the endpoint.
#[test]
fn an_unreachable_endpoint_fails_fast_with_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    collect_outputs(&collected_fixtures(), &out);
    let dead = dead_port();
    let output = publish_cmd(&out, &dead.url(), BUCKET).timeout(HANG_GUARD).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("publish failed: S3: PUT s3://parity-dash/parity-cross/archives/"), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(!stderr.contains(SECRET_KEY) && !stderr.contains(SESSION_TOKEN) && !stderr.contains("X-Amz-"));
}
