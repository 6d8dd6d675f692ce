//! Installing a release, without GitHub: `ci/release.sh` packages the binary
//! under test as a release holds it; a loopback HTTP server serves that
//! directory the way GitHub serves `…/releases/download/vVERSION/`; and
//! `ci/install.sh` and the action's own install step (read from action.yml
//! and run with bash, as the runner would) install it verified, refuse a
//! tampered archive or a missing checksum, and build from source only when
//! no release matches.

use crate::common::*;
use crate::workflows::action;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use webprofile_parity::build_info::{TARGET, VERSION};
use yaml_rust2::Yaml;

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn archive_name() -> String {
    format!("parity-{VERSION}-{TARGET}.tar.gz")
}

/// `ci/release.sh --binary BINARY VERSION OUT`.
fn release_script(binary: &Path, version: &str, out: &Path) -> Output {
    Command::new(repo_file("ci/release.sh"))
        .arg("--binary")
        .arg(binary)
        .arg(version)
        .arg(out)
        .output()
        .unwrap()
}

/// The binary under test, stripped (the same code in a third of the bytes,
/// which keeps packaging to seconds).
fn stripped_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let path = tempfile::tempdir().unwrap().keep().join("parity");
        std::fs::copy(env!("CARGO_BIN_EXE_parity"), &path).unwrap();
        let stripped = Command::new("strip").arg(&path).status().expect("strip (binutils)");
        assert!(stripped.success());
        path
    })
}

/// What `ci/release.sh` wrote for the binary under test, packaged once.
fn packaged() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = tempfile::tempdir().unwrap().keep().join("dist");
        let output = release_script(stripped_binary(), VERSION, &out);
        assert!(output.status.success(), "release.sh: {}", output_text(&output));
        out
    })
}

/// A release host's directory: `v{VERSION}/` holding a copy of the packaged
/// release, changed by `alter` (to tamper with it, or drop a file).
fn release_tree(alter: impl FnOnce(&Path)) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let tag = root.path().join(format!("v{VERSION}"));
    std::fs::create_dir(&tag).unwrap();
    for entry in std::fs::read_dir(packaged()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, tag.join(path.file_name().unwrap())).unwrap();
    }
    alter(&tag);
    root
}

/// Serves a release tree over HTTP on loopback, as GitHub serves
/// `/OWNER/REPO/releases/download/`: whatever comes before
/// `/releases/download/` in a path is ignored. Records every path asked for.
struct ReleaseHost {
    origin: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ReleaseHost {
    fn serve(root: &Path) -> ReleaseHost {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (root, seen) = (root.to_path_buf(), asked.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(path.clone());
                let file = path
                    .split_once("/releases/download/")
                    .map(|(_, rest)| root.join(rest))
                    .filter(|f| !path.contains("..") && f.is_file());
                let (status, body) = match file {
                    Some(file) => ("200 OK", std::fs::read(file).unwrap()),
                    None => ("404 Not Found", b"Not Found".to_vec()),
                };
                let mut stream = reader.into_inner();
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&body));
            }
        });
        ReleaseHost { origin, asked }
    }

    /// The releases of `owner/repo` on this host.
    fn releases(&self) -> String {
        format!("{}/your-org/webprofile-parity/releases/download", self.origin)
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// `ci/install.sh VERSION DIR` against `release_url`, with `env` on top.
fn install_script(version: &str, dir: &Path, release_url: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(repo_file("ci/install.sh"));
    cmd.arg(version).arg(dir).env("PARITY_RELEASE_URL", release_url);
    for key in ["PARITY_SHA256", "PARITY_TARGET", "PARITY_REPOSITORY"] {
        cmd.env_remove(key);
    }
    cmd.envs(env.iter().copied()).output().unwrap()
}

/// A change made to a release's directory before it is served.
type Alteration = Box<dyn FnOnce(&Path)>;

fn flip_a_byte(file: &Path) {
    let mut bytes = std::fs::read(file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(file, bytes).unwrap();
}

fn assert_refused(output: &Output, dir: &Path, says: &str) {
    let printed = output_text(output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains(says), "expected `{says}` in: {printed}");
    assert!(
        !dir.exists() || std::fs::read_dir(dir).unwrap().next().is_none(),
        "something was installed: {printed}"
    );
}

#[test]
fn the_release_script_packages_the_binary_its_documents_and_checksums_reproducibly() {
    let dist = packaged();
    let archive = dist.join(archive_name());
    let prefix = format!("parity-{VERSION}-{TARGET}/");
    let mut names: Vec<String> =
        tarball_entries(&archive).into_iter().map(|(name, _)| name.replace(&prefix, "")).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "LICENSE",
            "README.md",
            "completions/_parity",
            "completions/parity.bash",
            "completions/parity.fish",
            "man/parity.1",
            "parity"
        ]
    );
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(dist)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", output_text(&check));
    let sums = read(&dist.join("SHA256SUMS"));
    assert!(sums.contains(&format!("  {}\n", archive_name())) && sums.contains("  install.sh\n"), "{sums}");

    // The same binary packaged again is the same archive, byte for byte.
    let again = tempfile::tempdir().unwrap();
    let output = release_script(stripped_binary(), &format!("v{VERSION}"), again.path());
    assert!(output.status.success(), "{}", output_text(&output));
    assert!(std::fs::read(again.path().join(archive_name())).unwrap() == std::fs::read(&archive).unwrap());

    // A version that is not the crate's, or not a version, is refused.
    let elsewhere = tempfile::tempdir().unwrap();
    let output = release_script(stripped_binary(), "9.9.9", elsewhere.path());
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    assert!(output_text(&output).contains("is not Cargo.toml's"), "{}", output_text(&output));
    let output = release_script(stripped_binary(), "main", elsewhere.path());
    assert!(output_text(&output).contains("is not a version"), "{}", output_text(&output));
    assert!(
        std::fs::read_dir(elsewhere.path()).unwrap().next().is_none(),
        "nothing written for a refused version"
    );
}

