//! The token endpoints, each small: parse, ask the store, answer the way the
//! Go service answers. Every fault that changes an answer is applied here and
//! named in the access log.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use mongodb::bson::oid::ObjectId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::app::{mark_faults, AppState};
use super::errors::{html, json, json_text, text, ApiError};
use crate::hashing;
use crate::reference::cache::{ActiveToken, TokenKey};
use crate::reference::faults::{Misbehaviour, Partial};
use crate::reference::flavor::Flavor;
use crate::store::{NodeModel, TokenDoc, TokenStore, UserId};

#[derive(Deserialize, Default)]
struct CreateBody {
    label: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(rename = "expiresAt")]
    expires_at: Option<String>,
}

#[derive(Serialize)]
struct Created {
    id: String,
    token: String,
    /// The token's hashPrefix (first 8 hex of its SHA-256), as both real services answer.
    #[serde(rename = "accessTokenPartial")]
    access_token_partial: String,
}

pub async fn create_token(State(s): State<AppState>, Path(user_id): Path<String>, body: Bytes) -> Response {
    let answer = create(&s, user_id, &body).await;
    s.answer(answer)
}

/// The owner path segment as this flavor writes and filters it: the Go
/// service keeps the string, the Node service's model casts it to an
/// ObjectId (anything else is a 500 there).
fn owner_of(s: &AppState, user_id: &str) -> Result<UserId, ApiError> {
    match s.flavor {
        Flavor::Go => Ok(UserId::String(user_id.to_string())),
        Flavor::Node => {
            ObjectId::parse_str(user_id).map(UserId::ObjectId).map_err(|_| ApiError::OwnerNotObjectId)
        }
    }
}

async fn create(s: &AppState, user_id: String, body: &[u8]) -> Result<Response, ApiError> {
    let owner = owner_of(s, &user_id)?;
    let mut applied = Vec::new();
    let body = match serde_json::from_slice::<Option<CreateBody>>(body) {
        Ok(body) => body.unwrap_or_default(),
        Err(_) if s.faults.has(Misbehaviour::LenientCreate) => {
            applied.push("lenient-create");
            CreateBody::default()
        }
        Err(_) => return Err(ApiError::BadRequest("invalid body")),
    };
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map(|d| truncate_to_millis(d.with_timezone(&Utc)))
                .map_err(|_| ApiError::BadRequest("invalid body"))?,
        ),
    };
    let token = hashing::new_plaintext_token();
    let cost = s.hash_cost;
    let plaintext = token.clone();
    let hash = hashing::bounded(move || hashing::hash_argon2id(&plaintext, cost))
        .await
        .ok_or(ApiError::Internal("hashing failed"))?;
    let hash_prefix = hashing::hash_prefix(&token);
    let now = truncate_to_millis(Utc::now());
    let doc = TokenDoc {
        id: ObjectId::new(),
        user_id: owner,
        label: body.label.unwrap_or_default(),
        hash,
        hash_prefix: hash_prefix.clone(),
        algorithm: "argon2id".to_string(),
        // The Node model defaults scopes to an empty array; Go stores what was sent.
        scopes: match s.flavor {
            Flavor::Go => body.scopes,
            Flavor::Node => Some(body.scopes.unwrap_or_default()),
        },
        active: true,
        created_at: now,
        // The Go service parses expiresAt and does not store it; the Node model stores it.
        expires_at: expires_at.filter(|_| s.flavor == Flavor::Node),
        node_model: (s.flavor == Flavor::Node).then_some(NodeModel { updated_at: now, last_used_at: None }),
    };
    let id = doc.id;
    s.store.insert(doc).await?;
    let access_token_partial = match s.faults.partial {
        Some(Partial::TokenPrefix) => {
            applied.push("partial");
            token[..8].to_string()
        }
        None => hash_prefix,
    };
    let created = Created { id: created_id(s.flavor, id), access_token_partial, token };
    Ok(mark_faults(created_response(s.flavor, &created), applied))
}

