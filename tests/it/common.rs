//! Helpers shared by the integration tests: the binary, artifact readers,
//! and processes the tests start (reference servers, the MongoDB stand-in).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `parity` binary with a clean environment: nothing from the caller's
/// PARITY_* / INSTANCE* variables leaks into a test.
pub fn parity() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("parity").expect("parity binary");
    for key in [
        "PARITY_BACKEND",
        "PARITY_OUT",
        "PARITY_STRICT",
        "PARITY_MONGO_URI",
        "INSTANCE1",
        "INSTANCE2",
        "TARGET_BASE_URL",
        "CROSS_INSTANCE_ITERATIONS",
        "WEBPROFILE_ADMIN_USER",
        "WEBPROFILE_ADMIN_PASS",
        "MONGO_URI",
        "PARITY_JUNIT",
        "GITHUB_STEP_SUMMARY",
        // `parity collect` downloads from GitHub when these are set (as in GitHub Actions).
        "GITHUB_REPOSITORY",
        "GITHUB_TOKEN",
        "GITHUB_API_URL",
        "PARITY_WORKFLOW",
        // The collector's settings.
        "OUT_DIR",
        "DASH_URL",
        "CROSS_RUN_FAIL_THRESHOLD",
        "CROSS_ITER_FAILURE_RATE_THRESHOLD",
        // The Docker backend's settings.
        "NETWORK",
        "MONGO_IMAGE",
        "MONGO_CONTAINER",
        "IMAGE_TAG",
        "WEBPROFILE_IMAGE",
        "WEBPROFILE_CONTEXT",
        "PUBLISH_PORT",
        "LOG_TAIL",
        "PARITY_FAULTS",
        "PARITY_SEED",
        "PARITY_SHARD",
        "PARITY_INSTANCES",
        "PARITY_KEEP_PASSING",
        "CROSS_LATENCY_SLO",
        "PARITY_HASH_COST",
        // Notifications.
        "SLACK_WEBHOOK",
        "SKIP_AUTO_ISSUE",
        "ISSUE_RUN_THRESHOLD",
        "ISSUE_ITER_RATE_THRESHOLD",
        "ISSUE_CREATE_AS_DRAFT",
        "ISSUE_LABELS",
        "ISSUE_ASSIGNEES",
        "GITHUB_EVENT_NAME",
        "GITHUB_EVENT_PATH",
        "GITHUB_SHA",
        "GITHUB_SERVER_URL",
        "GITHUB_RUN_ID",
        // Publishing (`parity publish`, `collect --publish`).
        "PUBLISH_DASHBOARD",
        "GITHUB_PAGES_REPO",
        "GITHUB_PAGES_REMOTE",
        "AWS_S3_BUCKET",
        "AWS_S3_PREFIX",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("CI", "true");
    cmd
}

/// The collected-runs fixture set (its hand computation is in tests/collect.rs).
pub fn collected_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/collected")
}

/// `parity collect --src SRC --out OUT`, for tests that need the collector's
/// real outputs (exit 2 is fine: the fixture set exceeds the thresholds).
pub fn collect_outputs(src: &Path, out: &Path) {
    let output = parity().args(["collect", "--src"]).arg(src).arg("--out").arg(out).output().unwrap();
    assert!(matches!(output.status.code(), Some(0 | 2)), "collect failed: {}", text(&output.stderr));
}

/// Process output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// stdout and stderr as one text.
pub fn output_text(output: &std::process::Output) -> String {
    format!("{}{}", text(&output.stdout), text(&output.stderr))
}

/// Runs `cmd`, appends what it printed to `seen` (for secret checks), returns its output.
pub fn run_recording(mut cmd: assert_cmd::Command, seen: &mut String) -> std::process::Output {
    let output = cmd.output().unwrap();
    seen.push_str(&output_text(&output));
    output
}

/// Fails when `secret` is in any file under `dir`.
pub fn assert_not_in_files(dir: &Path, secret: &str) {
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret is in {}",
            file.display()
        );
    }
}

