//! Differential parity: the same scripted traffic to a reference build and a
//! candidate build, compared exchange by exchange. As Twitter's Diffy does,
//! the reference runs the script twice: what it shows against itself is
//! noise, reported apart; what is left is either accepted by a rule (known
//! differences as data) or a difference.
//!
//! Three lanes run in lockstep, each with its own users and tokens: the
//! reference, the reference again, the candidate. Step k runs on all three
//! at once before step k+1.

pub mod compare;
pub mod effect;
pub mod normalize;
pub mod render;
pub mod report;
pub mod rules;
pub mod scenario;
pub mod script;
pub mod stored;

use crate::clock::{millis, Clock};
use crate::contract::pacing::{Pacer, Pacing};
use crate::contract::{self, AuthMode, Client, ClientOptions, Credentials, Exchange, TraceContext};
use crate::hashing;
use crate::redact::Redactor;
use crate::scenario::security::{self as judge, Effect, Route};
use crate::store::{TokenDoc, TokenStore};
use crate::verdict::FailureClass;
use normalize::{Placeholders, Shape};
use report::{
    Counts, CrossFinding, DiffReport, ExchangeView, Judged, NoiseNote, SecurityFindings, SecuritySide,
    StepEffect, StepResult, StepSecurity, Timing, Verdict,
};
use rules::{RuleUse, Rules};
use script::{Needs, On, Save, Step};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One build under comparison: its instances' base URLs and credentials.
#[derive(Clone, Debug)]
pub struct SideSpec {
    pub urls: Vec<String>,
    pub credentials: Credentials,
    /// The side's pace, when it is shared with other work on the same
    /// service (the run's own instances); else one of its own.
    pub pacer: Option<Arc<Pacer>>,
}

pub struct DiffConfig {
    pub reference: SideSpec,
    pub candidate: SideSpec,
    pub request_timeout: Duration,
    /// `--max-rate` and `--rate-limit-budget`, for a side with no pace of its own.
    pub pacing: Pacing,
    pub steps: Vec<Step>,
    pub rules: Rules,
    pub scenario_file: Option<String>,
    /// Where expired tokens are seeded (the store both builds read).
    pub store: Option<Arc<dyn TokenStore>>,
    /// Both builds read one store, so a token minted by one is known to the other.
    pub shared_store: bool,
    pub redact: bool,
}

/// A side did not answer before the script started.
#[derive(Debug, thiserror::Error)]
#[error("the {side} at {url} is unreachable: {detail}")]
pub struct Unreachable {
    pub side: &'static str,
    pub url: String,
    pub detail: String,
}

struct Side {
    clients: Vec<Client>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LaneRole {
    Reference,
    ReferenceAgain,
    Candidate,
}

struct Lane {
    role: LaneRole,
    bindings: BTreeMap<String, String>,
    placeholders: Placeholders,
}

impl Lane {
    fn new(role: LaneRole) -> Lane {
        let mut lane = Lane { role, bindings: BTreeMap::new(), placeholders: Placeholders::default() };
        lane.bind("user", crate::scenario::fresh_user_id());
        lane.bind("other_user", crate::scenario::fresh_user_id());
        lane.bind("unknown_token", hashing::new_plaintext_token());
        lane.bind("unknown_id", mongodb::bson::oid::ObjectId::new().to_hex());
        lane
    }

    fn bind(&mut self, name: &str, value: String) {
        self.placeholders.learn(name, &value);
        self.bindings.insert(name.to_string(), value);
    }

    /// Bound for templates, but not a placeholder: `raw_id` holds `id`, which is one.
    fn bind_only(&mut self, name: &str, value: String) {
        self.bindings.insert(name.to_string(), value);
    }

    /// The first 8 characters of every token this lane holds.
    fn token_cuts(&self) -> Vec<String> {
        self.bindings
            .iter()
            .filter(|(name, value)| (name.ends_with(".token") || *name == "unknown_token") && value.len() > 8)
            .map(|(_, value)| value[..8].to_string())
            .collect()
    }

    /// The ids of every token this lane minted or seeded: data a request
    /// without valid credentials must not get back.
    fn token_ids(&self) -> Vec<String> {
        self.bindings.iter().filter(|(name, _)| name.ends_with(".id")).map(|(_, id)| id.clone()).collect()
    }

    /// `text` with each id the lane minted written as its binding (`<main.id>`).
    fn named(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (name, id) in self.bindings.iter().filter(|(name, _)| name.ends_with(".id")) {
            text = text.replace(id.as_str(), &format!("<{name}>"));
        }
        text
    }