/// The Go service wraps the id (`ObjectID("…")`); the Node service sends it bare.
fn created_id(flavor: Flavor, id: ObjectId) -> String {
    match flavor {
        Flavor::Go => format!("ObjectID(\"{}\")", id.to_hex()),
        Flavor::Node => id.to_hex(),
    }
}

fn created_response(flavor: Flavor, created: &Created) -> Response {
    match flavor {
        Flavor::Go => json_text(created),
        Flavor::Node => {
            let mut response = json(created);
            *response.status_mut() = StatusCode::CREATED;
            response
        }
    }
}

/// MongoDB keeps milliseconds; truncating here keeps both stores identical.
fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed<'a> {
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
    label: &'a str,
    hash: Option<&'a str>,
    hash_prefix: &'a str,
    algorithm: &'a str,
    scopes: &'a Option<Vec<String>>,
    active: bool,
    created_at: String,
    /// The Go service does not store it: listed only when a document has one (seeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

/// A token as the Node service lists it: `id`, no owner, hash or algorithm.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeListed<'a> {
    id: String,
    label: &'a str,
    scopes: &'a Option<Vec<String>>,
    active: bool,
    hash_prefix: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'a str>,
    created_at: String,
    expires_at: Option<String>,
}

pub async fn list_tokens(State(s): State<AppState>, Path(user_id): Path<String>) -> Response {
    let answer = list(&s, &user_id).await;
    s.answer(answer)
}

async fn list(s: &AppState, user_id: &str) -> Result<Response, ApiError> {
    let docs = s.store.list(&owner_of(s, user_id)?).await?;
    let leak = s.faults.has(Misbehaviour::ListHash);
    let marked = |response| mark_faults(response, if leak { vec!["list-hash"] } else { vec![] });
    let created_at = |d: &TokenDoc| crate::clock::rfc3339(&d.created_at);
    let expires_at = |d: &TokenDoc| d.expires_at.as_ref().map(crate::clock::rfc3339);
    if s.flavor == Flavor::Node {
        let listed: Vec<NodeListed<'_>> = docs
            .iter()
            .map(|d| NodeListed {
                id: d.id.to_hex(),
                label: &d.label,
                scopes: &d.scopes,
                active: d.active,
                hash_prefix: &d.hash_prefix,
                hash: leak.then_some(d.hash.as_str()),
                created_at: created_at(d),
                expires_at: expires_at(d),
            })
            .collect();
        return Ok(marked(json(&listed)));
    }
    let listed: Vec<Listed<'_>> = docs
        .iter()
        .map(|d| Listed {
            id: d.id.to_hex(),
            user_id: d.user_id.to_string(),
            label: &d.label,
            hash: leak.then_some(d.hash.as_str()),
            hash_prefix: &d.hash_prefix,
            algorithm: &d.algorithm,
            scopes: &d.scopes,
            active: d.active,
            created_at: created_at(d),
            expires_at: expires_at(d),
        })
        .collect();
    Ok(marked(json_text(&listed)))
}

pub async fn revoke_token(
    State(s): State<AppState>,
    Path((user_id, token_id)): Path<(String, String)>,
) -> Response {
    let answer = revoke(&s, user_id, &token_id).await;
    s.answer(answer)
}

