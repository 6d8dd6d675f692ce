//! The contract suite: one named check per rule of the contract, written as
//! `test.parity.out` in `go test -v` style.

use super::catalog::{self, CheckKind};
use super::security::{self, Families, SecurityReport, FAMILIES};
use super::{fresh_user_id, CheckOutcome, Judgement};
use crate::clock::millis;
use crate::contract::dialect::Presented;
use crate::contract::{
    AuthMode, CallError, Client, CreateRequest, CreatedToken, Dialect, DialectChoice, Exchange,
    Introspection, Trace,
};
use crate::hashing;
use crate::store::{TokenDoc, TokenStore};
use crate::verdict::{FailureClass, Signature, SignatureTally};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

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
    /// What it judges: security (by effect), behaviour or dialect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<CheckKind>,
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
    /// The dialect the dialect checks expected (`--dialect`, or read from the create answer).
    pub dialect: Dialect,
    /// Every security variant tried (`security.json`); `None` when the families could not start.
    pub security: Option<SecurityReport>,
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
    /// The signatures of a failed check: each door of a security family
    /// that got in (its variant and route), else the check itself.
    pub fn signatures_of(&self, check: &CheckRecord) -> Vec<(Signature, Option<String>)> {
        if check.status != CheckStatus::Fail {
            return Vec::new();
        }
        let open: Vec<(Signature, Option<String>)> = self
            .security
            .iter()
            .flat_map(|report| report.open())
            .filter(|row| row.check == check.name)
            .map(|row| (row.signature(), Some(row.render_line())))
            .collect();
        if !open.is_empty() {
            return open;
        }
        let class = check.class.unwrap_or(FailureClass::Unknown);
        vec![(Signature::check(class, &check.name), check.detail.clone())]
    }

    /// Every failed check's signatures, in the checks' order.
    pub fn tally_signatures(&self, tally: &mut SignatureTally) {
        for check in &self.checks {
            for (signature, example) in self.signatures_of(check) {
                tally.add(signature, || format!("check {}", check.name), example.as_deref());
            }
        }
    }

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
        self.record_span(id, started, verdict, from..trace_len);
    }

    /// Records a check's outcome judged on these exchanges of the trace.
    fn record_span(
        &mut self,
        id: &str,
        started: Instant,
        verdict: CheckOutcome,
        span: std::ops::Range<usize>,
    ) {
        self.spans.push(span);
        let spec = catalog::contract(id);
        let (status, class, detail) = match verdict {
            CheckOutcome::Pass => (CheckStatus::Pass, None, None),
            // A security check fails by an effect the contract forbids: a security finding.
            CheckOutcome::Fail(FailureClass::Contract, d) if spec.kind == CheckKind::Security => {
                (CheckStatus::Fail, Some(FailureClass::Security), Some(d))
            }
            CheckOutcome::Fail(class, d) => (CheckStatus::Fail, Some(class), Some(d)),
            CheckOutcome::Skip(d) => (CheckStatus::Skip, None, Some(d)),
        };
        self.checks.push(CheckRecord {
            name: spec.id.to_string(),
            kind: Some(spec.kind),
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

/// Requests the suite (its checks and the security families) sends to a
/// service that passes, as a run's `suite` phase counts them on the embedded
/// stack: what a paced run plans with. A test keeps it true.
pub const PLANNED_REQUESTS: u64 = 194;

const NO_STORE: &str = "no store access: give --mongo-uri (or use the local backend) to seed tokens directly";

pub async fn run_suite(
    client: &Client,
    seeder: &Seeder,
    judgement: &Judgement,
    dialect: DialectChoice,
) -> SuiteReport {
    let mut s = SuiteReport::default();
    let user = fresh_user_id();
    let trace = &mut Trace::new();

    let t = Instant::now();
    let request =
        CreateRequest { label: "parity-suite".into(), scopes: vec!["git".into()], expires_at: None };
    let created = client.create_token(trace, &user, &request).await;
    let create_answer = trace.last().map(|ex| (ex.status, ex.content_type.clone()));
    s.dialect = dialect.fixed().unwrap_or_else(|| {
        let (status, content_type) = create_answer.clone().unwrap_or_default();
        Dialect::of_create_answer(status, content_type.as_deref())
    });
    let create_status = create_answer.and_then(|(status, _)| status);
    s.record("create_shape", t, create_shape(&created, create_status, s.dialect), trace.len());
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

    // The user's token (revoked, still listed) is the data a request without valid credentials must not get.
    let token_ids: Vec<&str> = created.iter().map(|c| c.id.as_str()).collect();
    let mut refused = Vec::new();
    for (name, auth) in [
        ("unauthenticated_rejected", AuthMode::None),
        ("wrong_password_rejected", AuthMode::WrongPassword),
        ("service_origin_header_does_not_bypass_auth", AuthMode::ServiceOrigin),
    ] {
        let t = Instant::now();
        let ex = client.send("GET", &crate::contract::tokens_path(&user), auth, None).await;
        let verdict = kept_out(&ex, &token_ids, auth);
        if auth != AuthMode::ServiceOrigin {
            let let_in = security::lets_in_list(&ex, &token_ids).is_some();
            refused.push((trace.len(), ex.clone(), !let_in));
        }
        trace.push(ex);
        s.record(name, t, verdict, trace.len());
    }
    let t = Instant::now();
    let span = refused.first().map_or(0, |r| r.0)..refused.last().map_or(0, |r| r.0 + 1);
    let verdict = rejection_form(&refused, s.dialect);
    s.record_span("rejection_form", t, verdict, span);

    let tokens = crate::contract::tokens_path(&user);
    let introspect = crate::contract::INTROSPECT_PATH.to_string();
    let bad_requests = [
        ("malformed_token_400", "POST", introspect.clone(), Some(r#"{"token":"not-a-hex-token!"}"#), 400),
        ("missing_token_400", "POST", introspect, Some("{}"), 400),
        ("create_invalid_body_400", "POST", tokens.clone(), Some("this is not json"), 400),
        (
            "bad_token_id_400",
            "DELETE",
            format!("{tokens}/not-an-object-id"),
            None,
            s.dialect.malformed_id_status(),
        ),
    ];
    for (name, method, path, body, expected) in bad_requests {
        let t = Instant::now();
        let ex = client.send(method, &path, AuthMode::Basic, body.map(str::to_owned)).await;
        let verdict = expect_status(&ex, expected, s.dialect);
        trace.push(ex);
        s.record(name, t, verdict, trace.len());
    }

    let t = Instant::now();
    let verdict = match &created {
        Some(c) => foreign_revoke_status(client, trace, &c.id, s.dialect).await,
        None => needs_token(),
    };
    s.record("other_users_token_404", t, verdict, trace.len());

    let mut t = Instant::now();
    let mut families = Families::prepare(client, trace).await;
    for family in FAMILIES {
        if family != FAMILIES[0] {
            t = Instant::now();
        }
        let verdict = match &mut families {
            Ok(families) => families.run(family, trace).await,
            Err(why) => why.clone(),
        };
        s.record(family.check(), t, verdict, trace.len());
    }
    s.security = families.ok().map(|f| f.into_report(s.dialect));

    s.trace = std::mem::take(trace);
    s
}

/// The create answer's shape. `accessTokenPartial` is the token's hashPrefix
/// (first 8 hex of SHA-256(token)) in both real services, never its own prefix.
fn create_shape(
    created: &Result<CreatedToken, CallError>,
    status: Option<u16>,
    dialect: Dialect,
) -> CheckOutcome {
    let c = match created {
        Ok(c) => c,
        Err(e) => return CheckOutcome::call_failed(e),
    };
    if let Some(status) = status.filter(|s| *s != dialect.create_status()) {
        return CheckOutcome::contract(format!(
            "create answered HTTP {status}; the {dialect} dialect answers {} (--dialect chooses)",
            dialect.create_status()
        ));
    }
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
        _ if ex.rate_limited_out() => FailureClass::RateLimited,
        Some(status) if ex.error.is_none() => FailureClass::of_unexpected_status(status),
        _ => FailureClass::Infrastructure,
    }
}

fn expect_status(ex: &Exchange, expected: u16, dialect: Dialect) -> CheckOutcome {
    match ex.status {
        Some(status) if status == expected => CheckOutcome::Pass,
        _ => CheckOutcome::Fail(
            exchange_class(ex),
            format!(
                "{} {} answered {}, expected HTTP {expected} (the {dialect} dialect)",
                ex.method,
                ex.path,
                ex.summary()
            ),
        ),
    }
}

/// A list request without valid credentials must not get the user's
/// tokens. How it is turned away (a 302 to any login page, 401, 403, 404)
/// is the dialect's business (`rejection_form`), not security's.
fn kept_out(ex: &Exchange, token_ids: &[&str], auth: AuthMode) -> CheckOutcome {
    if let Some(why) = security::lets_in_list(ex, token_ids) {
        let who = match auth {
            AuthMode::ServiceOrigin => {
                "with X-Service-Origin and no credentials (anyone can skip authentication)"
            }
            AuthMode::WrongPassword => "with a wrong password",
            _ => "without credentials",
        };
        return CheckOutcome::security(format!("a request {who} was let in: {why} ({})", ex.summary()));
    }
    match ex.status {
        _ if ex.rate_limited_out() => CheckOutcome::Fail(FailureClass::RateLimited, ex.summary()),
        Some(_) => CheckOutcome::Pass,
        None => CheckOutcome::Fail(FailureClass::Infrastructure, ex.summary()),
    }
}

/// The form of "no" for no credentials and for wrong ones, as the dialect
/// answers it; a request that was let in is the security checks' finding.
fn rejection_form(refused: &[(usize, Exchange, bool)], dialect: Dialect) -> CheckOutcome {
    // No answer, a 5xx or a 429 not waited out says nothing of the dialect.
    if let Some((_, ex, _)) = refused.iter().find(|(_, ex, _)| !exchange_class(ex).is_finding()) {
        return CheckOutcome::Fail(exchange_class(ex), ex.summary());
    }
    let mut wrong = Vec::new();
    for ((_, ex, kept_out), presented) in
        refused.iter().zip([Presented::Nothing, Presented::WrongCredentials])
    {
        if !kept_out {
            continue;
        }
        let expected = dialect.rejection(presented, false, false);
        let location = ex.location.as_deref().map(location_path);
        let matches = ex.status == Some(expected.status)
            && (expected.location.is_none() || location == expected.location);
        if !matches {
            let what = match presented {
                Presented::Nothing => "without credentials",
                Presented::WrongCredentials => "with a wrong password",
            };
            let went = ex.location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default();
            wrong.push(format!(
                "{what}: {}{went}, where the {dialect} dialect answers {}",
                ex.summary(),
                expected.describe()
            ));
        }
    }
    match (wrong.is_empty(), refused.iter().all(|(_, _, kept_out)| !kept_out)) {
        (_, true) => CheckOutcome::Skip("every request was let in: see the security checks".into()),
        (true, false) => CheckOutcome::Pass,
        (false, false) => CheckOutcome::contract(format!("{} (--dialect chooses)", wrong.join("; "))),
    }
}

/// The path of a redirect's target: `http://host/auth/login?x` → `/auth/login`.
fn location_path(location: &str) -> &str {
    let path = match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => location,
    };
    path.split(['?', '#']).next().unwrap_or(path)
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
            user_id: fresh_user_id().as_str().into(),
            label: format!("parity-{name}"),
            hash,
            hash_prefix: hashing::hash_prefix(&plaintext),
            algorithm: algorithm.into(),
            scopes: Some(vec!["git".into()]),
            active: true,
            created_at: now,
            expires_at: (!expect_active_answer).then(|| now - chrono::Duration::hours(1)),
            node_model: None,
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

/// Revoking the user's token through another user's path answers the
/// dialect's status (Go 404, Node 204). Whether it revoked anything is
/// security's to judge (`owner_scope_holds`), by effect.
async fn foreign_revoke_status(
    client: &Client,
    trace: &mut Trace,
    token_id: &str,
    dialect: Dialect,
) -> CheckOutcome {
    let stranger = fresh_user_id();
    match client.revoke(trace, &stranger, token_id).await {
        Ok(status) if status == dialect.foreign_id_status() => CheckOutcome::Pass,
        Ok(status) => CheckOutcome::Fail(
            FailureClass::of_unexpected_status(status),
            format!(
                "revoke by another user answered {}; the {dialect} dialect answers HTTP {}",
                last_revoke_summary(trace),
                dialect.foreign_id_status()
            ),
        ),
        Err(e) => CheckOutcome::call_failed(&e),
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
        if let Some(kind) = c.kind {
            out += &format!(
                "    kind: {}{}\n",
                kind.name(),
                match kind {
                    CheckKind::Dialect => format!(" ({})", report.dialect),
                    _ => String::new(),
                }
            );
        }
        if let Some(class) = c.class {
            out += &format!("    class: {class}\n");
        }
        if let Some(detail) = &c.detail {
            out += &format!("    {detail}\n");
        }
        let rows = report.security.iter().flat_map(|r| &r.rows).filter(|r| r.check == c.name);
        for row in rows {
            out += &format!("    {}\n", row.render_line());
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
