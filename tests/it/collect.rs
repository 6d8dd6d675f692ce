//! `parity collect`, `check`, `status` and `badge` driven as a user would,
//! on the fixture set in `fixtures/collected/` (see its README).

use crate::common::{collected_fixtures as fixtures, parity, read, read_json};
use serde_json::{json, Value};
use std::path::Path;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

/// Copies the fixture set into `dir` (the flat files and `raw/`).
fn copy_fixtures(dir: &Path) {
    for file in crate::common::files_under(&fixtures()) {
        let target = dir.join(file.strip_prefix(fixtures()).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, target).unwrap();
    }
}

// The hand computation for fixtures/collected/:
//   usable runs (time order)   iterations  failed  latencies (ms)                stale reads
//   2024-01-01 (old format)         3         0     —                             —
//   2024-01-02                      5         0     1.5 2.0 2.5 3.0 4.0           0
//   2024-01-03                      5         0     2.0 45.0 3.0 12.0 2.5         4 + 1
//   2024-01-04 (run_4242)           5         2     3.5 1.0 6.0                   0
//   2024-01-05                      4         1     2.2 1.8 2.6                   0
// run_total 5, run_failures 2, run_failure_rate 2/5 = 0.4
// iter_total 22, iter_failures 3, iter_failure_rate 3/22 = 0.136363…
// Wilson 95% (z = 1.959964) for k/n: center (p + z²/2n)/(1 + z²/n),
// half-width z·√(p(1−p)/n + z²/4n²)/(1 + z²/n):
//   2/5:  z²/n = 0.768306, center 0.443448, half 0.325827 → [0.117621, 0.769276]
//   3/22: z²/n = 0.174612, center 0.190420, half 0.142930 → [0.047490, 0.333350]
// streak: 2024-01-05 and 2024-01-04 failed, 2024-01-03 passed → 2.
// 16 latencies sorted: 1.0 1.5 1.8 2.0 2.0 2.2 2.5 2.5 2.6 3.0 3.0 3.5 4.0 6.0 12.0 45.0;
//   nearest rank p50 = 8th = 2.5, p95 = ⌈15.2⌉ = 16th = 45.0, max 45.0.
// stale reads: 5 in 2 iterations of 1 run.
// rerun reports: 101 pass, 102 flaky pass, 103 fail, 104 pass (upstream format) → 4 / 3 / 1 / 1.
// skipped: 6 cross files + run_105.json = 7.
#[test]
fn collect_on_the_fixture_set_matches_the_hand_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let step_summary = tmp.path().join("step-summary.md");
    let output = parity()
        .args(["collect", "--src"])
        .arg(fixtures())
        .arg("--out")
        .arg(&out)
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .env("DASH_URL", "https://example.test/parity-cross/dashboard.html")
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "default thresholds are exceeded\n{err}");
    assert!(
        stdout(&output).starts_with("thresholds exceeded: 2 failing run(s) of 5 >= 1"),
        "{}",
        stdout(&output)
    );

    let flakiness = out.join("flakiness");
    for name in [
        "aggregate.json",
        "report.txt",
        "cross/aggregate_cross.json",
        "cross/summary.json",
        "cross/report.txt",
        "cross/trend.json",
        "cross/status.json",
        "cross/status.svg",
    ] {
        assert!(flakiness.join(name).is_file(), "{name} missing");
    }

    // One warning line per unusable file.
    let skipped = [
        ("run_105.json", "truncated"),
        ("run_broken_cross.json", "malformed"),
        ("run_empty_cross.json", "empty"),
        ("run_latin1_cross.json", "not_utf8"),
        ("run_object_cross.json", "wrong_shape"),
        ("run_truncated_cross.json", "truncated"),
        ("run_zero_cross.json", "zero_iterations"),
    ];
    for (file, _) in skipped {
        assert_eq!(
            err.lines().filter(|l| l.starts_with("parity: warning: ") && l.contains(file)).count(),
            1,
            "{file}\n{err}"
        );
    }
    assert!(!err.contains("panicked"), "{err}");

    let summary = read_json(&flakiness.join("cross/summary.json"));
    assert_eq!(summary["run_total"], 5);
    assert_eq!(summary["run_failures"], 2);
    assert_eq!(summary["iter_total"], 22);
    assert_eq!(summary["iter_failures"], 3);
    assert!(close(&summary["run_failure_rate"], 0.4));
    assert!(close(&summary["iter_failure_rate"], 3.0 / 22.0));
    let ci = |key: &str, low: f64, high: f64| {
        let i = &summary[key];
        assert!(
            (i["low"].as_f64().unwrap() - low).abs() < 1e-6
                && (i["high"].as_f64().unwrap() - high).abs() < 1e-6,
            "{key}: {i}"
        );
    };
    ci("run_failure_rate_ci95", 0.117_621, 0.769_276);
    ci("iter_failure_rate_ci95", 0.047_490, 0.333_350);
    // By class: one stale read and one infrastructure failure in 22 iterations
    // (Wilson 95% for 1/22: 0.806943%–21.798046%), and one old failure without a class.
    assert_eq!(summary["failure_classes"], json!({"stale-read": 1, "infrastructure": 1, "unknown": 1}));
    for key in ["stale_read", "infrastructure"] {
        let class = &summary[key];
        assert_eq!(class["iterations"], 1, "{key}: {class}");
        assert!(close(&class["rate"], 1.0 / 22.0), "{key}: {class}");
        let i = &class["rate_ci95"];
        assert!(
            (i["low"].as_f64().unwrap() - 0.008_069_43).abs() < 1e-6
                && (i["high"].as_f64().unwrap() - 0.217_980_46).abs() < 1e-6,
            "{key}: {i}"
        );
    }
    assert_eq!(summary["current_failing_streak"], 2);
    assert_eq!(summary["current_failing_streak_runs"], json!(["2024-01-05 10:00:00", "2024-01-04 10:00:00"]));
    assert_eq!(summary["major_alert"], false);
    assert_eq!(summary["latency_ms"], json!({"samples": 16, "p50": 2.5, "p95": 45.0, "max": 45.0}));
    assert_eq!(summary["stale_reads"], json!({"total": 5, "iterations": 2, "runs": 1}));
    let skipped_files = summary["skipped_files"].as_array().unwrap();
    let got: Vec<(&str, &str)> =
        skipped_files.iter().map(|s| (s["file"].as_str().unwrap(), s["code"].as_str().unwrap())).collect();
    assert_eq!(got, skipped);
    assert!(skipped_files
        .iter()
        .all(|s| s["reason"].as_str().unwrap().starts_with(s["file"].as_str().unwrap())));

    let aggregate = read_json(&flakiness.join("cross/aggregate_cross.json"));
    let runs = aggregate["runs"].as_array().unwrap();
    let rows: Vec<(&str, u64, u64)> = runs
        .iter()
        .map(|r| {
            (r["file"].as_str().unwrap(), r["iterations"].as_u64().unwrap(), r["failures"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("run_local_20240101T100000Z_cross.json", 3, 0),
            ("run_local_20240102T100000Z_cross.json", 5, 0),
            ("run_local_20240103T100000Z_cross.json", 5, 0),
            ("run_4242_cross.json", 5, 2),
            ("run_local_20240105T100000Z_cross.json", 4, 1),
        ]
    );
    assert_eq!(runs[3]["raw"], "raw/4242");
    assert_eq!(runs[3]["timestamp"], "2024-01-04T10:00:00Z");
    assert_eq!(runs[2]["stale_reads"], 5);
    assert_eq!(runs[0]["stale_reads"], Value::Null, "the old format records no stale reads");

    let trend = read_json(&flakiness.join("cross/trend.json"));
    assert_eq!(
        trend["labels"],
        json!([
            "2024-01-01 10:00:00",
            "2024-01-02 10:00:00",
            "2024-01-03 10:00:00",
            "2024-01-04 10:00:00",
            "2024-01-05 10:00:00"
        ])
    );
    assert_eq!(trend["success_rates"], json!([1.0, 1.0, 1.0, 0.6, 0.75]));
    assert_eq!(trend["failures"], json!([0, 0, 0, 2, 1]));

    let status = read_json(&flakiness.join("cross/status.json"));
    let timestamp = status["timestamp"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(), "{timestamp}");
    assert_eq!(status["threshold_exceeded"], true);
    assert!(close(&status["iter_rate"], 3.0 / 22.0));
    assert!(close(&status["stale_read_rate"], 1.0 / 22.0));
    assert!(close(&status["infrastructure_rate"], 1.0 / 22.0));
    assert_eq!(status["summary"], summary);
    assert_eq!(status["dashboard_url"], "https://example.test/parity-cross/dashboard.html");

    let reruns = read_json(&flakiness.join("aggregate.json"));
    assert_eq!(
        (&reruns["count"], &reruns["success"], &reruns["failure"], &reruns["flaky"]),
        (&json!(4), &json!(3), &json!(1), &json!(1))
    );
    assert_eq!(reruns["skipped_files"][0]["file"], "run_105.json");
    assert!(read(&flakiness.join("report.txt"))
        .starts_with("rerun reports: 4 collected, 3 passed, 1 failed, 1 flaky"));

    let report = read(&flakiness.join("cross/report.txt"));
    assert!(report.contains("iterations: 22 run, 3 failed (13.64%, 95% CI 4.75%–33.33%)"), "{report}");
    assert!(
        report.contains("iteration 3 [infrastructure]: introspect on instance1 answered 503 while polling"),
        "{report}"
    );
    assert!(
        report.contains("stale reads (the headline): 1 iteration(s), 4.55%, 95% CI 0.81%–21.80%"),
        "{report}"
    );
    assert!(report.contains("iteration 2 [unknown]: revoke answered 500"), "{report}");

    let svg = read(&flakiness.join("cross/status.svg"));
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert!(svg.contains(">alert</text>"), "{svg}");

    let markdown = read(&step_summary);
    assert!(markdown.contains("Cross-instance parity flakiness"), "{markdown}");
    assert!(markdown.contains("| failed iterations | 3 of 22: 13.64% (95% CI 4.75%–33.33%) |"), "{markdown}");
    assert!(markdown.contains("**Verdict:** thresholds exceeded"), "{markdown}");
}

#[test]
fn copy_stores_the_current_results_and_latest_is_aggregated_without_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let collected = tmp.path().join("elsewhere");
    copy_fixtures(&collected);
    let current = out.join("webprofile-parity/cross-instance-results.json");
    std::fs::create_dir_all(current.parent().unwrap()).unwrap();
    std::fs::write(&current, r#"[{"iteration": 1, "success": true}, {"iteration": 2, "success": true}]"#)
        .unwrap();

    let output =
        parity().args(["collect", "--copy", "--out"]).arg(&out).env("OUT_DIR", &collected).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let copies: Vec<String> = std::fs::read_dir(&collected)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with("run_local_") && n.ends_with("Z_cross.json") && !n.starts_with("run_local_2024")
        })
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    let stamp = &copies[0]["run_local_".len()..copies[0].len() - "_cross.json".len()];
    assert!(chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").is_ok(), "{stamp}");
    assert_eq!(std::fs::read(collected.join(&copies[0])).unwrap(), std::fs::read(&current).unwrap());
    let summary = read_json(&out.join("flakiness/cross/summary.json"));
    assert_eq!((&summary["run_total"], &summary["iter_total"]), (&json!(6), &json!(24)));
    assert_eq!(summary["current_failing_streak"], 0, "the copy is the newest run and it passed");

    // Without --copy the current file joins as run_local_latest_cross.json; nothing new is stored.
    let before = std::fs::read_dir(&collected).unwrap().count();
    let output = parity().args(["collect", "--out"]).arg(&out).env("OUT_DIR", &collected).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(&collected).unwrap().count(), before);
    let aggregate = read_json(&out.join("flakiness/cross/aggregate_cross.json"));
    let files: Vec<&str> =
        aggregate["runs"].as_array().unwrap().iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(files.len(), 7);
    assert!(files.contains(&"run_local_latest_cross.json"), "{files:?}");
}