#[test]
fn install_sh_installs_a_verified_release_that_runs() {
    let tree = release_tree(|_| {});
    let host = ReleaseHost::serve(tree.path());
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    let started = Instant::now();
    let output = install_script(&format!("v{VERSION}"), &bin, &host.releases(), &[]);
    eprintln!("install.sh took {:.2} s", started.elapsed().as_secs_f64());
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    assert_eq!(text(&output.stdout).trim(), bin.join("parity").display().to_string());
    assert!(text(&output.stderr).contains(&format!("verified {}", archive_name())));
    let version = Command::new(bin.join("parity")).arg("--version").output().unwrap();
    assert!(
        text(&version.stdout).starts_with(&format!("parity {VERSION} (commit ")),
        "{}",
        text(&version.stdout)
    );

    // A pinned digest that matches installs too.
    let digest = read(&tree.path().join(format!("v{VERSION}/SHA256SUMS")))
        .lines()
        .find(|l| l.ends_with(&archive_name()))
        .map(|l| l[..64].to_uppercase())
        .unwrap();
    let pinned = dir.path().join("pinned");
    let output = install_script(VERSION, &pinned, &host.releases(), &[("PARITY_SHA256", &digest)]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
}

#[test]
fn install_sh_refuses_what_it_cannot_verify_and_unpacks_nothing() {
    let archive = archive_name();
    let cases: [(&str, Alteration, &str); 3] = [
        ("tampered", Box::new(|tag: &Path| flip_a_byte(&tag.join(archive_name()))), "checksum mismatch"),
        (
            "unlisted",
            Box::new(|tag: &Path| {
                let sums = read(&tag.join("SHA256SUMS"));
                let kept: String = sums
                    .lines()
                    .filter(|l| !l.ends_with(&archive_name()))
                    .map(|l| format!("{l}\n"))
                    .collect();
                std::fs::write(tag.join("SHA256SUMS"), kept).unwrap();
            }),
            &format!("does not list {archive}"),
        ),
        (
            "no checksums",
            Box::new(|tag: &Path| std::fs::remove_file(tag.join("SHA256SUMS")).unwrap()),
            "has no SHA256SUMS",
        ),
    ];
    for (case, alter, says) in cases {
        let tree = release_tree(alter);
        let host = ReleaseHost::serve(tree.path());
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join(case.replace(' ', "-"));
        assert_refused(&install_script(VERSION, &dir, &host.releases(), &[]), &dir, says);
    }

    // A digest pinned by the caller is a second lock: the genuine archive is refused against a wrong pin.
    let tree = release_tree(|_| {});
    let host = ReleaseHost::serve(tree.path());
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("pinned");
    let wrong = "ab".repeat(32);
    assert_refused(
        &install_script(VERSION, &dir, &host.releases(), &[("PARITY_SHA256", &wrong)]),
        &dir,
        "PARITY_SHA256 pins",
    );

    // Plain http from anywhere but loopback is refused before any download.
    let output = install_script(VERSION, &dir, "http://192.0.2.1/releases/download", &[]);
    assert_refused(&output, &dir, "refusing http://192.0.2.1");
}

#[test]
fn install_sh_says_when_no_release_matches_and_exits_3() {
    let empty = tempfile::tempdir().unwrap();
    let host = ReleaseHost::serve(empty.path());
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("bin");
    let output = install_script(VERSION, &dir, &host.releases(), &[]);
    assert_eq!(output.status.code(), Some(3), "{}", output_text(&output));
    assert!(
        text(&output.stderr).contains(&format!("there is no release v{VERSION}")),
        "{}",
        output_text(&output)
    );

    // A release with nothing built for this machine's target.
    let tree = release_tree(|tag| std::fs::remove_file(tag.join(archive_name())).unwrap());
    let host = ReleaseHost::serve(tree.path());
    let output = install_script(VERSION, &dir, &host.releases(), &[]);
    assert_eq!(output.status.code(), Some(3), "{}", output_text(&output));
    assert!(text(&output.stderr).contains("nothing is built for"), "{}", output_text(&output));

    let output = install_script("main", &dir, &host.releases(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", output_text(&output));
    assert!(!dir.exists());
}

// ---- the action's install step, as the runner runs it ----

fn step<'a>(action: &'a Yaml, id: &str) -> &'a Yaml {
    let steps = action["runs"]["steps"].as_vec().expect("composite steps");
    steps.iter().find(|s| s["id"].as_str() == Some(id)).unwrap_or_else(|| panic!("no step `{id}`"))
}

/// What `${{ … }}` stands for in one run of the action: its inputs (the
/// defaults of action.yml, then `inputs`) and the runner's contexts.
fn contexts(
    action: &Yaml,
    inputs: &[(&str, &str)],
    runner_temp: &Path,
    host: &ReleaseHost,
) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let Yaml::Hash(declared) = &action["inputs"] else { panic!("inputs") };
    for (name, input) in declared {
        values.insert(
            format!("inputs.{}", name.as_str().unwrap()),
            input["default"].as_str().unwrap_or("").to_string(),
        );
    }
    for (name, value) in inputs {
        assert!(values.contains_key(&format!("inputs.{name}")), "action.yml has no input `{name}`");
        values.insert(format!("inputs.{name}"), value.to_string());
    }
    values.insert("github.action_path".into(), env!("CARGO_MANIFEST_DIR").into());
    values.insert("github.server_url".into(), host.origin.clone());
    values.insert("runner.temp".into(), runner_temp.display().to_string());
    // Not promised in a composite action's steps, and empty there in practice.
    values.insert("github.action_ref".into(), String::new());
    values.insert("github.action_repository".into(), String::new());
    values
}

