//! The four attack families, run against user B's token with user A as
//! the bystander: each variant is sent, its effect read back, its row kept.

use super::variants::{Credential, IdentityHeader, Owner, TokenForm, IDENTITY_HEADERS};
use super::{
    answer_summary, hands_out_token, introspects_active, lets_in_list, listed_active, names_token, Effect,
    FamilySummary, Route, RowVerdict, SecurityReport, SecurityRow,
};
use crate::contract::{
    tokens_path, AuthMode, Client, CreateRequest, CreatedToken, Dialect, Exchange, Request, Trace,
    INTROSPECT_PATH,
};
use crate::scenario::{fresh_user_id, CheckOutcome};
use crate::verdict::FailureClass;

/// A family of attacks, owned by one security check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    IdentityHeaders,
    Credentials,
    OwnerScope,
    TokenConfusion,
}

/// In the order they run.
pub const FAMILIES: [Family; 4] =
    [Family::IdentityHeaders, Family::Credentials, Family::OwnerScope, Family::TokenConfusion];

impl Family {
    /// The check that owns it (see `parity checks`).
    pub fn check(self) -> &'static str {
        match self {
            Family::IdentityHeaders => "identity_headers_do_not_bypass_auth",
            Family::Credentials => "credential_variants_rejected",
            Family::OwnerScope => "owner_scope_holds",
            Family::TokenConfusion => "token_confusion_never_active",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::IdentityHeaders => "identity-headers",
            Family::Credentials => "credentials",
            Family::OwnerScope => "owner-scope",
            Family::TokenConfusion => "token-confusion",
        }
    }

    pub fn variants(self) -> usize {
        match self {
            Family::IdentityHeaders => IDENTITY_HEADERS.len(),
            Family::Credentials => Credential::ALL.len(),
            Family::OwnerScope => Owner::ALL.len(),
            Family::TokenConfusion => TokenForm::ALL.len(),
        }
    }
}

/// A user and the token the harness holds for it.
struct Holder {
    user: String,
    token: CreatedToken,
}

/// What a row is about: a variant (or a sentinel) of a family on a route.
struct Aim {
    family: Family,
    variant: String,
    /// What is sent, in words.
    sent: String,
    route: Route,
}

/// One variant, ready to send.
struct Attempt {
    aim: Aim,
    request: Request,
}

/// The families' state: users A and B with a token each, and every row so far.
pub struct Families<'c> {
    client: &'c Client,
    a: Holder,
    b: Holder,
    /// Why user B holds no usable token any more (re-creating it failed).
    b_lost: Option<String>,
    rows: Vec<SecurityRow>,
    /// Create rows whose effect the list after the family decides: (row, label).
    pending_creates: Vec<(usize, String)>,
    creates: u32,
    requests: u64,
}

