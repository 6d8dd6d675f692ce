//! `parity rerun -- CMD`: any command, retried, with the flakiness report.

use crate::common::*;

#[test]
fn a_command_that_fails_once_is_flaky() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("ran-once");
    let script = format!("if [ -e {0} ]; then exit 0; else touch {0}; exit 7; fi", marker.display());
    let out = tmp.path().join("flakiness");
    parity()
        .args(["rerun", "--attempts", "3", "--retry-delay", "10ms", "--out"])
        .arg(&out)
        .args(["--", "sh", "-c", &script])
        .assert()
        .code(0);
    let report = read_json(&out.join("flakiness.json"));
    assert_eq!(report["success"], true);
    assert_eq!(report["flaky"], true);
    let rcs: Vec<i64> =
        report["attempts"].as_array().unwrap().iter().map(|a| a["rc"].as_i64().unwrap()).collect();
    assert_eq!(rcs, vec![7, 0]);
    assert!(read(&out.join("ui/index.html")).contains("flaky"));
}

#[test]
fn a_command_that_always_fails_exits_with_its_code() {
    let tmp = tempfile::tempdir().unwrap();
    parity()
        .args(["rerun", "--attempts", "2", "--retry-delay", "1ms", "--out"])
        .arg(tmp.path())
        .args(["--", "sh", "-c", "exit 5"])
        .assert()
        .code(5);
    let report = read_json(&tmp.path().join("flakiness.json"));
    assert_eq!(report["success"], false);
    assert_eq!(report["attempts"].as_array().unwrap().len(), 2);

    parity()
        .args(["rerun", "--attempts", "1", "--out"])
        .arg(tmp.path())
        .args(["--", "/no/such/command"])
        .assert()
        .code(127);
}
