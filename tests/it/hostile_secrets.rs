//! No secret in any encoding, on any sink: a service that echoes the admin
//! password in every escaping it might apply (JSON, XML, percent, base64,
//! `\u`), a Slack that echoes what it was sent and redirects elsewhere, a
//! run, `explain` and `diff` — and not one form of the password anywhere:
//! stdout, stderr, every file, every tarball entry (gzipped ones opened),
//! every payload received.

use crate::common::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::io::Read as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A quote, a backslash, a `<`, an `&` and a non-ASCII letter: each escaped
/// differently by JSON, XML, percent-encoding and `\u`.
const PASSWORD: &str = "Pa\"ss\\w\u{f6}<rd&-h0st1le";

/// Every form the stand-in echoes (tests/standins/webprofile_standin.py,
/// `encoded_forms`), written out independently of the redactor.
fn forms() -> Vec<String> {
    use base64::Engine as _;
    let json = serde_json::to_string(PASSWORD).unwrap();
    let json = &json[1..json.len() - 1];
    let ascii: String = json
        .chars()
        .map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) })
        .collect();
    let go = ascii.replace('<', "\\u003c").replace('&', "\\u0026");
    let xml = PASSWORD.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    let numeric: String = PASSWORD
        .chars()
        .map(|c| if c.is_alphanumeric() { c.to_string() } else { format!("&#{};", c as u32) })
        .collect();
    let percent: String = PASSWORD
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(PASSWORD);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    vec![
        PASSWORD.into(),
        json.into(),
        ascii,
        go,
        xml,
        numeric,
        percent.clone(),
        percent.to_lowercase(),
        b64.trim_end_matches('=').into(),
        basic.trim_end_matches('=').into(),
        // The distinctive part alone, however it is escaped around it.
        "h0st1le".into(),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for form in forms() {
        assert!(!text.contains(&form), "{form:?} in {what}:\n{text}");
    }
}

/// Slack: records every request, answers the first with a redirect to
/// another host (which must never be followed) and the rest with an error
/// repeating what it was sent.
#[derive(Clone, Default)]
struct Slack {
    received: Arc<Mutex<Vec<String>>>,
}

async fn slack(State(slack): State<Slack>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let said = format!("{uri} {headers:?} {}", String::from_utf8_lossy(&body));
    let first = {
        let mut received = slack.received.lock().unwrap();
        received.push(said.clone());
        received.len() == 1
    };
    if first {
        return (StatusCode::TEMPORARY_REDIRECT, [("location", "http://127.0.0.2:9/elsewhere")], "")
            .into_response();
    }
    (StatusCode::BAD_REQUEST, format!("invalid_payload: {said}")).into_response()
}

fn start_slack(runtime: &tokio::runtime::Runtime) -> (Slack, String) {
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let stub = Slack::default();
    let app = axum::Router::new().fallback(slack).with_state(stub.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (stub, format!("http://127.0.0.1:{port}/services/T0/B0/XYZ"))
}

/// Every file's text, gzipped files and tarball entries opened.
fn texts_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap();
        let name = file.display().to_string();
        if name.ends_with(".tar.gz") {
            for (entry, bytes) in tarball_entries(&file) {
                out.push((format!("{name}!{entry}"), opened(&entry, bytes)));
            }
        } else {
            out.push((name.clone(), opened(&name, bytes)));
        }
    }
    out
}

