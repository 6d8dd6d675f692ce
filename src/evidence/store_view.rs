//! `store.json`: the failure's token as MongoDB held it when the failure was
//! seen, read against what the instances answered — the one fact that tells a
//! stale cache (store inactive, instance active) from a lost write (store
//! still active after the revoke returned).

use crate::contract::{created_token_in, Client, Exchange, Trace, INTROSPECT_PATH};
use crate::store::{TokenDoc, TokenStore};
use mongodb::bson::oid::ObjectId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct StoreView {
    /// When the store was read (RFC 3339).
    pub read_at: String,
    /// Which store ("mongodb://…/sharelatex", never with a password).
    pub store: String,
    pub token_id: Option<String>,
    pub hash_prefix: Option<String>,
    /// Every document with the token's id or hashPrefix, its hash redacted.
    pub documents: Vec<StoredToken>,
    /// The first introspection after the revoke returned that said `active:true` (a stale read).
    pub first_active_after_revoke: Option<Answer>,
    /// The last introspection after the revoke returned.
    pub last_answer_after_revoke: Option<Answer>,
    /// What the instance that revoked sees of the token's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoker: Option<RevokerView>,
    /// What the store and the answers mean together, in one sentence.
    pub reading: String,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StoredToken {
    pub id: String,
    pub user_id: String,
    /// The BSON type `userId` is stored as (`string` by the Go service,
    /// `ObjectId` by the Node service): a filter of the other type never finds it.
    #[serde(default)]
    pub user_id_type: String,
    pub label: String,
    /// Always `[redacted]`: a hash is not for packets.
    pub hash: String,
    pub hash_prefix: String,
    pub algorithm: String,
    pub active: bool,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// The instance that revoked, and whether it can find the token at all:
/// its own list of the token's owner (valid credentials), read with the
/// store. A build that filters by another `userId` type than the document
/// holds lists nothing of it, and its revoke matches nothing.
#[derive(Debug, Serialize, Deserialize)]
pub struct RevokerView {
    pub instance: String,
    /// The revoke's answer.
    pub status: Option<u16>,
    /// Its list of the owner shows the token (`None`: the list could not be read).
    pub lists_token: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Answer {
    pub instance: String,
    pub seq: u64,
    pub active: bool,
}

impl StoredToken {
    fn of(doc: &TokenDoc) -> StoredToken {
        StoredToken {
            id: doc.id.to_hex(),
            user_id: doc.user_id.to_string(),
            user_id_type: doc.user_id.type_name().to_string(),
            label: doc.label.clone(),
            hash: "[redacted]".into(),
            hash_prefix: doc.hash_prefix.clone(),
            algorithm: doc.algorithm.clone(),
            active: doc.active,
            created_at: crate::clock::rfc3339(&doc.created_at),
            expires_at: doc.expires_at.as_ref().map(crate::clock::rfc3339),
        }
    }
}

/// Reads the token of `trace` from `store`, and through `clients` asks the
/// instance that revoked it for its list of the token's owner.
pub async fn read(store: &dyn TokenStore, trace: &Trace, clients: &[Client]) -> StoreView {
    let created = created_token_in(trace);
    let token_id = created.as_ref().map(|c| c.id.clone());
    let hash_prefix = created.as_ref().map(|c| crate::hashing::hash_prefix(&c.token));
    let mut view = StoreView {
        read_at: crate::clock::rfc3339(&chrono::Utc::now()),
        store: store.describe(),
        token_id: token_id.clone(),
        hash_prefix: hash_prefix.clone(),
        documents: Vec::new(),
        first_active_after_revoke: answers_after_revoke(trace).find(|a| a.active),
        last_answer_after_revoke: answers_after_revoke(trace).last(),
        revoker: None,
        reading: String::new(),
        error: None,
    };
    let revoke = revoke_of(trace);
    let revoker = revoke.and_then(|ex| clients.iter().find(|c| c.name() == ex.instance));
    let lists_token = async {
        match (revoker, revoke.and_then(owner_of), &token_id) {
            (Some(client), Some(owner), Some(id)) => client
                .list_tokens(&mut Trace::new(), &owner)
                .await
                .ok()
                .map(|items| crate::scenario::security::listed_active(&items, id).is_some()),
            _ => None,
        }
    };
    let mut docs: Vec<TokenDoc> = Vec::new();
    let by_id = async {
        match token_id.as_deref().and_then(|id| ObjectId::parse_str(id).ok()) {
            Some(id) => store.find_by_id(id).await.map(|d| d.into_iter().collect::<Vec<_>>()),
            None => Ok(Vec::new()),
        }
    };
    let by_prefix = async {
        match &hash_prefix {
            Some(prefix) => store.find_by_prefix(prefix).await,
            None => Ok(Vec::new()),
        }
    };
    let (found, lists_token) =
        futures::future::join(futures::future::try_join(by_id, by_prefix), lists_token).await;
    view.revoker =
        revoke.map(|ex| RevokerView { instance: ex.instance.clone(), status: ex.status, lists_token });
    match found {
        Ok((a, b)) => {
            for doc in a.into_iter().chain(b) {
                if !docs.iter().any(|d| d.id == doc.id) {
                    docs.push(doc);
                }
            }
        }
        Err(e) => view.error = Some(e.to_string()),
    }
    view.documents = docs.iter().map(StoredToken::of).collect();
    view.reading = reading(&view, revoke_returned(trace));
    view
}

/// The revoke that answered (in any way but a 5xx), if one did.
fn revoke_of(trace: &Trace) -> Option<&Exchange> {
    trace.exchanges().iter().find(|ex| ex.method == "DELETE" && ex.status.is_some_and(|s| s < 500))
}

/// The status of a revoke that answered, if one did.
fn revoke_returned(trace: &Trace) -> Option<u16> {
    revoke_of(trace).and_then(|ex| ex.status)
}

/// The owner segment of a revoke's path (`/internal/api/users/{owner}/git-tokens/{id}`).
fn owner_of(revoke: &Exchange) -> Option<String> {
    let rest = revoke.path.strip_prefix("/internal/api/users/")?;
    rest.split_once("/git-tokens/").map(|(owner, _)| owner.to_string())
}

/// The `active` answers of the introspections sent after the revoke returned, in order.
fn answers_after_revoke(trace: &Trace) -> impl Iterator<Item = Answer> + '_ {
    let exchanges = trace.exchanges();
    let revoke = exchanges.iter().position(|ex| ex.method == "DELETE" && ex.status.is_some_and(|s| s < 500));
    let after = revoke.map_or(&exchanges[..0], |i| &exchanges[i + 1..]);
    after.iter().filter_map(|ex| {
        let active = introspected_active(ex)?;
        Some(Answer { instance: ex.instance.clone(), seq: ex.seq, active })
    })
}

fn introspected_active(ex: &Exchange) -> Option<bool> {
    if ex.path != INTROSPECT_PATH || ex.status != Some(200) {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(&ex.response_body).ok()?.get("active")?.as_bool()
}

fn reading(view: &StoreView, revoked: Option<u16>) -> String {
    if let Some(error) = &view.error {
        return format!("the store could not be read: {error}");
    }
    if view.token_id.is_none() && view.hash_prefix.is_none() {
        return "no token was created, so there is nothing to look up".into();
    }
    let Some(doc) = view.documents.first() else {
        return "the store holds no token with this id or hashPrefix (was it ever written?)".into();
    };
    if let Some(r) = view.revoker.as_ref().filter(|r| doc.active && r.lists_token == Some(false)) {
        let other = if doc.user_id_type == "ObjectId" { "string" } else { "ObjectId" };
        return format!(
            "cross-implementation: revoked through {} (answered {}) but the document's userId is {} {} while {} \
             filters by {other} (its list of that user does not show the token), so the revoke matched nothing \
             and the token stays active — what one build writes, the other cannot find",
            r.instance,
            r.status.map_or("nothing".to_string(), |s| s.to_string()),
            if doc.user_id_type == "ObjectId" { "an" } else { "a" },
            doc.user_id_type,
            r.instance
        );
    }
    match (doc.active, revoked, &view.first_active_after_revoke) {
        (false, _, Some(a)) => format!(
            "stale cache: the store says the token is inactive, yet {} answered active:true (#{}) after the \
             revoke returned — an instance answered from state MongoDB no longer holds",
            a.instance, a.seq
        ),
        (true, Some(status), _) => format!(
            "lost write: the revoke returned {status} but the store still says the token is active — the \
             revocation never reached MongoDB (or was undone)"
        ),
        (active, _, _) => format!("the store says active:{active}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn view(active: bool, answer: Option<bool>) -> StoreView {
        StoreView {
            read_at: String::new(),
            store: "memory".into(),
            token_id: Some("a".repeat(24)),
            hash_prefix: None,
            documents: vec![StoredToken {
                id: "a".repeat(24),
                user_id: "u".into(),
                user_id_type: "string".into(),
                label: "l".into(),
                hash: "[redacted]".into(),
                hash_prefix: "12345678".into(),
                algorithm: "argon2id".into(),
                active,
                created_at: String::new(),
                expires_at: None,
            }],
            first_active_after_revoke: (answer == Some(true)).then(|| Answer {
                instance: "instance1".into(),
                seq: 9,
                active: true,
            }),
            last_answer_after_revoke: answer.map(|active| Answer {
                instance: "instance1".into(),
                seq: 12,
                active,
            }),
            revoker: None,
            reading: String::new(),
            error: None,
        }
    }

    #[test]
    fn the_store_against_the_answers_tells_a_stale_cache_from_a_lost_write() {
        assert!(reading(&view(false, Some(true)), Some(204)).starts_with("stale cache"));
        assert!(reading(&view(true, Some(true)), Some(204)).starts_with("lost write"));
        assert_eq!(reading(&view(false, Some(false)), Some(204)), "the store says active:false");
        let mut gone = view(false, None);
        gone.documents.clear();
        assert!(reading(&gone, Some(204)).contains("no token"));
    }

    #[test]
    fn a_revoker_that_cannot_list_the_token_is_named_with_both_types() {
        let mut v = view(true, Some(true));
        v.documents[0].user_id_type = "ObjectId".into();
        v.revoker =
            Some(RevokerView { instance: "instance2".into(), status: Some(404), lists_token: Some(false) });
        assert!(
            reading(&v, Some(404)).starts_with(
                "cross-implementation: revoked through instance2 (answered 404) but the document's userId is an \
                 ObjectId while instance2 filters by string"
            ),
            "{}",
            reading(&v, Some(404))
        );
        v.revoker =
            Some(RevokerView { instance: "instance2".into(), status: Some(204), lists_token: Some(true) });
        assert!(
            reading(&v, Some(204)).starts_with("lost write"),
            "a revoker that sees the token lost the write"
        );
    }

    #[tokio::test]
    async fn nothing_created_means_nothing_looked_up() {
        let store = MemoryStore::default();
        let view = read(&store, &Trace::new(), &[]).await;
        assert!(view.documents.is_empty());
        assert!(view.reading.contains("no token was created"), "{}", view.reading);
    }
}