/// Whether a tool a test needs is there; without it the test says SKIP and
/// passes, unless `require_var=1` (CI), where its absence fails the test.
pub fn available_or_skip(available: bool, test: &str, require_var: &str, missing: &str) -> bool {
    if !available {
        assert!(std::env::var(require_var).as_deref() != Ok("1"), "{require_var}=1 but {missing}");
        eprintln!("SKIP {test}: {missing}");
    }
    available
}

/// Whether python3 can import `module`.
pub fn python_imports(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn parity_dir(out: &Path) -> PathBuf {
    out.join("webprofile-parity")
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}\n{text}", path.display()))
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The tarball a run wrote into `out` (exactly one).
pub fn tarball(out: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("webprofile-parity-") && name.ends_with(".tar.gz")
        })
        .collect();
    assert_eq!(found.len(), 1, "expected one tarball in {}: {found:?}", out.display());
    found[0].clone()
}

/// (path, contents) of every file in a .tar.gz.
pub fn tarball_entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let name = entry.path().unwrap().display().to_string();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            out.push((name, bytes));
        }
    }
    out
}

/// How long a helper waits for a server it started before the test fails:
/// a guard that turns a hang into a failure, never a timing assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// `parity run` on the embedded stack (cheap hashes) into `out`, with `extra` flags.
pub fn local_run(out: &Path, extra: &[&str]) -> std::process::Output {
    parity()
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--out"])
        .arg(out)
        .args(extra)
        .timeout(HANG_GUARD)
        .output()
        .unwrap()
}

/// A loopback port held by a socket that never listens: connecting to it is
/// refused, and nothing else can take the port while the test holds it.
pub struct DeadPort {
    _socket: socket2::Socket,
    pub port: u16,
}

impl DeadPort {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

pub fn dead_port() -> DeadPort {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&any.into()).expect("bind a loopback port");
    let port = socket.local_addr().unwrap().as_socket().expect("an inet address").port();
    DeadPort { _socket: socket, port }
}

