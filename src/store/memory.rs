//! In-process token store; clones share one set of documents. Indexed by id,
//! user and hash prefix, so a long run (100,000 iterations) stays linear.
//! As strict as MongoDB: a `userId` is found only by a value of its own
//! BSON type (the index keys on [`UserId`], type and value).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use mongodb::bson::{oid::ObjectId, Document};

use super::{StoreError, TokenDoc, TokenStore, UserId};

#[derive(Default, Clone)]
pub struct MemoryStore {
    docs: Arc<Mutex<Docs>>,
}

/// The documents in insertion order, and where to find them.
#[derive(Default)]
struct Docs {
    all: Vec<TokenDoc>,
    by_id: HashMap<ObjectId, usize>,
    by_user: HashMap<UserId, Vec<usize>>,
    by_prefix: HashMap<String, Vec<usize>>,
}

impl Docs {
    fn at<'a>(&'a self, positions: Option<&'a Vec<usize>>) -> impl Iterator<Item = &'a TokenDoc> + 'a {
        positions.into_iter().flatten().map(|&i| &self.all[i])
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn docs(&self) -> MutexGuard<'_, Docs> {
        // Every write completes its index updates before it can panic, so a
        // poisoned lock is still safe to use.
        self.docs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    async fn insert(&self, doc: TokenDoc) -> Result<(), StoreError> {
        let mut docs = self.docs();
        if docs.by_id.contains_key(&doc.id) {
            return Err(StoreError::Mongo(format!("E11000 duplicate key error: _id {}", doc.id.to_hex())));
        }
        let at = docs.all.len();
        docs.by_id.insert(doc.id, at);
        docs.by_user.entry(doc.user_id.clone()).or_default().push(at);
        docs.by_prefix.entry(doc.hash_prefix.clone()).or_default().push(at);
        docs.all.push(doc);
        Ok(())
    }

    async fn list(&self, user_id: &UserId) -> Result<Vec<TokenDoc>, StoreError> {
        let docs = self.docs();
        Ok(docs.at(docs.by_user.get(user_id)).cloned().collect())
    }

    async fn active_candidates(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError> {
        let docs = self.docs();
        Ok(docs.at(docs.by_prefix.get(hash_prefix)).filter(|d| d.active).cloned().collect())
    }

    async fn find_by_prefix(&self, hash_prefix: &str) -> Result<Vec<TokenDoc>, StoreError> {
        let docs = self.docs();
        Ok(docs.at(docs.by_prefix.get(hash_prefix)).cloned().collect())
    }

    async fn find_by_id(&self, id: ObjectId) -> Result<Option<TokenDoc>, StoreError> {
        let docs = self.docs();
        Ok(docs.by_id.get(&id).map(|&i| docs.all[i].clone()))
    }

    async fn revoke(&self, user_id: &UserId, id: ObjectId) -> Result<bool, StoreError> {
        let mut docs = self.docs();
        let Some(&at) = docs.by_id.get(&id) else { return Ok(false) };
        let doc = &mut docs.all[at];
        if doc.user_id != *user_id {
            return Ok(false);
        }
        doc.active = false;
        Ok(true)
    }

    async fn documents(&self, ids: &[ObjectId]) -> Result<Vec<Document>, StoreError> {
        let docs = self.docs();
        Ok(ids.iter().filter_map(|id| docs.by_id.get(id)).map(|&i| docs.all[i].to_document()).collect())
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn doc(user: &str, prefix: &str) -> TokenDoc {
        TokenDoc {
            id: ObjectId::new(),
            user_id: user.into(),
            label: String::new(),
            hash: "h".to_string(),
            hash_prefix: prefix.to_string(),
            algorithm: "argon2id".to_string(),
            scopes: None,
            active: true,
            created_at: Utc::now(),
            expires_at: None,
            node_model: None,
        }
    }

    #[tokio::test]
    async fn clones_share_documents_and_revoke_is_scoped_to_the_user() {
        let a = MemoryStore::new();
        let b = a.clone();
        let d = doc("u1", "abcd1234");
        a.insert(d.clone()).await.unwrap();
        assert!(a.insert(d.clone()).await.is_err());
        let (u1, u2) = (UserId::from("u1"), UserId::from("u2"));
        assert_eq!(b.list(&u1).await.unwrap(), vec![d.clone()]);
        assert!(b.list(&u2).await.unwrap().is_empty());
        assert_eq!(b.active_candidates("abcd1234").await.unwrap().len(), 1);
        assert!(!b.revoke(&u2, d.id).await.unwrap());
        assert!(b.revoke(&u1, d.id).await.unwrap());
        assert!(b.revoke(&u1, d.id).await.unwrap());
        assert!(a.active_candidates("abcd1234").await.unwrap().is_empty());
        assert!(!a.list(&u1).await.unwrap()[0].active);
        assert!(!a.revoke(&u1, ObjectId::new()).await.unwrap());
        assert_eq!(a.documents(&[d.id]).await.unwrap(), vec![TokenDoc { active: false, ..d }.to_document()]);
    }

    /// As MongoDB: an ObjectId `userId` is found by the ObjectId only, a
    /// string one by the string only, though both spell the same 24 hex.
    #[tokio::test]
    async fn user_ids_match_by_type_as_in_mongodb() {
        let store = MemoryStore::new();
        let owner = ObjectId::new();
        let as_string = UserId::String(owner.to_hex());
        let as_object_id = UserId::ObjectId(owner);
        let by_node = TokenDoc { user_id: as_object_id.clone(), ..doc("x", "11111111") };
        let by_go = TokenDoc { user_id: as_string.clone(), ..doc("x", "22222222") };
        store.insert(by_node.clone()).await.unwrap();
        store.insert(by_go.clone()).await.unwrap();
        assert_eq!(store.list(&as_object_id).await.unwrap(), vec![by_node.clone()]);
        assert_eq!(store.list(&as_string).await.unwrap(), vec![by_go.clone()]);
        assert!(!store.revoke(&as_string, by_node.id).await.unwrap(), "a string never finds an ObjectId");
        assert!(!store.revoke(&as_object_id, by_go.id).await.unwrap(), "nor the reverse");
        assert_eq!(store.active_candidates("11111111").await.unwrap().len(), 1, "still active");
        assert!(store.revoke(&as_object_id, by_node.id).await.unwrap());
    }
}
