//! `dashboard.html` in a real headless Chromium, opened from `file://` with
//! every request forced through a recording proxy: it must render the chart,
//! fetch nothing, and show a `<script>`-bearing file name as text.
//!
//! Without /usr/bin/chromium the test prints `SKIP: chromium not installed` and passes, unless
//! PARITY_REQUIRE_BROWSER=1 (CI), where its absence fails.

use std::io::BufReader;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// A legal file name (no `/`) that is markup if written unescaped.
const EVIL_ID: &str = "<script>alert(1)<script>";

fn chromium_available(test: &str) -> bool {
    let missing = format!("{CHROMIUM} is not installed (apt-get install chromium)");
    crate::common::available_or_skip(Path::new(CHROMIUM).is_file(), test, "PARITY_REQUIRE_BROWSER", &missing)
}

/// Hosts Chromium itself calls (clock, component updates, sign-in, and in
/// Chromium 148 www.google.com at start-up) even with background networking
/// off. Their requests are not the page's: the dashboard names no such host.
const CHROMIUM_OWN_HOSTS: [&str; 9] = [
    "clients2.google.com",
    "www.google.com",
    "update.googleapis.com",
    "accounts.google.com",
    "redirector.gvt1.com",
    "edgedl.me.gvt1.com",
    "optimizationguide-pa.googleapis.com",
    "content-autofill.googleapis.com",
    "safebrowsingohttpgateway.googleapis.com",
];

/// A TCP listener recording the request line of every connection: the
/// proxy every request must go through, so any request is seen.
struct RecordingProxy {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingProxy {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the recording proxy");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                            let mut head = [0u8; 512];
                            let n = stream.read(&mut head).unwrap_or(0);
                            let line =
                                String::from_utf8_lossy(&head[..n]).lines().next().unwrap_or("").to_string();
                            requests.lock().unwrap().push(line);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        RecordingProxy { port, requests, stop, thread: Some(thread) }
    }

    /// Request lines so far that are not Chromium's own, after letting the
    /// accept loop drain the backlog. A connection that sent no request line
    /// asked for nothing: Chromium opens spare connections to its proxy ahead
    /// of need (seen once in CI, under load).
    fn page_requests(&self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(500));
        let mut all = self.requests.lock().unwrap().clone();
        let spare = all.iter().filter(|line| line.trim().is_empty()).count();
        all.retain(|line| !line.trim().is_empty());
        if spare > 0 {
            eprintln!("recording proxy: {spare} connection(s) without a request line ignored");
        }
        let (own, page): (Vec<String>, Vec<String>) = all.into_iter().partition(|line| {
            let target = line.split_whitespace().nth(1).unwrap_or("");
            let host = target.trim_start_matches("http://").trim_start_matches("https://");
            let host = host.split(['/', ':']).next().unwrap_or("");
            CHROMIUM_OWN_HOSTS.contains(&host)
        });
        if !own.is_empty() {
            eprintln!("recording proxy: {} request(s) of Chromium itself ignored: {own:?}", own.len());
        }
        page
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Headless Chromium with the network cut off: every request goes to the
/// recording proxy (loopback included) and no name resolves — except the
/// proxy's own address: were it unreachable too, a request would fail
/// before the proxy could see it, and "no request seen" would prove nothing.
fn chromium(profile: &Path, proxy: &RecordingProxy, extra: &[String], url: &str) -> Output {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--window-size=1200,1600",
            "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ])
        .arg(format!("--proxy-server=http://127.0.0.1:{}", proxy.port))
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    while child.try_wait().expect("poll chromium").is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("chromium output")
}

/// The fixture set plus a run whose file name, iteration reason and raw
/// folder carry markup; `parity collect` over it. Returns the dashboard.
fn collect_with_a_hostile_name(tmp: &Path) -> PathBuf {
    let fixtures = crate::common::collected_fixtures();
    let collected = tmp.join("collected");
    for file in crate::common::files_under(&fixtures) {
        let target = collected.join(file.strip_prefix(&fixtures).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, target).unwrap();
    }
    std::fs::write(
        collected.join(format!("run_{EVIL_ID}_cross.json")),
        r#"[{"iteration": 1, "success": false, "reason": "</td><script>alert(2)</script><img src=x>",
             "latency_ms": 3.0, "stale_reads": 1},
            {"iteration": 2, "success": true, "latency_ms": 2.0, "stale_reads": 0}]"#,
    )
    .unwrap();
    let raw = collected.join("raw").join(EVIL_ID);
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::write(raw.join("cross-instance-iter-1.out"), "FAIL\n").unwrap();

    let out = tmp.join("ci");
    crate::common::parity()
        .args(["collect", "--src"])
        .arg(&collected)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    out.join("flakiness/cross/dashboard.html")
}

