//! Statistical power at scale: N instances with rotating roles, a fault on
//! one instance found in its column of the matrix, and shards merged into
//! what the unsharded run writes.

use crate::common::*;
use crate::run_docker::DockerTest;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn run_local(out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    parity()
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--out"])
        .arg(out)
        .args(extra)
        .assert()
}

fn results(out: &Path) -> Vec<Value> {
    read_json(&parity_dir(out).join("cross-instance-results.json")).as_array().unwrap().clone()
}

fn matrix(out: &Path) -> BTreeMap<(String, String), Value> {
    let analysis = read_json(&parity_dir(out).join("analysis.json"));
    analysis["cross"]["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| ((c["revoker"].as_str().unwrap().into(), c["observer"].as_str().unwrap().into()), c.clone()))
        .collect()
}

/// Every ordered pair of `n` instances, by name.
fn all_pairs(n: usize) -> BTreeSet<(String, String)> {
    let name = |k: usize| format!("instance{k}");
    (1..=n).flat_map(|r| (1..=n).filter(move |&o| o != r).map(move |o| (name(r), name(o)))).collect()
}

/// Checks that the results cover every ordered pair of three instances
/// evenly, each iteration polling both instances but the revoker.
fn assert_three_instances_rotate(out: &Path, iterations: u64) {
    let cells = matrix(out);
    assert_eq!(cells.keys().cloned().collect::<BTreeSet<_>>(), all_pairs(3), "{cells:?}");
    for (pair, cell) in &cells {
        assert_eq!(cell["iterations"].as_u64(), Some(iterations / 3), "{pair:?}: {cell}");
    }
    for r in results(out) {
        let observations = r["observations"].as_array().expect("two observers, two observations");
        let observers: BTreeSet<&str> =
            observations.iter().map(|o| o["observer"].as_str().unwrap()).collect();
        let revoker = r["revoker"].as_str().unwrap();
        assert_eq!(observers.len(), 2, "{r}");
        assert!(!observers.contains(revoker), "the revoker is not polled: {r}");
        assert_ne!(r["creator"].as_str().unwrap(), revoker, "{r}");
    }
}

#[test]
fn three_embedded_instances_cover_all_six_ordered_pairs_evenly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    run_local(&out, &["--instances", "3", "--iterations", "30", "--concurrency", "4"]).code(0);
    assert_three_instances_rotate(&out, 30);
    let dir = parity_dir(&out);
    for log in ["webprofile.log", "webprofile-node2.log", "webprofile-node3.log"] {
        assert!(read(&dir.join(log)).contains("POST /internal/api/tokens/introspect"), "{log}");
    }
    assert!(read(&dir.join("cross-instance.out"))
        .contains("revoked on instance3 → read on instance1: 10 iteration(s)"));
    // The per-iteration file names the roles.
    assert!(read(&dir.join("cross-instance-iter-1.out"))
        .contains("roles: created on instance3, revoked on instance2, polled instance1,instance3"));
}

/// `revocation-lag` on instance 3 alone: every cell where instance 3 is
/// read is stale in every iteration; every other cell, in none.
fn assert_only_instance3_reads_stale(out: &Path) {
    for ((revoker, observer), cell) in matrix(out) {
        let (iterations, stale) =
            (cell["iterations"].as_u64().unwrap(), cell["stale_iterations"].as_u64().unwrap());
        assert!(iterations > 0, "{cell}");
        if observer == "instance3" {
            assert_eq!(stale, iterations, "{revoker} → {observer}: {cell}");
            assert!(cell["stale_ms"]["max"].as_f64().unwrap() > 0.0, "{cell}");
        } else {
            assert_eq!(stale, 0, "{revoker} → {observer}: {cell}");
        }
    }
}

#[test]
fn a_fault_on_one_instance_shows_in_exactly_its_column() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let run =
        run_local(&out, &["--instances", "3", "--iterations", "12", "--fault", "revocation-lag=200ms@3"]);
    run.code(1);
    assert_only_instance3_reads_stale(&out);
    let analysis = read_json(&parity_dir(&out).join("analysis.json"));
    assert_eq!(analysis["faults"], "revocation-lag=200ms@3");
    // Instance 3 revokes in a third of the iterations; those pass (a revoke clears its own cache).
    assert_eq!(analysis["cross"]["failures"], 8, "{}", analysis["cross"]);
}