/// `${{ expression }}` replaced from `values`; an expression the test does not know fails it.
fn evaluate(template: &str, values: &BTreeMap<String, String>) -> String {
    let expression = regex::Regex::new(r"\$\{\{\s*([^}]*?)\s*\}\}").unwrap();
    expression
        .replace_all(template, |caps: &regex::Captures| {
            values.get(&caps[1]).cloned().unwrap_or_else(|| panic!("the test does not know `{}`", &caps[1]))
        })
        .into_owned()
}

/// One run of the action's step `id`: its exit code, what it printed, its
/// outputs (GITHUB_OUTPUT) and what it added to PATH (GITHUB_PATH).
struct StepRun {
    code: Option<i32>,
    printed: String,
    outputs: BTreeMap<String, String>,
    path: Vec<String>,
}

fn run_step(id: &str, values: &BTreeMap<String, String>, action_path: &Path, extra_path: &str) -> StepRun {
    let action = action();
    let step = step(&action, id);
    assert_eq!(step["shell"].as_str(), Some("bash"));
    let files = tempfile::tempdir().unwrap();
    let (output_file, path_file, script) =
        (files.path().join("output"), files.path().join("path"), files.path().join("step.sh"));
    std::fs::write(&script, step["run"].as_str().unwrap()).unwrap();
    std::fs::write(&output_file, "").unwrap();
    std::fs::write(&path_file, "").unwrap();
    let mut cmd = Command::new("bash");
    // How the runner starts a `shell: bash` step.
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&script);
    if let Yaml::Hash(env) = &step["env"] {
        for (key, value) in env {
            cmd.env(key.as_str().unwrap(), evaluate(value.as_str().unwrap(), values));
        }
    }
    let path = format!("{extra_path}:{}", std::env::var("PATH").unwrap());
    let output = cmd
        .env("PATH", path)
        .env("GITHUB_ACTION_PATH", action_path)
        .env("GITHUB_OUTPUT", &output_file)
        .env("GITHUB_PATH", &path_file)
        .env("GITHUB_REPOSITORY", "your-org/the-service")
        .output()
        .unwrap();
    let outputs = read(&output_file)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    StepRun {
        code: output.status.code(),
        printed: output_text(&output),
        outputs,
        path: read(&path_file).lines().map(str::to_string).collect(),
    }
}