fn file_url(path: &Path) -> String {
    let path = path.canonicalize().expect("dashboard exists");
    let mut url = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// Decoded RGB pixels of a screenshot.
struct Image {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

fn decode(path: &Path) -> Image {
    let file =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a sane PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    let channels = info.color_type.samples();
    assert!(channels >= 3, "expected a colour screenshot, got {:?}", info.color_type);
    let rgb = buf[..info.buffer_size()].chunks_exact(channels).map(|p| [p[0], p[1], p[2]]).collect();
    Image { width: info.width as usize, height: info.height as usize, rgb }
}

impl Image {
    /// Pixels of rows `top..bottom`.
    fn rows(&self, top: usize, bottom: usize) -> &[[u8; 3]] {
        &self.rgb[top.min(self.height) * self.width..bottom.min(self.height) * self.width]
    }
}

#[test]
fn the_dashboard_renders_offline_fetches_nothing_and_shows_markup_as_text() {
    if !chromium_available("the_dashboard_renders_offline_fetches_nothing_and_shows_markup_as_text") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dashboard = collect_with_a_hostile_name(tmp.path());
    let url = file_url(&dashboard);
    let proxy = RecordingProxy::start();

    // (a) The screenshot shows a chart, not a blank page.
    let shot = tmp.path().join("dashboard.png");
    let output = chromium(
        &tmp.path().join("profile-shot"),
        &proxy,
        &[format!("--screenshot={}", shot.display())],
        &url,
    );
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    let image = decode(&shot);
    assert_eq!((image.width, image.height), (1200, 1600));
    // The chart sits under the header, in the first ~800 px.
    let chart = image.rows(150, 800);
    let non_white = chart.iter().filter(|p| p.iter().any(|&c| c < 235)).count();
    let distinct: std::collections::HashSet<[u8; 3]> = chart.iter().copied().collect();
    let red = chart.iter().filter(|[r, g, b]| *r > 150 && *g < 90 && *b < 90).count();
    let blue = chart.iter().filter(|[r, g, b]| *b > 140 && *r < 90 && *g < 140).count();
    assert!(
        non_white * 50 > chart.len(),
        "chart region is nearly blank: {non_white} of {} pixels",
        chart.len()
    );
    assert!(distinct.len() >= 16, "only {} colours in the chart region", distinct.len());
    assert!(red > 200, "no failed-iteration bars or markers drawn ({red} red pixels)");
    assert!(blue > 200, "no success-rate line drawn ({blue} blue pixels)");

    // (c) The DOM as Chromium built it: markup from the inputs is text.
    let output = chromium(&tmp.path().join("profile-dom"), &proxy, &["--dump-dom".to_string()], &url);
    assert!(
        output.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("Cross-instance parity flakiness"), "not the dashboard: {dom:.300}");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;script&gt;"), "the hostile run id is not shown as text");
    assert!(dom.contains("run_&lt;script&gt;alert(1)&lt;script&gt;_cross.json"), "the file name as text");
    assert!(dom.contains("&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt;&lt;img src=x&gt;"), "the reason");
    let lower = dom.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "an injected <script> element exists");
    assert!(!lower.contains("<img"), "an injected <img> element exists");
    assert!(
        dom.contains("href=\"../../../collected/raw/%3Cscript%3Ealert%281%29%3Cscript%3E/\""),
        "raw link"
    );

    // (b) Nothing left the page: the proxy saw no connection.
    let requests = proxy.page_requests();
    assert!(requests.is_empty(), "the page made network requests: {requests:?}");

    // The control: a page that does fetch is seen by the same proxy, so the
    // zero above means something.
    let control = tmp.path().join("control.html");
    std::fs::write(&control, "<!doctype html><img src=\"http://parity-control.test/pixel.png\">").unwrap();
    chromium(&tmp.path().join("profile-control"), &proxy, &["--dump-dom".to_string()], &file_url(&control));
    let requests = proxy.page_requests();
    assert!(
        requests.iter().any(|r| r.contains("parity-control.test")),
        "the recording proxy did not see the control page's request: {requests:?}"
    );
}

/// `parity diff`'s page: opened offline, it shows the verdict and both sides,
/// a request path carrying markup as text, and fetches nothing.
#[test]
fn the_diff_page_renders_offline_with_markup_as_text() {
    if !chromium_available("the_diff_page_renders_offline_with_markup_as_text") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_go, go) = crate::common::reference_server(&[]);
    let (_node, node) = crate::common::reference_server(&["--flavor", "node"]);
    let scenario = tmp.path().join("scenario.json");
    std::fs::write(
        &scenario,
        r#"{"steps": [{"name": "markup", "method": "GET", "path": "/internal/api/<img src=x onerror=alert(3)>"}]}"#,
    )
    .unwrap();
    crate::common::parity()
        .current_dir(tmp.path())
        .args(["diff", "--out", "ci", "--reference", &go, "--candidate", &node])
        .arg("--scenario")
        .arg(&scenario)
        .timeout(crate::common::HANG_GUARD)
        .assert()
        .code(1);
    let page = tmp.path().join("ci/webprofile-parity/diff/diff.html");
    let proxy = RecordingProxy::start();
    let output = chromium(&tmp.path().join("profile"), &proxy, &["--dump-dom".to_string()], &file_url(&page));
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("Differential parity: reference vs candidate"), "not the diff page: {dom:.300}");
    assert!(dom.contains("DIFFERENT"), "the verdict is shown");
    assert!(dom.contains("data-verdict=\"different\""), "a differing step is shown");
    assert!(dom.contains("&lt;img src=x onerror=alert(3)&gt;"), "the request path as text");
    assert!(!dom.to_ascii_lowercase().contains("<img"), "an injected <img> element exists");
    let requests = proxy.page_requests();
    assert!(requests.is_empty(), "the page made network requests: {requests:?}");
}