fn opened(name: &str, bytes: Vec<u8>) -> String {
    if name.ends_with(".gz") {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut text).unwrap();
        return String::from_utf8_lossy(&text).into_owned();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn no_form_of_the_password_reaches_any_sink() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (stub, webhook) = start_slack(&runtime);
    let (_standin, urls) =
        spec_standin(&["--echo-encoded", "--stale-once", "--user", "admin", "--password", PASSWORD]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let run = parity()
        .args(["run", "--instance", &urls[0], "--instance", &urls[1], "--iterations", "2", "--attempts", "1"])
        .args(["--admin-user", "admin", "--admin-pass", PASSWORD, "--junit"])
        .arg(tmp.path().join("junit.xml"))
        .arg("--step-summary")
        .arg(tmp.path().join("summary.md"))
        .arg("--out")
        .arg(&out)
        .env("SLACK_WEBHOOK", &webhook)
        // Every dependency's debug line on stderr too.
        .env("PARITY_LOG", "debug")
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    let said = output_text(&run);
    assert_eq!(run.status.code(), Some(1), "the stale read fails the run: {said}");
    assert!(said.contains("Slack answered HTTP 307"), "the redirect is reported, not followed: {said}");
    assert_clean("the run's output", &said);
    assert_eq!(stub.received.lock().unwrap().len(), 1, "the summary was posted once, never re-posted");

    let packets = parity_dir(&out).join("evidence");
    let packet = std::fs::read_dir(&packets).unwrap().flatten().find(|e| e.path().is_dir()).unwrap().path();
    let explain = parity().arg("explain").arg(&packet).timeout(HANG_GUARD).output().unwrap();
    assert_eq!(explain.status.code(), Some(0), "{}", output_text(&explain));
    assert_clean("explain", &output_text(&explain));

    let diff_out = tmp.path().join("diff");
    let diff = parity()
        .args(["diff", "--reference", &urls[0], "--candidate", &urls[1]])
        .args(["--admin-user", "admin", "--admin-pass", PASSWORD, "--out"])
        .arg(&diff_out)
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert!(matches!(diff.status.code(), Some(0 | 1)), "{}", output_text(&diff));
    assert_clean("diff's output", &output_text(&diff));

    let texts = texts_under(tmp.path());
    assert!(texts.iter().any(|(name, _)| name.contains("!")), "the tarball was opened");
    for (name, text) in &texts {
        assert_clean(name, text);
    }
    assert!(
        texts.iter().any(|(_, text)| text.contains("echo go-json: [REDACTED]")),
        "the echoes were recorded, redacted"
    );
    for payload in stub.received.lock().unwrap().iter() {
        assert_clean("a payload Slack received", payload);
    }
}

/// Shards run with --no-redact hold every secret; the merged set (text,
/// gzipped traces, the tarball) holds none, and no symbolic link planted in
/// a shard or a packet is followed out of it.
#[test]
fn merge_redacts_unredacted_shards_and_no_reader_follows_a_link_out() {
    let (_standin, urls) = spec_standin(&["--echo-encoded", "--user", "admin", "--password", PASSWORD]);
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, format!("password {PASSWORD}")).unwrap();
    let mut shards = Vec::new();
    for k in 1..=2 {
        let dir = tmp.path().join(format!("shard-{k}"));
        let run = parity()
            .args(["run", "--instance", &urls[0], "--instance", &urls[1], "--iterations", "4", "--seed", "5"])
            .args([
                "--shard",
                &format!("{k}/2"),
                "--no-redact",
                "--admin-user",
                "admin",
                "--admin-pass",
                PASSWORD,
            ])
            .arg("--out")
            .arg(&dir)
            .timeout(HANG_GUARD)
            .output()
            .unwrap();
        assert!(matches!(run.status.code(), Some(0 | 1)), "{}", output_text(&run));
        let unredacted = texts_under(&parity_dir(&dir));
        assert!(unredacted.iter().any(|(_, t)| t.contains("h0st1le")), "--no-redact kept the secret");
        std::os::unix::fs::symlink(&outside, parity_dir(&dir).join("notes.txt")).unwrap();
        shards.push(dir);
    }
    let merged = tmp.path().join("merged");
    let merge = parity()
        .args(["merge", "--out"])
        .arg(&merged)
        .args(&shards)
        .env("WEBPROFILE_ADMIN_PASS", PASSWORD)
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    let said = output_text(&merge);
    assert!(matches!(merge.status.code(), Some(0 | 1)), "{said}");
    assert!(said.contains("notes.txt is a symbolic link: not copied"), "{said}");
    assert_clean("merge's output", &said);
    let texts = texts_under(&merged);
    assert!(
        texts.iter().any(|(name, _)| name.ends_with("cross-instance-trace.jsonl.gz")),
        "the trace merged"
    );
    for (name, text) in &texts {
        assert_clean(name, text);
    }

    // explain reads a packet's own files, never a link out of it.
    let packet = tmp.path().join("packet");
    std::fs::create_dir_all(&packet).unwrap();
    std::os::unix::fs::symlink(&outside, packet.join("README.txt")).unwrap();
    std::fs::write(packet.join("timeline.txt"), "timeline of nothing\n").unwrap();
    let explain = parity().arg("explain").arg(&packet).timeout(HANG_GUARD).output().unwrap();
    let said = output_text(&explain);
    assert_eq!(explain.status.code(), Some(64), "{said}");
    assert!(said.contains("is a symbolic link"), "{said}");
    assert!(!said.contains("h0st1le"), "{said}");
}