    /// The token whose id ends this path, when the lane holds it.
    fn token_named_in(&self, path: &str) -> Option<String> {
        let id = path.rsplit('/').next()?;
        let (name, _) =
            self.bindings.iter().find(|(name, value)| name.ends_with(".id") && value.as_str() == id)?;
        self.bindings.get(&format!("{}.token", name.trim_end_matches(".id"))).cloned()
    }

    fn expand(&self, template: &str) -> Result<String, String> {
        script::expand(template, |name| self.bindings.get(name).cloned())
    }

    /// After a create: its id, token and hashPrefix under the save's name.
    fn save_created(&mut self, name: &str, exchange: &Exchange) {
        let body = contract::Body::classify(&exchange.response_body, exchange.content_type.as_deref());
        if let Ok(created) = contract::created_token(&body) {
            self.bind(&format!("{name}.id"), created.id);
            self.bind_only(&format!("{name}.raw_id"), created.raw_id);
            self.bind(&format!("{name}.prefix"), hashing::hash_prefix(&created.token));
            self.bind(&format!("{name}.token"), created.token);
        }
    }
}

/// Runs the script on both sides and judges every pair.
pub async fn run(
    config: DiffConfig,
    clock: Clock,
    reporter: crate::progress::Reporter,
) -> Result<DiffReport, Unreachable> {
    let started_at = crate::clock::rfc3339(&chrono::Utc::now());
    let ctx = TraceContext::new(clock);
    let side = |spec: &SideSpec, name: &str| {
        let options = ClientOptions {
            credentials: spec.credentials.clone(),
            request_timeout: config.request_timeout,
            pacer: spec.pacer.clone().unwrap_or_else(|| config.pacing.pacer()),
        };
        Side {
            clients: spec
                .urls
                .iter()
                .enumerate()
                .map(|(i, url)| Client::new(&format!("{name}{}", i + 1), url, options.clone(), ctx.clone()))
                .collect(),
        }
    };
    let reference = side(&config.reference, "reference");
    let candidate = side(&config.candidate, "candidate");
    for (name, s) in [("reference", &reference), ("candidate", &candidate)] {
        for client in &s.clients {
            client.probe(config.request_timeout).await.map_err(|detail| Unreachable {
                side: name,
                url: Redactor::enabled().redact(client.base_url()).into_owned(),
                detail,
            })?;
        }
    }
    let redactor = if config.redact { Redactor::enabled() } else { Redactor::disabled() };
    let mut lanes = [LaneRole::Reference, LaneRole::ReferenceAgain, LaneRole::Candidate].map(Lane::new);
    let wall = Instant::now();
    let mut services_ms = 0.0;
    let mut results = Vec::new();
    // A spinner on a terminal; in CI only the outcome (the differences follow it).
    let mut progress = reporter.activity("diff: comparing step by step");
    for step in &config.steps {
        let unmet = unmet_need(step, &config, &reference, &candidate);
        let result = match unmet {
            Some(why) => skipped(step, why),
            None => {
                let (result, slowest) =
                    run_step(step, &mut lanes, &reference, &candidate, &config, &redactor).await;
                services_ms += slowest;
                result
            }
        };
        progress.status(&format!("{}: {}", step.name, result.verdict.name()), false);
        results.push(result);
    }
    progress.finish(&format!("{} steps", config.steps.len()));
    no_rule_accepts_a_breaking_user_id(&mut results);
    let wall_ms = millis(wall.elapsed());
    let mut uses: Vec<RuleUse> = config
        .rules
        .rules
        .iter()
        .map(|r| RuleUse { name: r.name.clone(), reason: r.reason.clone(), line: r.line, matched: 0 })
        .collect();
    for index in results.iter().flat_map(|s| &s.differences).filter_map(|d| d.rule_index) {
        uses[index].matched += 1;
    }
    let counts = count(&results);
    let store_compared = results.iter().any(|r| r.store.is_some());
    let pairs = counts.exchange_pairs.max(1) as f64;
    Ok(DiffReport {
        format: report::FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        reference: config.reference.urls.iter().map(|u| redactor.redact(u).into_owned()).collect(),
        candidate: config.candidate.urls.iter().map(|u| redactor.redact(u).into_owned()).collect(),
        rules_file: config.rules.file.clone(),
        scenario_file: config.scenario_file.clone(),
        counts,
        security: SecurityFindings::of(&results),
        cross_implementation: CrossFinding::of(&results),
        steps: results,
        // A rule about stored documents cannot match where none were compared (no shared store).
        stale_rules: uses
            .iter()
            .zip(&config.rules.rules)
            .filter(|(u, rule)| u.matched == 0 && (store_compared || !rule.only_store()))
            .map(|(u, _)| u.name.clone())
            .collect(),
        rules: uses,
        timing: Timing {
            wall_ms,
            services_ms,
            harness_ms_per_pair: (wall_ms - services_ms).max(0.0) / pairs,
        },
    })
}

fn unmet_need(step: &Step, config: &DiffConfig, reference: &Side, candidate: &Side) -> Option<String> {
    match step.needs {
        Needs::Nothing => None,
        Needs::SecondInstance if reference.clients.len() < 2 || candidate.clients.len() < 2 => Some(format!(
            "needs a second instance on both sides (reference has {}, candidate {}): give --reference and \
             --candidate twice",
            reference.clients.len(),
            candidate.clients.len()
        )),
        Needs::Store if config.store.is_none() => {
            Some("needs a store to seed an expired token into: give --mongo-uri".into())
        }
        Needs::SharedStore if !config.shared_store => Some(
            "needs both builds on one store (--shared-store, or the Docker backend's shared MongoDB)".into(),
        ),
        _ => None,
    }
}

fn skipped(step: &Step, why: String) -> StepResult {
    not_compared(step, Verdict::Skipped, why)
}

/// A step that ran into something that keeps it from being compared.
fn error(step: &Step, why: String) -> StepResult {
    not_compared(step, Verdict::Error, why)
}

fn not_compared(step: &Step, verdict: Verdict, why: String) -> StepResult {
    StepResult {
        name: step.name.clone(),
        verdict,
        on: step.on,
        instance: step.instance,
        needs: step.needs,
        skipped: Some(why),
        differences: Vec::new(),
        security: None,
        effect: None,
        store: None,
        noise: Vec::new(),
        reference: None,
        reference_again: None,
        candidate: None,
    }
}

/// One step on the three lanes at once; its result and the slowest lane's latency.
async fn run_step(
    step: &Step,
    lanes: &mut [Lane; 3],
    reference: &Side,
    candidate: &Side,
    config: &DiffConfig,
    redactor: &Redactor,
) -> (StepResult, f64) {
    if let (Some(Save::SeededExpired(name)), Some(store)) = (&step.save, &config.store) {
        for lane in lanes.iter_mut() {
            if let Err(e) = seed_expired(lane, name, store.as_ref()).await {
                return (error(step, format!("could not seed the expired token: {e}")), 0.0);
            }
        }
    }
    let mut requests = Vec::new();
    for lane in lanes.iter() {
        let expanded = lane.expand(&step.path).and_then(|path| {
            let body = step.body.as_deref().map(|b| lane.expand(b)).transpose()?;
            Ok((path, body))
        });
        match expanded {
            Ok(request) => requests.push(request),
            Err(missing) => {
                let why = format!(
                    "needs `{{{missing}}}`, which an earlier step did not give in the {} lane",
                    lane_name(lane.role)
                );
                return (error(step, why), 0.0);
            }
        }
    }
    let client_for = |role: LaneRole| {
        let side = match (step.on, role) {
            (On::Reference, _) | (On::Own, LaneRole::Reference | LaneRole::ReferenceAgain) => reference,
            (On::Candidate, _) | (On::Own, LaneRole::Candidate) => candidate,
        };
        &side.clients[(step.instance - 1).min(side.clients.len() - 1)]
    };
    let route = security_route(step);
    let revoked_token = |lane: &Lane| match route {
        Some(Route::Revoke) => lane.token_named_in(&lane.expand(&step.path).unwrap_or_default()),
        _ => None,
    };
    let read_back = |lane: &Lane| {
        let token = revoked_token(lane);
        let client = client_for(lane.role);
        async move {
            match token {
                Some(token) => token_active(client, &token).await,
                None => None,
            }
        }
    };
    let before: Vec<Option<bool>> = futures::future::join_all(lanes.iter().map(read_back)).await;
    let sends = lanes.iter().zip(requests).map(|(lane, (path, body))| {
        let client = client_for(lane.role);
        async move { (client.send(&step.method, &path, step.auth, body).await, client.base_url().to_string()) }
    });
    let answers: Vec<(Exchange, String)> = futures::future::join_all(sends).await;
    let after: Vec<Option<bool>> = futures::future::join_all(lanes.iter().map(read_back)).await;
    if let Some(Save::Created(name)) = &step.save {
        for (lane, (exchange, _)) in lanes.iter_mut().zip(&answers) {
            lane.save_created(name, exchange);
        }
    }
    let slowest = answers.iter().map(|(e, _)| e.latency_ms).fold(0.0, f64::max);
    // A build that sends a token's first characters (as its "partial") must
    // not get them written: every lane's tokens' leading cuts are hidden too
    // (here only: they are no secret of the whole process).
    let cuts: Vec<String> = lanes.iter().flat_map(|l| l.token_cuts()).collect();
    let view = |i: usize| Some(ExchangeView::of(&answers[i].0, &answers[i].1, redactor, &cuts));
    let rate_limited = answers.iter().find(|(ex, _)| ex.rate_limited_out()).map(|(ex, _)| {
        let why = ex.error.clone().unwrap_or_else(|| "HTTP 429 not waited out".into());
        format!("not compared: {} was rate limited ({why})", ex.instance)
    });
    if let Some(why) = rate_limited.or_else(|| unusable_reference(step, &answers[0].0, &answers[1].0)) {
        let mut result = error(step, why);
        (result.reference, result.reference_again, result.candidate) = (view(0), view(1), view(2));
        return (result, slowest);
    }
    let [a, b, c] = lanes;
    let shapes = [
        Shape::of(&answers[0].0, &mut a.placeholders),
        Shape::of(&answers[1].0, &mut b.placeholders),
        Shape::of(&answers[2].0, &mut c.placeholders),
    ];
    let raw = |i: usize| Shape::of(&answers[i].0, &mut Placeholders::verbatim());
    // Noise is what the reference shows against itself. On a step every lane
    // sends to the candidate, the lanes' differences are the candidate's: no noise.
    let learns_noise = step.on != On::Candidate;
    let unexplained: Vec<String> = match learns_noise {
        true => compare::differences(&shapes[0], &shapes[1]).into_iter().map(|d| d.path).collect(),
        false => Vec::new(),
    };
    let mut noise: Vec<NoiseNote> = match learns_noise {
        true => compare::differences(&raw(0), &raw(1))
            .into_iter()
            .filter(|d| !unexplained.contains(&d.path))
            .map(|d| NoiseNote { kind: a.placeholders.kind_of(&d.reference).to_string(), path: d.path })
            .collect(),
        false => Vec::new(),
    };
    noise.extend(unexplained.iter().map(|p| NoiseNote { path: p.clone(), kind: "unexplained".into() }));
    let judge = |d: compare::Difference| {
        if unexplained.contains(&d.path) {
            return Judged { difference: d, verdict: Verdict::Noise, rule: None, rule_index: None };
        }
        match config.rules.accepting(&step.name, &d, &shapes[0], &shapes[2]) {
            Some(i) => Judged {
                difference: d,
                verdict: Verdict::Accepted,
                rule: Some(config.rules.rules[i].name.clone()),
                rule_index: Some(i),
            },
            None => Judged { difference: d, verdict: Verdict::Different, rule: None, rule_index: None },
        }
    };
    let mut differences: Vec<Judged> =
        compare::differences(&shapes[0], &shapes[2]).into_iter().map(judge).collect();
    let security = route.filter(|_| step.auth != AuthMode::Basic).map(|route| {
        let side = |i: usize| security_side(route, &answers[i].0, &lanes[i], (before[i], after[i]));
        StepSecurity { reference: side(0), candidate: side(2) }
    });
    if let Some(security) = &security {
        if security.reference.let_in != security.candidate.let_in {
            differences.push(security_difference(security));
        }
    }
    let effect = step.expect.as_ref().map(|expect| {
        let missing = |i: usize| {
            let id = match expect {
                effect::Expect::ListedInactive(name) => lanes[i].bindings.get(name).map(String::as_str),
                effect::Expect::Inactive => None,
            };
            effect::missing(expect, &answers[i].0, id)
        };
        StepEffect { reference: missing(0), candidate: missing(2) }
    });
    if let Some(effect) = effect.as_ref().filter(|e| e.reference.is_some() != e.candidate.is_some()) {
        differences.push(effect_difference(effect));
    }
    let store = match (&step.save, &config.store) {
        (Some(Save::Created(name)), Some(store)) if config.shared_store && step.on == On::Own => {
            Some(stored_shapes(store.as_ref(), lanes, name).await)
        }
        _ => None,
    };
    if let Some((shapes, again)) = &store {
        if let (Some(reference), Some(candidate)) = (&shapes.reference, &shapes.candidate) {
            // What the reference writes differently from itself is noise, as for the answers.
            let noisy: Vec<String> = match again {
                Some(again) => stored::differences(reference, again).into_iter().map(|d| d.path).collect(),
                None => Vec::new(),
            };
            for d in stored::differences(reference, candidate) {
                differences.push(if noisy.contains(&d.path) {
                    Judged { difference: d, verdict: Verdict::Noise, rule: None, rule_index: None }
                } else {
                    judge(d)
                });
            }
        }
    }
    let store = store.map(|(shapes, _)| shapes);
    let verdict = differences.iter().map(|d| d.verdict).max().unwrap_or(Verdict::Same);
    let result = StepResult {
        name: step.name.clone(),
        verdict,
        on: step.on,
        instance: step.instance,
        needs: step.needs,
        skipped: None,
        differences,
        security,
        effect,
        store,
        noise,
        reference: view(0),
        reference_again: view(1),
        candidate: view(2),
    };
    (result, slowest)
}

/// The reference's two answers cannot teach anything when one of them is no
/// real answer (none, 429, 5xx) and they disagree: the step is not compared.
fn unusable_reference(step: &Step, first: &Exchange, again: &Exchange) -> Option<String> {
    if step.on == On::Candidate {
        return None;
    }
    let unusable = |ex: &Exchange| match (ex.status, &ex.error) {
        (_, Some(error)) => Some(format!("no answer: {error}")),
        (Some(status), None) if status == 429 || status >= 500 => Some(format!("HTTP {status}")),
        _ => None,
    };
    let disagree = first.status != again.status || first.error.is_some() || again.error.is_some();
    match (unusable(first), unusable(again)) {
        (Some(why), _) | (None, Some(why)) if disagree => {
            Some(format!("the reference did not answer usably ({why}): nothing to compare with"))
        }
        _ => None,
    }
}

/// The route a step reaches, when it is one whose effect can be judged.
fn security_route(step: &Step) -> Option<Route> {
    let path = step.path.split('?').next().unwrap_or_default();
    match step.method.as_str() {
        "POST" if path.ends_with("/git-tokens") => Some(Route::Create),
        "GET" if path.ends_with("/git-tokens") => Some(Route::List),
        "DELETE" if path.contains("/git-tokens/") => Some(Route::Revoke),
        "POST" if path == script::INTROSPECT => Some(Route::Introspect),
        _ => None,
    }
}

/// What a request without valid credentials did on one side: judged by
/// effect, the same way on both sides (never by the form of the answer).
fn security_side(
    route: Route,
    ex: &Exchange,
    lane: &Lane,
    (before, after): (Option<bool>, Option<bool>),
) -> SecuritySide {
    let ids = lane.token_ids();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let (effect, observed) = match route {
        Route::Create if judge::hands_out_token(ex) => {
            (Effect::TokenCreated, "the answer hands out a token".to_string())
        }
        Route::List => match judge::lets_in_list(ex, &ids) {
            Some(why) => (Effect::DataReturned, lane.named(&why)),
            None => (Effect::None, String::new()),
        },
        Route::Introspect if judge::introspects_active(ex) => {
            (Effect::IntrospectedActive, "introspection answered active:true".to_string())
        }
        Route::Revoke => match (before, after) {
            (Some(true), Some(false)) => {
                (Effect::TokenRevoked, "the token was active before and is not after".to_string())
            }
            (Some(_), Some(_)) => (Effect::None, String::new()),
            _ => (Effect::Unjudged, "the token named in the path could not be read back".to_string()),
        },
        _ => (Effect::None, String::new()),
    };
    let observed =
        if observed.is_empty() { format!("kept out ({})", judge::answer_summary(ex)) } else { observed };
    SecuritySide { let_in: effect.got_in(), effect, observed }
}

/// One side let the request in, the other did not: a difference no rule can accept.
fn security_difference(security: &StepSecurity) -> Judged {
    let describe = |side: &SecuritySide| match side.let_in {
        true => serde_json::json!(format!("let in: {}", side.observed)),
        false => serde_json::json!(side.observed),
    };
    Judged::unacceptable("security", describe(&security.reference), describe(&security.candidate))
}

/// One lane showed the step's effect, the other did not: a cross-implementation stale read.
fn effect_difference(effect: &StepEffect) -> Judged {
    let shown = |missing: &Option<String>| match missing {
        None => serde_json::json!("as required"),
        Some(why) => serde_json::json!(why),
    };
    Judged::unacceptable("effect", shown(&effect.reference), shown(&effect.candidate))
}

/// The shapes of the documents a create step minted on each lane (the
/// reference's, its second lane's for noise, and the candidate's).
async fn stored_shapes(
    store: &dyn TokenStore,
    lanes: &[Lane; 3],
    name: &str,
) -> (stored::StoredShapes, Option<stored::DocShape>) {
    let key = format!("{name}.id");
    let read = |lane: &Lane| {
        let id = lane.bindings.get(&key).cloned();
        async move {
            match id {
                Some(id) => stored::read(store, &id).await.ok().flatten(),
                None => None,
            }
        }
    };
    let (reference, again, candidate) = tokio::join!(read(&lanes[0]), read(&lanes[1]), read(&lanes[2]));
    (stored::StoredShapes { reference, candidate }, again)
}

/// A `userId` type difference no rule may accept when a cross-implementation
/// revoke left a token active: it is why, not a deliberate difference.
fn no_rule_accepts_a_breaking_user_id(results: &mut [StepResult]) {
    let broken = results.iter().any(|r| {
        r.name.starts_with("impl-")
            && r.effect.as_ref().is_some_and(|e| e.reference.is_some() || e.candidate.is_some())
    });
    if !broken {
        return;
    }
    for result in results.iter_mut() {
        let mut changed = false;
        for d in result.differences.iter_mut().filter(|d| d.difference.path == "store.userId") {
            if d.verdict == Verdict::Accepted {
                d.verdict = Verdict::Different;
                d.rule = Some(
                    "none: a cross-implementation revoke left a token active, so no rule may accept this"
                        .into(),
                );
                d.rule_index = None;
                changed = true;
            }
        }
        if changed {
            result.verdict = Verdict::Different;
        }
    }
}

/// Whether a token introspects active (valid credentials), for reading a revoke's effect back.
async fn token_active(client: &Client, token: &str) -> Option<bool> {
    client.introspect(&mut contract::Trace::new(), token).await.ok().map(|i| i.active)
}

fn lane_name(role: LaneRole) -> &'static str {
    match role {
        LaneRole::Reference => "reference",
        LaneRole::ReferenceAgain => "reference-again",
        LaneRole::Candidate => "candidate",
    }
}