async fn revoke(s: &AppState, user_id: String, token_id: &str) -> Result<Response, ApiError> {
    let Ok(id) = ObjectId::parse_str(token_id) else {
        if s.faults.has(Misbehaviour::BadId404) {
            return Ok(mark_faults(ApiError::NotFound.into_response(), vec!["bad-id-404"]));
        }
        if s.flavor == Flavor::Node {
            // The Node service treats a malformed id like an unknown one.
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        return Err(ApiError::BadRequest("invalid token id"));
    };
    let mut applied = Vec::new();
    let faults = &s.faults;
    let unparsable_owner = !is_lower_object_id(&user_id);
    let drops_owner = unparsable_owner && faults.has(Misbehaviour::OwnerUnparsableDropped);
    let mut owner = match owner_of(s, &user_id) {
        Ok(owner) => owner,
        Err(_) if drops_owner => UserId::String(user_id),
        Err(e) => return Err(e),
    };
    let needs_doc = faults.has(Misbehaviour::RevokeAnyUser)
        || drops_owner
        || faults.has(Misbehaviour::RevokeNoop)
        || faults.has(Misbehaviour::RevokeNotIdempotent);
    if needs_doc {
        let doc = s.store.find_by_id(id).await?;
        match doc {
            Some(doc) if doc.user_id != owner && drops_owner => {
                applied.push("owner-unparsable-dropped");
                owner = doc.user_id;
            }
            Some(doc) if doc.user_id != owner && faults.has(Misbehaviour::RevokeAnyUser) => {
                applied.push("revoke-any-user");
                owner = doc.user_id;
            }
            Some(doc)
                if doc.user_id == owner && !doc.active && faults.has(Misbehaviour::RevokeNotIdempotent) =>
            {
                return Ok(mark_faults(ApiError::NotFound.into_response(), vec!["revoke-not-idempotent"]));
            }
            Some(doc) if doc.user_id == owner && faults.has(Misbehaviour::RevokeNoop) => {
                return Ok(mark_faults(StatusCode::NO_CONTENT.into_response(), vec!["revoke-noop"]));
            }
            _ => {}
        }
    }
    if !s.store.revoke(&owner, id).await? {
        if s.flavor == Flavor::Node {
            // The Node service treats an unknown (or another user's) id as already revoked.
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        return Err(ApiError::NotFound);
    }
    s.lag.evict_token(id);
    if let Some(stale) = &s.stale {
        stale.revoked_here(id);
    }
    let response = match faults.revoke_status {
        Some(code) => {
            applied.push("revoke-status");
            StatusCode::from_u16(code).unwrap_or(StatusCode::OK).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    };
    Ok(mark_faults(response, applied))
}

fn is_lower_object_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[derive(Serialize)]
#[serde(untagged)]
enum Introspection<'a> {
    Active {
        active: bool,
        #[serde(rename = "userId")]
        user_id: &'a str,
        scopes: &'a Option<Vec<String>>,
        #[serde(rename = "expiresAt")]
        expires_at: Option<String>,
        /// Only in the Node dialect.
        #[serde(rename = "hashPrefix", skip_serializing_if = "Option::is_none")]
        hash_prefix: Option<&'a str>,
    },
    Inactive {
        active: bool,
    },
}

fn introspection_response(
    answer: Option<&ActiveToken>,
    ignore_expiry: bool,
    hash_prefix: Option<&str>,
) -> Response {
    let body = match answer {
        // Expiry is re-checked here too, since a cached answer can outlive it.
        Some(t) if ignore_expiry || t.expires_at.is_none_or(|at| at > Utc::now()) => Introspection::Active {
            active: true,
            user_id: &t.user_id,
            scopes: &t.scopes,
            expires_at: t.expires_at.as_ref().map(crate::clock::rfc3339),
            hash_prefix,
        },
        _ => Introspection::Inactive { active: false },
    };
    json_text(&body)
}

fn requested_token(body: &[u8], faults: &crate::reference::Faults) -> Result<String, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| ApiError::NotJson("token required"))?;
    let token = match value.get("token").and_then(|t| t.as_str()) {
        Some(t) if faults.has(Misbehaviour::TokenTrim) => t.trim(),
        Some(t) => t,
        None => return Err(ApiError::TokenRequired),
    };
    if token.is_empty() {
        return Err(ApiError::TokenRequired);
    }
    if !hashing::is_token_hex(token) {
        return Err(ApiError::InvalidTokenFormat);
    }
    if faults.has(Misbehaviour::TokenCaseFold) {
        return Ok(token.to_ascii_lowercase());
    }
    Ok(token.to_string())
}

pub async fn introspect(State(s): State<AppState>, body: Bytes) -> Response {
    let answer = introspect_token(&s, &body).await;
    s.answer(answer)
}