#[test]
fn bad_instance_counts_and_shards_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    for (args, says) in [
        (&["--instances", "1"][..], "need two instances at least"),
        (&["--instances", "x"], "not a number of instances"),
        (&["--shard", "3/2"], "expected K/N with 1 <= K <= N"),
        (&["--shard", "0/2"], "expected K/N"),
        (&["--shard", "two"], "expected K/N"),
        (&["--fault", "revocation-lag=200ms@3"], "no instance 3"),
    ] {
        let run = run_local(&out, args).code(64);
        let stderr = text(&run.get_output().stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The iterations named in a trace, and how many lines it has.
fn trace_iterations(out: &Path) -> (BTreeSet<u64>, usize) {
    let lines = trace_lines(out);
    (lines.iter().map(|line| line["iteration"].as_u64().unwrap()).collect(), lines.len())
}

#[test]
fn shards_merged_are_the_unsharded_run_iterations_roles_and_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let common = [
        "--instances",
        "3",
        "--iterations",
        "30",
        "--seed",
        "7",
        "--concurrency",
        "4",
        "--fault",
        "stale-rate=0.3,stale-for=300ms",
    ];
    let whole = tmp.path().join("whole");
    run_local(&whole, &common).code(1);
    let mut shard_dirs = Vec::new();
    let mut shard_lines = 0;
    for k in 1..=3 {
        let dir = tmp.path().join(format!("shard-{k}"));
        run_local(&dir, &[&common[..], &["--shard", &format!("{k}/3")]].concat());
        let shard = read_json(&parity_dir(&dir).join("analysis.json"));
        assert_eq!(shard["shard"]["index"], k);
        assert_eq!(shard["coverage"]["iterations"], 10, "a third each");
        shard_lines += trace_iterations(&dir).1;
        shard_dirs.push(dir);
    }
    let merged = tmp.path().join("merged");
    let junit = tmp.path().join("junit.xml");
    let run = parity()
        .args(["merge", "--out"])
        .arg(&merged)
        .arg("--junit")
        .arg(&junit)
        // Any order; the set's own folder or its webprofile-parity/ folder.
        .args([&shard_dirs[2], &parity_dir(&shard_dirs[0]), &shard_dirs[1]])
        .assert()
        .code(1);
    let stderr = text(&run.get_output().stderr);
    assert!(stderr.contains("merged from 3 shards, seed 7"), "{stderr}");

    let roles = |r: &Value| {
        ["iteration", "creator", "revoker", "observer", "user_id"].map(|k| r[k].to_string()).join(" ")
    };
    let (whole_results, merged_results) = (results(&whole), results(&merged));
    assert_eq!(
        merged_results.iter().map(roles).collect::<Vec<_>>(),
        whole_results.iter().map(roles).collect::<Vec<_>>()
    );
    // The seeded fault strikes by user, so the same iterations fail however they are dealt out.
    let failed = |rs: &[Value]| {
        rs.iter()
            .filter(|r| r["success"] == false)
            .map(|r| r["iteration"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(!failed(&whole_results).is_empty(), "the fault strikes some iterations");
    assert_eq!(failed(&merged_results), failed(&whole_results));

    let (w, m) = (
        read_json(&parity_dir(&whole).join("analysis.json")),
        read_json(&parity_dir(&merged).join("analysis.json")),
    );
    for key in ["iterations", "failures", "classes"] {
        assert_eq!(m["cross"][key], w["cross"][key], "{key}");
    }
    let cells = |a: &Value| {
        a["cross"]["matrix"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["revoker"].clone(),
                    c["observer"].clone(),
                    c["iterations"].clone(),
                    c["stale_iterations"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(cells(&m), cells(&w));
    assert_eq!(m["status"], "fail");
    assert_eq!(m["coverage"]["iterations"], 30);
    assert_eq!(m["merged_from"].as_array().unwrap().len(), 3);

    let (seen, lines) = trace_iterations(&merged);
    assert_eq!(seen, (1..=30).collect::<BTreeSet<_>>());
    assert_eq!(lines, shard_lines, "every shard's exchange, once");
    let mdir = parity_dir(&merged);
    assert_iteration_files(&mdir, 30);
    for k in 1..=3 {
        assert!(mdir.join(format!("shards/{k}/analysis.json")).is_file());
        assert!(mdir.join(format!("shards/{k}/webprofile-node3.log")).is_file());
    }
    assert!(read(&junit).contains("cross-instance"));
    let entries: Vec<String> = tarball_entries(&tarball(&merged)).into_iter().map(|(n, _)| n).collect();
    assert!(entries.iter().any(|n| n.ends_with("cross-instance-trace.jsonl.gz")), "{entries:?}");
}

#[test]
fn merge_refuses_sets_of_other_runs_and_names_a_missing_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let shard = |name: &str, extra: &[&str]| {
        let dir = tmp.path().join(name);
        run_local(&dir, &[&["--iterations", "4"][..], extra].concat()).code(0);
        dir
    };
    let one = shard("one", &["--shard", "1/2", "--seed", "1"]);
    let two_other_seed = shard("two-seed-2", &["--shard", "2/2", "--seed", "2"]);
    let two_of_three = shard("two-of-three", &["--shard", "2/3", "--seed", "1"]);
    let unsharded = shard("unsharded", &[]);
    let merged = tmp.path().join("merged");
    let merge = |dirs: &[&Path], code: i32| {
        let run = parity().args(["merge", "--out"]).arg(&merged).args(dirs).assert().code(code);
        text(&run.get_output().stderr)
    };
    let said = merge(&[&one, &two_other_seed], 64);
    assert!(said.contains("seed 1") && said.contains("seed 2"), "{said}");
    let said = merge(&[&one, &two_of_three], 64);
    assert!(said.contains("shard count 2") && said.contains("has shard count 3"), "{said}");
    let said = merge(&[&one, &unsharded], 64);
    assert!(said.contains("not a shard's set"), "{said}");
    let said = merge(&[&one, &one], 64);
    assert!(said.contains("given twice"), "{said}");
    let said = merge(&[&one], 3);
    assert!(said.contains("shard 2/2 missing") && said.contains("nothing merged"), "{said}");
    let said = merge(&[&one, &tmp.path().join("never-uploaded")], 3);
    assert!(said.contains("never-uploaded") && said.contains("missing"), "{said}");
    assert!(!merged.exists(), "nothing is written when the sets do not merge");

    // A shard killed mid-write: its results are cut short.
    let two = shard("two", &["--shard", "2/2", "--seed", "1"]);
    let cut = tmp.path().join("two-cut");
    copy_dir(&two, &cut);
    let results = parity_dir(&cut).join("cross-instance-results.json");
    let whole = read(&results);
    std::fs::write(&results, &whole[..whole.len() / 2]).unwrap();
    let said = merge(&[&one, &cut], 3);
    assert!(said.contains("cut short") && said.contains("two-cut"), "{said}");
    assert!(!merged.exists());

    // A shard written by a harness that checks another contract.
    let other = tmp.path().join("two-other-contract");
    copy_dir(&two, &other);
    let analysis_path = parity_dir(&other).join("analysis.json");
    let mut analysis = read_json(&analysis_path);
    analysis["shard"]["contract"] = "checks-000000000000".into();
    std::fs::write(&analysis_path, analysis.to_string()).unwrap();
    let said = merge(&[&one, &other], 64);
    assert!(said.contains("contract version") && said.contains("checks-000000000000"), "{said}");
    analysis["shard"]["index"] = 0.into();
    std::fs::write(&analysis_path, analysis.to_string()).unwrap();
    let said = merge(&[&one, &other], 64);
    assert!(said.contains("records no valid shard"), "{said}");

    // The merged set may not be, hold or sit inside an input.
    let into = |out: &Path, dirs: &[&Path]| {
        let run = parity().args(["merge", "--out"]).arg(out).args(dirs).assert().code(64);
        text(&run.get_output().stderr)
    };
    assert!(into(&one, &[&one, &two]).contains("merged set's own folder"));
    let inside = parity_dir(&one).join("merged");
    assert!(into(&inside, &[&parity_dir(&one), &two]).contains("merged set's own folder"));
    assert!(!inside.exists(), "nothing copied into itself");
    parity().args(["merge", "--out"]).arg(&merged).args([&one, &two]).assert().code(0);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn three_docker_instances_rotate_and_a_fault_on_node3_shows_in_its_column() {
    let Some(t) = DockerTest::start("three") else { return };
    let run = t.run(&["--instances", "3", "--iterations", "12", "--fault", "revocation-lag=300ms@3"]).code(1);
    let stderr = text(&run.get_output().stderr);
    assert!(stderr.contains("ptest-three-wp-node3"), "{stderr}");
    assert_three_instances_rotate(&t.out, 12);
    assert_only_instance3_reads_stale(&t.out);
    let dir = t.dir();
    for log in ["webprofile.log", "webprofile-node2.log", "webprofile-node3.log", "mongo.log"] {
        assert!(dir.join(log).is_file(), "{log}");
    }
    let analysis = read_json(&dir.join("analysis.json"));
    let services: BTreeSet<&str> =
        analysis["containers"].as_array().unwrap().iter().map(|c| c["service"].as_str().unwrap()).collect();
    assert_eq!(services, BTreeSet::from(["mongo", "webprofile", "webprofile-node2", "webprofile-node3"]));
    assert_eq!(t.stack.leftovers(), Vec::<String>::new());
}

/// Runs that tolerate stale reads (`--allow-stale`) are judged by the
/// latency SLO: exceeded above it, met within it, drawn on the dashboard.
#[test]
fn the_collector_judges_the_p99_staleness_against_the_latency_slo() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("collected");
    std::fs::create_dir_all(&src).unwrap();
    for (n, seed) in ["1", "2"].into_iter().enumerate() {
        let out = tmp.path().join(format!("run-{n}"));
        let faults = ["--fault", "stale-rate=0.5,stale-for=100ms", "--seed", seed];
        run_local(&out, &[&["--iterations", "12", "--allow-stale"][..], &faults].concat()).code(0);
        std::fs::copy(
            parity_dir(&out).join("cross-instance-results.json"),
            src.join(format!("run_{n}_cross.json")),
        )
        .unwrap();
    }
    let collect = |slo: &str| {
        let out = tmp.path().join(format!("collect-{slo}"));
        let output = parity()
            .args(["collect", "--src"])
            .arg(&src)
            .arg("--out")
            .arg(&out)
            .args(["--latency-slo", slo])
            .output()
            .unwrap();
        (output, out)
    };
    let (tight, out) = collect("1ms");
    assert_eq!(tight.status.code(), Some(2), "{}", text(&tight.stderr));
    let status = read_json(&out.join("flakiness/cross/status.json"));
    assert_eq!(status["latency_slo"]["met"], false, "{status}");
    assert_eq!(status["latency_slo"]["slo_ms"], 1.0);
    assert!(status["stale_ms_p99"].as_f64().unwrap() > 1.0, "{status}");
    let dashboard = read(&out.join("flakiness/cross/dashboard.html"));
    assert!(dashboard.contains("Latency trend") && dashboard.contains("SLO: p99 staleness ≤ 1 ms"));
    assert!(dashboard.contains("class=\"stale breach\""));
    let trend = read_json(&out.join("flakiness/cross/trend.json"));
    assert_eq!(trend["stale_ms_p99"].as_array().unwrap().len(), 2);

    let (loose, out) = collect("10s");
    assert_eq!(loose.status.code(), Some(0), "{}", text(&loose.stderr));
    assert_eq!(read_json(&out.join("flakiness/cross/status.json"))["latency_slo"]["met"], true);
}

/// A packet of a three-instance iteration records its roles; the replay
/// starts three instances and reruns exactly those roles, fault and all.
#[test]
fn a_three_instance_packet_replays_with_its_roles() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    run_local(&out, &["--instances", "3", "--iterations", "1", "--fault", "revocation-lag=300ms@3"]).code(1);
    let packet = parity_dir(&out).join("evidence/iteration-1");
    let spec = read_json(&packet.join("replay.json"));
    assert_eq!(spec["targets"].as_array().unwrap().len(), 3, "{spec}");
    let case = &spec["case"];
    assert_eq!(
        (case["creator"].as_str(), case["revoker"].as_str(), case["observer"].as_str()),
        (Some("instance3"), Some("instance2"), Some("instance1,instance3")),
        "{spec}"
    );
    let replayed = parity()
        .arg("replay")
        .arg(&packet)
        .arg("--out")
        .arg(tmp.path().join("replay"))
        .args(["--times", "2"])
        .output()
        .unwrap();
    assert_eq!(replayed.status.code(), Some(1), "{}", output_text(&replayed));
    let report = read_json(&tmp.path().join("replay/replay-report.json"));
    assert_eq!(report["reproduced"], 2, "{report}");
    let logs = ["webprofile.log", "webprofile-node2.log", "webprofile-node3.log"];
    assert!(
        logs.iter().all(|l| tmp.path().join("replay").join(l).is_file()),
        "the replay's stack has three instances"
    );
}