/// An expired argon2id token of the lane's user, straight into the store.
async fn seed_expired(lane: &mut Lane, name: &str, store: &dyn TokenStore) -> Result<(), String> {
    let plaintext = hashing::new_plaintext_token();
    let hash = {
        let p = plaintext.clone();
        tokio::task::spawn_blocking(move || hashing::hash_argon2id(&p, hashing::HashCost::Minimal))
            .await
            .map_err(|e| e.to_string())?
    };
    let now = chrono::Utc::now();
    let doc = TokenDoc {
        id: mongodb::bson::oid::ObjectId::new(),
        user_id: crate::store::UserId::String(lane.bindings.get("user").cloned().unwrap_or_default()),
        label: "parity-diff-expired".into(),
        hash,
        hash_prefix: hashing::hash_prefix(&plaintext),
        algorithm: "argon2id".into(),
        scopes: Some(vec!["git".into()]),
        active: true,
        created_at: now,
        expires_at: Some(now - chrono::Duration::hours(1)),
        node_model: None,
    };
    store.insert(doc).await.map_err(|e| e.to_string())?;
    lane.bind(&format!("{name}.prefix"), hashing::hash_prefix(&plaintext));
    lane.bind(&format!("{name}.token"), plaintext);
    Ok(())
}

fn count(results: &[StepResult]) -> Counts {
    let mut c = Counts { steps: results.len(), ..Counts::default() };
    for r in results {
        match r.verdict {
            Verdict::Same => c.same += 1,
            Verdict::Noise => c.noise += 1,
            Verdict::Accepted => c.accepted += 1,
            Verdict::Different => {
                c.different += 1;
                match r.class() {
                    Some(FailureClass::Security) => c.security += 1,
                    Some(FailureClass::StaleRead) => c.stale_read += 1,
                    _ => {}
                }
            }
            Verdict::Error => c.errors += 1,
            Verdict::Skipped => c.skipped += 1,
        }
    }
    c.exchange_pairs = c.steps - c.skipped - c.errors;
    c
}