impl<'c> Families<'c> {
    /// Users A and B, a token each, B's introspecting active: without them
    /// no effect could be judged, and every family is skipped (or fails as
    /// infrastructure when the service did not answer). A's token is only
    /// ever listed (introspection costs an argon2 verification).
    pub async fn prepare(client: &'c Client, trace: &mut Trace) -> Result<Families<'c>, CheckOutcome> {
        let before = trace.len();
        let mut holders = Vec::new();
        for name in ["A", "B"] {
            let user = fresh_user_id();
            let request = CreateRequest {
                label: format!("parity-security-{}", name.to_ascii_lowercase()),
                scopes: vec!["git".into()],
                expires_at: None,
            };
            let token = client.create_token(trace, &user, &request).await.map_err(|e| match e.class {
                class if !class.is_finding() => CheckOutcome::call_failed(&e),
                _ => CheckOutcome::Skip(format!("nothing can be judged by effect: user {name}'s token: {e}")),
            })?;
            if name == "A" {
                holders.push(Holder { user, token });
                continue;
            }
            match client.introspect(trace, &token.token).await {
                Ok(i) if i.active => {}
                Ok(_) => {
                    return Err(CheckOutcome::Skip(format!(
                        "nothing can be judged by effect: user {name}'s new token does not introspect active \
                         (see active_after_create)"
                    )))
                }
                Err(e) if !e.class.is_finding() => return Err(CheckOutcome::call_failed(&e)),
                Err(e) => return Err(CheckOutcome::Skip(format!("nothing can be judged by effect: {e}"))),
            }
            holders.push(Holder { user, token });
        }
        let b = holders.pop().expect("two holders");
        let a = holders.pop().expect("two holders");
        Ok(Families {
            client,
            a,
            b,
            b_lost: None,
            rows: Vec::new(),
            pending_creates: Vec::new(),
            creates: 0,
            requests: (trace.len() - before) as u64,
        })
    }

    /// Runs one family, then its sentinel; the family's check outcome.
    pub async fn run(&mut self, family: Family, trace: &mut Trace) -> CheckOutcome {
        let first = self.rows.len();
        match family {
            Family::IdentityHeaders => {
                for header in IDENTITY_HEADERS {
                    for route in Route::ALL {
                        let attempt = self.identity_attempt(&header, route);
                        self.try_attempt(attempt, trace).await;
                    }
                }
            }
            Family::Credentials => {
                let (user, pass) =
                    (self.client.credentials().user.clone(), self.client.credentials().pass.clone());
                for credential in Credential::ALL {
                    for route in Route::ALL {
                        let (mut request, sent) = self.route_request(route, AuthMode::AsHeaders);
                        request.headers.extend(credential.headers(&user, &pass));
                        let aim = Aim {
                            family,
                            variant: credential.variant().to_string(),
                            sent: format!("{sent}, {}", credential.describe()),
                            route,
                        };
                        let attempt = Attempt { aim, request };
                        self.try_attempt(attempt, trace).await;
                    }
                }
            }
            Family::OwnerScope => {
                for owner in Owner::ALL {
                    for route in [Route::Revoke, Route::List] {
                        let attempt = self.owner_attempt(owner, route);
                        self.try_attempt(attempt, trace).await;
                    }
                }
            }
            Family::TokenConfusion => {
                for form in TokenForm::ALL {
                    let request = Request::new("POST", INTROSPECT_PATH, AuthMode::Basic)
                        .body(form.body(&self.b.token.token));
                    let aim = Aim {
                        family,
                        variant: form.variant().to_string(),
                        sent: format!("POST {INTROSPECT_PATH} with valid credentials, {}", form.describe()),
                        route: Route::Introspect,
                    };
                    let attempt = Attempt { aim, request };
                    self.try_attempt(attempt, trace).await;
                }
            }
        }
        self.settle_creates(trace).await;
        self.sentinel(family, trace).await;
        outcome(family, &self.rows[first..])
    }

    /// Every row, each family's totals, and the requests sent.
    pub fn into_report(self, dialect: Dialect) -> SecurityReport {
        let families = FAMILIES
            .iter()
            .filter(|f| self.rows.iter().any(|r| r.family == f.name()))
            .map(|f| {
                let rows: Vec<&SecurityRow> = self.rows.iter().filter(|r| r.family == f.name()).collect();
                let count = |v: RowVerdict| rows.iter().filter(|r| r.verdict == v).count();
                FamilySummary {
                    check: f.check().to_string(),
                    family: f.name().to_string(),
                    variants: f.variants(),
                    rows: rows.len(),
                    open: count(RowVerdict::Fail),
                    errors: count(RowVerdict::Error),
                    skipped: count(RowVerdict::Skip),
                }
            })
            .collect();
        SecurityReport {
            format: SecurityReport::FORMAT,
            dialect,
            families,
            rows: self.rows,
            requests: self.requests,
        }
    }

    /// User B's route: the request with valid credentials or none (the
    /// variant adds its own), and what it is in words.
    fn route_request(&mut self, route: Route, auth: AuthMode) -> (Request, String) {
        let b = &self.b;
        let tokens = tokens_path(&b.user);
        let (request, sent) = match route {
            Route::Create => {
                self.creates += 1;
                let label = format!("parity-security-{}", self.creates);
                let body = serde_json::json!({ "label": label, "scopes": ["git"] }).to_string();
                (Request::new("POST", &tokens, auth).body(body), format!("POST {tokens} (label {label})"))
            }
            Route::List => (Request::new("GET", &tokens, auth), format!("GET {tokens}")),
            Route::Revoke => {
                let path = format!("{tokens}/{}", b.token.id);
                (Request::new("DELETE", &path, auth), format!("DELETE {path}"))
            }
            Route::Introspect => {
                let body = serde_json::json!({ "token": b.token.token }).to_string();
                (
                    Request::new("POST", INTROSPECT_PATH, auth).body(body),
                    format!("POST {INTROSPECT_PATH} {{\"token\": <user B's token>}}"),
                )
            }
        };
        (request, sent)
    }

    fn identity_attempt(&mut self, header: &IdentityHeader, route: Route) -> Attempt {
        let admin = self.client.credentials().user.clone();
        let (mut request, sent) = self.route_request(route, AuthMode::AsHeaders);
        let value = header.value(&admin, &self.b.user, &request.path);
        if header.overrides_url() {
            request.path = "/".to_string();
        }
        request.headers.push((header.name.to_string(), value));
        let aim = Aim {
            family: Family::IdentityHeaders,
            variant: header.variant(),
            sent: format!("{sent}, {}", header.describe()),
            route,
        };
        Attempt { aim, request }
    }

    fn owner_attempt(&mut self, owner: Owner, route: Route) -> Attempt {
        let segment = owner.segment(&self.a.user);
        let path = match route {
            Route::Revoke => format!("/internal/api/users/{segment}/git-tokens/{}", self.b.token.id),
            _ => format!("/internal/api/users/{segment}/git-tokens"),
        };
        let method = if route == Route::Revoke { "DELETE" } else { "GET" };
        let mut request = Request::new(method, &path, AuthMode::Basic);
        request.verbatim_path = owner.verbatim();
        let aim = Aim {
            family: Family::OwnerScope,
            variant: owner.variant().to_string(),
            sent: format!(
                "{method} {path} with valid credentials ({}), aimed at user B's token",
                owner.describe()
            ),
            route,
        };
        Attempt { aim, request }
    }

    /// Sends one variant (unless it cannot be aimed) and keeps its row.
    async fn try_attempt(&mut self, attempt: Attempt, trace: &mut Trace) {
        let Attempt { aim, request } = attempt;
        let needs_b_token =
            matches!(aim.route, Route::Revoke | Route::Introspect) || aim.family == Family::TokenConfusion;
        let unsendable = if request.verbatim_path && !self.client.base_url().starts_with("http://") {
            Some("not sent: a path byte for byte needs a plain http:// target".to_string())
        } else if needs_b_token {
            self.b_lost.clone()
        } else {
            None
        };
        if let Some(why) = unsendable {
            self.push_row(&aim, String::new(), Effect::Unjudged, why, RowVerdict::Skip, Vec::new());
            return;
        }
        let ex = self.send(&request, trace).await;
        let mut seqs = vec![ex.seq];
        let answer = answer_summary(&ex);
        if ex.rate_limited_out() {
            let why = ex.error.clone().unwrap_or_else(|| "answered 429 past the phase's time".into());
            self.push_row(
                &aim,
                answer,
                Effect::Unjudged,
                format!("not judged: {why}"),
                RowVerdict::RateLimited,
                seqs,
            );
            return;
        }
        let (effect, observed) = match aim.route {
            Route::Create if hands_out_token(&ex) => {
                (Effect::TokenCreated, "the answer hands out a token".into())
            }
            Route::Create => {
                let label = request.body.as_deref().and_then(label_of).unwrap_or_default();
                self.pending_creates.push((self.rows.len(), label));
                (Effect::None, "no token in the answer; the list afterwards decides".to_string())
            }
            Route::List => {
                let found = match aim.family {
                    // Another owner's own list is theirs to see: only B's token is data here.
                    Family::OwnerScope => names_token(&ex, &[&self.b.token.id]),
                    _ => lets_in_list(&ex, &[&self.b.token.id]),
                };
                match found {
                    Some(why) => (Effect::DataReturned, why),
                    None if ex.status.is_none() => (Effect::Unjudged, no_answer(&ex)),
                    None => (Effect::None, "none of user B's tokens in the answer".into()),
                }
            }
            Route::Revoke => self.revoke_effect(trace, &mut seqs).await,
            Route::Introspect if introspects_active(&ex) => {
                (Effect::IntrospectedActive, "introspection answered active:true".into())
            }
            Route::Introspect if ex.status.is_none() => (Effect::Unjudged, no_answer(&ex)),
            Route::Introspect => (Effect::None, "no active:true in the answer".into()),
        };
        let verdict = verdict_of(effect);
        self.push_row(&aim, answer, effect, observed, verdict, seqs);
    }

    fn push_row(
        &mut self,
        aim: &Aim,
        answer: String,
        effect: Effect,
        observed: String,
        verdict: RowVerdict,
        exchanges: Vec<u64>,
    ) {
        // No answer to judge by because the rate limit outlasted the budget: not judged, not broken.
        let verdict = match verdict {
            RowVerdict::Error if self.client.rate_limit_ran_out() => RowVerdict::RateLimited,
            verdict => verdict,
        };
        self.rows.push(SecurityRow {
            check: aim.family.check().to_string(),
            family: aim.family.name().to_string(),
            variant: aim.variant.clone(),
            route: aim.route,
            sent: aim.sent.clone(),
            answer,
            effect,
            observed,
            verdict,
            exchanges,
        });
    }

    async fn send(&mut self, request: &Request, trace: &mut Trace) -> Exchange {
        let ex = self.client.send_request(request, None).await;
        self.requests += 1;
        trace.push(ex.clone());
        ex
    }

    /// After a revoke variant: is user B's token still active? Read from
    /// the list (cheap), else by introspecting; a revoked token is replaced
    /// so that the next variant has one to aim at.
    async fn revoke_effect(&mut self, trace: &mut Trace, seqs: &mut Vec<u64>) -> (Effect, String) {
        let state = self.token_active(Who::B, false, trace, seqs).await;
        match state {
            Ok((true, how)) => (Effect::None, format!("user B's token still active ({how})")),
            Ok((false, how)) => {
                self.remint_b(trace, seqs).await;
                (Effect::TokenRevoked, format!("user B's token is revoked ({how})"))
            }
            Err(e) => (Effect::Unjudged, format!("user B's token could not be read back: {e}")),
        }
    }

    /// Whether a holder's token is active, and how that was read: from its
    /// owner's list (cheap), else (or when `introspect`) by introspecting it.
    async fn token_active(
        &mut self,
        who: Who,
        introspect: bool,
        trace: &mut Trace,
        seqs: &mut Vec<u64>,
    ) -> Result<(bool, String), String> {
        let holder = match who {
            Who::A => &self.a,
            Who::B => &self.b,
        };
        let before = trace.len();
        let from_list = match introspect {
            true => None,
            false => {
                let listed = self.client.list_tokens(trace, &holder.user).await;
                listed.ok().and_then(|items| listed_active(&items, &holder.token.id))
            }
        };
        let state = match from_list {
            Some(active) => Ok((active, format!("listed afterwards with active: {active}"))),
            None => match self.client.introspect(trace, &holder.token.token).await {
                Ok(i) => Ok((i.active, format!("introspected afterwards: active:{}", i.active))),
                Err(e) => Err(e.to_string()),
            },
        };
        self.adopt(trace, before, seqs);
        state
    }

    /// Exchanges the client pushed into the trace since `before`: counted, and named in the row.
    fn adopt(&mut self, trace: &Trace, before: usize, seqs: &mut Vec<u64>) {
        let added = &trace.exchanges()[before..];
        self.requests += added.len() as u64;
        seqs.extend(added.iter().map(|ex| ex.seq));
    }

    async fn remint_b(&mut self, trace: &mut Trace, seqs: &mut Vec<u64>) {
        let before = trace.len();
        let request =
            CreateRequest { label: "parity-security-b".into(), scopes: vec!["git".into()], expires_at: None };
        match self.client.create_token(trace, &self.b.user, &request).await {
            Ok(token) => self.b.token = token,
            Err(e) => {
                self.b_lost = Some(format!(
                    "not tried: user B's token was revoked and a new one could not be created: {e}"
                ))
            }
        }
        self.adopt(trace, before, seqs);
    }

    /// The family's creates that did not hand out a token: did the list show one with their label?
    async fn settle_creates(&mut self, trace: &mut Trace) {
        if self.pending_creates.is_empty() {
            return;
        }
        let mut seqs = Vec::new();
        let before = trace.len();
        let listed = self.client.list_tokens(trace, &self.b.user).await;
        self.adopt(trace, before, &mut seqs);
        for (index, label) in std::mem::take(&mut self.pending_creates) {
            let row = &mut self.rows[index];
            row.exchanges.extend(&seqs);
            let (effect, observed) = match &listed {
                Ok(items)
                    if items
                        .iter()
                        .any(|i| i.get("label").and_then(|l| l.as_str()) == Some(label.as_str())) =>
                {
                    (Effect::TokenCreated, format!("user B's list shows a token labelled {label}"))
                }
                Ok(_) => (Effect::None, format!("no token labelled {label} in user B's list afterwards")),
                Err(e) => (Effect::Unjudged, format!("user B's list could not be read back: {e}")),
            };
            row.effect = effect;
            row.observed = observed;
            row.verdict = verdict_of(effect);
        }
    }

    /// The harness's own tokens as it left them: user A's (never aimed at)
    /// and user B's (replaced whenever a variant was seen revoking it), read
    /// from their owners' lists. After the token confusion family B's exact
    /// token is introspected: the variants were aimed at a token that works.
    async fn sentinel(&mut self, family: Family, trace: &mut Trace) {
        for who in [Who::A, Who::B] {
            let name = who.name();
            let introspect = who == Who::B && family == Family::TokenConfusion;
            let how = if introspect { "introspected" } else { "listed" };
            let aim = Aim {
                family,
                variant: format!("sentinel-{}", name.to_ascii_lowercase()),
                sent: format!("user {name}'s token {how} with valid credentials"),
                route: if introspect { Route::Introspect } else { Route::List },
            };
            if who == Who::B {
                if let Some(why) = self.b_lost.clone() {
                    self.push_row(&aim, String::new(), Effect::Unjudged, why, RowVerdict::Skip, Vec::new());
                    continue;
                }
            }
            let before = trace.len();
            let mut seqs = Vec::new();
            let state = self.token_active(who, introspect, trace, &mut seqs).await;
            let shown = trace.exchanges()[before..].last().map(answer_summary).unwrap_or_default();
            let (effect, observed) = match state {
                Ok((true, how)) => (Effect::None, format!("user {name}'s token as the harness left it ({how})")),
                Ok((false, how)) => (
                    Effect::Collateral,
                    format!("user {name}'s token is inactive after this family, though no variant was seen revoking it ({how})"),
                ),
                Err(e) => (Effect::Unjudged, format!("user {name}'s token could not be read back: {e}")),
            };
            let collateral = effect == Effect::Collateral;
            self.push_row(&aim, shown, effect, observed, verdict_of(effect), seqs.clone());
            if collateral && who == Who::B {
                self.remint_b(trace, &mut seqs).await;
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    A,
    B,
}

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::A => "A",
            Who::B => "B",
        }
    }
}

fn label_of(body: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(body).ok()?.get("label")?.as_str().map(str::to_owned)
}

fn no_answer(ex: &Exchange) -> String {
    format!("no answer to judge: {}", ex.error.as_deref().unwrap_or("none"))
}

fn verdict_of(effect: Effect) -> RowVerdict {
    match effect {
        Effect::Unjudged => RowVerdict::Error,
        e if e.got_in() => RowVerdict::Fail,
        _ => RowVerdict::Pass,
    }
}

/// The family's check: any variant that got in fails it as `security`;
/// else any that could not be judged fails it as `infrastructure`.
fn outcome(family: Family, rows: &[SecurityRow]) -> CheckOutcome {
    const NAMED: usize = 6;
    let open: Vec<&SecurityRow> = rows.iter().filter(|r| r.verdict == RowVerdict::Fail).collect();
    if !open.is_empty() {
        let mut named: Vec<String> = open
            .iter()
            .take(NAMED)
            .map(|r| format!("{} × {} ({})", r.variant, r.route.name(), r.effect.describe()))
            .collect();
        if open.len() > NAMED {
            named.push(format!("and {} more", open.len() - NAMED));
        }
        return CheckOutcome::security(format!(
            "{} of {} {} attempt(s) got in: {}",
            open.len(),
            rows.len(),
            family.name(),
            named.join(", ")
        ));
    }
    if let Some(error) = rows.iter().find(|r| r.verdict == RowVerdict::Error) {
        let errors = rows.iter().filter(|r| r.verdict == RowVerdict::Error).count();
        return CheckOutcome::Fail(
            FailureClass::Infrastructure,
            format!(
                "{errors} {} attempt(s) could not be judged, first {} × {}: {}",
                family.name(),
                error.variant,
                error.route.name(),
                error.observed
            ),
        );
    }
    let limited = rows.iter().filter(|r| r.verdict == RowVerdict::RateLimited).count();
    if limited > 0 {
        return CheckOutcome::Fail(
            FailureClass::RateLimited,
            format!(
                "{limited} of {} {} attempt(s) not judged: the service's rate limit outlasted the budget",
                rows.len(),
                family.name()
            ),
        );
    }
    match rows.iter().find(|r| r.verdict == RowVerdict::Pass) {
        Some(_) => CheckOutcome::Pass,
        None => CheckOutcome::Skip(
            rows.first().map_or_else(|| "no variant could be tried".to_string(), |r| r.observed.clone()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(variant: &str, verdict: RowVerdict, effect: Effect) -> SecurityRow {
        SecurityRow {
            check: "c".into(),
            family: "f".into(),
            variant: variant.into(),
            route: Route::List,
            sent: String::new(),
            answer: String::new(),
            effect,
            observed: format!("why {variant}"),
            verdict,
            exchanges: vec![],
        }
    }

    #[test]
    fn a_family_fails_as_security_before_infrastructure() {
        let pass = row("a", RowVerdict::Pass, Effect::None);
        let open = row("b", RowVerdict::Fail, Effect::DataReturned);
        let error = row("c", RowVerdict::Error, Effect::Unjudged);
        let f = Family::IdentityHeaders;
        assert_eq!(outcome(f, std::slice::from_ref(&pass)), CheckOutcome::Pass);
        match outcome(f, &[pass.clone(), error.clone(), open]) {
            CheckOutcome::Fail(FailureClass::Security, d) => {
                assert_eq!(d, "1 of 3 identity-headers attempt(s) got in: b × list (protected data returned)")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(outcome(f, &[pass, error]), CheckOutcome::Fail(FailureClass::Infrastructure, _)));
        let skipped = row("d", RowVerdict::Skip, Effect::Unjudged);
        assert_eq!(outcome(f, &[skipped]), CheckOutcome::Skip("why d".into()));
    }

    #[test]
    fn families_are_owned_by_security_checks_of_the_catalog() {
        for f in FAMILIES {
            let spec = crate::scenario::catalog::contract(f.check());
            assert_eq!(spec.kind, crate::scenario::catalog::CheckKind::Security, "{}", f.check());
            assert!(f.variants() >= 8, "{}", f.name());
        }
    }
}
