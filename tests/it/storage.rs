//! Storage parity: what one implementation writes, the other must find. A
//! Go-flavor instance (userId stored as a string) and a Node-flavor one
//! (an ObjectId) on one store fail across in both directions of
//! revocation, as the spec says they do on MongoDB — on the embedded store,
//! on the nx-27017 stand-in made type-strict, and on Docker — each failure's
//! packet naming the userId type mismatch; a Go/Go and a Node/Node pair pass.

use crate::common::*;
use crate::run_docker::DockerTest;
use std::path::Path;

/// Each failed iteration's packet reading, by packet name.
fn readings(out: &Path) -> Vec<(String, String)> {
    let evidence = parity_dir(out).join("evidence");
    let mut found: Vec<(String, String)> = std::fs::read_dir(&evidence)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("iteration-"))
        .map(|p| {
            let store = read_json(&p.join("store.json"));
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                store["reading"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

/// A mixed pair fails every iteration as a stale read, in both directions:
/// Node's ObjectId document revoked through Go (404) and Go's string
/// document revoked through Node (204), each packet naming both types.
fn assert_fails_across_both_ways(out: &Path, stderr: &str) {
    let analysis = read_json(&parity_dir(out).join("analysis.json"));
    assert_eq!(analysis["cross"]["iterations"], 2, "{stderr}");
    assert_eq!(analysis["cross"]["classes"], serde_json::json!({"stale-read": 2}), "{stderr}");
    let results = read_json(&parity_dir(out).join("cross-instance-results.json"));
    let reasons: Vec<&str> =
        results.as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(
        reasons[0].starts_with("revoked through instance2 (answered 404) but the token stayed active"),
        "{reasons:?}"
    );
    // Node answered 204: a revoke that returned, then stale reads on instance2.
    assert!(reasons[1].contains("the revoke on instance1 returned"), "{reasons:?}");
    let readings = readings(out);
    assert_eq!(readings.len(), 2, "{readings:?}");
    assert!(
        readings[0].1.starts_with(
            "cross-implementation: revoked through instance2 (answered 404) but the document's userId is an ObjectId \
             while instance2 filters by string"
        ),
        "{readings:?}"
    );
    assert!(
        readings[1].1.starts_with(
            "cross-implementation: revoked through instance1 (answered 204) but the document's userId is a string \
             while instance1 filters by ObjectId"
        ),
        "{readings:?}"
    );
}

fn run_local(out: &Path, extra: &[&str]) -> std::process::Output {
    parity()
        .args([
            "run",
            "--backend",
            "local",
            "--hash-cost",
            "minimal",
            "--iterations",
            "2",
            "--deadline",
            "300ms",
        ])
        .args(["--dialect", "auto", "--out"])
        .arg(out)
        .args(extra)
        .timeout(HANG_GUARD)
        .output()
        .unwrap()
}

#[test]
fn a_node_and_a_go_instance_on_the_embedded_store_fail_across_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let output = run_local(tmp.path(), &["--flavor", "node@1"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.lines().last().unwrap().contains("parity FAILED (2 stale-read)"), "{stderr}");
    assert_fails_across_both_ways(tmp.path(), &stderr);
    for same in ["go", "node"] {
        let tmp = tempfile::tempdir().unwrap();
        let output = run_local(tmp.path(), &["--flavor", same]);
        assert_eq!(output.status.code(), Some(0), "{same}/{same}: {}", text(&output.stderr));
    }
}

#[test]
fn a_node_and_a_go_instance_on_the_type_strict_stand_in_fail_across_both_ways() {
    let Some((_mongo, uri)) =
        mongo_standin("a_node_and_a_go_instance_on_the_type_strict_stand_in_fail_across_both_ways")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let output = run_local(tmp.path(), &["--flavor", "node@1", "--mongo-uri", &uri]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_fails_across_both_ways(tmp.path(), &stderr);
    for same in ["go", "node"] {
        let tmp = tempfile::tempdir().unwrap();
        let output = run_local(tmp.path(), &["--flavor", same, "--mongo-uri", &uri]);
        assert_eq!(output.status.code(), Some(0), "{same}/{same}: {}", text(&output.stderr));
    }
}

/// Two services of different builds started by hand on one MongoDB, named
/// with --instance and --mongo-uri: the run reads the store to say why.
#[test]
fn two_external_builds_on_one_mongodb_fail_across_both_ways() {
    let Some((_mongo, uri)) = mongo_standin("two_external_builds_on_one_mongodb_fail_across_both_ways")
    else {
        return;
    };
    let serve =
        |flavor: &str| reference_server(&["--store", "mongo", "--mongo-uri", &uri, "--flavor", flavor]);
    let (_node, node) = serve("node");
    let (_go, go) = serve("go");
    let tmp = tempfile::tempdir().unwrap();
    let output = parity()
        .args(["run", "--instance", &node, "--instance", &go, "--mongo-uri", &uri, "--iterations", "2"])
        .args(["--deadline", "300ms", "--dialect", "auto", "--out"])
        .arg(tmp.path())
        .timeout(HANG_GUARD)
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_fails_across_both_ways(tmp.path(), &stderr);
}

#[test]
fn a_node_and_a_go_container_on_the_stand_in_image_fail_across_both_ways() {
    let Some(t) = DockerTest::start("mixed") else { return };
    let args = ["--iterations", "2", "--deadline", "300ms", "--hash-cost", "minimal", "--dialect", "auto"];
    let run = t.run(&[&args[..], &["--flavor", "node@1"]].concat());
    let stderr = text(&run.get_output().stderr);
    run.code(1);
    assert_fails_across_both_ways(&t.out, &stderr);
    assert!(t.stack.leftovers().is_empty(), "{:?}", t.stack.leftovers());
    let run = t.run(&args);
    let stderr = text(&run.get_output().stderr);
    run.code(0);
    assert!(stderr.contains("parity holds"), "go/go: {stderr}");
}
