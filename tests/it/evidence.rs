//! Evidence packets, `parity replay` and `parity explain`: a packet per
//! failure with what it takes to understand it (exchanges, a timeline with
//! every service's lines, the stored token, the stack's state) and to rerun
//! exactly that case — on the embedded stack, an independent stand-in, and a
//! real Docker engine with a faulty image.

use crate::common::*;
use crate::run_docker::{derived_image, DockerTest};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn evidence_dir(out: &Path) -> PathBuf {
    parity_dir(out).join("evidence")
}

fn assert_packet_files(packet: &Path, with_store: bool) {
    let mut expected = vec![
        "README.txt",
        "exchanges.json",
        "exchanges.txt",
        "replay.json",
        "state.json",
        "timeline.svg",
        "timeline.txt",
    ];
    if with_store {
        expected.push("store.json");
        expected.sort();
    }
    let mut found: Vec<String> = std::fs::read_dir(packet)
        .unwrap_or_else(|e| panic!("{}: {e}", packet.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, expected, "{}", packet.display());
}

/// `parity run --out OUT ARGS…` that must find failures (exit 1); its analysis.json.
fn failing_run(out: &Path, args: &[&str]) -> Value {
    let run = parity()
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(out)
        .timeout(Duration::from_secs(240))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", output_text(&run));
    read_json(&parity_dir(out).join("analysis.json"))
}

fn replay(packet: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    parity()
        .arg("replay")
        .arg(packet)
        .arg("--out")
        .arg(out)
        .args(extra)
        .timeout(Duration::from_secs(240))
        .output()
        .unwrap()
}

#[test]
fn the_smoke_and_a_contract_check_get_packets_that_replay_on_the_embedded_stack() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let secret = "evidence-Adm1n-pass";
    let analysis = failing_run(
        &out,
        &[
            "--backend",
            "local",
            "--iterations",
            "1",
            "--hash-cost",
            "minimal",
            "--admin-pass",
            secret,
            "--fault",
            "stale-once,list-hash",
        ],
    );
    assert_eq!(
        analysis["evidence"]["packets"],
        serde_json::json!(["smoke-attempt-1", "check-list_hides_hash"]),
        "{analysis}"
    );
    let evidence = evidence_dir(&out);
    for name in ["smoke-attempt-1", "check-list_hides_hash"] {
        assert_packet_files(&evidence.join(name), true);
    }

    let smoke = evidence.join("smoke-attempt-1");
    let readme = read(&smoke.join("README.txt"));
    assert!(readme.contains("Class: stale-read") && readme.contains("parity replay "), "{readme}");
    let store = read_json(&smoke.join("store.json"));
    assert!(store["reading"].as_str().unwrap().starts_with("stale cache"), "{store}");
    assert_eq!(store["documents"][0]["hash"], "[redacted]");
    let timeline = read(&smoke.join("timeline.txt"));
    assert!(timeline.contains("webprofile  ") && timeline.contains("→ instance1"), "{timeline}");
    let spec = read_json(&evidence.join("check-list_hides_hash/replay.json"));
    assert_eq!(spec["case"], serde_json::json!({"kind": "check", "check": "list_hides_hash"}));
    assert_eq!(spec["class"], "security", "a hash in the list is a security finding");
    let check_exchanges = read_json(&evidence.join("check-list_hides_hash/exchanges.json"));
    assert_eq!(check_exchanges.as_array().unwrap().len(), 1, "the check's own exchange: {check_exchanges}");

    // The packets travel in the tarball; nothing secret is in them.
    let entries = tarball_entries(&tarball(&out));
    assert!(entries.iter().any(|(name, _)| name.ends_with("evidence/smoke-attempt-1/timeline.txt")));
    assert_not_in_files(&evidence, secret);
    assert_no_token_in(&evidence);

    // The contract check fails the same way every time; without the fault, never.
    let packet = evidence.join("check-list_hides_hash");
    let again = replay(&packet, &tmp.path().join("r1"), &["--times", "3", "--admin-pass", secret]);
    assert_eq!(again.status.code(), Some(1), "{}", output_text(&again));
    let report = read_json(&tmp.path().join("r1/replay-report.json"));
    assert_eq!(
        (report["reproduced"].as_u64(), report["tries"].as_array().unwrap().len()),
        (Some(3), 3),
        "{report}"
    );
    assert!(report["interval_95"]["low"].as_f64().unwrap() > 0.4, "{report}");
    assert_packet_files(&tmp.path().join("r1/evidence/check-list_hides_hash-try-2"), true);
    let clean =
        replay(&packet, &tmp.path().join("r2"), &["--times", "3", "--no-faults", "--admin-pass", secret]);
    assert_eq!(clean.status.code(), Some(0), "{}", output_text(&clean));
    assert!(output_text(&clean).contains("did not reproduce in 3 tries"), "{}", output_text(&clean));
    assert_not_in_files(tmp.path(), secret);
}

