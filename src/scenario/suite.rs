//! The contract suite: one named check per rule of the contract, written as
//! `test.parity.out` in `go test -v` style.

use super::catalog;
use super::{fresh_user_id, Judgement};
use crate::clock::millis;
use crate::contract::{
    AuthMode, CallError, Client, CreateRequest, CreatedToken, Exchange, Introspection, Trace,
};
use crate::hashing;
use crate::store::{TokenDoc, TokenStore};
use crate::verdict::FailureClass;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, PartialEq)]
pub enum CheckOutcome {
    Pass,
    Fail(FailureClass, String),
    Skip(String),
}

impl CheckOutcome {
    fn contract(detail: String) -> CheckOutcome {
        CheckOutcome::Fail(FailureClass::Contract, detail)
    }

    fn call_failed(e: &CallError) -> CheckOutcome {
        CheckOutcome::Fail(e.class, e.to_string())
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    #[default]
    Pass,
    Fail,
    Skip,
}

/// One check as it appears in `analysis.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckRecord {
    /// The check's stable id (see `parity checks`).
    pub name: String,
    /// The clause of the contract it enforces.
    pub clause: String,
    pub status: CheckStatus,
    /// Why it failed, when it failed.
    pub class: Option<FailureClass>,
    pub duration_ms: f64,
    pub detail: Option<String>,
}

#[derive(Debug, Default)]
pub struct SuiteReport {
    pub checks: Vec<CheckRecord>,
    pub trace: Trace,
    /// For each check, the range of `trace` its exchanges fill.
    pub spans: Vec<std::ops::Range<usize>>,
}

impl SuiteReport {
    /// A check's own exchanges.
    pub fn exchanges_of(&self, index: usize) -> Trace {
        let span = self.spans.get(index).cloned().unwrap_or(0..0);
        let mut trace = Trace::new();
        for ex in self.trace.exchanges().get(span).unwrap_or_default() {
            trace.push(ex.clone());
        }
        trace
    }
}

impl SuiteReport {
    pub fn count(&self, status: CheckStatus) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    pub fn passed(&self) -> bool {
        self.count(CheckStatus::Fail) == 0
    }

    /// Failed checks by class.
    pub fn failure_classes(&self) -> impl Iterator<Item = FailureClass> + '_ {
        self.checks.iter().filter_map(|c| c.class)
    }

    /// Records a check's outcome; its exchanges are those the trace gained since the last one.
    fn record(&mut self, id: &str, started: Instant, verdict: CheckOutcome, trace_len: usize) {
        let from = self.spans.last().map_or(0, |s| s.end);
        self.spans.push(from..trace_len);
        let spec = catalog::contract(id);
        let (status, class, detail) = match verdict {
            CheckOutcome::Pass => (CheckStatus::Pass, None, None),
            CheckOutcome::Fail(class, d) => (CheckStatus::Fail, Some(class), Some(d)),
            CheckOutcome::Skip(d) => (CheckStatus::Skip, None, Some(d)),
        };
        self.checks.push(CheckRecord {
            name: spec.id.to_string(),
            clause: spec.clause.to_string(),
            status,
            class,
            duration_ms: millis(started.elapsed()),
            detail,
        });
    }
}

/// Store access for the checks that seed tokens directly (bcrypt, pbkdf2, expiry).
pub type Seeder = Option<Arc<dyn TokenStore>>;

const NO_STORE: &str = "no store access: give --mongo-uri (or use the local backend) to seed tokens directly";