/// A stale-read packet's `timeline.svg`, opened offline: the stale window
/// (shaded red) and the reads on both sides of it show, the figures are
/// labelled, and the picture fetches nothing.
#[test]
fn a_stale_read_packets_timeline_renders_offline_and_shows_the_window() {
    if !chromium_available("a_stale_read_packets_timeline_renders_offline_and_shows_the_window") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let run = crate::common::local_run(&out, &["--iterations", "2", "--fault", "revocation-lag=150ms@2"]);
    assert_eq!(run.status.code(), Some(1), "{}", crate::common::output_text(&run));
    let svg = out.join("webprofile-parity/evidence/iteration-2/timeline.svg");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.len() < 100 * 1024, "{} bytes", text.len());
    assert!(text.contains("stale_ms = ") && text.contains("visible_by_ms = "), "{text:.400}");

    let proxy = RecordingProxy::start();
    let shot = tmp.path().join("timeline.png");
    let output = chromium(
        &tmp.path().join("profile"),
        &proxy,
        &[format!("--screenshot={}", shot.display())],
        &file_url(&svg),
    );
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    let image = decode(&shot);
    let pixels = image.rows(60, 260);
    // The shaded window (#d62728 at 15% on white or grey), the active reads (#d62728) and the first
    // inactive read and the visibility line (#2ca02c).
    let shade = pixels
        .iter()
        .filter(|[r, g, b]| *r > 230 && (200..230).contains(g) && (200..235).contains(b))
        .count();
    let active = pixels.iter().filter(|[r, g, b]| *r > 190 && *g < 70 && *b < 70).count();
    let inactive = pixels.iter().filter(|[r, g, b]| *r < 80 && *g > 140 && *b < 80).count();
    assert!(shade > 2000, "no shaded stale window ({shade} pixels)");
    assert!(active > 100, "no active:true reads drawn ({active} pixels)");
    assert!(inactive > 50, "no active:false read or visibility line drawn ({inactive} pixels)");
    let requests = proxy.page_requests();
    assert!(requests.is_empty(), "the picture made network requests: {requests:?}");
}