async fn introspect_token(s: &AppState, body: &[u8]) -> Result<Response, ApiError> {
    let faults = &s.faults;
    let token = match requested_token(body, faults) {
        Ok(token) => token,
        Err(_) if faults.has(Misbehaviour::LenientIntrospect) => {
            return Ok(mark_faults(introspection_response(None, false, None), vec!["lenient-introspect"]));
        }
        Err(e) => return Err(e),
    };
    if faults.has(Misbehaviour::NeverActive) {
        return Ok(mark_faults(introspection_response(None, false, None), vec!["never-active"]));
    }
    let prefix = hashing::hash_prefix(&token);
    let hash_prefix = (s.flavor == Flavor::Node).then_some(prefix.as_str());
    let ignore_expiry = faults.has(Misbehaviour::IgnoreExpiry);
    let key: TokenKey = Sha256::digest(token.as_bytes()).into();
    if let Some(cached) = s.lag.get(&key) {
        return Ok(mark_faults(
            introspection_response(cached.as_ref(), ignore_expiry, hash_prefix),
            vec!["revocation-lag"],
        ));
    }
    let epoch = s.lag.epoch();
    let answer = look_up(s, &token).await?;
    s.lag.put(key, answer.clone(), epoch);
    let mut applied = Vec::new();
    let answer = match (&s.stale, answer) {
        (Some(stale), Some(active)) => {
            stale.seen_active(key, &active);
            Some(active)
        }
        (Some(stale), None) => stale.stale_answer(&key).map(|(token, fault)| {
            applied.push(fault);
            token
        }),
        (None, answer) => answer,
    };
    let answer = match answer {
        None if faults.has(Misbehaviour::UnknownActive) && is_unknown(s.store.as_ref(), &token).await? => {
            applied.push("unknown-active");
            Some(ActiveToken { id: ObjectId::new(), user_id: String::new(), scopes: None, expires_at: None })
        }
        answer => answer,
    };
    if ignore_expiry && answer.as_ref().is_some_and(|t| t.expires_at.is_some_and(|at| at <= Utc::now())) {
        applied.push("ignore-expiry");
    }
    Ok(mark_faults(introspection_response(answer.as_ref(), ignore_expiry, hash_prefix), applied))
}

/// The active token this plaintext belongs to, verified against each candidate's hash.
async fn look_up(s: &AppState, token: &str) -> Result<Option<ActiveToken>, ApiError> {
    let candidates = s.store.active_candidates(&hashing::hash_prefix(token)).await?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let rejected: Vec<&'static str> =
        [(Misbehaviour::RejectBcrypt, "bcrypt"), (Misbehaviour::RejectPbkdf2, "pbkdf2")]
            .into_iter()
            .filter(|(m, _)| s.faults.has(*m))
            .map(|(_, algorithm)| algorithm)
            .collect();
    let token = token.to_string();
    let found = hashing::bounded(move || {
        let accepted = |hash: &str| hashing::algorithm_of(hash).is_some_and(|a| !rejected.contains(&a));
        candidates.into_iter().find(|c| c.active && accepted(&c.hash) && hashing::verify(&token, &c.hash))
    })
    .await
    .ok_or(ApiError::Internal("hash verification failed"))?;
    Ok(found.map(|d| ActiveToken {
        id: d.id,
        user_id: d.user_id.to_string(),
        scopes: d.scopes,
        expires_at: d.expires_at,
    }))
}

/// No document at all (active or not) has this token's hashPrefix.
async fn is_unknown(store: &dyn TokenStore, token: &str) -> Result<bool, ApiError> {
    Ok(store.find_by_prefix(&hashing::hash_prefix(token)).await?.is_empty())
}

/// No such route: Go's mux answers text, the Node web app its HTML page.
pub async fn not_found(State(s): State<AppState>) -> Response {
    match s.flavor {
        Flavor::Go => text(StatusCode::NOT_FOUND, "404 page not found"),
        Flavor::Node => html(StatusCode::NOT_FOUND, "Page Not Found"),
    }
}

/// A route asked with a method it does not serve: Go 405, Node its 404 page.
pub async fn wrong_method(State(s): State<AppState>) -> Response {
    match s.flavor {
        Flavor::Go => text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
        Flavor::Node => html(StatusCode::NOT_FOUND, "Page Not Found"),
    }
}
