//! `parity publish` to GitHub Pages, against a real git remote: a local bare
//! repository (`git init --bare`) standing in for github.com, checked by
//! cloning it as a reader of the Pages branch would.

use crate::common::{assert_not_in_files, collect_outputs, collected_fixtures, parity, run_recording, text};
use std::path::{Path, PathBuf};
use std::process::Command;
use webprofile_parity::publish::pages::{PagesConfig, PagesTarget};
use webprofile_parity::publish::snapshot::{self, Snapshot};

/// A token-shaped value that must never show up anywhere.
const FAKE_TOKEN: &str = "ghs_FAKEpagesTOKEN0123456789abcdefXYZ";
const FILES: [&str; 4] = ["dashboard.html", "trend.json", "status.svg", "status.json"];

fn cross(out: &Path) -> PathBuf {
    out.join("flakiness/cross")
}

/// git for the test's own reading and writing of the remote.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=someone",
            "-c",
            "user.email=someone@example.test",
            "-c",
            "commit.gpgSign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("run git");
    assert!(output.status.success(), "git {args:?} in {}: {}", dir.display(), text(&output.stderr));
    text(&output.stdout)
}

fn bare_remote(tmp: &Path) -> PathBuf {
    let remote = tmp.join("pages.git");
    std::fs::create_dir_all(&remote).unwrap();
    git(&remote, &["init", "-q", "--bare"]);
    remote
}

/// A fresh clone of the remote's gh-pages branch.
fn clone_pages(remote: &Path, into: &Path) -> PathBuf {
    if into.exists() {
        std::fs::remove_dir_all(into).unwrap();
    }
    let parent = into.parent().unwrap();
    git(parent, &["clone", "-q", "--branch", "gh-pages", remote.to_str().unwrap(), into.to_str().unwrap()]);
    into.to_path_buf()
}

fn has_branch(remote: &Path, branch: &str) -> bool {
    !git(remote, &["branch", "--list", branch]).trim().is_empty()
}

/// The stamped folders under parity-cross/archives/ (not other folders).
fn archive_folders(site: &Path) -> Vec<String> {
    snapshot::folder_names(&site.join("parity-cross/archives"))
        .unwrap()
        .into_iter()
        .filter(|n| snapshot::is_stamp(n))
        .collect()
}

fn publish_cmd(out: &Path, remote: &Path) -> assert_cmd::Command {
    let mut cmd = parity();
    cmd.arg("publish")
        .arg("--out")
        .arg(out)
        .arg("--pages-remote")
        .arg(remote)
        .env("GITHUB_PAGES_REPO", "acme/dash")
        .env("GITHUB_TOKEN", FAKE_TOKEN);
    cmd
}

