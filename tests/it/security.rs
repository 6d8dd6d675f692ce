//! Security verdicts against oracles that are not the reference: the spec
//! stand-in in both dialects (secure: no alarm in either), and hostile
//! stand-ins that each open one door (found by exactly that door's
//! variants, class security, with a `security.json` row showing the effect).

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn run_against(urls: &[String; 2], out: &Path, extra: &[&str]) -> std::process::Output {
    parity()
        .args(["run", "--instance", &urls[0], "--instance", &urls[1], "--iterations", "2", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn analysis(out: &Path) -> Value {
    read_json(&parity_dir(out).join("analysis.json"))
}

fn kinds_of_failed(out: &Path) -> Vec<String> {
    let a = analysis(out);
    a["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A secure service in the Go dialect: `--dialect go` has no failure;
/// `--dialect node` fails dialect checks only, never a security one. `auto`
/// reads the dialect from the create answer.
#[test]
fn a_secure_go_dialect_service_passes_every_security_check() {
    a_secure_service_passes_every_security_check(&[], "go", "node");
}

/// The Node dialect stand-in the other way round (one test each: they run at once).
#[test]
fn a_secure_node_dialect_service_passes_every_security_check() {
    a_secure_service_passes_every_security_check(&["--node-dialect"], "node", "go");
}

fn a_secure_service_passes_every_security_check(mode: &[&str], own: &str, other: &str) {
    let (_standin, urls) = spec_standin(mode);
    for dialect in [own, "auto"] {
        let tmp = tempfile::tempdir().unwrap();
        let output = run_against(&urls, tmp.path(), &["--dialect", dialect]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{mode:?} --dialect {dialect}: {stderr}");
        assert!(stderr.contains("no door open"), "{stderr}");
        let a = analysis(tmp.path());
        assert_eq!(a["dialect"], own, "{mode:?} --dialect {dialect}");
        assert!(failed_checks(&a).is_empty());
    }
    let tmp = tempfile::tempdir().unwrap();
    let output = run_against(&urls, tmp.path(), &["--dialect", other]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{mode:?} --dialect {other}: {stderr}");
    let kinds = kinds_of_failed(tmp.path());
    assert!(!kinds.is_empty() && kinds.iter().all(|k| k == "dialect"), "{mode:?}: {kinds:?}");
    let a = analysis(tmp.path());
    assert_eq!(
        failed_checks(&a),
        ["create_shape", "rejection_form", "bad_token_id_400", "other_users_token_404"],
        "{mode:?}"
    );
    assert_eq!(a["failure_classes"], serde_json::json!({"contract": 4}));
    assert!(security_open_rows(tmp.path()).is_empty());
    let suite = read(&parity_dir(tmp.path()).join("test.parity.out"));
    assert!(suite.contains("(--dialect chooses)"), "{suite}");
}

/// A service that honours a development identity header is found by that
/// header's variants on every route, and by nothing else.
#[test]
fn a_trusted_development_header_is_found_by_its_variants_alone() {
    let (_standin, urls) = spec_standin(&["--trust-dev-header"]);
    let tmp = tempfile::tempdir().unwrap();
    let output = run_against(&urls, tmp.path(), &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.lines().last().unwrap().contains("parity FAILED (1 security)"), "{stderr}");
    assert_eq!(failed_checks(&analysis(tmp.path())), ["identity_headers_do_not_bypass_auth"]);
    let expected: Vec<(String, String, String)> = [
        ("create", "token-created"),
        ("list", "data-returned"),
        ("revoke", "token-revoked"),
        ("introspect", "introspected-active"),
    ]
    .iter()
    .map(|(route, effect)| ("x-dev-user-id".to_string(), route.to_string(), effect.to_string()))
    .collect();
    assert_eq!(security_open_rows(tmp.path()), expected);
    let security = read_json(&parity_dir(tmp.path()).join("security.json"));
    let revoke = security["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["variant"] == "x-dev-user-id" && r["route"] == "revoke")
        .unwrap()
        .clone();
    assert!(
        revoke["sent"].as_str().unwrap().contains("X-Dev-User-Id: <user B's id>, no credentials"),
        "{revoke}"
    );
    assert!(revoke["answer"].as_str().unwrap().starts_with("HTTP 204"), "{revoke}");
    assert!(
        revoke["observed"].as_str().unwrap().contains("revoked (listed afterwards with active: false)"),
        "{revoke}"
    );
    // The harness's own tokens: B's was replaced after the revoke, A's never touched.
    let sentinels: Vec<&Value> = security["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["variant"].as_str().unwrap().starts_with("sentinel"))
        .collect();
    assert_eq!(sentinels.len(), 8, "two per family");
    assert!(sentinels.iter().all(|r| r["verdict"] == "pass"), "{sentinels:?}");
}

/// A service that drops an owner it cannot parse from the revoke query is
/// found by the owner segments it cannot parse, in either dialect.
#[test]
fn an_unparsable_owner_dropped_from_the_revoke_is_found_in_either_dialect() {
    for (mode, dialect) in [
        (&["--drop-unparsable-owner"][..], "go"),
        (&["--drop-unparsable-owner", "--node-dialect"][..], "node"),
    ] {
        let (_standin, urls) = spec_standin(mode);
        let tmp = tempfile::tempdir().unwrap();
        let output = run_against(&urls, tmp.path(), &["--dialect", dialect]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{mode:?}: {stderr}");
        let a = analysis(tmp.path());
        assert_eq!(failed_checks(&a), ["owner_scope_holds"], "{mode:?}");
        assert_eq!(a["failure_classes"], serde_json::json!({"security": 1}));
        let open = security_open_rows(tmp.path());
        let variants: Vec<&str> = open.iter().map(|(v, _, _)| v.as_str()).collect();
        assert_eq!(variants, ["not-hex", "padded", "dot-dot"], "{mode:?}");
        assert!(
            open.iter().all(|(_, route, effect)| route == "revoke" && effect == "token-revoked"),
            "{open:?}"
        );
    }
}

/// A door of the token family on the embedded stack: the packet of the
/// failed family holds its variants' exchanges, and no token, nor most of
/// one (the one-character-short variant), is in any artifact.
#[test]
fn a_failed_family_gets_a_packet_and_no_artifact_holds_most_of_a_token() {
    let tmp = tempfile::tempdir().unwrap();
    let output = parity()
        .args([
            "run",
            "--backend",
            "local",
            "--hash-cost",
            "minimal",
            "--iterations",
            "1",
            "--fault",
            "token-case-fold",
            "--out",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(failed_checks(&analysis(tmp.path())), ["token_confusion_never_active"]);
    assert_eq!(
        security_open_rows(tmp.path()),
        [("upper-case".to_string(), "introspect".to_string(), "introspected-active".to_string())]
    );
    let packet = parity_dir(tmp.path()).join("evidence/check-token_confusion_never_active");
    let exchanges = read(&packet.join("exchanges.txt"));
    assert!(exchanges.contains("[REDACTED-TOKEN "), "{exchanges}");
    assert_no_token_in(&parity_dir(tmp.path()));
}

/// Each family's size, as the issue asks the note to give.
#[test]
fn the_families_try_their_variants_on_their_routes() {
    let (_standin, urls) = spec_standin(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let output = run_against(&urls, tmp.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let security = read_json(&parity_dir(tmp.path()).join("security.json"));
    let sizes: Vec<(String, u64, u64)> = security["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["family"].as_str().unwrap().to_string(),
                f["variants"].as_u64().unwrap(),
                f["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("identity-headers", 16, 16 * 4 + 2),
        ("credentials", 10, 10 * 4 + 2),
        ("owner-scope", 8, 8 * 2 + 2),
        ("token-confusion", 9, 9 + 2),
    ];
    assert_eq!(sizes, expected.map(|(f, v, r)| (f.to_string(), v, r)));
    assert!(security["requests"].as_u64().unwrap() <= 400, "{}", security["requests"]);
    // No secret in any row: the admin password and user B's token never appear.
    let text = std::fs::read_to_string(parity_dir(tmp.path()).join("security.json")).unwrap();
    assert!(!text.contains("overleaf:"), "no credential pair");
    assert_no_token_in(&parity_dir(tmp.path()));
}