#[test]
fn thresholds_come_from_env_and_flags_override_them() {
    let tmp = tempfile::tempdir().unwrap();
    let collect = |envs: &[(&str, &str)], flags: &[&str]| {
        let mut cmd = parity();
        cmd.args(["collect", "--src"]).arg(fixtures()).arg("--out").arg(tmp.path()).args(flags);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let lenient = [("CROSS_RUN_FAIL_THRESHOLD", "3"), ("CROSS_ITER_FAILURE_RATE_THRESHOLD", "0.2")];
    let output = collect(&lenient, &[]);
    assert_eq!(output.status.code(), Some(0), "2 < 3 runs and 13.6% < 20%: {}", stderr(&output));
    assert_eq!(read_json(&tmp.path().join("flakiness/cross/status.json"))["threshold_exceeded"], false);
    assert!(read(&tmp.path().join("flakiness/cross/status.svg")).contains(">ok</text>"));
    assert_eq!(collect(&lenient, &["--run-fail-threshold", "2"]).status.code(), Some(2), "2 >= 2 runs");
    assert_eq!(collect(&lenient, &["--iter-failure-rate-threshold", "13%"]).status.code(), Some(2));
    let bad = collect(&[("CROSS_ITER_FAILURE_RATE_THRESHOLD", "lots")], &[]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(stderr(&bad).contains("`lots` is not a failure rate"), "{}", stderr(&bad));
}

#[test]
fn check_exits_0_ok_1_nothing_to_judge_2_exceeded() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let check = |extra: &[&str]| parity().arg("check").arg("--out").arg(&out).args(extra).output().unwrap();

    let nothing = check(&[]);
    assert_eq!(nothing.status.code(), Some(1), "no summary yet");
    assert!(stdout(&nothing).starts_with("nothing to judge:"), "{}", stdout(&nothing));

    parity().args(["collect", "--src"]).arg(fixtures()).arg("--out").arg(&out).assert().code(2);
    let exceeded = check(&[]);
    assert_eq!(exceeded.status.code(), Some(2));
    assert_eq!(
        stdout(&exceeded).trim(),
        "thresholds exceeded: 2 failing run(s) of 5 >= 1, iteration failure rate 13.64% >= 5.00%"
    );
    let ok = check(&["--run-fail-threshold", "3", "--iter-failure-rate-threshold", "0.2"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).starts_with("thresholds not exceeded"));

    // A collection with no usable run is nothing to judge, too.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("run_zero_cross.json"), "[]").unwrap();
    parity().args(["collect", "--src"]).arg(&empty).arg("--out").arg(&out).assert().code(0);
    assert_eq!(check(&[]).status.code(), Some(1));
    assert_eq!(check(&["--run-fail-threshold", "0"]).status.code(), Some(64));
}

#[test]
fn status_writes_status_json_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    parity().args(["collect", "--src"]).arg(fixtures()).arg("--out").arg(&out).assert().code(2);
    let status_path = out.join("flakiness/cross/status.json");
    std::fs::remove_file(&status_path).unwrap();
    let svg_before = read(&out.join("flakiness/cross/status.svg"));
    parity()
        .args(["status", "--out"])
        .arg(&out)
        .args(["--run-fail-threshold", "3", "--iter-failure-rate-threshold", "0.5"])
        .env("DASH_URL", "https://example.test/d.html")
        .assert()
        .code(0);
    let status = read_json(&status_path);
    assert_eq!(status["threshold_exceeded"], false);
    assert_eq!(status["verdict"], "ok");
    assert_eq!(status["dashboard_url"], "https://example.test/d.html");
    assert_eq!(status["summary"]["run_failures"], 2);
    assert!(chrono::DateTime::parse_from_rfc3339(status["timestamp"].as_str().unwrap()).is_ok());
    assert_eq!(read(&out.join("flakiness/cross/status.svg")), svg_before, "status writes status.json alone");
}

