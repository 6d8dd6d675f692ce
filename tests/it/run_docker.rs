//! `parity run --backend docker` against a real Docker engine, with images
//! built locally from fixtures/images (no registry): the stack comes up,
//! everything is written, and nothing is left behind — on success, failure,
//! chaos, SIGINT, SIGKILL + `parity clean`, and --no-cleanup + `parity clean`.
//!
//! Without an engine these tests print SKIP, unless PARITY_REQUIRE_DOCKER=1 (CI).

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

const REFERENCE_TAG: &str = "webprofile-parity-reference:test";

/// The images the tests run: the reference webprofile built from this very
/// binary, and the MongoDB stand-in.
pub(crate) struct Images {
    pub(crate) reference: String,
    pub(crate) mongo: String,
}

/// Docker stacks that may run at once: on two cores, two stacks keep the
/// engine busy while one waits on readiness, and readiness deadlines still
/// measure the stack rather than contention between stacks.
const STACKS_AT_ONCE: usize = 2;

/// Who holds the engine: up to [`STACKS_AT_ONCE`] tests sharing it, or one
/// test alone (one that runs `parity clean`, which removes whatever it finds
/// orphaned, so no other stack may be between runs meanwhile).
#[derive(Default)]
struct EngineUse {
    sharing: usize,
    alone: bool,
}

static ENGINE: (Mutex<EngineUse>, Condvar) =
    (Mutex::new(EngineUse { sharing: 0, alone: false }), Condvar::new());

/// A test's hold on the engine, released when the test ends (even by a panic).
pub(crate) struct EngineSlot {
    alone: bool,
}

impl EngineSlot {
    fn take(alone: bool) -> EngineSlot {
        let (lock, turn) = &ENGINE;
        let mut using = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let free =
            |u: &EngineUse| !u.alone && if alone { u.sharing == 0 } else { u.sharing < STACKS_AT_ONCE };
        while !free(&using) {
            using = turn.wait(using).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        if alone {
            using.alone = true;
        } else {
            using.sharing += 1;
        }
        EngineSlot { alone }
    }
}

impl Drop for EngineSlot {
    fn drop(&mut self) {
        let (lock, turn) = &ENGINE;
        let mut using = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.alone {
            using.alone = false;
        } else {
            using.sharing -= 1;
        }
        turn.notify_all();
    }
}

fn engine_answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The images, built when missing; `None` (with a SKIP line) without an engine.
fn images(test: &str) -> Option<&'static Images> {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    let missing = "no Docker engine answers (start dockerd, or set DOCKER_HOST)";
    if !available_or_skip(engine_answers(), test, "PARITY_REQUIRE_DOCKER", missing) {
        return None;
    }
    Some(IMAGES.get_or_init(|| {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images");
        let recipe = |script: &str, args: &[&str]| {
            let out = Command::new(fixtures.join(script)).args(args).output().expect("run image recipe");
            assert!(out.status.success(), "{script} failed:\n{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        let binary = env!("CARGO_BIN_EXE_parity");
        Images {
            reference: recipe("reference.sh", &[binary, REFERENCE_TAG]),
            mongo: recipe("mongo-standin.sh", &[]),
        }
    }))
}

/// Names of one test's stack, so tests never collide with each other or a user's stack.
pub(crate) struct Stack {
    prefix: String,
}

impl Stack {
    fn new(test: &str) -> Stack {
        Stack { prefix: format!("ptest-{test}-") }
    }

    fn args(&self, images: &Images) -> Vec<String> {
        self.args_with(&images.reference, &images.mongo)
    }

    /// The stack's names, with these images.
    pub(crate) fn args_with(&self, webprofile: &str, mongo: &str) -> Vec<String> {
        [
            "--network",
            &format!("{}net", self.prefix),
            "--mongo-container",
            &format!("{}mongo", self.prefix),
            "--image-tag",
            &format!("{}wp", self.prefix),
            "--webprofile-image",
            webprofile,
            "--mongo-image",
            mongo,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Containers and networks of this stack that still exist.
    pub(crate) fn leftovers(&self) -> Vec<String> {
        let list = |args: &[&str]| {
            let out = Command::new("docker").args(args).output().expect("docker CLI");
            String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
        };
        let filter = format!("name={}", self.prefix);
        let mut found = list(&["ps", "-a", "--filter", &filter, "--format", "container {{.Names}}"]);
        found.extend(list(&["network", "ls", "--filter", &filter, "--format", "network {{.Name}}"]));
        found
    }

    fn running(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "--filter", &format!("name={}", self.prefix), "--format", "{{.Names}}"])
            .output()
            .unwrap();
        let mut names: Vec<String> =
            String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        names.sort();
        names
    }
}

/// A local image built FROM another with a Dockerfile of two lines.
pub(crate) fn derived_image(tag: &str, dockerfile: &str, dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    let built = Command::new("docker").args(["build", "-q", "-t", tag]).arg(dir).output().unwrap();
    assert!(built.status.success(), "docker build {tag}: {}", String::from_utf8_lossy(&built.stderr));
    tag.to_string()
}

/// One Docker test: its images, its stack's names, a scratch directory, and
/// its hold on the engine.
pub(crate) struct DockerTest {
    pub(crate) images: &'static Images,
    pub(crate) stack: Stack,
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) out: std::path::PathBuf,
    _engine: EngineSlot,
}

impl DockerTest {
    /// `None` (after a SKIP line) when no engine answers.
    pub(crate) fn start(name: &str) -> Option<DockerTest> {
        DockerTest::with(name, false)
    }