/// Waits until the wall clock is in a later second, so the next publish gets another stamp.
fn next_second() {
    let start = chrono::Utc::now().timestamp();
    while chrono::Utc::now().timestamp() == start {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every file under `dir`, read as bytes, must not contain `secret`.

#[test]
fn publishes_to_a_new_branch_keeps_other_content_and_prunes_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let remote = bare_remote(tmp.path());
    let mut seen = String::new();

    // 1. First publish: gh-pages does not exist yet.
    collect_outputs(&collected_fixtures(), &out);
    let first = run_recording(publish_cmd(&out, &remote), &mut seen);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout).trim(), "https://acme.github.io/dash/parity-cross/dashboard.html");
    let stderr = text(&first.stderr);
    assert!(stderr.contains("created the gh-pages branch"), "{stderr}");
    assert!(stderr.contains("GitHub Pages: pushed"), "{stderr}");

    let site = clone_pages(&remote, &tmp.path().join("site"));
    let archives = archive_folders(&site);
    assert_eq!(archives.len(), 1, "{archives:?}");
    let first_stamp = archives[0].clone();
    for file in FILES {
        let published = std::fs::read(cross(&out).join(file)).unwrap();
        assert_eq!(std::fs::read(site.join("parity-cross").join(file)).unwrap(), published, "{file}");
        let archived = site.join("parity-cross/archives").join(&first_stamp).join(file);
        assert_eq!(std::fs::read(archived).unwrap(), published, "archived {file}");
        let local = cross(&out).join("archives").join(&first_stamp).join(file);
        assert_eq!(std::fs::read(local).unwrap(), published, "local archive of {file}");
    }
    let log = git(&site, &["log", "-1", "--format=%an <%ae>|%s"]);
    assert_eq!(
        log.trim(),
        format!("parity <parity@users.noreply.github.com>|parity: publish dashboard {first_stamp}")
    );

    // 2. Someone else adds their own pages to the branch.
    std::fs::write(site.join("index.html"), "<h1>team pages</h1>\n").unwrap();
    std::fs::create_dir_all(site.join("parity-cross/archives/manual-notes")).unwrap();
    std::fs::write(site.join("parity-cross/archives/manual-notes/notes.txt"), "kept\n").unwrap();
    git(&site, &["add", "-A"]);
    git(&site, &["commit", "-q", "-m", "team pages"]);
    git(&site, &["push", "-q", "origin", "gh-pages"]);

    // 3. Second publish, from another collection: a second archive, a new live dashboard.
    let old_dashboard = std::fs::read(cross(&out).join("dashboard.html")).unwrap();
    next_second();
    collect_outputs(&collected_fixtures().join("run_4242_cross.json"), &out);
    let new_dashboard = std::fs::read(cross(&out).join("dashboard.html")).unwrap();
    assert_ne!(old_dashboard, new_dashboard, "the second collection should differ");
    let second = run_recording(publish_cmd(&out, &remote), &mut seen);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));

    let site = clone_pages(&remote, &tmp.path().join("site"));
    let archives = archive_folders(&site);
    assert_eq!(archives.len(), 2, "{archives:?}");
    assert_eq!(archives[0], first_stamp);
    assert_eq!(std::fs::read(site.join("parity-cross/dashboard.html")).unwrap(), new_dashboard);
    assert_eq!(
        std::fs::read(site.join("parity-cross/archives").join(&first_stamp).join("dashboard.html")).unwrap(),
        old_dashboard,
        "the first archive keeps the first dashboard"
    );
    assert_eq!(std::fs::read_to_string(site.join("index.html")).unwrap(), "<h1>team pages</h1>\n");
    assert!(site.join("parity-cross/archives/manual-notes/notes.txt").is_file());

    // 4. --keep-archives 1: only the newest snapshot stays; foreign folders are never pruned.
    next_second();
    let mut keep_one = publish_cmd(&out, &remote);
    keep_one.args(["--keep-archives", "1"]);
    let third = run_recording(keep_one, &mut seen);
    assert_eq!(third.status.code(), Some(0), "{}", text(&third.stderr));
    let stderr = text(&third.stderr);
    assert!(stderr.contains(&format!("pruned parity-cross/archives/{first_stamp}")), "{stderr}");
    let site = clone_pages(&remote, &tmp.path().join("site"));
    let remaining = archive_folders(&site);
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert!(remaining[0] > archives[1], "the newest stays: {remaining:?} after {archives:?}");
    assert!(site.join("parity-cross/archives/manual-notes/notes.txt").is_file());
    assert!(site.join("index.html").is_file());
    let history = git(&site, &["log", "--format=%s"]);
    assert_eq!(history.lines().count(), 4, "{history}");

    // The token never shows: not in any output, any file written, the remote or its history.
    assert!(!seen.contains(FAKE_TOKEN), "the token was printed:\n{seen}");
    assert_not_in_files(&out, FAKE_TOKEN);
    assert_not_in_files(&remote, FAKE_TOKEN);
    assert_not_in_files(&site, FAKE_TOKEN);
    let everything = git(&remote, &["log", "-p", "--all"]);
    assert!(!everything.contains(FAKE_TOKEN));
}

#[test]
fn a_failing_remote_exits_3_with_the_reason_and_leaves_the_files_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    collect_outputs(&collected_fixtures(), &out);
    let before: Vec<Vec<u8>> = FILES.iter().map(|f| std::fs::read(cross(&out).join(f)).unwrap()).collect();
    let missing = tmp.path().join("no-such-remote.git");

    let output = publish_cmd(&out, &missing).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = text(&output.stderr);
    let failures: Vec<&str> = stderr.lines().filter(|l| l.starts_with("parity: publish failed:")).collect();
    assert_eq!(failures.len(), 1, "{stderr}");
    assert!(failures[0].contains("GitHub Pages: git could not list the branches of"), "{stderr}");
    assert!(failures[0].contains("no-such-remote.git"), "{stderr}");
    assert!(!stderr.contains(FAKE_TOKEN) && !text(&output.stdout).contains(FAKE_TOKEN));
    let after: Vec<Vec<u8>> = FILES.iter().map(|f| std::fs::read(cross(&out).join(f)).unwrap()).collect();
    assert_eq!(before, after, "the collector's files are untouched");
    assert!(!missing.exists());
}

#[test]
fn without_a_target_publish_is_a_usage_error_and_collect_only_warns() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    collect_outputs(&collected_fixtures(), &out);

    let output = parity().arg("publish").arg("--out").arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no publishing target is configured"), "{stderr}");
    assert!(stderr.contains("AWS_S3_BUCKET") && stderr.contains("GITHUB_PAGES_REPO"), "{stderr}");
    assert!(!cross(&out).join("archives").exists(), "nothing is archived without a target");

    let output = parity()
        .args(["collect", "--src"])
        .arg(collected_fixtures())
        .arg("--out")
        .arg(&out)
        .env("PUBLISH_DASHBOARD", "true")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "collect keeps its own verdict");
    let stderr = text(&output.stderr);
    let warning = stderr.lines().find(|l| l.contains("publishing was asked for")).unwrap_or_default();
    assert!(warning.starts_with("parity: warning:"), "{stderr}");
}