/// The action as `uses: your-org/webprofile-parity@REF` checks it out:
/// …/_actions/your-org/webprofile-parity/REF (a link to this repository).
fn checked_out_as(runner: &Path, reference: &str) -> PathBuf {
    let path = runner.join(format!("_actions/your-org/webprofile-parity/{reference}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_MANIFEST_DIR"), &path).unwrap();
    path
}

#[test]
fn the_actions_install_step_installs_the_release_of_its_own_tag_in_seconds() {
    let tree = release_tree(|_| {});
    let host = ReleaseHost::serve(tree.path());
    let runner = tempfile::tempdir().unwrap();
    let action = action();
    let values = contexts(&action, &[], runner.path(), &host);
    let started = Instant::now();
    let install = run_step("install", &values, &checked_out_as(runner.path(), &format!("v{VERSION}")), "");
    eprintln!("the action's install step took {:.2} s", started.elapsed().as_secs_f64());
    assert_eq!(install.code, Some(0), "{}", install.printed);
    assert_eq!(install.outputs.get("from-source").map(String::as_str), Some("false"));
    let bin = runner.path().join("webprofile-parity/bin");
    assert_eq!(install.path, [bin.display().to_string()]);
    // The release of the action's own repository and tag, found from its path.
    let sums = format!("/your-org/webprofile-parity/releases/download/v{VERSION}/SHA256SUMS");
    assert!(host.asked().contains(&sums), "{:?}", host.asked());

    let mut values = values;
    values.insert("steps.install.outputs.from-source".into(), install.outputs["from-source"].clone());
    let installed = run_step("installed", &values, Path::new(env!("CARGO_MANIFEST_DIR")), &install.path[0]);
    assert_eq!(installed.code, Some(0), "{}", installed.printed);
    assert!(
        installed.outputs["version"].starts_with(&format!("parity {VERSION} (commit ")),
        "{:?}",
        installed.outputs
    );
    assert_eq!(installed.outputs["from"], "release");
}

#[test]
fn the_actions_install_step_refuses_a_tampered_release_and_does_not_fall_back() {
    let tree = release_tree(|tag| flip_a_byte(&tag.join(archive_name())));
    let host = ReleaseHost::serve(tree.path());
    let runner = tempfile::tempdir().unwrap();
    let action = action();
    let values =
        contexts(&action, &[("version", VERSION), ("release-url", &host.releases())], runner.path(), &host);
    let install = run_step("install", &values, Path::new(env!("CARGO_MANIFEST_DIR")), "");
    assert_eq!(install.code, Some(1), "{}", install.printed);
    assert!(
        install.printed.contains("checksum mismatch") && install.printed.contains("::error"),
        "{}",
        install.printed
    );
    assert!(install.path.is_empty() && !install.outputs.contains_key("from-source"), "{:?}", install.outputs);
    assert!(!runner.path().join("webprofile-parity/bin/parity").exists());
}

