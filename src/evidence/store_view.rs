//! `store.json`: the failure's token as MongoDB held it when the failure was
//! seen, read against what the instances answered — the one fact that tells a
//! stale cache (store inactive, instance active) from a lost write (store
//! still active after the revoke returned).

use crate::contract::{created_token_in, Exchange, Trace, INTROSPECT_PATH};
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

/// Reads the token of `trace` from `store`.
pub async fn read(store: &dyn TokenStore, trace: &Trace) -> StoreView {
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
        reading: String::new(),
        error: None,
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
    match futures::future::try_join(by_id, by_prefix).await {
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

/// The status of a revoke that returned success, if one did.
fn revoke_returned(trace: &Trace) -> Option<u16> {
    trace
        .exchanges()
        .iter()
        .filter(|ex| ex.method == "DELETE")
        .find_map(|ex| ex.status.filter(|s| (200..300).contains(s)))
}

/// The `active` answers of the introspections sent after the revoke returned, in order.
fn answers_after_revoke(trace: &Trace) -> impl Iterator<Item = Answer> + '_ {
    let exchanges = trace.exchanges();
    let revoke = exchanges
        .iter()
        .position(|ex| ex.method == "DELETE" && ex.status.is_some_and(|s| (200..300).contains(&s)));
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

    #[tokio::test]
    async fn nothing_created_means_nothing_looked_up() {
        let store = MemoryStore::default();
        let view = read(&store, &Trace::new()).await;
        assert!(view.documents.is_empty());
        assert!(view.reading.contains("no token was created"), "{}", view.reading);
    }
}