/// The port a server given port 0 says it bound, read from its log file (so
/// no port is picked, released and reused): the first group of `pattern`.
pub fn port_from_log(log: &Path, pattern: &str) -> u16 {
    let re = regex::Regex::new(pattern).unwrap();
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(port) = re.captures(&text).and_then(|c| c[1].parse().ok()) {
            return port;
        }
        assert!(started.elapsed() < HANG_GUARD, "no `{pattern}` in {}:\n{text}", log.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh log file for a server a test starts.
pub fn log_file(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("parity-test-{}-{name}-{n}.log", std::process::id()))
}

/// A child process killed when the test ends, pass or fail.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `parity reference serve` on a port the OS picks, ready when this returns.
pub fn reference_server(extra: &[&str]) -> (KillOnDrop, String) {
    let log = log_file("reference");
    let bin = assert_cmd::cargo::cargo_bin("parity");
    let child = Command::new(bin)
        .args(["reference", "serve", "--port", "0", "--hash-cost", "minimal"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn parity reference serve");
    let guard = KillOnDrop(child);
    let port = port_from_log(&log, r"listening on http://127\.0\.0\.1:(\d+)");
    (guard, format!("http://127.0.0.1:{port}"))
}

/// The MongoDB wire-protocol stand-in (nx-27017), or `None` with a SKIP line
/// when it is not installed — unless PARITY_REQUIRE_MONGO=1 (CI), where its
/// absence fails the test.
pub fn mongo_standin(test: &str) -> Option<(KillOnDrop, String)> {
    let missing = "nx-27017 not installed (pip install nx-27017==0.8.1 neosqlite==1.17.2 pymongo==4.20.1 dnspython==2.9.2)";
    if !available_or_skip(python_imports("nx_27017"), test, "PARITY_REQUIRE_MONGO", missing) {
        return None;
    }
    let log = log_file("nx-27017");
    // nx-27017 refuses to start while its default pid file names a live
    // process, so parallel stand-ins each need their own.
    let pid_file = log.with_extension("pid");
    let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mongo-standin/launch.py");
    let child = Command::new("python3")
        .arg(launcher)
        .args(["--db", "memory", "--host", "127.0.0.1", "-p", "0", "--log-file"])
        .arg(&log)
        .arg("--pid-file")
        .arg(&pid_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nx-27017");
    let guard = KillOnDrop(child);
    let port = port_from_log(&log, r"Listening on 127\.0\.0\.1:(\d+)");
    Some((guard, format!("mongodb://127.0.0.1:{port}/sharelatex")))
}

/// The names of the checks a run's `analysis.json` records as failed, in order.
pub fn failed_checks(analysis: &serde_json::Value) -> Vec<String> {
    let checks = analysis["checks"].as_array().cloned().unwrap_or_default();
    checks.iter().filter(|c| c["status"] == "fail").map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

/// What every run writes under webprofile-parity/, whatever the backend.
pub const SPINE_FILES: [&str; 6] = [
    "node.parity.json",
    "node.parity.out",
    "test.parity.out",
    "analysis.json",
    "cross-instance.out",
    "cross-instance-results.json",
];

/// The four files every cross-instance iteration 1..=n writes exist.
pub fn assert_iteration_files(dir: &Path, iterations: u32) {
    for n in 1..=iterations {
        for name in [
            format!("cross-instance-create-iter-{n}.json"),
            format!("cross-instance-revoke-iter-{n}.txt"),
            format!("cross-instance-introspect-iter-{n}.raw"),
            format!("cross-instance-iter-{n}.out"),
        ] {
            assert!(dir.join(&name).is_file(), "missing {name}");
        }
    }
}

/// The independent Python stand-in (`tests/standins/webprofile_standin.py`,
/// written from the spec alone): two instances on one shared store, in the
/// given modes. Returns the process (killed on drop) and the two URLs.
pub fn spec_standin(modes: &[&str]) -> (KillOnDrop, [String; 2]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/webprofile_standin.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--port", "0", "--port", "0"])
        .args(modes)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs the spec stand-in");
    let stdout = child.stdout.take().expect("piped stdout");
    let guard = KillOnDrop(child);
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut url = || {
        let line = lines.next().expect("the stand-in printed its URLs").expect("utf-8 line");
        line.strip_prefix("listening ").unwrap_or_else(|| panic!("unexpected line {line:?}")).to_string()
    };
    let urls = [url(), url()];
    (guard, urls)
}

/// Every line of a run's `cross-instance-trace.jsonl.gz`, parsed.
pub fn trace_lines(out: &Path) -> Vec<serde_json::Value> {
    use std::io::BufRead;
    let file = std::fs::File::open(parity_dir(out).join("cross-instance-trace.jsonl.gz")).unwrap();
    std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect()
}

/// No plaintext token, nor most of one (48 hex characters in a row, other
/// than an image's `sha256:` digest), in any file under `dir`.
pub fn assert_no_token_in(dir: &Path) {
    for file in files_under(dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        // Each digest's hex dropped: what follows `sha256:` up to the first non-hex character.
        let text: String = text
            .split("sha256:")
            .enumerate()
            .map(
                |(i, part)| {
                    if i == 0 {
                        part
                    } else {
                        part.trim_start_matches(|c: char| c.is_ascii_hexdigit())
                    }
                },
            )
            .collect();
        let mut run = 0;
        for c in text.chars() {
            run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
            assert!(run < 48, "a token-shaped secret is in {}", file.display());
        }
    }
}

/// (variant, route, effect) of every `security.json` row that got in.
pub fn security_open_rows(out: &Path) -> Vec<(String, String, String)> {
    let security = read_json(&parity_dir(out).join("security.json"));
    security["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == "fail")
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap().to_string();
            (field("variant"), field("route"), field("effect"))
        })
        .collect()
}