#[test]
fn without_a_matching_release_the_action_builds_from_its_source() {
    let empty = tempfile::tempdir().unwrap();
    let host = ReleaseHost::serve(empty.path());
    let runner = tempfile::tempdir().unwrap();
    let action = action();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));

    // A branch is no release: nothing is downloaded.
    let values = contexts(&action, &[], runner.path(), &host);
    let branch = run_step("install", &values, &checked_out_as(runner.path(), "main"), "");
    assert_eq!(branch.code, Some(0), "{}", branch.printed);
    assert_eq!(branch.outputs["from-source"], "true");
    assert!(regex::Regex::new("^[0-9a-f]{16}$").unwrap().is_match(&branch.outputs["cargo-lock"]));
    assert!(host.asked().is_empty(), "{:?}", host.asked());

    // `uses: ./` (the action in the workflow's own checkout) names no release either.
    let local = run_step("install", &values, here, "");
    assert_eq!((local.code, local.outputs["from-source"].as_str()), (Some(0), "true"), "{}", local.printed);
    assert!(host.asked().is_empty(), "{:?}", host.asked());

    // A release tag with no release published: the action's own source is that version.
    let values =
        contexts(&action, &[("version", VERSION), ("release-url", &host.releases())], runner.path(), &host);
    let unreleased = run_step("install", &values, here, "");
    assert_eq!(unreleased.code, Some(0), "{}", unreleased.printed);
    assert_eq!(unreleased.outputs["from-source"], "true");
    assert!(unreleased.printed.contains(&format!("no release {VERSION} at")), "{}", unreleased.printed);

    // Another version than the source's is not built from it.
    let values =
        contexts(&action, &[("version", "9.9.9"), ("release-url", &host.releases())], runner.path(), &host);
    let other = run_step("install", &values, here, "");
    assert_eq!(other.code, Some(1), "{}", other.printed);
    assert!(other.printed.contains(&format!("the action's source is {VERSION}")), "{}", other.printed);

    // The source steps run exactly when the install step says so, cached on Cargo.lock.
    let steps = action["runs"]["steps"].as_vec().unwrap();
    let from_source: Vec<&Yaml> = steps
        .iter()
        .filter(|s| s["if"].as_str() == Some("steps.install.outputs.from-source == 'true'"))
        .collect();
    assert_eq!(from_source.len(), 2);
    assert!(from_source[0]["uses"].as_str().unwrap().starts_with("actions/cache@"));
    assert!(from_source[0]["with"]["key"].as_str().unwrap().contains("steps.install.outputs.cargo-lock"));
    assert!(from_source[1]["run"].as_str().unwrap().contains("cargo install --locked --path"));
}

/// `cargo binstall` reads Cargo.toml's metadata: its templates, filled in as
/// binstall fills them, name the archive release.sh writes and the binary's
/// place in it.
#[test]
fn the_binstall_metadata_names_the_released_archive_and_its_binary() {
    let manifest: toml::Table = read(&repo_file("Cargo.toml")).parse().unwrap();
    let package = &manifest["package"];
    let binstall = &package["metadata"]["binstall"];
    let fill = |template: &str| {
        template
            .replace("{ repo }", package["repository"].as_str().unwrap())
            .replace("{ version }", VERSION)
            .replace("{ target }", TARGET)
            .replace("{ bin }", "parity")
            .replace("{ binary-ext }", "")
    };
    let url = fill(binstall["pkg-url"].as_str().unwrap());
    assert!(url.ends_with(&format!("/releases/download/v{VERSION}/{}", archive_name())), "{url}");
    assert_eq!(binstall["pkg-fmt"].as_str(), Some("tgz"));
    let bin_dir = fill(binstall["bin-dir"].as_str().unwrap());
    let entries = tarball_entries(&packaged().join(archive_name()));
    assert!(entries.iter().any(|(name, _)| *name == bin_dir), "{bin_dir} is not in the archive");
}