/// Each `<text>` must fit inside the rect of its half.
fn assert_texts_fit(svg: &str) -> f64 {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}"));
    let num = |n: roxmltree::Node, a: &str| n.attribute(a).and_then(|v| v.parse::<f64>().ok());
    let width = num(doc.root_element(), "width").unwrap();
    let rects: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("fill").is_some_and(|f| !f.starts_with("url")))
        .filter(|n| n.parent().is_some_and(|p| p.has_tag_name("g")))
        .map(|n| (num(n, "x").unwrap_or(0.0), num(n, "width").unwrap()))
        .collect();
    assert_eq!(rects.len(), 2, "{svg}");
    assert!((rects[0].1 + rects[1].1 - width).abs() < 0.2, "{svg}");
    for text in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let (x, length) = (num(text, "x").unwrap(), num(text, "textLength").unwrap());
        let (start, part) = if x < rects[1].0 { rects[0] } else { rects[1] };
        assert!(x - length / 2.0 >= start && x + length / 2.0 <= start + part, "text overflows: {svg}");
    }
    width
}

#[test]
fn badge_is_well_formed_and_never_overflows() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let badge = tmp.path().join("badge.svg");
    let status = out.join("flakiness/cross/status.json");
    let summary = out.join("flakiness/cross/summary.json");
    let run_badge = |extra: &[&str]| {
        parity()
            .args(["badge", "--out"])
            .arg(&badge)
            .arg("--status")
            .arg(&status)
            .arg("--summary")
            .arg(&summary)
            .args(extra)
            .output()
            .unwrap()
    };

    // No data: grey, "unknown".
    assert_eq!(run_badge(&[]).status.code(), Some(0));
    let svg = read(&badge);
    assert!(svg.contains(">unknown</text>") && svg.contains("#9f9f9f"), "{svg}");
    assert_texts_fit(&svg);

    parity().args(["collect", "--src"]).arg(fixtures()).arg("--out").arg(&out).assert().code(2);
    let long_label = "cross-instance revocation parity — <nightly> & \"weekly\" WWWW";
    assert_eq!(long_label.chars().count(), 60);
    let output = run_badge(&["--label", long_label, "--alert-color", "#c00"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let svg = read(&badge);
    assert!(svg.contains(">alert</text>") && svg.contains("#c00"), "threshold_exceeded from status.json");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(doc.descendants().any(|n| n.text() == Some(long_label)), "label survives escaping");
    let wide = assert_texts_fit(&svg);
    assert!(wide > 300.0, "the badge grew to fit the label: {wide}");

    // A fixed width squeezes the text instead of overflowing.
    run_badge(&["--label", long_label, "--width", "140"]);
    assert_eq!(assert_texts_fit(&read(&badge)), 140.0);

    // threshold_exceeded in status.json wins over the summary and the thresholds.
    std::fs::write(
        &status,
        r#"{"threshold_exceeded": false, "summary": {"run_total": 5, "run_failures": 2}}"#,
    )
    .unwrap();
    run_badge(&["--ok-text", "healthy", "--ok-color", "#0b0"]);
    let svg = read(&badge);
    assert!(svg.contains(">healthy</text>") && svg.contains("#0b0"), "{svg}");

    // Without status.json the summary is judged with the env thresholds.
    std::fs::remove_file(&status).unwrap();
    let output = parity()
        .args(["badge", "--out"])
        .arg(&badge)
        .arg("--status")
        .arg(&status)
        .arg("--summary")
        .arg(&summary)
        .env("CROSS_RUN_FAIL_THRESHOLD", "3")
        .env("CROSS_ITER_FAILURE_RATE_THRESHOLD", "0.2")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(read(&badge).contains(">ok</text>"));

    let bad = run_badge(&["--ok-color", "chartreuse"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(stderr(&bad).contains("`chartreuse` is not a colour"), "{}", stderr(&bad));
}

/// Random and mutated files in bulk: the collector skips what it cannot use and never panics.
#[test]
fn collect_survives_garbage() {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("collected");
    std::fs::create_dir_all(&src).unwrap();
    let valid = std::fs::read(fixtures().join("run_local_20240102T100000Z_cross.json")).unwrap();
    let mut rng = SmallRng::seed_from_u64(4);
    for n in 0..60 {
        let mut bytes = valid.clone();
        for _ in 0..rng.random_range(0..4) {
            let at = rng.random_range(0..bytes.len());
            bytes[at] = rng.random();
        }
        if n % 3 == 0 {
            bytes.truncate(rng.random_range(0..bytes.len()));
        }
        std::fs::write(src.join(format!("run_{n}_cross.json")), &bytes).unwrap();
        std::fs::write(src.join(format!("run_{n}.json")), &bytes[..bytes.len() / 2]).unwrap();
    }
    let output = parity().args(["collect", "--src"]).arg(&src).arg("--out").arg(tmp.path()).output().unwrap();
    let err = stderr(&output);
    assert!(matches!(output.status.code(), Some(0 | 2)), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let summary = read_json(&tmp.path().join("flakiness/cross/summary.json"));
    let used = summary["run_total"].as_u64().unwrap();
    let skipped = summary["skipped_files"].as_array().unwrap().len() as u64;
    assert_eq!(used + skipped, 120, "every file is either used or skipped with a reason");
}