#[test]
fn missing_collector_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    std::fs::create_dir_all(cross(&out)).unwrap();
    std::fs::write(cross(&out).join("trend.json"), "{}").unwrap();
    let remote = bare_remote(tmp.path());
    let output = publish_cmd(&out, &remote).output().unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("status.json, status.svg, dashboard.html missing"), "{stderr}");
    assert!(stderr.contains("run `parity collect` first"), "{stderr}");
    assert!(!has_branch(&remote, "gh-pages"));
}

#[test]
fn dry_run_lists_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let remote = bare_remote(tmp.path());
    collect_outputs(&collected_fixtures(), &out);
    let mut cmd = publish_cmd(&out, &remote);
    cmd.args(["--dry-run", "--keep-archives", "3"]);
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("would commit parity-cross/dashboard.html"), "{stderr}");
    assert!(stderr.contains("would commit parity-cross/archives/"), "{stderr}");
    assert!(stderr.contains("would keep only the newest 3"), "{stderr}");
    assert!(stderr.contains("would copy the snapshot to"), "{stderr}");
    assert!(!has_branch(&remote, "gh-pages"), "dry run pushed");
    assert!(!cross(&out).join("archives").exists(), "dry run archived locally");
}

#[test]
fn collect_with_publish_dashboard_publishes_after_writing_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let remote = bare_remote(tmp.path());
    let output = parity()
        .args(["collect", "--src"])
        .arg(collected_fixtures())
        .arg("--out")
        .arg(&out)
        .env("PUBLISH_DASHBOARD", "true")
        .env("GITHUB_PAGES_REPO", "acme/dash")
        .env("GITHUB_TOKEN", FAKE_TOKEN)
        .env("GITHUB_PAGES_REMOTE", &remote)
        .output()
        .unwrap();
    // The thresholds verdict (2 for the fixture set) survives a successful publish.
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(!text(&output.stderr).contains(FAKE_TOKEN));
    let site = clone_pages(&remote, &tmp.path().join("site"));
    assert_eq!(
        std::fs::read(site.join("parity-cross/status.json")).unwrap(),
        std::fs::read(cross(&out).join("status.json")).unwrap()
    );
    assert_eq!(archive_folders(&site).len(), 1);

    // A failing target turns collect's exit code into 3.
    let output = parity()
        .args(["collect", "--publish", "--src"])
        .arg(collected_fixtures())
        .arg("--out")
        .arg(&out)
        .env("GITHUB_PAGES_REPO", "acme/dash")
        .env("GITHUB_TOKEN", FAKE_TOKEN)
        .arg("--pages-remote")
        .arg(tmp.path().join("missing.git"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("parity: publish failed: GitHub Pages:"));
}

/// The branch moves between our fetch and our push (another publisher
/// created it): the push is rejected, and the commit is redone on top.
#[test]
fn a_branch_that_moved_is_fetched_again_and_the_publish_redone_on_top() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let remote = bare_remote(tmp.path());
    collect_outputs(&collected_fixtures(), &out);

    let env = |key: &str| match key {
        "GITHUB_PAGES_REPO" => Some("acme/dash".to_string()),
        "GITHUB_TOKEN" => Some(FAKE_TOKEN.to_string()),
        _ => None,
    };
    let config = PagesConfig::from_env(&env, remote.to_str()).unwrap().unwrap();
    let target = PagesTarget::new(config);
    let snap = Snapshot::read(&cross(&out), chrono::Utc::now()).unwrap();

    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let mut attempts = Vec::new();
    let done = target
        .publish_with_hook(&snap, None, &mut |attempt| {
            attempts.push(attempt);
            if attempt == 1 {
                git(&other, &["init", "-q", "-b", "gh-pages"]);
                std::fs::write(other.join("other.txt"), "another publisher\n").unwrap();
                git(&other, &["add", "other.txt"]);
                git(&other, &["commit", "-q", "-m", "another publisher"]);
                git(&other, &["push", "-q", remote.to_str().unwrap(), "gh-pages"]);
            }
        })
        .unwrap();
    assert_eq!(attempts, [1, 2]);
    assert!(done.retried);
    assert!(!done.created_branch, "the second attempt found the branch");
    assert!(done.commit.is_some());

    let site = clone_pages(&remote, &tmp.path().join("site"));
    assert_eq!(std::fs::read_to_string(site.join("other.txt")).unwrap(), "another publisher\n");
    assert!(site.join("parity-cross/dashboard.html").is_file());
    assert_eq!(archive_folders(&site), vec![snap.stamp.clone()]);
    let history: Vec<String> = git(&site, &["log", "--format=%s"]).lines().map(String::from).collect();
    assert_eq!(
        history,
        [format!("parity: publish dashboard {}", snap.stamp), "another publisher".to_string()]
    );
}