#[test]
fn explain_prints_the_readme_and_the_timeline_plainly_off_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    parity()
        .args([
            "run",
            "--backend",
            "local",
            "--iterations",
            "0",
            "--hash-cost",
            "minimal",
            "--fault",
            "list-hash",
        ])
        .arg("--out")
        .arg(&out)
        .timeout(Duration::from_secs(120))
        .assert()
        .code(1);
    let shown =
        parity().arg("explain").arg(evidence_dir(&out).join("check-list_hides_hash")).output().unwrap();
    assert_eq!(shown.status.code(), Some(0));
    let text = text(&shown.stdout);
    assert!(
        text.starts_with("evidence packet check-list_hides_hash\nThe contract check list_hides_hash failed"),
        "{text}"
    );
    assert!(text.contains("timeline of check-list_hides_hash"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour off a terminal: {text}");

    let missing = parity().arg("explain").arg(tmp.path()).output().unwrap();
    assert_eq!(missing.status.code(), Some(64));
    assert!(output_text(&missing).contains("README.txt"), "{}", output_text(&missing));
}

#[test]
fn a_missing_corrupt_or_newer_replay_json_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let packet = tmp.path().join("iteration-3");
    std::fs::create_dir_all(&packet).unwrap();
    let missing = replay(&packet, &tmp.path().join("r"), &[]);
    assert_eq!(missing.status.code(), Some(64));
    assert!(
        output_text(&missing).contains("iteration-3/replay.json: not found"),
        "{}",
        output_text(&missing)
    );

    std::fs::write(packet.join("replay.json"), "{\"case\": ").unwrap();
    let corrupt = replay(&packet, &tmp.path().join("r"), &[]);
    assert_eq!(corrupt.status.code(), Some(64));
    assert!(
        output_text(&corrupt).contains("replay.json: not a packet's replay.json"),
        "{}",
        output_text(&corrupt)
    );

    // A later format: what is known is replayed, and the difference said.
    let newer = r#"{"format": 7, "tool_version": "9.9.9", "case": {"kind": "smoke", "attempt": 1},
                    "class": "stale-read", "backend": "local", "faults": ["stale-once"],
                    "hash_cost": "minimal", "a_field_from_the_future": [1, 2]}"#;
    std::fs::write(packet.join("replay.json"), newer).unwrap();
    let replayed = replay(&packet, &tmp.path().join("r"), &["--times", "2"]);
    let said = output_text(&replayed);
    assert!(said.contains("written by a newer parity (9.9.9, format 7)"), "{said}");
    // stale-once: the first revoked token of a fresh stack reads stale once, so the first try reproduces.
    assert_eq!(replayed.status.code(), Some(1), "{said}");
    assert!(said.contains("reproduced 1/2 times as stale-read"), "{said}");

    let unknown =
        r#"{"case": {"kind": "check", "check": "no_such_check"}, "class": "contract", "backend": "local"}"#;
    std::fs::write(packet.join("replay.json"), unknown).unwrap();
    let refused = replay(&packet, &tmp.path().join("r"), &[]);
    assert_eq!(refused.status.code(), Some(64));
    assert!(
        output_text(&refused).contains("`no_such_check` is not one this version runs"),
        "{}",
        output_text(&refused)
    );
}