pub async fn run_suite(client: &Client, seeder: &Seeder, judgement: &Judgement) -> SuiteReport {
    let mut s = SuiteReport::default();
    let user = fresh_user_id();
    let trace = &mut Trace::new();

    let t = Instant::now();
    let request =
        CreateRequest { label: "parity-suite".into(), scopes: vec!["git".into()], expires_at: None };
    let created = client.create_token(trace, &user, &request).await;
    s.record("create_shape", t, create_shape(&created), trace.len());
    let created = created.ok();
    let needs_token = || CheckOutcome::Skip("needs the token of create_shape, which failed".into());

    let t = Instant::now();
    let verdict = match &created {
        Some(c) => match client.introspect(trace, &c.token).await {
            Ok(i) if !i.active => {
                CheckOutcome::contract("introspect answered active:false for a token just created".into())
            }
            Ok(i) if i.user_id.as_deref().is_some_and(|u| u != user) => {
                CheckOutcome::contract(format!("introspect answered userId {:?}, expected {user}", i.user_id))
            }
            Ok(_) => CheckOutcome::Pass,
            Err(e) => CheckOutcome::call_failed(&e),
        },
        None => needs_token(),
    };
    s.record("active_after_create", t, verdict, trace.len());

    let t = Instant::now();
    let verdict = match &created {
        Some(c) => list_hides_hash(client.list_tokens(trace, &user).await, &c.id),
        None => needs_token(),
    };
    s.record("list_hides_hash", t, verdict, trace.len());

    for name in ["revoke_returns_204", "revoke_is_idempotent"] {
        let t = Instant::now();
        let verdict = match &created {
            Some(c) => match client.revoke(trace, &user, &c.id).await {
                Ok(status) if judgement.accepted_revoke_statuses.contains(&status) => CheckOutcome::Pass,
                Ok(status) => CheckOutcome::Fail(
                    FailureClass::of_unexpected_status(status),
                    format!("revoke answered {}", last_summary(trace)),
                ),
                Err(e) => CheckOutcome::call_failed(&e),
            },
            None => needs_token(),
        };
        s.record(name, t, verdict, trace.len());
        if name == "revoke_returns_204" {
            let t = Instant::now();
            let verdict = match &created {
                // Active after the revoke returned is a stale read, not a mere contract breach.
                Some(c) => match expect_active(client.introspect(trace, &c.token).await, false) {
                    CheckOutcome::Fail(FailureClass::Contract, detail) => {
                        CheckOutcome::Fail(FailureClass::StaleRead, detail)
                    }
                    verdict => verdict,
                },
                None => needs_token(),
            };
            s.record("inactive_after_revoke", t, verdict, trace.len());
        }
    }

    let t = Instant::now();
    let unknown = hashing::new_plaintext_token();
    let verdict = expect_active(client.introspect(trace, &unknown).await, false);
    s.record("unknown_token_inactive", t, verdict, trace.len());

    seeded_checks(&mut s, client, seeder, trace).await;

    for (name, auth) in [
        ("unauthenticated_rejected", AuthMode::None),
        ("wrong_password_rejected", AuthMode::WrongPassword),
        ("service_origin_header_does_not_bypass_auth", AuthMode::ServiceOrigin),
    ] {
        let t = Instant::now();
        let ex = client.send("GET", &crate::contract::tokens_path(&user), auth, None).await;
        let verdict = rejected(&ex, auth);
        trace.push(ex);
        s.record(name, t, verdict, trace.len());
    }

    let tokens = crate::contract::tokens_path(&user);
    let introspect = crate::contract::INTROSPECT_PATH.to_string();
    let bad_requests = [
        ("malformed_token_400", "POST", introspect.clone(), Some(r#"{"token":"not-a-hex-token!"}"#)),
        ("missing_token_400", "POST", introspect, Some("{}")),
        ("create_invalid_body_400", "POST", tokens.clone(), Some("this is not json")),
        ("bad_token_id_400", "DELETE", format!("{tokens}/not-an-object-id"), None),
    ];
    for (name, method, path, body) in bad_requests {
        let t = Instant::now();
        let ex = client.send(method, &path, AuthMode::Basic, body.map(str::to_owned)).await;
        let verdict = expect_status(&ex, 400);
        trace.push(ex);
        s.record(name, t, verdict, trace.len());
    }

    let t = Instant::now();
    let verdict = other_users_token(client, trace, &user).await;
    s.record("other_users_token_404", t, verdict, trace.len());

    s.trace = std::mem::take(trace);
    s
}

/// The create answer's shape. `accessTokenPartial` is the token's hashPrefix
/// (first 8 hex of SHA-256(token)) in both real services, never its own prefix.
fn create_shape(created: &Result<CreatedToken, CallError>) -> CheckOutcome {
    let c = match created {
        Ok(c) => c,
        Err(e) => return CheckOutcome::call_failed(e),
    };
    if c.token.len() != 64 || !hashing::is_token_hex(&c.token) {
        return CheckOutcome::contract(format!("token is not 64 hex characters (length {})", c.token.len()));
    }
    let expected = hashing::hash_prefix(&c.token.to_ascii_lowercase());
    match &c.access_token_partial {
        None => CheckOutcome::contract("no accessTokenPartial in the create answer".into()),
        Some(p) if p.eq_ignore_ascii_case(&expected) => CheckOutcome::Pass,
        Some(p) if c.token.starts_with(p.as_str()) => CheckOutcome::contract(format!(
            "accessTokenPartial `{p}` is the token's own first 8 characters; the contract says hashPrefix \
             (first 8 hex of SHA-256(token)): `{expected}`"
        )),
        Some(p) => CheckOutcome::contract(format!(
            "accessTokenPartial `{p}` is not the token's hashPrefix (first 8 hex of SHA-256(token)): `{expected}`"
        )),
    }
}

fn list_hides_hash(listed: Result<Vec<Value>, CallError>, token_id: &str) -> CheckOutcome {
    let items = match listed {
        Ok(items) => items,
        Err(e) => return CheckOutcome::call_failed(&e),
    };
    let id_of =
        |item: &Value| item.get("_id").or_else(|| item.get("id")).and_then(crate::contract::parse_object_id);
    if !items.iter().any(|item| id_of(item).as_deref() == Some(token_id)) {
        return CheckOutcome::contract(format!(
            "the created token {token_id} is not in the list of {} item(s)",
            items.len()
        ));
    }
    match items.iter().find(|item| item.get("hash").is_some_and(|h| !h.is_null())) {
        Some(leaky) => CheckOutcome::contract(format!(
            "token {} is listed with its hash",
            id_of(leaky).unwrap_or_else(|| "?".into())
        )),
        None => CheckOutcome::Pass,
    }
}

fn expect_active(answer: Result<Introspection, CallError>, expected: bool) -> CheckOutcome {
    match answer {
        Ok(i) if i.active == expected => CheckOutcome::Pass,
        Ok(i) => CheckOutcome::contract(format!(
            "introspect answered active:{}, expected active:{expected}",
            i.active
        )),
        Err(e) => CheckOutcome::call_failed(&e),
    }
}

/// The class of an exchange that did not answer as expected.
fn exchange_class(ex: &Exchange) -> FailureClass {
    match ex.status {
        Some(status) if ex.error.is_none() => FailureClass::of_unexpected_status(status),
        _ => FailureClass::Infrastructure,
    }
}

fn expect_status(ex: &Exchange, expected: u16) -> CheckOutcome {
    match ex.status {
        Some(status) if status == expected => CheckOutcome::Pass,
        _ => CheckOutcome::Fail(
            exchange_class(ex),
            format!("{} {} answered {}, expected HTTP {expected}", ex.method, ex.path, ex.summary()),
        ),
    }
}

/// Unauthenticated requests must be turned away: the contract answers 302 to
/// the login page; 401 and 403 are accepted as rejections too.
fn rejected(ex: &Exchange, auth: AuthMode) -> CheckOutcome {
    match ex.status {
        Some(302) if ex.location.as_deref().is_some_and(|l| l.contains("/auth/login")) => CheckOutcome::Pass,
        Some(401 | 403) => CheckOutcome::Pass,
        Some(status) if (200..300).contains(&status) => CheckOutcome::contract(match auth {
            AuthMode::ServiceOrigin => format!(
                "a request with X-Service-Origin and no credentials was let in ({}): anyone can skip authentication",
                ex.summary()
            ),
            _ => format!("the request was let in without valid credentials ({})", ex.summary()),
        }),
        _ => CheckOutcome::Fail(
            exchange_class(ex),
            format!(
                "expected a 302 to /auth/login, got {}{}",
                ex.summary(),
                ex.location.as_ref().map(|l| format!(" Location: {l}")).unwrap_or_default()
            ),
        ),
    }
}

/// Hashes a plaintext for seeding: (stored hash, algorithm name).
type SeededHash = fn(&str) -> (String, &'static str);

async fn seeded_checks(s: &mut SuiteReport, client: &Client, seeder: &Seeder, trace: &mut Trace) {
    let kinds: [(&str, SeededHash, bool); 3] = [
        ("seeded_bcrypt_token_active", |p| (hashing::hash_bcrypt(p, 4), "bcrypt"), true),
        ("seeded_pbkdf2_token_active", |p| (hashing::hash_pbkdf2(p), "pbkdf2"), true),
        (
            "expired_token_inactive",
            |p| (hashing::hash_argon2id(p, hashing::HashCost::Minimal), "argon2id"),
            false,
        ),
    ];
    for (name, hash, expect_active_answer) in kinds {
        let t = Instant::now();
        let Some(store) = seeder else {
            s.record(name, t, CheckOutcome::Skip(NO_STORE.into()), trace.len());
            continue;
        };
        let plaintext = hashing::new_plaintext_token();
        let (hash, algorithm) = tokio::task::spawn_blocking({
            let p = plaintext.clone();
            move || hash(&p)
        })
        .await
        .expect("hashing task");
        let now = chrono::Utc::now();
        let doc = TokenDoc {
            id: mongodb::bson::oid::ObjectId::new(),
            user_id: fresh_user_id(),
            label: format!("parity-{name}"),
            hash,
            hash_prefix: hashing::hash_prefix(&plaintext),
            algorithm: algorithm.into(),
            scopes: Some(vec!["git".into()]),
            active: true,
            created_at: now,
            expires_at: (!expect_active_answer).then(|| now - chrono::Duration::hours(1)),
        };
        let verdict = match store.insert(doc).await {
            Ok(()) => expect_active(client.introspect(trace, &plaintext).await, expect_active_answer),
            Err(e) => CheckOutcome::Fail(
                FailureClass::Infrastructure,
                format!("could not seed the token into the store: {e}"),
            ),
        };
        s.record(name, t, verdict, trace.len());
    }
}

/// Another user's token id must answer 404 (the Node service answers 204,
/// treating it as idempotent: accepted) and must not revoke anything.
async fn other_users_token(client: &Client, trace: &mut Trace, owner: &str) -> CheckOutcome {
    let request =
        CreateRequest { label: "parity-suite-owner".into(), scopes: vec!["git".into()], expires_at: None };
    let created = match client.create_token(trace, owner, &request).await {
        Ok(c) => c,
        Err(e) => return CheckOutcome::Fail(e.class, format!("could not create the owner's token: {e}")),
    };
    let stranger = fresh_user_id();
    let status = match client.revoke(trace, &stranger, &created.id).await {
        Ok(status) => status,
        Err(e) => return CheckOutcome::call_failed(&e),
    };
    let still_active = client.introspect(trace, &created.token).await;
    match (status, still_active) {
        (_, Ok(i)) if !i.active => CheckOutcome::contract(format!(
            "another user's revoke (HTTP {status}) deactivated the owner's token"
        )),
        (404 | 204, Ok(_)) => CheckOutcome::Pass,
        (_, Ok(_)) => CheckOutcome::Fail(
            FailureClass::of_unexpected_status(status),
            format!("revoke by another user answered {}, expected HTTP 404", last_revoke_summary(trace)),
        ),
        (_, Err(e)) => {
            CheckOutcome::Fail(e.class, format!("the owner's token could not be checked afterwards: {e}"))
        }
    }
}

fn last_summary(trace: &Trace) -> String {
    trace.last().map(Exchange::summary).unwrap_or_default()
}

fn last_revoke_summary(trace: &Trace) -> String {
    trace.exchanges().iter().rev().find(|ex| ex.method == "DELETE").map(Exchange::summary).unwrap_or_default()
}

/// `test.parity.out`: `go test -v` style, each check with its clause and, on failure, its class.
pub fn render_out(report: &SuiteReport) -> String {
    let mut out = String::new();
    for c in &report.checks {
        let secs = c.duration_ms / 1000.0;
        out += &format!("=== RUN   {}\n", c.name);
        let word = match c.status {
            CheckStatus::Pass => "PASS",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Skip => "SKIP",
        };
        out += &format!("--- {word}: {} ({secs:.2}s)\n", c.name);
        out += &format!("    clause: {}\n", c.clause);
        if let Some(class) = c.class {
            out += &format!("    class: {class}\n");
        }
        if let Some(detail) = &c.detail {
            out += &format!("    {detail}\n");
        }
    }
    out += if report.passed() { "PASS\n" } else { "FAIL\n" };
    out += &format!(
        "# {} passed, {} failed, {} skipped\n",
        report.count(CheckStatus::Pass),
        report.count(CheckStatus::Fail),
        report.count(CheckStatus::Skip)
    );
    out
}
