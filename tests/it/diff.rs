//! `parity diff`: the reference server's two dialects diffed for real, the
//! independent Python stand-in as a second oracle, faults found with both
//! exchanges, the shipped rules file, bad input, a shared MongoDB and Docker.

use crate::common::*;
use crate::run_docker::{derived_image, DockerTest};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn rules_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ci/parity-diff.toml")
}

fn diff_dir(out: &Path) -> PathBuf {
    out.join("webprofile-parity/diff")
}

/// `parity diff` run in `cwd` (so no ./parity-diff.toml is picked up by accident).
fn diff(cwd: &Path, args: &[&str]) -> std::process::Output {
    parity()
        .current_dir(cwd)
        .arg("diff")
        .args(["--out", "ci"])
        .args(args)
        .timeout(HANG_GUARD)
        .output()
        .unwrap()
}

/// (step, path) of every difference judged `different`.
fn different(report: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for step in report["steps"].as_array().unwrap() {
        for d in step["differences"].as_array().unwrap() {
            if d["verdict"] == "different" {
                found.insert((
                    step["name"].as_str().unwrap().to_string(),
                    d["path"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    found
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// Every row of the spec's Node dialect table the script reaches, as (step, field).
fn node_dialect_table() -> BTreeSet<(String, String)> {
    let create = ["status", "content-type", "body.id"];
    let mut expected: Vec<(&str, &str)> = Vec::new();
    for step in ["create", "create-other-user"] {
        expected.extend(create.iter().map(|p| (step, *p)));
    }
    expected.extend([
        ("introspect-active", "body.hashPrefix"),
        ("introspect-other-users-token", "body.hashPrefix"),
        ("revoke-other-users-token", "status"),
        ("revoke-other-users-token", "content-class"),
        ("revoke-other-users-token", "content-type"),
        ("revoke-other-users-token", "body"),
        ("revoke-unknown-id", "status"),
        ("revoke-unknown-id", "content-class"),
        ("revoke-unknown-id", "content-type"),
        ("revoke-unknown-id", "body"),
        ("introspect-missing-token", "content-class"),
        ("introspect-missing-token", "content-type"),
        ("introspect-missing-token", "body"),
        // List shape: `id` for `_id`, no userId, algorithm or (null) hash.
        ("list", "content-type"),
        ("list", "body[0]._id"),
        ("list", "body[0].id"),
        ("list", "body[0].userId"),
        ("list", "body[0].algorithm"),
        ("list", "body[0].hash"),
        ("list", "body[0].expiresAt"),
        // scopes [] by default.
        ("introspect-other-users-token", "body.scopes"),
        // 204 for a malformed id too.
        ("revoke-bad-id", "status"),
        ("revoke-bad-id", "content-class"),
        ("revoke-bad-id", "content-type"),
        ("revoke-bad-id", "body"),
        // HTML error pages.
        ("create-invalid-body", "content-class"),
        ("create-invalid-body", "content-type"),
        ("create-invalid-body", "body"),
        ("unknown-route", "content-class"),
        ("unknown-route", "content-type"),
        ("unknown-route", "body"),
        ("wrong-method", "status"),
        ("wrong-method", "content-class"),
        ("wrong-method", "content-type"),
        ("wrong-method", "body"),
        // The forms of "no": 302 to /login without credentials, 401 with wrong ones.
        ("unauthenticated", "location"),
        ("unauthenticated", "body"),
        ("service-origin-alone", "location"),
        ("service-origin-alone", "body"),
        ("wrong-password", "status"),
        ("wrong-password", "location"),
        ("wrong-password", "body"),
    ]);
    pairs(&expected)
}

/// No run of 64 hex digits but a `sha256:` content digest.
fn assert_no_token(text: &str, file: &str) {
    for found in regex::Regex::new("[0-9a-f]{64}").unwrap().find_iter(text) {
        assert!(
            text[..found.start()].ends_with("sha256:"),
            "a plaintext token in {file}: {}",
            found.as_str()
        );
    }
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

#[test]
fn go_against_go_has_no_difference_and_learns_ids_tokens_and_timestamps_as_noise() {
    let tmp = tempfile::tempdir().unwrap();
    let (_a, reference) = reference_server(&[]);
    let (_b, candidate) = reference_server(&[]);
    let output = diff(tmp.path(), &["--reference", &reference, "--candidate", &candidate]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let dir = diff_dir(&tmp.path().join("ci"));
    let report = read_json(&dir.join("diff.json"));
    assert_eq!(report["counts"]["different"], 0, "{}", read(&dir.join("diff.txt")));
    assert_eq!(different(&report), BTreeSet::new());
    assert!(report["counts"]["same"].as_u64().unwrap() >= 15, "{}", report["counts"]);
    let kinds: BTreeSet<String> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["noise"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_string()))
        .collect();
    for kind in ["id", "token", "user id", "hash prefix"] {
        assert!(kinds.contains(kind), "no {kind} noise learned: {kinds:?}");
    }
    // Noise is learned when it is seen: the two reference lanes create at
    // once, and may do so within the same millisecond.
    let created_at = |lane: &str| {
        let body = step(&report, "list")[lane]["body"].as_str().unwrap().to_string();
        serde_json::from_str::<Value>(&body).unwrap()[0]["createdAt"].clone()
    };
    if created_at("reference") != created_at("reference_again") {
        assert!(kinds.contains("timestamp"), "differing createdAt not learned as noise: {kinds:?}");
    }
    assert!(!kinds.contains("unexplained"), "{kinds:?}");
    // One instance per side: the cross-instance and cross-implementation steps say why they did not run.
    let skipped = step(&report, "cross-revoke-on-2");
    assert_eq!(skipped["verdict"], "skipped");
    assert!(skipped["skipped"].as_str().unwrap().contains("second instance"), "{skipped}");
    // JUnit: one case per step.
    let junit = read(&dir.join("junit.xml"));
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let cases = doc.descendants().filter(|n| n.has_tag_name("testcase")).count();
    assert_eq!(cases, report["steps"].as_array().unwrap().len());
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), 0);
    for file in ["diff.json", "diff.txt", "diff.html", "junit.xml"] {
        assert_no_token(&read(&dir.join(file)), file);
    }
}

#[test]
fn go_against_node_shows_exactly_the_node_dialect_table_and_the_shipped_rules_accept_each() {
    let tmp = tempfile::tempdir().unwrap();
    let (_a, go) = reference_server(&[]);
    let (_b, node) = reference_server(&["--flavor", "node"]);
    let output = diff(tmp.path(), &["--reference", &go, "--candidate", &node]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let report = read_json(&diff_dir(&tmp.path().join("ci")).join("diff.json"));
    assert_eq!(different(&report), node_dialect_table());
    let text = read(&diff_dir(&tmp.path().join("ci")).join("diff.txt"));
    let first = text.find("== DIFFERENCES").expect("differences section");
    assert!(first < text.find("== SAME").unwrap(), "differences come first");
    assert!(text.contains("<<< 201 [application/json"), "both responses shown: {text:.2000}");

    // The shipped rules accept every row, each rule matched at least once.
    let rules = rules_file();
    let output =
        diff(tmp.path(), &["--reference", &node, "--candidate", &go, "--rules", rules.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let report = read_json(&diff_dir(&tmp.path().join("ci")).join("diff.json"));
    assert_eq!(report["counts"]["different"], 0);
    assert_eq!(report["counts"]["accepted"], 15, "{}", report["counts"]);
    assert_eq!(report["security"], serde_json::json!({"reference": [], "candidate": []}), "both keep out");
    assert_eq!(report["stale_rules"], serde_json::json!([]), "{}", report["rules"]);

    // ./parity-diff.toml is read by default.
    std::fs::copy(&rules, tmp.path().join("parity-diff.toml")).unwrap();
    let output = diff(tmp.path(), &["--reference", &go, "--candidate", &node]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
}

/// The second oracle: the Python stand-in, written from the spec alone, in
/// its Go and Node dialects differs exactly as the reference's two flavors do.
#[test]
fn the_spec_standin_in_its_two_dialects_differs_by_the_same_table() {
    let tmp = tempfile::tempdir().unwrap();
    let (_go, go) = spec_standin(&[]);
    let (_node, node) = spec_standin(&["--node-dialect"]);
    let output = diff(tmp.path(), &["--reference", &go[0], "--candidate", &node[0]]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let report = read_json(&diff_dir(&tmp.path().join("ci")).join("diff.json"));
    assert_eq!(different(&report), node_dialect_table());
    let rules = rules_file();
    let output = diff(
        tmp.path(),
        &["--reference", &go[0], "--candidate", &node[0], "--rules", rules.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
}

#[test]
fn faulty_builds_are_reported_different_on_exactly_those_steps_with_both_exchanges() {
    let tmp = tempfile::tempdir().unwrap();
    let (_clean, clean) = reference_server(&[]);
    let (_status, revoke_200) = reference_server(&["--fault", "revoke-status=200"]);
    let output = diff(tmp.path(), &["--reference", &clean, "--candidate", &revoke_200]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let dir = diff_dir(&tmp.path().join("ci"));
    let report = read_json(&dir.join("diff.json"));
    assert_eq!(different(&report), pairs(&[("revoke", "status"), ("revoke-again", "status")]));
    let revoke = step(&report, "revoke");
    assert_eq!(revoke["reference"]["status"], 204);
    assert_eq!(revoke["candidate"]["status"], 200);
    let text = read(&dir.join("diff.txt"));
    assert!(text.contains("status: reference 204 ≠ candidate 200"), "{text:.1500}");
    assert!(text.contains("<<< 204") && text.contains("<<< 200"), "both responses in diff.txt");

    // The faulty build as the reference: its own answers are no noise, so the step still differs.
    let (_partial, partial) = reference_server(&["--fault", "partial=token-prefix"]);
    let output = diff(tmp.path(), &["--reference", &partial, "--candidate", &clean]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let report = read_json(&dir.join("diff.json"));
    assert_eq!(
        different(&report),
        pairs(&[("create", "body.accessTokenPartial"), ("create-other-user", "body.accessTokenPartial")])
    );
    let body = step(&report, "create")["reference"]["body"].as_str().unwrap().to_string();
    assert!(
        body.contains(r#""accessTokenPartial":"[REDACTED]""#),
        "the token's own first characters are not written: {body}"
    );
    let partial = &step(&report, "create")["differences"][0];
    assert_eq!(
        (partial["reference"].as_str(), partial["candidate"].as_str()),
        (Some("<main.token[..8]>"), Some("<main.prefix>"))
    );
}

#[test]
fn an_unreachable_side_is_exit_3_with_nothing_written_and_bad_files_are_64_with_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let (_a, reference) = reference_server(&[]);
    let dead = dead_port();
    let output = diff(tmp.path(), &["--reference", &reference, "--candidate", &dead.url()]);
    assert_eq!(output.status.code(), Some(3), "{}", output_text(&output));
    assert!(output_text(&output).contains(&format!("the candidate at {} is unreachable", dead.url())));
    assert!(!tmp.path().join("ci").exists(), "nothing half-written");

    let bad_rules = tmp.path().join("bad.toml");
    std::fs::write(&bad_rules, "[[accept]]\nreason = \"x\"\nstatuses = [200, \"201\"]\n").unwrap();
    let output = diff(
        tmp.path(),
        &["--reference", &reference, "--candidate", &reference, "--rules", bad_rules.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(64), "{}", output_text(&output));
    assert!(output_text(&output).contains("bad.toml: line 3, column"), "{}", output_text(&output));

    let bad_scenario = tmp.path().join("bad.json");
    std::fs::write(&bad_scenario, "{\"steps\": [\n  {\"name\": \"x\", \"method\": \"GET\"\n]}").unwrap();
    let output = diff(
        tmp.path(),
        &["--reference", &reference, "--candidate", &reference, "--scenario", bad_scenario.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(64), "{}", output_text(&output));
    assert!(output_text(&output).contains("bad.json: line 3, column"), "{}", output_text(&output));
    assert!(!tmp.path().join("ci").exists());
}

#[test]
fn a_scenario_adds_steps_and_a_stale_rule_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (_a, reference) = reference_server(&[]);
    let scenario = tmp.path().join("scenario.json");
    std::fs::write(
        &scenario,
        r#"{"steps": [{"name": "list-after-revoke", "after": "revoke", "method": "GET",
                      "path": "/internal/api/users/{user}/git-tokens"}]}"#,
    )
    .unwrap();
    let rules = tmp.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[accept]]\nname = \"never\"\nreason = \"nothing differs here\"\nstatuses = [418]\n",
    )
    .unwrap();
    let output = diff(
        tmp.path(),
        &[
            "--reference",
            &reference,
            "--candidate",
            &reference,
            "--scenario",
            scenario.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let report = read_json(&diff_dir(&tmp.path().join("ci")).join("diff.json"));
    let names: Vec<&str> =
        report["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let at = names.iter().position(|n| *n == "revoke").unwrap();
    assert_eq!(names[at + 1], "list-after-revoke");
    let listed = step(&report, "list-after-revoke")["reference"]["body"].as_str().unwrap().to_string();
    assert!(listed.contains("\"active\":false"), "{listed}");
    assert_eq!(report["stale_rules"], serde_json::json!(["never"]));
    assert!(output_text(&output).contains("never matched: never"), "{}", output_text(&output));
}

/// The hostile stand-in's bodies: huge and binary, compared by size and hash, shown escaped.
fn odd_bodies(seed: &str) -> (KillOnDrop, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins/odd_bodies.py");
    let mut child =
        Command::new("python3").arg(script).arg(seed).stdout(Stdio::piped()).spawn().expect("python3");
    let line = std::io::BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    (KillOnDrop(child), line.strip_prefix("listening ").unwrap().to_string())
}

#[test]
fn huge_and_binary_bodies_are_compared_by_size_and_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let (_a, a) = odd_bodies("a");
    let (_b, b) = odd_bodies("b");
    let output = diff(tmp.path(), &["--reference", &a, "--candidate", &b]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let dir = diff_dir(&tmp.path().join("ci"));
    let report = read_json(&dir.join("diff.json"));
    let introspect = step(&report, "introspect-unknown-token");
    let body = &introspect["differences"].as_array().unwrap().iter().find(|d| d["path"] == "body").unwrap();
    assert_eq!(body["reference"]["bytes"], 2 * 1024 * 1024, "{body}");
    assert_ne!(body["reference"]["sha256"], body["candidate"]["sha256"]);
    let list = step(&report, "list");
    assert_eq!(list["reference"]["binary"], true);
    let paths: Vec<&str> =
        list["differences"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["body"]);
    let text = read(&dir.join("diff.txt"));
    assert!(text.contains("[binary body: 64 bytes, sha256:"), "{text:.3000}");
    assert!(text.contains("[large body: 2097152 bytes"), "{text:.3000}");
    assert!(!text.contains('\u{0}'), "control bytes are escaped");
}

/// The steps and fields that differ, and the cross-implementation findings,
/// when a Go build and a Node build share one store: what each writes is
/// compared by shape, `userId`'s type differs (no rule may accept it), and
/// neither build can revoke what the other minted, in either direction.
fn assert_the_two_flavors_cannot_revoke_each_others_tokens(report: &Value) {
    let store_differences: BTreeSet<(String, String)> =
        different(report).into_iter().filter(|(_, path)| path.starts_with("store.")).collect();
    assert_eq!(
        store_differences,
        pairs(&[
            ("create", "store.userId"),
            ("create-other-user", "store.userId"),
            ("cross-create-on-1", "store.userId")
        ]),
        "the Node model's other fields are accepted by the shipped rules, userId never"
    );
    let shapes = &step(report, "create")["store"];
    assert_eq!(
        (shapes["reference"]["userId"].as_str(), shapes["candidate"]["userId"].as_str()),
        (Some("string"), Some("ObjectId"))
    );
    assert_eq!(
        (shapes["reference"].get("expiresAt"), shapes["candidate"]["expiresAt"].as_str()),
        (None, Some("null"))
    );
    let cross: BTreeSet<(String, String)> = report["cross_implementation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["step"].as_str().unwrap().to_string(), f["lane"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        cross,
        pairs(&[
            ("impl-introspect-reference-token-on-reference", "candidate"),
            ("impl-introspect-reference-token-on-candidate", "candidate"),
            ("impl-list-reference-token-on-reference", "candidate"),
            ("impl-introspect-candidate-token-on-reference", "reference"),
            ("impl-introspect-candidate-token-on-candidate", "reference"),
            ("impl-list-candidate-token-on-candidate", "reference"),
        ]),
        "both directions: Go's string document revoked through Node, Node's ObjectId one through Go"
    );
    assert_eq!(report["counts"]["stale_read"], 6, "{}", report["counts"]);
    assert_eq!(
        step(report, "impl-revoke-reference-token")["candidate"]["status"],
        204,
        "Node: 204, nothing revoked"
    );
    assert_eq!(
        step(report, "impl-revoke-candidate-token")["reference"]["status"],
        404,
        "Go: 404, nothing revoked"
    );
}

#[test]
fn two_flavors_on_one_mongodb_write_what_the_other_cannot_revoke_and_expired_tokens_compare() {
    let Some((_mongo, uri)) = mongo_standin(
        "two_flavors_on_one_mongodb_write_what_the_other_cannot_revoke_and_expired_tokens_compare",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let serve =
        |flavor: &str| reference_server(&["--store", "mongo", "--mongo-uri", &uri, "--flavor", flavor]);
    let (_g1, go1) = serve("go");
    let (_g2, go2) = serve("go");
    let (_n1, node1) = serve("node");
    let (_n2, node2) = serve("node");
    let rules = rules_file();
    let shared = |candidates: [&str; 2]| {
        diff(
            tmp.path(),
            &[
                "--reference",
                &go1,
                "--reference",
                &go2,
                "--candidate",
                candidates[0],
                "--candidate",
                candidates[1],
                "--mongo-uri",
                &uri,
                "--shared-store",
                "--rules",
                rules.to_str().unwrap(),
            ],
        )
    };
    let output = shared([&node1, &node2]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let dir = diff_dir(&tmp.path().join("ci"));
    let report = read_json(&dir.join("diff.json"));
    assert_eq!(report["counts"]["skipped"], 0, "every step ran: {}", report["counts"]);
    assert_the_two_flavors_cannot_revoke_each_others_tokens(&report);
    let expired = step(&report, "introspect-expired");
    assert_eq!(expired["verdict"], "same");
    assert!(expired["candidate"]["body"].as_str().unwrap().contains("\"active\":false"));
    let text = read(&dir.join("diff.txt"));
    assert!(
        text.contains(
            "== CROSS-IMPLEMENTATION: tokens one build minted and the other revoked, still active (6) =="
        ),
        "{text:.3000}"
    );
    assert!(text.contains("store.userId: reference \"string\" ≠ candidate \"ObjectId\""), "{text:.3000}");
    assert!(read(&dir.join("diff.html")).contains("id=\"cross-implementation\""));
    let analysis_classes = |counts: &Value| counts["stale_read"].as_u64().unwrap();
    assert_eq!(analysis_classes(&report["counts"]), 6);

    // Go against Go on the same store: nothing differs, what they write has one shape.
    let output = shared([&go1, &go2]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let report = read_json(&dir.join("diff.json"));
    assert_eq!(report["cross_implementation"], serde_json::json!([]));
    assert_eq!(report["counts"]["different"], 0);
    assert!(step(&report, "create")["store"]["candidate"]["userId"] == "string");
}

#[test]
fn docker_builds_share_one_mongodb_and_the_flavors_cannot_revoke_each_others_tokens() {
    let Some(t) = DockerTest::start("diff") else { return };
    let node = derived_image(
        "ptest-diff-node:1",
        &format!("FROM {}\nENV PARITY_FLAVOR=node\n", t.images.reference),
        &t.tmp.path().join("node"),
    );
    let rules = rules_file();
    let output = parity()
        .current_dir(t.tmp.path())
        .args(["diff", "--backend", "docker", "--out", "ci", "--mongo-image", &t.images.mongo])
        .args(["--reference-image", &t.images.reference, "--candidate-image", &node])
        .args(["--rules", rules.to_str().unwrap()])
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let report = read_json(&diff_dir(&t.tmp.path().join("ci")).join("diff.json"));
    assert_eq!(report["counts"]["skipped"], 0, "every step ran: {}", report["counts"]);
    assert_eq!(step(&report, "introspect-expired")["verdict"], "same");
    assert_the_two_flavors_cannot_revoke_each_others_tokens(&report);
    let leftovers = Command::new("docker")
        .args(["ps", "-a", "--filter", "name=webprofile-parity-diff", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&leftovers.stdout).trim(), "", "containers left behind");
}

#[test]
fn run_with_a_reference_diffs_as_a_phase_with_its_files_in_the_tarball_and_its_verdict_in_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (_go, go) = reference_server(&[]);
    let out = tmp.path().join("ci");
    let run = |extra: &[&str]| {
        parity()
            .current_dir(tmp.path())
            .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "2", "--out", "ci"])
            .args(["--reference", &go])
            .args(extra)
            .timeout(HANG_GUARD)
            .output()
            .unwrap()
    };
    // The embedded instances in the Node dialect differ from a Go reference: the run fails on contract.
    let output = run(&["--flavor", "node", "--dialect", "node"]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let analysis = read_json(&parity_dir(&out).join("analysis.json"));
    assert_eq!(analysis["diff"]["different"], 15, "{}", analysis["diff"]);
    assert_eq!(analysis["failure_classes"]["contract"], 15);
    assert!(analysis["verdict"].as_str().unwrap().contains("exchange pairs diffed against the reference"));
    let entries: Vec<String> = tarball_entries(&tarball(&out)).into_iter().map(|(name, _)| name).collect();
    for file in ["diff.json", "diff.txt", "diff.html", "junit.xml"] {
        assert!(
            entries.iter().any(|e| e.ends_with(&format!("webprofile-parity/diff/{file}"))),
            "{file}: {entries:?}"
        );
    }

    // With the shipped rules the same run passes.
    let rules = rules_file();
    let output = run(&["--flavor", "node", "--dialect", "node", "--diff-rules", rules.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    assert_eq!(read_json(&parity_dir(&out).join("analysis.json"))["diff"]["accepted"], 15);

    // An unreachable reference: nothing was compared, and the run says so. The other phases
    // ran, so it is not "nothing tested" (3) but an infrastructure failure (1), which
    // `parity rerun` retries.
    let dead = dead_port();
    let output = parity()
        .current_dir(tmp.path())
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "1", "--out", "ci"])
        .args(["--reference", &dead.url()])
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    // An unreachable reference is the only failure: infrastructure, exit 3.
    assert_eq!(output.status.code(), Some(3), "{}", output_text(&output));
    let analysis = read_json(&parity_dir(&out).join("analysis.json"));
    assert_eq!(analysis["failure_classes"], serde_json::json!({"infrastructure": 1}));
    assert!(analysis["diff"]["error"].as_str().unwrap().contains("unreachable"), "{}", analysis["diff"]);
    let not_run = analysis["coverage"]["not_run"].to_string();
    assert!(not_run.contains("diff against the reference"), "{not_run}");
}

#[test]
fn per_side_credentials_are_used_and_never_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (_r, reference) = reference_server(&["--admin-user", "ref-admin", "--admin-pass", "r3f-secret-pass"]);
    let (_c, candidate) =
        reference_server(&["--admin-user", "cand-admin", "--admin-pass", "c4nd-secret-pass"]);
    let output = diff(
        tmp.path(),
        &[
            "--reference",
            &reference,
            "--candidate",
            &candidate,
            "--reference-auth",
            "ref-admin:r3f-secret-pass",
            "--candidate-auth",
            "cand-admin:c4nd-secret-pass",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let report = read_json(&diff_dir(&tmp.path().join("ci")).join("diff.json"));
    assert_eq!(
        step(&report, "list")["candidate"]["status"],
        200,
        "the candidate's own credentials let it in"
    );
    for secret in ["r3f-secret-pass", "c4nd-secret-pass"] {
        assert!(!output_text(&output).contains(secret));
        assert_not_in_files(tmp.path(), secret);
    }
    // The wrong side's credentials are turned away: the diff sees it.
    let output = diff(
        tmp.path(),
        &[
            "--reference",
            &reference,
            "--candidate",
            &candidate,
            "--reference-auth",
            "ref-admin:r3f-secret-pass",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
}

/// Security is judged on each side the same way, by effect: one build
/// against itself is the same whatever it lets in (its findings listed on
/// both sides); a step differs on security only when one side lets the
/// request in and the other keeps it out — whichever side that is, and
/// whatever the rules file says.
#[test]
fn security_is_judged_alike_on_both_sides() {
    let tmp = tempfile::tempdir().unwrap();
    let (_clean, clean) = reference_server(&[]);
    let (_b1, bypass) = reference_server(&["--fault", "auth-bypass"]);
    let (_b2, bypass_again) = reference_server(&["--fault", "auth-bypass"]);
    let dir = diff_dir(&tmp.path().join("ci"));

    let output = diff(tmp.path(), &["--reference", &bypass, "--candidate", &bypass_again]);
    assert_eq!(output.status.code(), Some(0), "the same build against itself: {}", output_text(&output));
    let report = read_json(&dir.join("diff.json"));
    for side in ["reference", "candidate"] {
        let findings = report["security"][side].as_array().unwrap();
        assert_eq!(findings.len(), 1, "{side}: {}", report["security"]);
        assert_eq!(findings[0]["step"], "service-origin-alone");
        assert_eq!(findings[0]["effect"], "data-returned");
        assert_eq!(findings[0]["observed"], "the answer names token <main.id>");
    }
    assert_eq!(step(&report, "service-origin-alone")["verdict"], "same");
    let text = read(&dir.join("diff.txt"));
    assert!(
        text.contains("== SECURITY: requests let in without valid credentials, per side =="),
        "{text:.2000}"
    );
    assert!(read(&dir.join("diff.html")).contains("id=\"security\""));

    let rules = rules_file();
    for (reference, candidate) in [(&clean, &bypass), (&bypass, &clean)] {
        let output = diff(
            tmp.path(),
            &["--reference", reference, "--candidate", candidate, "--rules", rules.to_str().unwrap()],
        );
        assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
        let report = read_json(&dir.join("diff.json"));
        assert_eq!(
            different(&report),
            pairs(&[("service-origin-alone", "security"), ("service-origin-alone", "status")]),
            "the rules accept the form of no, never a 200 against a 302"
        );
        assert_eq!(report["counts"]["security"], 1);
        let origin = step(&report, "service-origin-alone");
        let judged =
            origin["differences"].as_array().unwrap().iter().find(|d| d["path"] == "security").unwrap();
        assert!(judged.get("rule").is_none(), "no rule accepts a security difference: {judged}");
    }
}

/// A reference that does not answer usably teaches no noise: those steps
/// are not compared, and the diff is not a pass.
#[test]
fn a_reference_that_fails_half_its_requests_makes_steps_not_comparable_and_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let (_flaky, flaky) = reference_server(&["--fault", "error-rate=0.5", "--seed", "11"]);
    let (_clean, clean) = reference_server(&[]);
    let output = diff(tmp.path(), &["--reference", &flaky, "--candidate", &clean]);
    let report = read_json(&diff_dir(&tmp.path().join("ci")).join("diff.json"));
    assert!(report["counts"]["errors"].as_u64().unwrap() > 0, "{}", report["counts"]);
    let noise_hid_a_status = report["steps"].as_array().unwrap().iter().any(|s| {
        s["differences"].as_array().unwrap().iter().any(|d| d["verdict"] == "noise" && d["path"] == "status")
    });
    assert!(!noise_hid_a_status, "a failed reference answer is never learned as noise");
    let code = output.status.code();
    assert!(code == Some(3) || code == Some(1), "not a pass: {}", output_text(&output));
    if report["counts"]["different"] == 0 {
        assert_eq!(code, Some(3), "only errors: infrastructure");
    }
}