#[test]
fn an_external_service_gets_packets_without_logs_and_the_limit_holds() {
    // The independent stand-in, written from the spec: its first revoked token reads stale once.
    let (_standin, [first, second]) = spec_standin(&["--stale-once"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let analysis = failing_run(
        &out,
        &["--instance", &first, "--instance", &second, "--iterations", "2", "--evidence-limit", "1"],
    );
    assert_eq!(analysis["evidence"]["packets"], serde_json::json!(["smoke-attempt-1"]), "{analysis}");
    let packet = evidence_dir(&out).join("smoke-attempt-1");
    assert_packet_files(&packet, false);
    let timeline = read(&packet.join("timeline.txt"));
    assert!(timeline.contains("external services: no log lines to merge"), "{timeline}");
    assert!(read(&packet.join("README.txt")).contains("No store was reachable"));
    // Replayed on the recorded targets: stale once means never again.
    let again = replay(&packet, &tmp.path().join("r"), &["--times", "3"]);
    assert_eq!(again.status.code(), Some(0), "{}", output_text(&again));
}

fn replay_leftovers() -> String {
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter", "name=webprofile-parity-replay", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn docker_iterations_with_a_lagging_image_get_full_packets_and_replay_reproduces_only_on_it() {
    let Some(t) = DockerTest::start("evidence") else { return };
    // The faulty image: the reference with a revocation lag baked in. A MongoDB that logs every command.
    let lagging = derived_image(
        "ptest-evidence-lagging:1",
        &format!("FROM {}\nENV PARITY_FAULTS=revocation-lag=1s\n", t.images.reference),
        &t.tmp.path().join("lagging"),
    );
    let chatty_mongo = derived_image(
        "ptest-evidence-mongo-v:1",
        &format!("FROM {}\nCMD [\"-v\"]\n", t.images.mongo),
        &t.tmp.path().join("mongo"),
    );
    let secret = "evidence-d0cker-pass";
    let mut args =
        vec!["--backend", "docker", "--iterations", "2", "--hash-cost", "minimal", "--admin-pass", secret];
    let images = t.stack.args_with(&lagging, &chatty_mongo);
    args.extend(images.iter().map(String::as_str));
    let analysis = failing_run(&t.out, &args);
    assert_eq!(
        analysis["evidence"]["packets"],
        serde_json::json!(["iteration-1", "iteration-2"]),
        "{analysis}"
    );

    let evidence = evidence_dir(&t.out);
    for n in [1, 2] {
        let packet = evidence.join(format!("iteration-{n}"));
        assert_packet_files(&packet, true);
        let exchanges = read_json(&packet.join("exchanges.json"));
        assert!(exchanges.as_array().unwrap().len() >= 4, "create, introspect, revoke, polls: {exchanges}");
        let timeline = read(&packet.join("timeline.txt"));
        for source in ["webprofile ", "webprofile-node2 ", "mongo "] {
            assert!(
                timeline.lines().skip(4).any(|l| l.split_whitespace().nth(l.starts_with('*') as usize + 1) == Some(source.trim())),
                "no line from {source} in the timeline:\n{timeline}"
            );
        }
        let store = read_json(&packet.join("store.json"));
        assert_eq!(store["documents"][0]["active"], false, "{store}");
        assert_eq!(store["first_active_after_revoke"]["active"], true, "{store}");
        assert!(store["reading"].as_str().unwrap().starts_with("stale cache"), "{store}");
        let state = read_json(&packet.join("state.json"));
        assert_eq!(state["containers"].as_array().unwrap().len(), 3, "{state}");
        let spec = read_json(&packet.join("replay.json"));
        let ids: Vec<&str> =
            spec["images"].as_array().unwrap().iter().filter_map(|i| i["id"].as_str()).collect();
        assert!(ids.len() == 3 && ids.iter().all(|id| id.starts_with("sha256:")), "{spec}");
    }
    assert_not_in_files(&t.out, secret);
    assert_no_token_in(&evidence);

    // Replayed on the recorded (lagging) image: every time. On the clean reference: never.
    let packet = evidence.join("iteration-2");
    let on_faulty = replay(&packet, &t.tmp.path().join("r1"), &["--times", "3", "--admin-pass", secret]);
    assert_eq!(on_faulty.status.code(), Some(1), "{}", output_text(&on_faulty));
    let report = read_json(&t.tmp.path().join("r1/replay-report.json"));
    assert_eq!(report["reproduced"], 3, "{report}");
    assert_eq!(report["backend"], "docker");
    assert!(t.tmp.path().join("r1/evidence/iteration-2-try-3/timeline.txt").is_file());
    let on_clean = replay(
        &packet,
        &t.tmp.path().join("r2"),
        &["--times", "3", "--admin-pass", secret, "--webprofile-image", &t.images.reference],
    );
    assert_eq!(on_clean.status.code(), Some(0), "{}", output_text(&on_clean));
    assert_eq!(read_json(&t.tmp.path().join("r2/replay-report.json"))["reproduced"], 0);
    assert_eq!(replay_leftovers(), "", "replays leave nothing behind");

    // --no-cleanup: the first reproduction stops the replay and the stack stays up to look into.
    let kept =
        replay(&packet, &t.tmp.path().join("r4"), &["--times", "5", "--admin-pass", secret, "--no-cleanup"]);
    assert_eq!(kept.status.code(), Some(1), "{}", output_text(&kept));
    assert!(
        output_text(&kept).contains("--no-cleanup: the stack is still running"),
        "{}",
        output_text(&kept)
    );
    assert_eq!(read_json(&t.tmp.path().join("r4/replay-report.json"))["tries"].as_array().unwrap().len(), 1);
    assert!(replay_leftovers().contains("webprofile-parity-replay-mongo"), "{}", replay_leftovers());
    parity().arg("clean").timeout(Duration::from_secs(60)).assert().code(0);
    assert_eq!(replay_leftovers(), "", "parity clean removes a kept replay stack");

    // The recorded image removed: exit 3, named, with the way out.
    let removed = Command::new("docker").args(["rmi", "-f", &lagging, &chatty_mongo]).output().unwrap();
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    let gone = replay(&packet, &t.tmp.path().join("r3"), &["--times", "1"]);
    assert_eq!(gone.status.code(), Some(3), "{}", output_text(&gone));
    assert!(output_text(&gone).contains("give --webprofile-image IMAGE"), "{}", output_text(&gone));
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}