    /// A test that runs `parity clean`: no other stack on the engine meanwhile.
    pub(crate) fn start_alone(name: &str) -> Option<DockerTest> {
        DockerTest::with(name, true)
    }

    fn with(name: &str, alone: bool) -> Option<DockerTest> {
        let images = images(name)?;
        let engine = EngineSlot::take(alone);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("ci");
        Some(DockerTest { images, stack: Stack::new(name), tmp, out, _engine: engine })
    }

    pub(crate) fn run(&self, extra: &[&str]) -> assert_cmd::assert::Assert {
        docker_run(&self.stack, self.images, &self.out, extra)
    }

    pub(crate) fn dir(&self) -> std::path::PathBuf {
        parity_dir(&self.out)
    }
}

fn docker_run(stack: &Stack, images: &Images, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    parity()
        .args(["run", "--backend", "docker", "--out"])
        .arg(out)
        .args(stack.args(images))
        .args(extra)
        .timeout(Duration::from_secs(180))
        .assert()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

#[test]
fn docker_run_passes_writes_every_artifact_and_the_logs_and_leaves_nothing() {
    let Some(t) = DockerTest::start("pass") else { return };

    let run = t.run(&["--iterations", "3"]).code(0);
    let stderr = stderr_of(&run);
    assert!(stderr.contains("stack (docker)"), "{stderr}");

    let dir = t.dir();
    for name in SPINE_FILES.iter().chain(&["webprofile.log", "webprofile-node2.log", "mongo.log"]) {
        assert!(dir.join(name).is_file(), "{name} missing");
    }
    assert_iteration_files(&dir, 3);
    assert!(tarball(&t.out).is_file());
    // The service logs are the containers' own output.
    assert!(read(&dir.join("webprofile.log")).contains("POST /internal/api/users/"));
    assert!(read(&dir.join("webprofile-node2.log")).contains("DELETE /internal/api/users/"));
    assert!(!read(&dir.join("mongo.log")).trim().is_empty());
    // Seeding checks ran against the Mongo container through its published port.
    assert!(read(&dir.join("test.parity.out")).contains("--- PASS: seeded_bcrypt_token_active"));

    let analysis = read_json(&dir.join("analysis.json"));
    assert_eq!(analysis["backend"], "docker");
    assert_eq!(analysis["status"], "pass");
    let containers = analysis["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 3);
    assert!(containers.iter().all(|c| c["state"] == "running"), "{containers:?}");
    let phases: Vec<&str> =
        analysis["phases"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for phase in ["network", "images", "containers", "mongo ready", "instances ready", "teardown"] {
        assert!(phases.contains(&phase), "phase {phase} missing from {phases:?}");
    }
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

#[test]
fn no_cleanup_leaves_the_stack_running_and_parity_clean_removes_it() {
    let Some(t) = DockerTest::start_alone("keep") else { return };

    let run =
        docker_run(&t.stack, t.images, &t.tmp.path().join("ci"), &["--iterations", "1", "--no-cleanup"])
            .code(0);
    let stderr = stderr_of(&run);
    assert!(stderr.contains("--no-cleanup: the stack is still running"), "{stderr}");
    assert!(stderr.contains("parity clean"), "{stderr}");
    assert_eq!(t.stack.running(), ["ptest-keep-mongo", "ptest-keep-wp", "ptest-keep-wp-node2"]);
    // The printed address answers.
    let url = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("instance1 (webprofile): "))
        .expect("instance1 address printed");
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "{url} does not answer");

    let clean = parity().arg("clean").assert().code(0);
    let said = stderr_of(&clean);
    assert!(said.contains("removed container ptest-keep-wp "), "{said}");
    assert!(said.contains("removed network ptest-keep-net"), "{said}");
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

/// Starts a docker run in the background and returns it once `marker` shows on stderr.
fn spawn_until(
    stack: &Stack,
    images: &Images,
    out: &Path,
    extra: &[&str],
    marker: &str,
) -> (KillOnDrop, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args(["run", "--backend", "docker", "--out"])
        .arg(out)
        .args(stack.args(images))
        .args(extra)
        .env("CI", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let found = line.contains(marker);
        seen.push(line);
        if found {
            break;
        }
    }
    assert!(seen.last().is_some_and(|l| l.contains(marker)), "never saw `{marker}`:\n{}", seen.join("\n"));
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (KillOnDrop(child), seen)
}

fn signal(pid: u32, name: &str) {
    assert!(Command::new("kill").args([&format!("-{name}"), &pid.to_string()]).status().unwrap().success());
}

#[test]
fn sigint_mid_iterations_exits_130_keeps_finished_iterations_and_leaves_nothing() {
    let Some(t) = DockerTest::start("sigint") else { return };

    let (mut run, _) = spawn_until(
        &t.stack,
        t.images,
        &t.out,
        &["--iterations", "500", "--hash-cost", "minimal"],
        "cross-instance iteration 2 ",
    );
    signal(run.0.id(), "INT");
    let status = run.0.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let dir = t.dir();
    let results = read_json(&dir.join("cross-instance-results.json"));
    let finished = results.as_array().unwrap().len();
    assert!((2..500).contains(&finished), "{finished} iterations kept");
    assert!(dir.join("webprofile.log").is_file() && tarball(&t.out).is_file());
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

#[test]
fn after_sigkill_parity_clean_removes_everything_and_a_new_run_reaps_the_names() {
    let Some(t) = DockerTest::start_alone("sigkill") else { return };

    // Killed with no chance to clean up: the stack stays.
    let (mut run, _) =
        spawn_until(&t.stack, t.images, &t.tmp.path().join("a"), &["--iterations", "500"], "stack (docker)");
    signal(run.0.id(), "KILL");
    run.0.wait().unwrap();
    assert_eq!(t.stack.running().len(), 3, "the killed run's containers");

    // A new run with the same names reaps them instead of failing on a conflict.
    let rerun = docker_run(
        &t.stack,
        t.images,
        &t.tmp.path().join("b"),
        &["--iterations", "1", "--hash-cost", "minimal"],
    )
    .code(0);
    assert!(
        stderr_of(&rerun).contains("removed stale container ptest-sigkill-mongo"),
        "{}",
        stderr_of(&rerun)
    );
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());

    let (mut run, _) =
        spawn_until(&t.stack, t.images, &t.tmp.path().join("c"), &["--iterations", "500"], "stack (docker)");
    signal(run.0.id(), "KILL");
    run.0.wait().unwrap();
    assert!(!t.stack.leftovers().is_empty());
    parity().arg("clean").assert().code(0);
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

/// Two harnesses started in the same second have the same run id: each
/// must still tear down only its own stack (the end-of-run sweep once
/// removed every container labelled with the run id, the other's too).
#[test]
fn two_runs_started_in_the_same_second_leave_each_other_alone() {
    let Some(t) = DockerTest::start_alone("twin-a") else { return };
    let twin = Stack::new("twin-b");
    // Both start just after a second begins, so their run ids are the same.
    let into_second =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_millis();
    std::thread::sleep(Duration::from_millis(u64::from(1050 - into_second)));
    let start = |stack: &Stack, out: &Path, iterations: &str| {
        Command::new(env!("CARGO_BIN_EXE_parity"))
            .args([
                "run",
                "--backend",
                "docker",
                "--iterations",
                iterations,
                "--hash-cost",
                "minimal",
                "--out",
            ])
            .arg(out)
            .args(stack.args(t.images))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let twin_out = t.tmp.path().join("twin");
    // The first is done and tearing down while the second still runs.
    let runs = [start(&t.stack, &t.out, "2"), start(&twin, &twin_out, "40")];
    let outputs: Vec<_> = runs.into_iter().map(|run| run.wait_with_output().unwrap()).collect();
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let run_id = |out: &Path| read_json(&parity_dir(out).join("analysis.json"))["run_id"].clone();
    assert_eq!(run_id(&t.out), run_id(&twin_out), "both runs began in the same second");
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
    assert_eq!(twin.leftovers(), Vec::<String>::new());
}

#[test]
fn chaos_stop_mongo_fails_the_later_iterations_with_a_reason_within_the_deadline() {
    let Some(t) = DockerTest::start("chaos") else { return };

    let run = t
        .run(&["--iterations", "6", "--chaos", "stop-mongo@3", "--hash-cost", "minimal", "--deadline", "5s"])
        .code(3);
    assert!(stderr_of(&run).contains("chaos: stop-mongo applied to ptest-chaos-mongo before iteration 3"));

    let dir = t.dir();
    let results = read_json(&dir.join("cross-instance-results.json"));
    for r in results.as_array().unwrap() {
        let n = r["iteration"].as_u64().unwrap();
        assert_eq!(r["success"].as_bool().unwrap(), n < 3, "iteration {n}: {r}");
        if n >= 3 {
            let reason = r["reason"].as_str().unwrap();
            assert!(reason.contains("instance1") || reason.contains("instance2"), "iteration {n}: {reason}");
            assert_eq!(r["class"], "infrastructure", "a store gone is not a parity finding: {r}");
        }
    }
    let analysis = read_json(&dir.join("analysis.json"));
    assert_eq!(analysis["chaos"][0]["kind"], "stop-mongo");
    assert!(analysis["chaos"][0]["error"].is_null());
    let mongo = analysis["containers"].as_array().unwrap().iter().find(|c| c["service"] == "mongo").unwrap();
    assert_eq!(mongo["state"], "exited");
    assert!(dir.join("mongo.log").is_file() && tarball(&t.out).is_file());
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

#[test]
fn a_caching_service_image_shows_stale_reads() {
    let Some(t) = DockerTest::start("stale") else { return };

    // --fault reaches the containers as PARITY_FAULTS, which the reference image honours:
    // a lost invalidation across containers, and one stale answer on the smoke's instance.
    t.run(&[
        "--iterations",
        "2",
        "--attempts",
        "3",
        "--hash-cost",
        "minimal",
        "--fault",
        "stale-rate=1,stale-for=400ms,stale-once",
    ])
    .code(1);
    let results = read_json(&t.dir().join("cross-instance-results.json"));
    for r in results.as_array().unwrap() {
        assert!(r["stale_reads"].as_u64().unwrap() > 0, "{r}");
        assert!(r["reason"].as_str().unwrap().contains("stale read"), "{r}");
        assert_eq!(r["class"], "stale-read", "{r}");
    }
    let smoke = read_json(&t.dir().join("node.parity.json"));
    assert_eq!(smoke["class"], "stale-read", "stale once is enough: {smoke}");
    let flakiness = read_json(&t.out.join("flakiness/flakiness.json"));
    assert_eq!(
        flakiness["attempts"].as_array().unwrap().len(),
        1,
        "a stale read is not retried: {flakiness}"
    );
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

#[test]
fn a_webprofile_context_is_built_honouring_dockerignore_and_the_image_removed_after() {
    let Some(t) = DockerTest::start_alone("context") else { return };
    let context = t.tmp.path().join("context");
    std::fs::create_dir_all(context.join("secrets")).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!("FROM {}\nCOPY . /context/\nLABEL built-by=parity-test\n", t.images.reference),
    )
    .unwrap();
    std::fs::write(context.join(".dockerignore"), "secrets\n").unwrap();
    std::fs::write(context.join("secrets/token"), "do-not-send").unwrap();
    std::fs::write(context.join("kept.txt"), "sent").unwrap();

    let mut args = t.stack.args(t.images);
    let at = args.iter().position(|a| a == "--webprofile-image").unwrap();
    args.drain(at..at + 2);
    let build_run = |extra: &[&str]| {
        parity()
            .args(["run", "--backend", "docker", "--iterations", "1", "--hash-cost", "minimal", "--out"])
            .arg(t.tmp.path().join("ci"))
            .args(&args)
            .arg("--webprofile-context")
            .arg(&context)
            .args(extra)
            .timeout(Duration::from_secs(180))
            .assert()
            .code(0)
    };
    let image_exists = || {
        Command::new("docker")
            .args(["image", "inspect", "ptest-context-wp"])
            .output()
            .unwrap()
            .status
            .success()
    };

    let run = build_run(&["--keep-network"]);
    assert!(stderr_of(&run).contains("building ptest-context-wp"), "{}", stderr_of(&run));
    // Built by this run, so removed by it; --keep-network kept only the network.
    assert!(!image_exists(), "the built image should be removed");
    assert_eq!(t.stack.leftovers(), ["network ptest-context-net"]);

    // A stale network of the same name is reaped; --keep-image keeps the image to look into.
    build_run(&["--keep-image"]);
    assert!(image_exists());
    let probe = "ptest-context-probe";
    assert!(Command::new("docker")
        .args(["create", "--name", probe, "ptest-context-wp"])
        .output()
        .unwrap()
        .status
        .success());
    let export =
        Command::new("sh").args(["-c", &format!("docker export {probe} | tar -t")]).output().unwrap();
    Command::new("docker").args(["rm", "-f", probe]).output().unwrap();
    let files = String::from_utf8_lossy(&export.stdout);
    assert!(files.lines().any(|f| f == "context/kept.txt"), "{files}");
    assert!(!files.contains("secrets"), ".dockerignore'd files were sent: {files}");

    // `parity clean` removes the kept image (its harness is gone).
    let clean = parity().arg("clean").assert().code(0);
    assert!(stderr_of(&clean).contains("removed image ptest-context-wp"), "{}", stderr_of(&clean));
    assert!(!image_exists());
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

#[test]
fn an_unreachable_docker_engine_is_exit_3_and_one_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let run = parity()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["run", "--backend", "docker", "--out"])
        .arg(&out)
        .assert()
        .code(3);
    let stderr = stderr_of(&run);
    let line = stderr.lines().find(|l| l.contains("cannot reach the Docker engine")).expect(&stderr);
    assert!(line.contains("unix:///nonexistent/docker.sock") && line.contains("--backend local"), "{line}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let analysis = read_json(&parity_dir(&out).join("analysis.json"));
    assert_eq!(analysis["status"], "error");
    assert_eq!(analysis["exit_code"], 3);

    let clean = parity().env("DOCKER_HOST", "unix:///nonexistent/docker.sock").arg("clean").assert().code(3);
    assert!(stderr_of(&clean).contains("cannot reach the Docker engine"));
}

#[test]
fn a_container_that_dies_is_named_with_its_log_tail_and_exit_3_keeps_the_artifacts() {
    let Some(t) = DockerTest::start("dies") else { return };

    // The reference server refuses an unknown fault and exits at once.
    let run = t.run(&["--instances", "3", "--instance-env", "PARITY_FAULTS=melt-down"]).code(3);
    let stderr = stderr_of(&run);
    // Every instance dies; whichever is noticed first is named.
    let named = regex::Regex::new(r"ptest-dies-wp(-node[23])? stopped before it was ready").unwrap();
    let dead_first = named.captures(&stderr).expect(&stderr).get(1).map_or("", |m| m.as_str()).to_string();
    assert!(stderr.contains("the container exited with code 64"), "{stderr}");
    assert!(stderr.contains("melt-down"), "the log tail is quoted: {stderr}");

    let dir = t.dir();
    let analysis = read_json(&dir.join("analysis.json"));
    assert_eq!(analysis["status"], "error");
    for service in ["webprofile", "webprofile-node2", "webprofile-node3"] {
        let c = analysis["containers"].as_array().unwrap().iter().find(|c| c["service"] == service).unwrap();
        assert_eq!((c["state"].as_str(), c["exit_code"].as_i64()), (Some("exited"), Some(64)), "{c}");
    }
    // The one noticed first had exited when the logs were read; the others may still have been starting.
    let log = format!("webprofile{dead_first}.log");
    assert!(read(&dir.join(&log)).contains("melt-down"), "{log}");
    assert!(dir.join("mongo.log").is_file() && tarball(&t.out).is_file());
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

#[test]
fn a_paused_instance_times_out_its_requests_and_is_still_removed() {
    let Some(t) = DockerTest::start("pause") else { return };

    t.run(&[
        "--iterations",
        "3",
        "--chaos",
        "pause-node2@2",
        "--request-timeout",
        "1s",
        "--hash-cost",
        "minimal",
    ])
    .code(3);
    let results = read_json(&t.dir().join("cross-instance-results.json"));
    let results = results.as_array().unwrap();
    assert!(results[0]["success"].as_bool().unwrap());
    for r in &results[1..] {
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains("instance2") && reason.contains("timed out"), "{reason}");
    }
    let analysis = read_json(&t.dir().join("analysis.json"));
    let node2 = analysis["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == "webprofile-node2")
        .unwrap();
    assert_eq!(node2["state"], "paused");
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

#[test]
fn backend_auto_takes_docker_when_docker_settings_are_named_and_never_falls_back() {
    let Some(t) = DockerTest::start("auto") else { return };

    let run = parity()
        .args(["run", "--iterations", "1", "--hash-cost", "minimal", "--out"])
        .arg(&t.out)
        .args(t.stack.args(t.images))
        .timeout(Duration::from_secs(180))
        .assert()
        .code(0);
    let said = stderr_of(&run);
    assert!(said.contains("backend auto: --network") && said.contains("asks for the Docker stack"), "{said}");
    let analysis = read_json(&t.dir().join("analysis.json"));
    assert_eq!(analysis["backend"], "docker");
    assert!(
        !analysis["coverage"]["images"].as_array().unwrap().is_empty(),
        "the image ids tested: {analysis}"
    );
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());

    // A named image the engine does not have is exit 3, never the embedded stack.
    let missing = parity()
        .args(["run", "--iterations", "1", "--image-tag", "ptest-auto-absent", "--out"])
        .arg(t.tmp.path().join("missing"))
        .timeout(Duration::from_secs(180))
        .assert()
        .code(3);
    let said = stderr_of(&missing);
    assert!(!said.contains("running the embedded stack instead"), "{said}");

    // Only when nothing names a target does auto probe, and fall back saying why.
    let default_image_absent = !Command::new("docker")
        .args(["image", "inspect", "webprofile-api-parity"])
        .output()
        .unwrap()
        .status
        .success();
    if default_image_absent {
        let fallback = parity()
            .args(["run", "--iterations", "1", "--hash-cost", "minimal", "--out"])
            .arg(t.tmp.path().join("fallback"))
            .assert()
            .code(0);
        let said = stderr_of(&fallback);
        assert!(
            said.contains("nothing named a target")
                && said.contains("webprofile image webprofile-api-parity is not present")
                && said.contains("running the embedded stack instead"),
            "{said}"
        );
    }
}

/// A TCP front to the local engine's socket on one of this machine's
/// non-loopback addresses: what a remote engine looks like to the harness.
/// This machine's first IPv4 address that is not loopback (`hostname -I`).
fn non_loopback_ipv4() -> String {
    let out = Command::new("hostname").arg("-I").output().expect("hostname -I");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|a| a.parse::<std::net::Ipv4Addr>().ok())
        .find(|a| !a.is_loopback())
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// Its `HOST:PORT`; it serves until the test process ends.
fn tcp_front() -> String {
    use std::os::unix::net::UnixStream;
    let ip = non_loopback_ipv4();
    assert!(!ip.is_empty(), "this machine has no non-loopback IPv4 address");
    let listener = std::net::TcpListener::bind((ip.as_str(), 0)).expect("bind the TCP front");
    let address = format!("{ip}:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(engine) = UnixStream::connect("/var/run/docker.sock") else { continue };
            let (mut client_in, mut engine_out) = (client.try_clone().unwrap(), engine.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_in, &mut engine_out);
                let _ = engine_out.shutdown(std::net::Shutdown::Write);
            });
            let (mut engine_in, mut client_out) = (engine, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut engine_in, &mut client_out);
                let _ = client_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    address
}

#[test]
fn a_run_through_a_tcp_engine_endpoint_reaches_the_containers_at_the_engines_host() {
    let Some(t) = DockerTest::start("tcp") else { return };
    let front = tcp_front();
    let host = front.split(':').next().unwrap().to_string();
    parity()
        .env("DOCKER_HOST", format!("tcp://{front}"))
        .args(["run", "--backend", "docker", "--iterations", "2", "--hash-cost", "minimal", "--out"])
        .arg(&t.out)
        .args(t.stack.args(t.images))
        .timeout(Duration::from_secs(180))
        .assert()
        .code(0);
    let analysis = read_json(&t.dir().join("analysis.json"));
    let instances = analysis["instances"].as_array().unwrap();
    assert!(
        instances.iter().all(|i| i.as_str().unwrap().starts_with(&format!("http://{host}:"))),
        "published ports reached at the engine's host {host}: {instances:?}"
    );
    assert!(
        analysis["store"].as_str().unwrap().starts_with(&format!("mongodb://{host}:")),
        "{}",
        analysis["store"]
    );
    assert!(t.stack.leftovers().is_empty(), "left behind: {:?}", t.stack.leftovers());
}
